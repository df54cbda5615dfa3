"""Small helpers shared by the tests (the package's own are used where it has one)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from uuid import UUID

import psycopg
from psycopg import sql

from defi_sql import sync
from defi_sql.migrate.files import forward_paths
from defi_sql.models import UserPreferences
from defi_sql.paths import migrations_dir

if TYPE_CHECKING:
    from .conftest import Api

#: the project's migration ids, in the order they apply
MIGRATION_IDS = [p.stem for p in forward_paths(migrations_dir())]

#: the tables the tests count rows of
TABLES = frozenset(
    {"users", "positions", "signals", "alerts", "intents", "event_store", "event_store_archive"}
)


def wallet(n: int) -> str:
    """The wallet address of test user ``n``: 0x and 40 hex digits."""
    return f"0x{n:040x}"


def count_rows(db: psycopg.Connection[Any], table: str) -> int:
    """How many rows ``table`` (one of :data:`TABLES`) holds."""
    assert table in TABLES, table
    row = db.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table))).fetchone()
    assert row is not None
    return int(row[0])


def new_user(
    on: Api | psycopg.Connection[Any], n: int, prefs: UserPreferences | None = None
) -> UUID:
    """The id of test user ``n`` (wallet :func:`wallet`), created through ``on``: the
    ``api`` fixture (the API under test, sync or async) or a connection (the sync API)."""
    if isinstance(on, psycopg.Connection):
        return sync.users.create(on, wallet_address=wallet(n), preferences=prefs).id
    user_id: UUID = on.users.create(wallet_address=wallet(n), preferences=prefs).id
    return user_id


def wait_for_lock_waiters(
    db: psycopg.Connection[Any], count: int, never: str, *, timeout: float = 30
) -> None:
    """Return once exactly ``count`` sessions of this database wait on a lock
    (``wait_event_type = 'Lock'``); fail with ``never`` after ``timeout`` seconds."""
    waiting = (
        "SELECT count(*) FROM pg_stat_activity"
        " WHERE datname = current_database() AND wait_event_type = 'Lock'"
    )
    deadline = time.monotonic() + timeout
    while db.execute(waiting).fetchone() != (count,):
        assert time.monotonic() < deadline, never
        time.sleep(0.02)


def session_running(
    conn: psycopg.Connection[Any], text: str, never: str, *, timeout: float = 30
) -> int:
    """The pid of another session whose query contains ``text``, once one runs it;
    fail with ``never`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        row = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE query LIKE %s AND pid <> pg_backend_pid()",
            (f"%{text}%",),
        ).fetchone()
        if row:
            return int(row[0])
        assert time.monotonic() < deadline, never
        time.sleep(0.05)


def at_once(count: int, work: Callable[[int], None]) -> list[BaseException]:
    """``work(i)`` for every i < ``count``, in threads released together by a
    barrier; what they raised (nothing, when all went well)."""
    errors: list[BaseException] = []
    start = threading.Barrier(count)

    def run(i: int) -> None:
        try:
            start.wait()
            work(i)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors
