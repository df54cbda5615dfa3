"""defi-sql: plain-SQL migrations and typed queries for the DeFi assistant's schema.

The query API is ``defi_sql.sync`` (and its async twin ``defi_sql.aio``), the
row and document structs are in ``defi_sql.models``.
"""

from defi_sql.errors import (
    ConcurrencyConflict,
    ConfigError,
    Conflict,
    DatabaseUnavailable,
    DefiSqlError,
    EditedMigration,
    InvalidInput,
    MigrationError,
    MigrationFailed,
    MigrationLocked,
    NotFound,
    QueryError,
    Refused,
    UnknownMigration,
)
from defi_sql.migrations import MigrationState, Migrator
from defi_sql.target import Target, resolve_target

__all__ = [
    "ConcurrencyConflict",
    "ConfigError",
    "Conflict",
    "DatabaseUnavailable",
    "DefiSqlError",
    "EditedMigration",
    "InvalidInput",
    "MigrationError",
    "MigrationFailed",
    "MigrationLocked",
    "MigrationState",
    "Migrator",
    "NotFound",
    "QueryError",
    "Refused",
    "Target",
    "UnknownMigration",
    "resolve_target",
]
