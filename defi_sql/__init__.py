"""defi-sql: plain-SQL migrations and typed queries for the DeFi assistant's schema."""

from defi_sql.errors import (
    ConfigError,
    DatabaseUnavailable,
    DefiSqlError,
    EditedMigration,
    MigrationError,
    MigrationFailed,
    MigrationLocked,
    Refused,
    UnknownMigration,
)
from defi_sql.migrations import MigrationState, Migrator
from defi_sql.target import Target, resolve_target

__all__ = [
    "ConfigError",
    "DatabaseUnavailable",
    "DefiSqlError",
    "EditedMigration",
    "MigrationError",
    "MigrationFailed",
    "MigrationLocked",
    "MigrationState",
    "Migrator",
    "Refused",
    "Target",
    "UnknownMigration",
    "resolve_target",
]
