"""iterate_all really streams: a server-side cursor read ``batch`` rows at a time.

The guards would fail if ``iterate_all`` fetched every row first: the wire
trace would show no ``FETCH`` (or one for everything), and draining the rows
would cost as much memory as keeping them all. None of them times anything.
"""

from __future__ import annotations

import asyncio
import gc
import re
import tempfile
import tracemalloc
from collections.abc import AsyncGenerator, Generator, Iterator
from contextlib import aclosing, contextmanager
from decimal import Decimal
from typing import Any, cast

import psycopg
import pytest
from psycopg.pq import Trace, TransactionStatus

from defi_sql import aio, sync
from defi_sql.models import Asset, NewPosition, Position

from .helpers import new_user

ROWS = 5000
BATCH = 100
#: libpq's trace line of a message: direction (F from us, B from the server), length, type
MESSAGE = re.compile(r"^([FB])\t\d+\t(\w+)\t?(.*)$")
STREAM_CURSOR = re.compile(r"defi_sql_positions_iterate_all_\d+")


@pytest.fixture
def positions(db: psycopg.Connection[Any]) -> int:
    """ROWS snapshots of two users, each with collateral and debt (rows of a real size)."""
    users = [new_user(db, 1), new_user(db, 2)]
    snapshots = (
        NewPosition(
            user_id=users[i % 2],
            wallet_address=f"0x{i % 2 + 1:040x}",
            protocol="aave-v3",
            health_factor=Decimal("1.5") + Decimal(i) / 1000,
            collateral=[Asset(symbol="ETH", amount=Decimal(i), value_usd=Decimal(3000 * i))],
            debt=[Asset(symbol="USDC", amount=Decimal(i), value_usd=Decimal(i))],
            metadata={"ltv": "0.5", "n": str(i)},
        )
        for i in range(ROWS)
    )
    return sync.positions.ingest(db, snapshots)


def status(conn: psycopg.Connection[Any]) -> TransactionStatus:
    return conn.info.transaction_status


def open_cursors(conn: psycopg.Connection[Any]) -> list[str]:
    """The cursors open in the connection's session (pg_cursors is per session)."""
    return [str(r[0]) for r in conn.execute("SELECT name FROM pg_cursors ORDER BY name")]


@contextmanager
def wire_trace(conn: psycopg.Connection[Any]) -> Iterator[list[tuple[str, str, str]]]:
    """The protocol messages of ``conn`` in the block, as (direction, type, text)."""
    if psycopg.pq.version() < 140000:
        pytest.skip("libpq before 14 writes another trace format")
    messages: list[tuple[str, str, str]] = []
    with tempfile.TemporaryFile("w+") as out:
        conn.pgconn.trace(out.fileno())
        conn.pgconn.set_trace_flags(Trace.SUPPRESS_TIMESTAMPS | Trace.REGRESS_MODE)
        try:
            yield messages
        finally:
            conn.pgconn.untrace()  # flushes
            out.seek(0)
            for line in out.read().splitlines():
                if match := MESSAGE.match(line):
                    messages.append((match[1], match[2], match[3].strip()))


def fetches(messages: list[tuple[str, str, str]]) -> list[tuple[str, int]]:
    """Each query we sent and the number of rows (DataRow messages) that answered it."""
    answered: list[tuple[str, int]] = []
    for direction, kind, text in messages:
        if direction == "F" and kind in ("Query", "Parse"):
            answered.append((STREAM_CURSOR.sub("<cursor>", text), 0))
        elif direction == "B" and kind == "DataRow":
            query, rows = answered[-1]
            answered[-1] = (query, rows + 1)
    return answered


def test_iterate_all_fetches_batch_rows_at_a_time(
    db: psycopg.Connection[Any], positions: int
) -> None:
    with wire_trace(db) as messages:
        count = sum(1 for _ in sync.positions.iterate_all(db, batch=BATCH))
    assert count == positions == ROWS
    rows_per_query = fetches(messages)
    fetched = [(q, n) for q, n in rows_per_query if q.startswith('"FETCH')]
    # every row came by a FETCH of at most BATCH rows (the last one finds none left) ...
    assert fetched == [(f'"FETCH FORWARD {BATCH} FROM "<cursor>""', BATCH)] * (ROWS // BATCH) + [
        (f'"FETCH FORWARD {BATCH} FROM "<cursor>""', 0)
    ]
    # ... and no other statement brought any
    assert sum(n for _, n in rows_per_query) == ROWS


def test_iterate_all_reads_no_further_than_the_first_batch_for_the_first_row(
    db: psycopg.Connection[Any], positions: int
) -> None:
    rows = sync.positions.iterate_all(db, batch=BATCH)
    with wire_trace(db) as messages:
        first = next(rows)
    rows_per_query = fetches(messages)
    assert [n for q, n in rows_per_query if n] == [BATCH]
    assert sum(1 for q, _ in rows_per_query if q.startswith('"FETCH')) == 1
    assert 1 + sum(1 for _ in rows) == ROWS  # the rest is still there
    assert first.id is not None


def test_iterate_all_uses_a_server_side_cursor_closed_at_the_end(
    db: psycopg.Connection[Any], positions: int
) -> None:
    assert open_cursors(db) == []
    rows = sync.positions.iterate_all(db, batch=BATCH)
    next(rows)
    (cursor,) = open_cursors(db)
    assert STREAM_CURSOR.fullmatch(cursor)
    assert status(db) == TransactionStatus.INTRANS
    assert 1 + sum(1 for _ in rows) == ROWS
    assert open_cursors(db) == []
    assert status(db) == TransactionStatus.IDLE  # autocommit again


def python_memory_peak(run: Any) -> int:
    """The most memory Python allocators held above the start while ``run()`` ran."""
    tracemalloc.start()
    try:
        start, _ = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        run()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak - start


def test_draining_iterate_all_holds_a_batch_not_the_result(
    db: psycopg.Connection[Any], positions: int
) -> None:
    def drain() -> None:
        for _ in sync.positions.iterate_all(db, batch=BATCH):
            pass

    def keep_all() -> None:  # what any fetch-everything implementation holds at its peak
        rows = list(sync.positions.iterate_all(db, batch=BATCH))
        assert len(rows) == ROWS

    drain()  # warm-up: statement, row maker and adapter caches
    streamed, everything = python_memory_peak(drain), python_memory_peak(keep_all)
    # ROWS / BATCH = 50 times fewer rows held; allow 5x for the per-batch overhead
    assert streamed * 10 < everything, (streamed, everything)


def test_breaking_out_early_closes_the_cursor(db: psycopg.Connection[Any], positions: int) -> None:
    for seen, _ in enumerate(sync.positions.iterate_all(db, batch=BATCH), 1):
        if seen == 10:
            break
    assert open_cursors(db) == []
    assert db.info.transaction_status == TransactionStatus.IDLE
    # the connection is usable, autocommit included: a write is visible to another session
    new_user(db, 3)
    with psycopg.connect(db.info.dsn, autocommit=True) as other:
        assert other.execute("SELECT count(*) FROM users").fetchone() == (3,)
    assert sum(1 for _ in sync.positions.iterate_all(db, batch=BATCH)) == ROWS


def test_closing_a_kept_iterator_closes_the_cursor(
    db: psycopg.Connection[Any], positions: int
) -> None:
    # a generator, though annotated as a plain Iterator
    rows = cast(Generator[Position, None, None], sync.positions.iterate_all(db, batch=BATCH))
    next(rows)
    assert len(open_cursors(db)) == 1
    rows.close()
    assert open_cursors(db) == []
    assert db.info.transaction_status == TransactionStatus.IDLE


def test_breaking_out_early_async_with_aclosing(db_url: str, positions: int) -> None:
    async def main() -> tuple[tuple[list[str], TransactionStatus], int]:
        async with await psycopg.AsyncConnection.connect(db_url, autocommit=True) as conn:

            async def state() -> tuple[list[str], TransactionStatus]:
                cur = await conn.execute("SELECT name FROM pg_cursors")
                return [str(r[0]) for r in await cur.fetchall()], conn.info.transaction_status

            # an async generator, though annotated as a plain AsyncIterator
            generator = aio.positions.iterate_all(conn, batch=BATCH)
            stream = cast(AsyncGenerator[Position, None], generator)
            async with aclosing(stream) as rows:
                async for _ in rows:
                    break
            closed = await state()
            # clean up either way: let the event loop finalise a leaked generator
            gc.collect()
            for _ in range(500):
                if conn.info.transaction_status == TransactionStatus.IDLE:
                    break
                await asyncio.sleep(0.01)
            count = 0
            async for _ in aio.positions.iterate_all(conn, batch=BATCH):
                count += 1
            return closed, count

    assert asyncio.run(main()) == (([], TransactionStatus.IDLE), ROWS)
