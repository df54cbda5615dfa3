"""Run a unit of work in one transaction, again when that is safe: ``db.run_transaction``.

``db.run_transaction(pool, work)`` takes a connection from ``pool``
(a psycopg_pool ``ConnectionPool``, e.g. from :func:`db.open_pool`),
runs ``work(conn)`` inside ONE transaction on it, commits, and returns
what ``work`` returned. ``work`` must do database work only, on the connection
it is given: a retry runs it again from the start on a fresh connection, so a
side effect outside the database (an HTTP call, a message sent) would happen
twice.

Retries: what is safe to repeat (the contract)
----------------------------------------------

* **Serialization failure (40001), deadlock (40P01), lock not available
  (55P03, ``NOWAIT`` or ``lock_timeout``)**, raised as
  :class:`TransientConflict`: the whole transaction is rolled back, nothing of
  it was written, so it is always run again.
* **Connection lost before COMMIT was sent** (server restart,
  ``pg_terminate_backend``, network), raised as :class:`ConnectionLost` while
  ``work`` ran: the server rolls back a transaction whose session ended, so it
  is always run again, on a new connection from the pool.
* **Connection lost while COMMIT was in flight**: the server may have
  committed before the connection broke, or not; nobody can tell from the
  client. Run again only with ``idempotent=True`` (the caller says that doing
  the work twice is harmless, e.g. an upsert, or an append with fixed
  ``event_id``); otherwise :class:`CommitOutcomeUnknown` is raised at once,
  and the caller must check whether the writes are there before repeating.
* **Everything else is raised at once, never retried**: :class:`InvalidInput`,
  :class:`NotFound`, :class:`Conflict`, and a stream's
  :class:`ConcurrencyConflict` from a stale ``expected_version`` (running the
  same append again fails the same way: reload the stream, decide again),
  :class:`QueryCanceled` (57014: the work ran past ``statement_timeout``, or
  was canceled on purpose; run again it would most likely take as long, or be
  canceled again, and the connection is fine, so this is not a connection
  loss), any other exception of ``work``.

Bounded: at most ``attempts`` runs (4 by default); between them a pause of
``first_delay`` (50 ms) doubling up to ``max_delay`` (1 s), each randomly
shortened by up to half so that racing workers spread out. After the last
attempt the last error is raised. A pool that cannot hand out a connection
within its ``timeout`` raises :class:`DatabaseUnavailable` (not retried: the
pool has waited already).

Never inside an open transaction: each attempt has a connection of its own
straight from the pool, and calling ``run_transaction`` from inside another
``run_transaction``'s ``work`` is refused (:class:`InvalidInput`), because
the inner one would commit on its own and a retry of the outer one would
repeat it.

Generated from defi_sql/aio/retry.py by tools/async_to_sync.py: do not edit.
"""

from __future__ import annotations

import logging
import random
import time
from contextvars import ContextVar
from typing import Any, Protocol, TypeVar

import psycopg
from psycopg import Connection, IsolationLevel
from psycopg_pool import ConnectionPool, PoolClosed, PoolTimeout

from defi_sql import validate
from defi_sql.errors import (
    CommitOutcomeUnknown,
    ConnectionLost,
    DatabaseUnavailable,
    DefiSqlError,
    InvalidInput,
    TransientConflict,
)
from defi_sql.translate import translate

__all__ = ["Work", "run_transaction"]

T_co = TypeVar("T_co", covariant=True)
T = TypeVar("T")

_log = logging.getLogger("defi_sql.retry")
_inside_work: ContextVar[bool] = ContextVar("defi_sql_inside_work", default=False)

_SET_ISOLATION = {
    IsolationLevel.READ_COMMITTED: "SET TRANSACTION ISOLATION LEVEL READ COMMITTED",
    IsolationLevel.REPEATABLE_READ: "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ",
    IsolationLevel.SERIALIZABLE: "SET TRANSACTION ISOLATION LEVEL SERIALIZABLE",
}


class Work(Protocol[T_co]):
    """The unit of work: called with the connection, does database work only, returns T."""

    def __call__(self, conn: Connection[Any], /) -> T_co: ...


def run_transaction(
    pool: ConnectionPool[Any],
    work: Work[T],
    *,
    attempts: int = 4,
    idempotent: bool = False,
    isolation: IsolationLevel | None = None,
    first_delay: float = 0.05,
    max_delay: float = 1.0,
) -> T:
    """Run ``work(conn)`` in one transaction; run it again when the module's rules allow.

    ``isolation`` sets the transaction's isolation level (the server's default,
    usually READ COMMITTED, when None).
    """
    validate.positive_int(attempts, "attempts", maximum=100)
    if isolation is not None and isolation not in _SET_ISOLATION:
        raise InvalidInput(
            f"isolation must be READ_COMMITTED, REPEATABLE_READ or SERIALIZABLE, not {isolation}."
        )
    if not 0 <= first_delay <= max_delay:
        raise InvalidInput(
            f"delays must satisfy 0 <= first_delay <= max_delay, not {first_delay} and {max_delay}."
        )
    if _inside_work.get():
        raise InvalidInput(
            "run_transaction was called inside another run_transaction's work; do the inner "
            "work on the connection the outer one gives you, so that a retry repeats all of it."
        )
    attempt = 1
    while True:
        try:
            return _attempt(pool, work, isolation)
        except (TransientConflict, ConnectionLost, CommitOutcomeUnknown) as exc:
            unsafe = isinstance(exc, CommitOutcomeUnknown) and not idempotent
            if unsafe or attempt >= attempts:
                raise
            delay = min(max_delay, first_delay * 2 ** (attempt - 1))
            delay *= random.uniform(0.5, 1.0)
            _log.info(
                "attempt %d of %d failed (%s); retrying in %.3fs", attempt, attempts, exc, delay
            )
        time.sleep(delay)
        attempt += 1


def _attempt(pool: ConnectionPool[Any], work: Work[T], isolation: IsolationLevel | None) -> T:
    """One run of ``work`` in a transaction of its own on a connection from ``pool``."""
    try:
        with pool.connection() as conn:
            committing = False
            token = _inside_work.set(True)
            try:
                with conn.transaction():
                    if isolation is not None:
                        conn.execute(_SET_ISOLATION[isolation])
                    result = work(conn)
                    committing = True  # leaving the block sends COMMIT
            except (psycopg.Error, DefiSqlError) as exc:
                error = translate(exc) if isinstance(exc, psycopg.Error) else exc
                classified = _classified(error, broken=conn.broken, committing=committing)
                if classified is exc:
                    raise
                raise classified from (None if classified is error else error)
            finally:
                _inside_work.reset(token)
            return result
    except PoolTimeout as exc:
        raise DatabaseUnavailable(
            f"the pool had no database connection to give ({exc}); check that the server is "
            "running, or raise the pool's max_size or timeout."
        ) from None
    except PoolClosed:
        raise InvalidInput(
            "the pool is closed; open it (pool.open()) before running transactions on it."
        ) from None


def _classified(error: DefiSqlError, *, broken: bool, committing: bool) -> DefiSqlError:
    """``error`` as the retry rules see it: a lost connection before or during COMMIT."""
    lost = isinstance(error, ConnectionLost) or (
        broken
        and isinstance(error, DatabaseUnavailable)
        and not isinstance(error, CommitOutcomeUnknown)
    )
    if not lost:
        return error
    if committing:
        return CommitOutcomeUnknown(
            "the connection was lost while committing, so the transaction may or may not have "
            "committed; check whether its writes are there before running it again."
        )
    if isinstance(error, ConnectionLost):
        return error
    return ConnectionLost(str(error))
