"""Running the named queries: one row, many rows, a value, a row count, a stream.

Every function takes a psycopg connection, runs one statement of
``sql/queries`` and turns driver errors into defi-sql's own (:mod:`defi_sql.translate`).
Writes run inside ``conn.transaction()``: a transaction of their own on an
autocommit connection, a savepoint inside the caller's transaction, so a
refused write never leaves the caller's transaction aborted.

A connection lent by a router's ``read()`` (:mod:`defi_sql.aio.router`) runs
only the queries whose doc declares ``replica: ok``; any other is refused here
(:func:`_sql`) before it reaches the server. The mark is on the loan, not on
the server: a read that fell back to the primary is refused the same way.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncGenerator, AsyncIterator, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager, nullcontext
from typing import Any, TypeVar
from uuid import UUID
from weakref import WeakSet

import msgspec
import psycopg
from psycopg import AsyncConnection
from psycopg.pq import TransactionStatus

from defi_sql import validate
from defi_sql.errors import InvalidInput, NotReplicaSafe, UnreadableRow
from defi_sql.rows import Batch, paused_gc, struct_row, use_raw_json
from defi_sql.statements import statement
from defi_sql.translate import translate

__all__ = [
    "acting_as",
    "execute",
    "fetch_all",
    "fetch_batch",
    "fetch_int",
    "fetch_one",
    "fetch_value",
    "replica_reads",
    "stream",
    "transaction",
    "write_all",
    "write_batch",
    "write_one",
]

T = TypeVar("T", bound=msgspec.Struct)
_cursor_numbers = itertools.count(1)
Params = Mapping[str, Any]
#: The other API, for the message of :func:`_checked` (names the generator leaves alone).
_TWIN = {"aio": "sync", "sync": "aio"}
#: The connections lent by a router's read() right now: only ``replica: ok`` queries run on them.
_REPLICA_READS: WeakSet[AsyncConnection[Any]] = WeakSet()


def _checked(conn: AsyncConnection[Any]) -> AsyncConnection[Any]:
    """``conn``, if it is the kind of connection this API takes: a sync connection given
    to the async API (or the reverse, in the generated twin) fails here in one sentence,
    not with a TypeError from inside psycopg."""
    if isinstance(conn, AsyncConnection):
        return conn
    wanted = f"psycopg.{AsyncConnection.__name__}"
    if isinstance(conn, psycopg.BaseConnection):
        twin = _TWIN[str(__package__).rpartition(".")[2]]
        raise InvalidInput(
            f"{__package__} takes a {wanted}, not a psycopg.{type(conn).__name__}; use "
            f"defi_sql.{twin} with this connection, or open a {wanted}."
        )
    raise InvalidInput(
        f"{__package__} takes a {wanted}, not {type(conn).__name__}; pass a connection as "
        "the first argument."
    )


@contextmanager
def replica_reads(conn: AsyncConnection[Any]) -> Iterator[None]:
    """While inside, ``conn`` runs only the queries declared ``replica: ok`` (a router's
    read lends it so)."""
    _REPLICA_READS.add(conn)
    try:
        yield
    finally:
        _REPLICA_READS.discard(conn)


def _sql(conn: AsyncConnection[Any], name: str) -> str:
    """The SQL of query ``name``, unless ``conn`` is lent for replica reads and the
    query does not declare ``replica: ok``.

    Cheap on every call: no router, an empty set; else one set look-up."""
    found = statement(name)
    if _REPLICA_READS and conn in _REPLICA_READS and not found.replica:
        raise NotReplicaSafe(
            f"query {name} ({found.where}) may not run on a connection from a router's "
            "read(), since its doc does not declare `replica: ok`; run it inside the "
            "session's write(), or add the line `replica: ok` to its doc if it only reads "
            "and a replica's slightly older data will do."
        )
    return found.sql


@contextmanager
def translated() -> Iterator[None]:
    """Run the block; a driver error raised in it becomes the defi-sql error for it."""
    try:
        yield
    except psycopg.Error as exc:
        raise translate(exc) from None


@asynccontextmanager
async def transaction(conn: AsyncConnection[Any]) -> AsyncIterator[None]:
    """Multi-step work in one transaction (a savepoint when one is already open).

    Everything inside commits together or not at all; a defi-sql error raised
    inside rolls it back and propagates unchanged.
    """
    with translated():
        async with _checked(conn).transaction():
            yield


@asynccontextmanager
async def acting_as(conn: AsyncConnection[Any], user_id: UUID) -> AsyncIterator[None]:
    """A transaction acting for ``user_id``: what a ``defi_app`` session may see and change.

    Row-level security (migration 0015) limits ``defi_app`` to that user's rows
    of users, positions, alerts and intents. The setting is local to the
    transaction, so a pooled connection never carries it to its next borrower.
    Inside an open transaction (e.g. the ``work`` of ``run_transaction``) it is
    a savepoint, and the user acted for before is restored when it ends.
    """
    user = validate.uuid(user_id, "user_id")
    nested = conn.info.transaction_status != TransactionStatus.IDLE
    async with transaction(conn):
        # a transaction of its own ends with the setting: only a nested one restores it
        previous = await fetch_value(conn, "session_acting_user", {}) if nested else None
        await fetch_value(conn, "session_act_for_user", {"user_id": user})
        yield
        if nested:
            await fetch_value(conn, "session_act_for_user", {"user_id": previous})


async def fetch_one(
    conn: AsyncConnection[Any], name: str, params: Params, cls: type[T]
) -> T | None:
    """The first row of the read-only query ``name`` as ``cls``, or None."""
    with translated():
        async with _checked(conn).cursor(row_factory=struct_row(cls, query=name)) as cur:
            use_raw_json(cur.adapters)
            await cur.execute(_sql(conn, name), params)
            return await cur.fetchone()


async def write_one(
    conn: AsyncConnection[Any], name: str, params: Params, cls: type[T]
) -> T | None:
    """Run the writing query ``name`` (``RETURNING``); its first row as ``cls``, or None."""
    rows = await write_all(conn, name, params, cls)
    return rows[0] if rows else None


async def write_all(conn: AsyncConnection[Any], name: str, params: Params, cls: type[T]) -> list[T]:
    """Run the writing query ``name`` (``RETURNING``); every row as ``cls``."""
    rows: list[T] = await _rows(conn, name, params, cls, write=True)
    return rows


async def fetch_all(conn: AsyncConnection[Any], name: str, params: Params, cls: type[T]) -> list[T]:
    """Every row of query ``name`` as ``cls``."""
    rows: list[T] = await _rows(conn, name, params, cls, write=False)
    return rows


async def fetch_batch(
    conn: AsyncConnection[Any], name: str, params: Params, cls: type[T]
) -> Batch[T]:
    """Every row of query ``name`` as ``cls``; rows that do not fit are set aside.

    For reads across users: one stored row that cannot be read never stops
    the others (:class:`~defi_sql.rows.Batch`).
    """
    return Batch(await _rows(conn, name, params, cls, write=False, lenient=True))


async def write_batch(
    conn: AsyncConnection[Any], name: str, params: Params, cls: type[T]
) -> Batch[T]:
    """:func:`write_all` for writes across users: rows that do not fit are set aside.

    To act on the set-aside rows atomically with the write, call this inside
    :func:`transaction`.
    """
    return Batch(await _rows(conn, name, params, cls, write=True, lenient=True))


async def _rows(
    conn: AsyncConnection[Any],
    name: str,
    params: Params,
    cls: type[T],
    *,
    write: bool,
    lenient: bool = False,
) -> list[Any]:
    """The rows of query ``name`` as ``cls``; a write runs in a transaction (or savepoint).

    ``lenient``: an :class:`~defi_sql.errors.UnreadableRow` stands in for each
    row that does not fit, instead of raising it.
    """
    with translated():
        async with (
            _checked(conn).transaction() if write else nullcontext(),
            _checked(conn).cursor(row_factory=struct_row(cls, lenient=lenient, query=name)) as cur,
        ):
            use_raw_json(cur.adapters)
            await cur.execute(_sql(conn, name), params)
            with paused_gc():  # the rows are already here: building them is pure CPU
                return await cur.fetchall()


async def fetch_value(conn: AsyncConnection[Any], name: str, params: Params) -> Any:
    """The first column of the first row of query ``name`` (None without rows)."""
    with translated():
        async with _checked(conn).cursor() as cur:
            await cur.execute(_sql(conn, name), params)
            row = await cur.fetchone()
            return None if row is None else row[0]


async def fetch_int(conn: AsyncConnection[Any], name: str, params: Params) -> int:
    """The integer in the first column of the first row of query ``name``.

    For a query that promises one (``returns: int``, its column ``not null:``
    or under ``coalesce``): no row, a NULL or a value of another type raises
    :class:`~defi_sql.errors.UnreadableRow` naming the query and the column,
    instead of ``int(None)``'s TypeError, or a wrong number passed on as right.
    """
    with translated():
        async with _checked(conn).cursor() as cur:
            await cur.execute(_sql(conn, name), params)
            row = await cur.fetchone()
            column = cur.description[0].name if cur.description else "?column?"
    value = None if row is None else row[0]
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if row is None:
        found = "no row"
    else:
        found = f"{'NULL' if value is None else repr(value)} in column {column}"
    raise UnreadableRow(
        f"query {name} ({statement(name).where}) returned {found} where its caller needs an "
        "integer; make the query return one (an aggregate without GROUP BY, coalesce(), a "
        "cast to bigint), or make the caller accept None.",
        table=name,
        row_id=None,
        field=column,
    )


async def execute(conn: AsyncConnection[Any], name: str, params: Params) -> int:
    """Run query ``name``; return the number of rows it affected."""
    with translated():
        async with _checked(conn).transaction(), conn.cursor() as cur:
            await cur.execute(_sql(conn, name), params)
            return cur.rowcount


async def stream(
    conn: AsyncConnection[Any], name: str, params: Params, cls: type[T], *, batch: int = 2000
) -> AsyncGenerator[T, None]:
    """The rows of query ``name`` through a server-side cursor, ``batch`` at a time.

    Memory stays flat however many rows there are. Needs a transaction: on an
    autocommit connection one is opened for the duration of the iteration.
    """
    validate.positive_int(batch, "batch")
    with translated():
        async with _checked(conn).transaction():
            cursor_name = f"defi_sql_{name}_{next(_cursor_numbers)}"
            cur = conn.cursor(name=cursor_name, row_factory=struct_row(cls, query=name))
            async with cur:
                use_raw_json(cur.adapters)
                cur.itersize = batch
                await cur.execute(_sql(conn, name), params)
                async for row in cur:
                    yield row
