"""A connection of the wrong kind, a sync one to ``defi_sql.aio`` or an async one to
``defi_sql.sync``, is refused in one sentence before anything runs, through every
way a query reaches the database (one row, many rows, a value, a row count, a
stream, a transaction)."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable, Iterator
from typing import Any
from uuid import UUID

import psycopg
import pytest

from defi_sql import aio, sync
from defi_sql.errors import InvalidInput

USER = UUID("00000000-0000-4000-8000-000000000001")
WALLET = "0x1234567890abcdef1234567890abcdef12345678"

#: One call of each kind of query path: (id, call on an API module).
CALLS: list[tuple[str, Callable[[Any, Any], Any]]] = [
    ("one-row", lambda api, conn: api.users.find_by_wallet(conn, WALLET)),
    ("many-rows", lambda api, conn: api.signals.active_for_asset(conn, "ETH")),
    ("write", lambda api, conn: api.users.create(conn, wallet_address=WALLET)),
    ("row-count", lambda api, conn: api.signals.expire_overdue(conn)),
    ("batch", lambda api, conn: api.positions.latest_per_user(conn)),
    ("stream", lambda api, conn: api.positions.iterate_all(conn)),
    ("copy", lambda api, conn: api.positions.ingest(conn, [])),
    ("transaction", lambda api, conn: api.transaction(conn)),
    ("acting-as", lambda api, conn: api.acting_as(conn, USER)),
]


def _drive(result: Any) -> None:
    """Run what a call returned as far as its first database access."""
    if inspect.iscoroutine(result):
        asyncio.run(result)
    elif inspect.isasyncgen(result):
        asyncio.run(anext(result))  # type: ignore[arg-type]
    elif inspect.isgenerator(result) or hasattr(result, "__next__"):
        next(result)
    elif hasattr(result, "__aenter__"):

        async def enter() -> None:
            async with result:
                pass

        asyncio.run(enter())
    elif hasattr(result, "__enter__"):
        with result:
            pass


@pytest.fixture
def connections(db_url: str) -> Iterator[tuple[psycopg.Connection[Any], Any]]:
    runner = asyncio.Runner()
    aconn = runner.run(psycopg.AsyncConnection.connect(db_url, autocommit=True))
    with psycopg.connect(db_url, autocommit=True) as conn:
        yield conn, aconn
    runner.run(aconn.close())
    runner.close()


MESSAGES = {
    "sync": "defi_sql.sync takes a psycopg.Connection, not a psycopg.AsyncConnection; use "
    "defi_sql.aio with this connection, or open a psycopg.Connection.",
    "aio": "defi_sql.aio takes a psycopg.AsyncConnection, not a psycopg.Connection; use "
    "defi_sql.sync with this connection, or open a psycopg.AsyncConnection.",
}


@pytest.mark.parametrize("api", [sync, aio], ids=["sync-given-async", "async-given-sync"])
@pytest.mark.parametrize(("name", "call"), CALLS, ids=[name for name, _ in CALLS])
def test_each_api_refuses_the_other_kind_of_connection(
    connections: tuple[psycopg.Connection[Any], Any],
    api: Any,
    name: str,
    call: Callable[[Any, Any], Any],
) -> None:
    conn, aconn = connections
    with pytest.raises(InvalidInput) as caught:
        _drive(call(api, aconn if api is sync else conn))
    assert str(caught.value) == MESSAGES[api.__name__.rpartition(".")[2]]
    assert conn.execute("SELECT count(*) FROM users").fetchone() == (0,)


@pytest.mark.parametrize("api", [sync, aio], ids=["sync", "async"])
def test_something_else_than_a_connection(api: Any) -> None:
    kind = "Connection" if api is sync else "AsyncConnection"
    with pytest.raises(InvalidInput) as caught:
        _drive(api.users.find_by_wallet("postgresql://localhost/defi", WALLET))
    assert str(caught.value) == (
        f"{api.__name__} takes a psycopg.{kind}, not str; pass a connection as the first argument."
    )
