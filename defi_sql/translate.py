"""Driver errors into our own, once, at the boundary of every query function.

The message says what was wrong in the caller's terms; the constraint name is
kept on :class:`Conflict`. Constraint names come from the migrations, which
name every constraint explicitly. Two kinds matter to a retry
(:mod:`defi_sql.aio.retry`): :class:`TransientConflict`, after which the
server has rolled the whole transaction back, and :class:`ConnectionLost`,
after which the connection is gone (the server ended the session or the
socket broke). A canceled statement (57014: ``statement_timeout``,
``pg_cancel_backend``) is :class:`QueryCanceled`, not a connection error: the
connection stays usable, and no retry repeats it.
"""

from __future__ import annotations

import psycopg
from psycopg import errors as pg

from defi_sql.errors import (
    ConcurrencyConflict,
    Conflict,
    ConnectionLost,
    DatabaseUnavailable,
    DefiSqlError,
    InvalidInput,
    NotAllowed,
    NotFound,
    QueryCanceled,
    TransientConflict,
    first_line,
)

__all__ = ["message_of", "translate"]

#: Errors after which the server has ended the session: admin_shutdown (also a
#: server stop or restart), crash_shutdown, cannot_connect_now,
#: idle_session_timeout, idle_in_transaction_session_timeout, transaction_timeout.
_SESSION_ENDED = frozenset({"57P01", "57P02", "57P03", "57P05", "25P03", "25P04"})

#: Sentences for the constraints a caller can trip over.
_MESSAGES = {
    "users_wallet_address_key": "a user with this wallet address already exists",
    "positions_user_id_fkey": "the position's user does not exist",
    "alerts_user_id_fkey": "the alert's user does not exist",
    "alerts_signal_id_fkey": "the alert's signal does not exist",
    "intents_user_id_fkey": "the intent's user does not exist",
    "event_store_event_id_key": "an event with this event_id was already appended",
    "alerts_signal_id_user_id_type_channel_key": (
        "the user already has this type of alert for the signal on this channel"
    ),
    "signals_expires_at_check": "expires_at must be after detected_at",
    "event_store_stream_id_version_key": (
        "another writer appended this version of the stream first; reload the stream and retry"
    ),
}


def _connection_lost(exc: psycopg.Error) -> bool:
    """Whether the connection is unusable after ``exc``: the server ended the session
    (a FATAL error, class 08, a shutdown) or the client lost the socket (no SQLSTATE)."""
    state = exc.sqlstate
    if state is None:
        return isinstance(exc, psycopg.OperationalError)
    return (
        state.startswith("08")
        or state in _SESSION_ENDED
        or exc.diag.severity_nonlocalized in ("FATAL", "PANIC")
    )


def message_of(exc: psycopg.Error) -> str:
    """The server's one-line message of ``exc`` (never empty, never raises)."""
    return exc.diag.message_primary or first_line(str(exc), otherwise=type(exc).__name__)


def translate(exc: psycopg.Error) -> DefiSqlError:
    """The defi-sql error for a driver error raised by a query, carrying its SQLSTATE
    and constraint name (``raise translate(exc) from None`` drops the driver's text,
    not these)."""
    error = _translated(exc)
    error.sqlstate = exc.sqlstate
    if error.constraint is None:
        error.constraint = exc.diag.constraint_name
    return error


def _translated(exc: psycopg.Error) -> DefiSqlError:
    diag = exc.diag
    constraint = diag.constraint_name
    detail = message_of(exc)
    said = _MESSAGES.get(constraint or "", detail)
    named = f"{said} ({constraint})" if constraint else said
    if isinstance(exc, pg.UniqueViolation):
        if constraint == "event_store_stream_id_version_key":
            return ConcurrencyConflict(named, constraint=constraint)
        return Conflict(named, constraint=constraint)
    if isinstance(exc, pg.ForeignKeyViolation):
        return NotFound(named)
    if isinstance(exc, pg.SerializationFailure | pg.DeadlockDetected | pg.LockNotAvailable):
        return TransientConflict(f"{detail}; retry the operation", constraint=constraint)
    if _connection_lost(exc):
        return ConnectionLost(
            f"the database connection was lost ({detail}); what was not yet committed was "
            "rolled back, so run it again on a new connection."
        )
    if isinstance(exc, pg.IntegrityError | pg.DataError):
        return InvalidInput(named)
    if isinstance(exc, pg.InsufficientPrivilege):
        return NotAllowed(
            f"the database role may not do this ({detail}); act only for the user of "
            "acting_as, and leave what defi_app may not do to the owner or defi_worker."
        )
    if isinstance(exc, pg.FeatureNotSupported) and "row-level security" in detail:
        return NotAllowed(
            f"{detail}: ingest (COPY) is refused under row-level security; run it in a "
            "session whose role is defi_worker (ALTER ROLE your_login SET role = 'defi_worker')."
        )
    if isinstance(exc, pg.QueryCanceled):
        return QueryCanceled(
            f"the query was canceled ({detail}); its transaction was rolled back and the "
            "connection is still usable: raise statement_timeout, or make the work smaller."
        )
    if isinstance(exc, psycopg.OperationalError):
        return DatabaseUnavailable(f"the database connection failed: {detail}")
    return DefiSqlError(f"the database refused the query: {detail}")
