"""A canceled statement (SQLSTATE 57014) is QueryCanceled: not a connection error, the
connection stays usable, and run_transaction does not run the work again.

The statement is made to wait on a row lock held by another connection, with
lock_timeout off, so that statement_timeout (or pg_cancel_backend) is what
ends it; no assertion is about time.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from uuid import UUID

import psycopg
import pytest
from psycopg.conninfo import make_conninfo

from defi_sql import aio, sync
from defi_sql.errors import ConnectionLost, DatabaseUnavailable, QueryCanceled, QueryError

from .conftest import Api

TIMEOUT_MESSAGE = (
    "the query was canceled (canceling statement due to statement timeout); its transaction "
    "was rolled back and the connection is still usable: raise statement_timeout, or make the "
    "work smaller."
)
CANCEL_MESSAGE = (
    "the query was canceled (canceling statement due to user request); its transaction was "
    "rolled back and the connection is still usable: raise statement_timeout, or make the work "
    "smaller."
)


def new_alert(conn: psycopg.Connection[Any]) -> UUID:
    user = sync.users.create(conn, wallet_address="0x" + "ab" * 20)
    alert = sync.alerts.create(
        conn, user_id=user.id, type="health_factor", channel="in_app", message="HF 1.1"
    )
    return alert.id


@contextmanager
def row_locked(db_url: str, alert_id: UUID) -> Iterator[None]:
    """The alert's row locked by another open transaction until the block ends."""
    with psycopg.connect(db_url) as holder:
        holder.execute("SELECT 1 FROM alerts WHERE id = %s FOR UPDATE", (alert_id,))
        yield
        holder.rollback()


def test_the_error_tree() -> None:
    assert issubclass(QueryCanceled, QueryError) and issubclass(QueryCanceled, TimeoutError)
    assert not issubclass(QueryCanceled, DatabaseUnavailable | ConnectionError)


def test_a_statement_timeout_is_query_canceled_and_the_connection_stays_usable(
    api: Api, db: psycopg.Connection[Any], db_url: str
) -> None:
    alert_id = new_alert(db)
    for setting in ("SET lock_timeout = 0", "SET statement_timeout = '200ms'"):
        done = api.conn.execute(setting)
        if api.kind == "async":
            api._run(done)
    with row_locked(db_url, alert_id), pytest.raises(QueryCanceled) as caught:
        api.alerts.mark_sent(alert_id)  # waits for the lock until the timeout
    assert str(caught.value) == TIMEOUT_MESSAGE
    assert not isinstance(caught.value, DatabaseUnavailable)
    # the same connection, at once: healthy, and nothing was written
    assert api.alerts.get(alert_id).status == "pending"
    assert api.alerts.mark_sent(alert_id).status == "sent"


def test_pg_cancel_backend_is_query_canceled_too(db: psycopg.Connection[Any], db_url: str) -> None:
    alert_id = new_alert(db)
    with (
        psycopg.connect(db_url, autocommit=True, options="-c lock_timeout=0") as worker,
        row_locked(db_url, alert_id),
    ):
        pid = worker.info.backend_pid

        def cancel_when_waiting() -> None:
            for _ in range(3000):  # until the worker waits on the lock (pg_blocking_pids)
                row = db.execute("SELECT cardinality(pg_blocking_pids(%s))", (pid,)).fetchone()
                if row is not None and row[0] > 0:
                    db.execute("SELECT pg_cancel_backend(%s)", (pid,))
                    return
                time.sleep(0.01)

        canceller = threading.Thread(target=cancel_when_waiting)
        canceller.start()
        with pytest.raises(QueryCanceled) as caught:
            sync.alerts.mark_sent(worker, alert_id)
        canceller.join()
        assert str(caught.value) == CANCEL_MESSAGE
        assert not worker.broken
        assert sync.alerts.get(worker, alert_id).status == "pending"


def test_run_transaction_does_not_retry_a_canceled_statement(
    db: psycopg.Connection[Any], db_url: str
) -> None:
    alert_id = new_alert(db)
    url = make_conninfo(db_url, options="-c statement_timeout=200ms -c lock_timeout=0")
    runs = 0

    def work(conn: psycopg.Connection[Any]) -> None:
        nonlocal runs
        runs += 1
        sync.alerts.mark_sent(conn, alert_id)

    with row_locked(db_url, alert_id), sync.open_pool(url, min_size=1, max_size=1) as pool:
        with pytest.raises(QueryCanceled):
            sync.run_transaction(pool, work, first_delay=0.001)
        assert runs == 1
        with pool.connection() as conn:  # the connection went back to the pool, usable
            assert sync.alerts.get(conn, alert_id).status == "pending"

    async_runs = 0

    async def async_work(conn: psycopg.AsyncConnection[Any]) -> None:
        nonlocal async_runs
        async_runs += 1
        await aio.alerts.mark_sent(conn, alert_id)

    async def body() -> None:
        async with await aio.open_pool(url, min_size=1, max_size=1) as pool:
            with pytest.raises(QueryCanceled):
                await aio.run_transaction(pool, async_work, first_delay=0.001)

    with row_locked(db_url, alert_id):
        asyncio.run(body())
    assert async_runs == 1
    assert not isinstance(QueryCanceled("x"), ConnectionLost)
