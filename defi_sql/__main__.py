import sys

from defi_sql.cli import main

sys.exit(main())
