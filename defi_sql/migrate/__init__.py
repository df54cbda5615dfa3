"""Migrations: apply, roll back and report the plain-SQL files of ``sql/migrations``.

:mod:`defi_sql.migrate.migrator` is the migrator (yoyo underneath, with batches,
checksums and a lock that dies with its process); :mod:`defi_sql.migrate.running`
runs one migration and :mod:`defi_sql.migrate.bookkeeping` records it;
:mod:`defi_sql.migrate.files` reads and checks the migration files and
:mod:`defi_sql.migrate.new` writes the next pair; :mod:`defi_sql.migrate.failures`
says what a failed migration left behind.
"""

from defi_sql.migrate.bookkeeping import MigrationState, checksum
from defi_sql.migrate.migrator import (
    DEFAULT_LOCK_TIMEOUT,
    LOCK_KEY,
    Migrator,
    session_lock_timeout,
)
from defi_sql.migrate.new import TEMPLATE_PLACEHOLDER, create_migration

__all__ = [
    "DEFAULT_LOCK_TIMEOUT",
    "LOCK_KEY",
    "TEMPLATE_PLACEHOLDER",
    "MigrationState",
    "Migrator",
    "checksum",
    "create_migration",
    "session_lock_timeout",
]
