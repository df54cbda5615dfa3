"""The one exception tree of defi-sql.

Every error the package raises on purpose is a :class:`DefiSqlError`; its
message is one sentence that says what was wrong and how to fix it, and never
contains a password. Each class also inherits the built-in it resembles, so
callers that only know Python's own exceptions still catch it::

    DefiSqlError
     +-- ConfigError (ValueError)           bad settings: URL, env, sql/ tree
     +-- DatabaseUnavailable (ConnectionError)  server cannot be reached
          +-- ConnectionLost                the connection broke; uncommitted work rolled back
          +-- CommitOutcomeUnknown          it broke during COMMIT: committed or not, unknown
     +-- MigrationError                     migrations could not run
          +-- MigrationFailed               a migration's SQL failed (file, line)
          +-- UnknownMigration (LookupError)    an id that is not in sql/migrations
          +-- EditedMigration               an applied file changed on disk
          +-- MigrationLocked (TimeoutError)    another migrate holds the lock
          +-- Refused (PermissionError)     e.g. `fresh` in production
     +-- QueryError                         a query function could not do its work
          +-- NotFound (LookupError)        the row asked for does not exist
          +-- UnreadableRow (ValueError)    a stored row does not fit its struct (table, id, field)
          +-- InvalidInput (ValueError)     rejected before any write
          +-- NotAllowed (PermissionError)  the database role may not do this
          +-- QueryCanceled (TimeoutError)  statement_timeout or a cancel; the connection is fine
          +-- NotReplicaSafe (PermissionError)  not declared `replica: ok`, run in a router's read
          +-- Conflict                      a constraint refused the write (its name)
               +-- ConcurrencyConflict      another writer got there first; retry
                    +-- TransientConflict   the server gave up on it; rerun the whole unit
                    +-- LeaseLost           an alert's lease passed to another worker
"""

from __future__ import annotations

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
    "NotAllowed",
    "NotFound",
    "NotReplicaSafe",
    "QueryCanceled",
    "QueryError",
    "Refused",
    "TransientConflict",
    "UnknownMigration",
    "UnreadableRow",
    "first_line",
]


class DefiSqlError(Exception):
    """Base class of every error defi-sql raises on purpose.

    One translated from the database keeps what a debugger wants without the
    driver's message text: ``sqlstate`` (e.g. ``"23505"``) and ``constraint``,
    the name of the constraint that refused a write (None otherwise).
    """

    sqlstate: str | None = None
    constraint: str | None = None


class ConfigError(DefiSqlError, ValueError):
    """The configuration (database URL, environment, files) is unusable."""


class DatabaseUnavailable(DefiSqlError, ConnectionError):
    """The database server could not be reached or refused the connection."""


class ConnectionLost(DatabaseUnavailable):
    """The connection broke mid-work (server restart, ``pg_terminate_backend``, network).

    The server rolls back whatever was not yet committed; run the work again on
    a new connection (a pool replaces the broken one).
    """


class CommitOutcomeUnknown(DatabaseUnavailable):
    """The connection broke while COMMIT was in flight: the transaction may or may not
    have committed, so check before repeating it."""


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


class UnreadableRow(QueryError, ValueError):
    """A stored row does not fit the struct it is read into (written around the
    database's CHECKs, or before them), or a query returns a column its field
    forbids (a NULL for a field that is not optional, a value outside its
    ``Literal``, a naive ``timestamp`` for an aware ``datetime``); ``table``,
    ``row_id`` and ``field`` say which row and where.

    Batch reads (``at_risk``, ``latest_per_user``, ``intents.due``, ``claim``)
    set such rows aside in ``.unreadable`` and serve the others; reads of one
    row raise it.
    """

    def __init__(self, message: str, *, table: str, row_id: object, field: str) -> None:
        super().__init__(message)
        self.table = table
        self.row_id = row_id
        self.field = field


class InvalidInput(QueryError, ValueError):
    """An argument was rejected before anything was written."""


class NotAllowed(QueryError, PermissionError):
    """The database role may not do this (a privilege or row-level security refused it)."""


class QueryCanceled(QueryError, TimeoutError):
    """The server canceled the statement (SQLSTATE 57014): it ran past
    ``statement_timeout``, or ``pg_cancel_backend`` (or the client) canceled it.

    Its transaction is rolled back (inside a caller's transaction: aborted, so
    roll that back); the connection itself is healthy and usable at once.
    Unlike :class:`DatabaseUnavailable` it is not a connection problem, and
    :func:`defi_sql.sync.run_transaction` does not retry it: the same work
    would most likely run as long again.
    """


class NotReplicaSafe(QueryError, PermissionError):
    """A query whose doc does not declare ``replica: ok`` was run on a connection lent
    by a router's ``read()`` (:mod:`defi_sql.aio.router`); nothing was run.

    Refused on every such connection, the primary's too when a read falls back to it,
    so that a missing declaration fails in the first test, not only under load.
    """


class Conflict(QueryError):
    """A constraint of the database refused the write; ``constraint`` names it."""

    def __init__(self, message: str, *, constraint: str | None = None) -> None:
        super().__init__(message)
        self.constraint = constraint


class ConcurrencyConflict(Conflict):
    """Another writer changed the same thing first (e.g. a stale expected version); retry."""


class TransientConflict(ConcurrencyConflict):
    """The server refused to go on (serialization failure 40001, deadlock 40P01, lock
    not available 55P03) and rolled back the call's transaction, or its savepoint
    inside the caller's transaction. Leave that transaction (it still holds its
    earlier writes and locks until it ends) and run the whole unit of work again:
    :func:`defi_sql.sync.run_transaction` does both."""


class LeaseLost(ConcurrencyConflict):
    """The alert's delivery lease ended and another worker claimed it; leave it to that worker."""


def first_line(text: str, *, last: bool = False, otherwise: str = "no message") -> str:
    """The first (or ``last``) non-blank line of ``text``; ``otherwise`` if there is none.

    For a message made of a tool's output or a driver's text, which may be empty.
    """
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if not lines:
        return otherwise
    return lines[-1] if last else lines[0]
