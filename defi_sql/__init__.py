"""defi-sql: plain-SQL migrations and typed queries for the DeFi assistant's schema.

The query API is ``defi_sql.sync`` (and its async twin ``defi_sql.aio``), the
row and document structs are in ``defi_sql.models``.
"""

from defi_sql.errors import (
    CommitOutcomeUnknown,
    ConcurrencyConflict,
    ConfigError,
    Conflict,
    ConnectionLost,
    DatabaseUnavailable,
    DefiSqlError,
    EditedMigration,
    InvalidInput,
    LeaseLost,
    MigrationError,
    MigrationFailed,
    MigrationLocked,
    NotAllowed,
    NotFound,
    QueryCanceled,
    QueryError,
    Refused,
    TransientConflict,
    UnknownMigration,
    UnreadableRow,
)
from defi_sql.migrations import MigrationState, Migrator
from defi_sql.target import Target, resolve_target

__all__ = [
    "CommitOutcomeUnknown",
    "ConcurrencyConflict",
    "ConfigError",
    "Conflict",
    "ConnectionLost",
    "DatabaseUnavailable",
    "DefiSqlError",
    "EditedMigration",
    "InvalidInput",
    "LeaseLost",
    "MigrationError",
    "MigrationFailed",
    "MigrationLocked",
    "MigrationState",
    "Migrator",
    "NotAllowed",
    "NotFound",
    "QueryCanceled",
    "QueryError",
    "Refused",
    "Target",
    "TransientConflict",
    "UnknownMigration",
    "UnreadableRow",
    "resolve_target",
]
