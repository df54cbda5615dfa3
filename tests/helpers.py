"""Small helpers shared by the tests (the package's own are used where it has one)."""

from __future__ import annotations

from defi_sql._migration_files import forward_paths
from defi_sql.paths import migrations_dir

#: the project's migration ids, in the order they apply
MIGRATION_IDS = [p.stem for p in forward_paths(migrations_dir())]
