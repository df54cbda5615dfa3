"""Small helpers shared by the tests (the package's own are used where it has one)."""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any
from uuid import UUID

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from defi_sql import sync
from defi_sql.dev import replicas
from defi_sql.migrate.files import forward_paths
from defi_sql.models import UserPreferences
from defi_sql.paths import migrations_dir

if TYPE_CHECKING:
    from .conftest import Api, Server

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


def replica_of(server: Server, name: str, delay_ms: int) -> Iterator[str]:
    """A streaming replica ``name`` of the embedded ``server`` (a conninfo for its
    ``postgres`` database), removed afterwards; for a fixture to ``yield from``."""
    assert server.root is not None and server.version is not None
    url = replicas.start(
        name, version=server.version, delay_ms=delay_ms, root=server.root, database="postgres"
    )
    yield url
    replicas.stop(name, version=server.version, root=server.root)
    shutil.rmtree(replicas.replica_dir(name, server.version, server.root))


def on(replica: str, db_url: str) -> str:
    """The replica's conninfo for the database of ``db_url``."""
    params = conninfo_to_dict(replica)
    params["dbname"] = conninfo_to_dict(db_url)["dbname"]
    return make_conninfo("", **params)


def caught_up(db_url: str, *replica_urls: str, within: float = 60.0) -> list[str]:
    """Wait until each replica has replayed everything committed on the primary so far
    (its clone of ``db_url``'s database included); return their URLs for that database."""
    with psycopg.connect(db_url, autocommit=True) as conn:
        row = conn.execute("SELECT pg_current_wal_flush_lsn()::text").fetchone()
        assert row is not None
        target = row[0]
    urls = [on(url, db_url) for url in replica_urls]
    deadline = time.monotonic() + within
    for url in urls:
        while True:
            try:
                with psycopg.connect(url, autocommit=True) as conn:
                    row = conn.execute(
                        "SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", [target]
                    ).fetchone()
                    if row == (True,):
                        break
            except psycopg.OperationalError:
                pass  # the database is not there yet
            assert time.monotonic() < deadline, f"{url} did not catch up within {within}s"
            time.sleep(0.05)
    return urls
