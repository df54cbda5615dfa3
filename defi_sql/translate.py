"""Driver errors into our own, once, at the boundary of every query function.

The message says what was wrong in the caller's terms; the constraint name is
kept on :class:`Conflict`. Constraint names come from the migrations, which
name every constraint explicitly.
"""

from __future__ import annotations

import psycopg
from psycopg import errors as pg

from defi_sql.errors import (
    ConcurrencyConflict,
    Conflict,
    DatabaseUnavailable,
    DefiSqlError,
    InvalidInput,
    NotFound,
)

__all__ = ["translate"]

#: Sentences for the constraints a caller can trip over.
_MESSAGES = {
    "users_wallet_address_key": "a user with this wallet address already exists",
    "positions_user_id_fkey": "the position's user does not exist",
    "alerts_user_id_fkey": "the alert's user does not exist",
    "alerts_signal_id_fkey": "the alert's signal does not exist",
    "intents_user_id_fkey": "the intent's user does not exist",
    "event_store_event_id_key": "an event with this event_id was already appended",
    "alerts_signal_id_user_id_type_key": "the user already has this type of alert for the signal",
    "signals_expires_at_check": "expires_at must be after detected_at",
    "event_store_stream_id_version_key": (
        "another writer appended this version of the stream first; reload the stream and retry"
    ),
}


def translate(exc: psycopg.Error) -> DefiSqlError:
    """The defi-sql error for a driver error raised by a query."""
    diag = exc.diag
    constraint = diag.constraint_name
    detail = diag.message_primary or str(exc).strip().splitlines()[0]
    said = _MESSAGES.get(constraint or "", detail)
    named = f"{said} ({constraint})" if constraint else said
    if isinstance(exc, pg.UniqueViolation):
        if constraint == "event_store_stream_id_version_key":
            return ConcurrencyConflict(named, constraint=constraint)
        return Conflict(named, constraint=constraint)
    if isinstance(exc, pg.ForeignKeyViolation):
        return NotFound(named)
    if isinstance(exc, pg.SerializationFailure | pg.DeadlockDetected | pg.LockNotAvailable):
        return ConcurrencyConflict(f"{detail}; retry the operation", constraint=constraint)
    if isinstance(exc, pg.IntegrityError | pg.DataError):
        return InvalidInput(named)
    if isinstance(exc, psycopg.OperationalError):
        return DatabaseUnavailable(f"the database connection failed: {detail}")
    return DefiSqlError(f"the database refused the query: {detail}")
