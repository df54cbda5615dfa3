"""The one exception tree of defi-sql.

Every error the package raises on purpose is a :class:`DefiSqlError`; its
message is one sentence that says what was wrong and how to fix it, and never
contains a password. Each class also inherits the built-in it resembles, so
callers that only know Python's own exceptions still catch it::

    DefiSqlError
     +-- ConfigError (ValueError)           bad settings: URL, env, sql/ tree
     +-- DatabaseUnavailable (ConnectionError)  server cannot be reached
     +-- MigrationError                     migrations could not run
          +-- MigrationFailed               a migration's SQL failed (file, line)
          +-- UnknownMigration (LookupError)    an id that is not in sql/migrations
          +-- EditedMigration               an applied file changed on disk
          +-- MigrationLocked (TimeoutError)    another migrate holds the lock
          +-- Refused (PermissionError)     e.g. `fresh` in production
     +-- QueryError                         a query function could not do its work
          +-- NotFound (LookupError)        the row asked for does not exist
          +-- InvalidInput (ValueError)     rejected before any write
          +-- Conflict                      a constraint refused the write (its name)
               +-- ConcurrencyConflict      another writer got there first; retry
"""

from __future__ import annotations

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
    "NotFound",
    "QueryError",
    "Refused",
    "UnknownMigration",
]


class DefiSqlError(Exception):
    """Base class of every error defi-sql raises on purpose."""


class ConfigError(DefiSqlError, ValueError):
    """The configuration (database URL, environment, files) is unusable."""


class DatabaseUnavailable(DefiSqlError, ConnectionError):
    """The database server could not be reached or refused the connection."""


class MigrationError(DefiSqlError):
    """Migrations could not be applied, rolled back or inspected."""


class MigrationFailed(MigrationError):
    """A migration's SQL failed; the database stays at the last good migration."""

    def __init__(self, message: str, *, path: str, line: int | None, sqlstate: str | None) -> None:
        super().__init__(message)
        self.path = path
        self.line = line
        self.sqlstate = sqlstate


class UnknownMigration(MigrationError, LookupError):
    """A migration id was given that does not exist in ``sql/migrations``."""


class EditedMigration(MigrationError):
    """An applied migration's file no longer matches the checksum recorded when applied."""

    def __init__(self, message: str, *, migration_ids: list[str]) -> None:
        super().__init__(message)
        self.migration_ids = migration_ids


class MigrationLocked(MigrationError, TimeoutError):
    """Another process held the migration lock for longer than the timeout."""


class Refused(MigrationError, PermissionError):
    """A destructive command was refused by a safety guard."""


class QueryError(DefiSqlError):
    """A query function could not do its work; the database is unchanged."""


class NotFound(QueryError, LookupError):
    """The row asked for does not exist."""


class InvalidInput(QueryError, ValueError):
    """An argument was rejected before anything was written."""


class Conflict(QueryError):
    """A constraint of the database refused the write; ``constraint`` names it."""

    def __init__(self, message: str, *, constraint: str | None = None) -> None:
        super().__init__(message)
        self.constraint = constraint


class ConcurrencyConflict(Conflict):
    """Another writer changed the same thing first (e.g. a stale expected version); retry."""
