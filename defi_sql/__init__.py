"""defi-sql: plain-SQL migrations and typed queries for the DeFi assistant's schema.

The query API is ``defi_sql.sync`` (and its async twin ``defi_sql.aio``), the
row and document structs are in ``defi_sql.models``. Importing them loads the
runtime only: the migrator (yoyo) and the target resolver (which may start the
embedded server of the ``embedded`` extra) are imported on first use of
``Migrator``, ``MigrationState``, ``Target`` or ``resolve_target``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

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
    NotReplicaSafe,
    QueryCanceled,
    QueryError,
    Refused,
    TransientConflict,
    UnknownMigration,
    UnreadableRow,
)

if TYPE_CHECKING:
    from defi_sql.dev.target import Target, resolve_target
    from defi_sql.migrate import MigrationState, Migrator

#: tooling, imported when first asked for (PEP 562): a service never loads it
_LAZY = {
    "MigrationState": "defi_sql.migrate",
    "Migrator": "defi_sql.migrate",
    "Target": "defi_sql.dev.target",
    "resolve_target": "defi_sql.dev.target",
}

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
    "NotReplicaSafe",
    "QueryCanceled",
    "QueryError",
    "Refused",
    "Target",
    "TransientConflict",
    "UnknownMigration",
    "UnreadableRow",
    "resolve_target",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'defi_sql' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
