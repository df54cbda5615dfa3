"""Real faults on real servers: killed connections, a restart, SIGKILL during ingest.

Nothing is mocked. A connection is ended by ``pg_terminate_backend`` from a
second (admin) connection, or by its own backend in a commit-time trigger; a
server is restarted by ``pg_ctl``, or its postmaster is killed by SIGKILL. The
restart and the SIGKILL happen on a PostgreSQL 18 server of this module's own,
never on the session's shared ones. Each test prints one summary line of its
figures (``pytest -s`` shows them).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
import shutil
import signal
import tempfile
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import psutil
import psycopg
import pytest
from psycopg import IsolationLevel
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from psycopg_pool import AsyncConnectionPool

from defi_sql import aio as db
from defi_sql import sync
from defi_sql.dev import embedded
from defi_sql.errors import (
    CommitOutcomeUnknown,
    ConcurrencyConflict,
    Conflict,
    ConnectionLost,
    DatabaseUnavailable,
    DefiSqlError,
    InvalidInput,
    TransientConflict,
)
from defi_sql.migrate import Migrator
from defi_sql.models import NewEvent, NewPosition

from .conftest import cli
from .helpers import wallet

LOST = (
    "the database connection was lost (terminating connection due to administrator command); "
    "what was not yet committed was rolled back, so run it again on a new connection."
)
UNKNOWN = (
    "the connection was lost while committing, so the transaction may or may not have "
    "committed; check whether its writes are there before running it again."
)


def snapshot(user_id: UUID, n: int, *, batch: int = 0, address: str = wallet(1)) -> NewPosition:
    at = datetime(2025, 1, 1, tzinfo=UTC) + timedelta(seconds=n)
    return NewPosition(
        user_id=user_id,
        wallet_address=address,
        protocol="aave-v3",
        health_factor=None,
        metadata={"batch": batch},
        snapshot_at=at,
    )


def terminate(admin: psycopg.Connection[Any], pid: int) -> None:
    """End backend ``pid`` and wait (up to 5 s) until it has exited."""
    row = admin.execute("SELECT pg_terminate_backend(%s, 5000)", [pid]).fetchone()
    assert row == (True,)


def count(admin: psycopg.Connection[Any], query: str, *params: object) -> int:
    row = admin.execute(query, params).fetchone()
    assert row is not None
    return int(row[0])


def written(admin: psycopg.Connection[Any], address: str) -> tuple[int, int]:
    """(users, positions) recorded for wallet ``address``."""
    return (
        count(admin, "SELECT count(*) FROM users WHERE wallet_address = %s", address),
        count(admin, "SELECT count(*) FROM positions WHERE wallet_address = %s", address),
    )


def one_sentence(message: str) -> bool:
    return "\n" not in message and message.endswith(".") and "password" not in message


@pytest.fixture
def admin(db_url: str) -> Iterator[psycopg.Connection[Any]]:
    """A second connection to the test's database, for killing and counting."""
    with psycopg.connect(db_url, autocommit=True) as conn:
        yield conn


# -- 1. a connection killed in the middle of a transaction ---------------------------------


def test_a_connection_killed_mid_transaction_is_a_typed_error_and_writes_nothing(
    db_url: str, admin: psycopg.Connection[Any]
) -> None:
    address = wallet(1)

    async def body() -> ConnectionLost:
        async with await psycopg.AsyncConnection.connect(db_url, autocommit=True) as conn:
            with pytest.raises(ConnectionLost) as caught:
                async with db.transaction(conn):
                    user = await db.users.create(conn, wallet_address=address)
                    rows = [snapshot(user.id, n, address=address) for n in range(5)]
                    assert await db.positions.ingest(conn, rows) == 5
                    assert written(admin, address) == (0, 0)  # not committed yet
                    terminate(admin, conn.info.backend_pid)
                    await db.positions.create(conn, snapshot(user.id, 5, address=address))
            assert conn.broken
            return caught.value

    error = asyncio.run(body())
    assert isinstance(error, DatabaseUnavailable) and isinstance(error, ConnectionError)
    assert str(error) == LOST and one_sentence(str(error))
    assert written(admin, address) == (0, 0)

    with (  # the sync twin, the same
        psycopg.connect(db_url, autocommit=True) as conn,
        pytest.raises(ConnectionLost) as caught,
        sync.transaction(conn),
    ):
        user = sync.users.create(conn, wallet_address=address)
        sync.positions.ingest(conn, [snapshot(user.id, n, address=address) for n in range(5)])
        terminate(admin, conn.info.backend_pid)
        sync.positions.create(conn, snapshot(user.id, 5, address=address))
    assert str(caught.value) == LOST
    left = written(admin, address)
    assert left == (0, 0)
    print(
        f"\nkilled mid-transaction: wrote 1 user + 5 positions (async, sync), "
        f"got {type(error).__name__} both times; left behind: users {left[0]}, positions {left[1]}"
    )


# -- 2. a pool whose connections were all killed ------------------------------------------


def kill_all_but_me(admin: psycopg.Connection[Any]) -> int:
    return count(
        admin,
        "SELECT count(pg_terminate_backend(pid, 5000)) FROM pg_stat_activity"
        " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        " AND backend_type = 'client backend'",
    )


def test_a_pool_recovers_when_all_its_connections_are_killed(
    db_url: str, admin: psycopg.Connection[Any], caplog: pytest.LogCaptureFixture
) -> None:
    async def body() -> tuple[int, int, float, int]:
        async with await db.open_pool(db_url, min_size=10, max_size=10) as pool:
            async with pool.connection() as conn:
                before = conn.info.backend_pid
            killed = kill_all_but_me(admin)
            started = time.monotonic()
            async with pool.connection() as conn:  # no error: the dead ones are replaced
                await db.users.create(conn, wallet_address=wallet(2))
                assert conn.info.backend_pid != before
            took = time.monotonic() - started
            discarded = pool.get_stats().get("returns_bad", 0)

        # a pool without the check hands out a dead connection once, then recovers;
        # run_transaction covers even that (the loss happens before COMMIT: retried)
        plain: AsyncConnectionPool[Any] = AsyncConnectionPool(
            db_url, min_size=1, max_size=1, kwargs={"autocommit": True}, open=False
        )
        async with plain:
            await plain.wait()
            kill_all_but_me(admin)
            with pytest.raises(ConnectionLost):
                async with plain.connection() as conn:
                    await db.users.create(conn, wallet_address=wallet(3))
            async with plain.connection() as conn:
                await db.users.create(conn, wallet_address=wallet(3))
            kill_all_but_me(admin)
            calls = 0

            async def work(conn: psycopg.AsyncConnection[Any]) -> None:
                nonlocal calls
                calls += 1
                await db.users.create(conn, wallet_address=wallet(4))

            await db.run_transaction(plain, work)
        return killed, discarded, took, calls

    with caplog.at_level(logging.INFO, logger="defi_sql.retry"):
        killed, discarded, took, calls = asyncio.run(body())
    with sync.open_pool(db_url, min_size=3, max_size=3) as pool:  # the sync twin, the same
        assert kill_all_but_me(admin) == 3
        with pool.connection() as conn:
            sync.users.create(conn, wallet_address=wallet(9))
    retries = [r.getMessage() for r in caplog.records if r.name == "defi_sql.retry"]
    assert killed == 10
    assert discarded == 10 and took < 2
    assert len(retries) == 1 and "terminating connection" in retries[0], retries
    assert calls == 1  # the first attempt failed at BEGIN, before work ran
    assert count(admin, "SELECT count(*) FROM users") == 4
    print(
        f"\npool recovery: open_pool: {killed} connections killed, next use ok in "
        f"{took * 1000:.0f} ms ({discarded} discarded); plain psycopg_pool: first use "
        f"ConnectionLost, second ok; run_transaction on it: {len(retries) + 1} attempts, "
        f"{calls} call of work, write landed once"
    )


def test_open_pool_on_a_server_that_is_down_is_one_sentence() -> None:
    with pytest.raises(DatabaseUnavailable) as caught:
        sync.open_pool("postgresql://app:s3cret@127.0.0.1:1/defi", timeout=0.5)
    assert str(caught.value) == (
        "cannot connect to postgresql://app:***@127.0.0.1:1/defi within 0.5s; check that the "
        "server is running and that DATABASE_URL (or DB_*) is right."
    )
    print("\nopen_pool on a closed port: DatabaseUnavailable, password masked")


# -- 3. run_transaction -------------------------------------------------------------------


@pytest.fixture
def counter(admin: psycopg.Connection[Any]) -> psycopg.Connection[Any]:
    admin.execute("CREATE TABLE counter (id int PRIMARY KEY, n int NOT NULL)")
    admin.execute("INSERT INTO counter VALUES (1, 0)")
    return admin


async def increment(conn: psycopg.AsyncConnection[Any]) -> int:
    cur = await conn.execute("SELECT n FROM counter WHERE id = 1")
    row = await cur.fetchone()
    assert row is not None
    return int(row[0]) + 1


def test_a_serialization_failure_is_retried(db_url: str, counter: psycopg.Connection[Any]) -> None:
    calls = 0

    async def work(conn: psycopg.AsyncConnection[Any]) -> int:
        nonlocal calls
        calls += 1
        n = await increment(conn)  # the snapshot is taken here
        if calls == 1:  # a concurrent transaction updates the row and commits first
            counter.execute("UPDATE counter SET n = n + 1 WHERE id = 1")
        await conn.execute("UPDATE counter SET n = %s WHERE id = 1", [n])  # 40001 the first time
        return n

    async def body() -> int:
        async with await db.open_pool(db_url) as pool:
            return await db.run_transaction(
                pool, work, isolation=IsolationLevel.REPEATABLE_READ, first_delay=0.01
            )

    assert asyncio.run(body()) == 2
    assert calls == 2
    final = count(counter, "SELECT n FROM counter WHERE id = 1")
    assert final == 2  # both increments: no lost update

    sync_calls = 0

    def sync_work(conn: psycopg.Connection[Any]) -> None:  # the sync twin retries the same
        nonlocal sync_calls
        sync_calls += 1
        row = conn.execute("SELECT n FROM counter WHERE id = 1").fetchone()
        assert row is not None
        if sync_calls == 1:
            counter.execute("UPDATE counter SET n = n + 1 WHERE id = 1")
        conn.execute("UPDATE counter SET n = %s WHERE id = 1", [row[0] + 1])

    with sync.open_pool(db_url) as pool:
        sync.run_transaction(pool, sync_work, isolation=IsolationLevel.SERIALIZABLE)
    assert sync_calls == 2
    assert count(counter, "SELECT n FROM counter WHERE id = 1") == 4
    print(
        f"\nserialization failure: async {calls} calls, counter {final} (expected 2); "
        f"sync {sync_calls} calls, counter 4 (expected 4)"
    )


def test_a_connection_killed_while_work_runs_is_retried_on_a_fresh_one(
    db_url: str, admin: psycopg.Connection[Any]
) -> None:
    address = wallet(5)
    pids: list[int] = []

    async def work(conn: psycopg.AsyncConnection[Any]) -> UUID:
        pids.append(conn.info.backend_pid)
        user = await db.users.create(conn, wallet_address=address)
        if len(pids) == 1:
            terminate(admin, conn.info.backend_pid)
        await db.positions.create(conn, snapshot(user.id, 0, address=address))
        return user.id

    async def body() -> UUID:
        async with await db.open_pool(db_url, min_size=1, max_size=1) as pool:
            return await db.run_transaction(pool, work, first_delay=0.01)

    user_id = asyncio.run(body())
    assert len(pids) == 2 and pids[0] != pids[1]
    assert written(admin, address) == (1, 1)
    assert count(admin, "SELECT count(*) FROM users WHERE id = %s", user_id) == 1
    print(f"\nkilled during work: {len(pids)} calls on 2 backends, landed: users 1, positions 1")


def test_errors_that_retrying_cannot_fix_are_raised_after_one_attempt(
    db_url: str, admin: psycopg.Connection[Any]
) -> None:
    stream = UUID(int=7)
    with psycopg.connect(db_url, autocommit=True) as conn:
        sync.users.create(conn, wallet_address=wallet(6))
        sync.events.append(
            conn,
            stream_type="t",
            stream_id=stream,
            expected_version=0,
            events=[NewEvent(event_type="e", payload={})],
        )
    calls: dict[str, int] = {}

    async def invalid(conn: psycopg.AsyncConnection[Any]) -> object:
        calls["InvalidInput"] = calls.get("InvalidInput", 0) + 1
        return await db.users.create(conn, wallet_address="not a wallet")

    async def duplicate(conn: psycopg.AsyncConnection[Any]) -> object:
        calls["Conflict"] = calls.get("Conflict", 0) + 1
        return await db.users.create(conn, wallet_address=wallet(6))

    async def stale(conn: psycopg.AsyncConnection[Any]) -> object:
        calls["ConcurrencyConflict"] = calls.get("ConcurrencyConflict", 0) + 1
        return await db.events.append(
            conn,
            stream_type="t",
            stream_id=stream,
            expected_version=0,
            events=[NewEvent(event_type="e", payload={})],
        )

    async def fine(conn: psycopg.AsyncConnection[Any]) -> object:
        return await db.users.create(conn, wallet_address=wallet(8))

    async def nested(conn: psycopg.AsyncConnection[Any]) -> object:
        calls["nested"] = calls.get("nested", 0) + 1
        return await db.run_transaction(pool, fine)

    async def body() -> None:
        nonlocal pool
        async with await db.open_pool(db_url) as pool:
            for work, error in (
                (invalid, InvalidInput),
                (duplicate, Conflict),
                (stale, ConcurrencyConflict),
                (nested, InvalidInput),
            ):
                with pytest.raises(error) as caught:
                    await db.run_transaction(pool, work, first_delay=0.01)
                assert not isinstance(caught.value, TransientConflict)
            assert "inside another run_transaction's work" in str(caught.value)

    pool: Any = None
    asyncio.run(body())
    assert count(admin, "SELECT count(*) FROM users WHERE wallet_address = %s", wallet(8)) == 0
    assert calls == {"InvalidInput": 1, "Conflict": 1, "ConcurrencyConflict": 1, "nested": 1}
    print(f"\nnot retried: calls per error {calls}")


def test_attempts_are_bounded(db_url: str, counter: psycopg.Connection[Any]) -> None:
    calls = 0

    async def work(conn: psycopg.AsyncConnection[Any]) -> None:
        nonlocal calls
        calls += 1
        n = await increment(conn)
        counter.execute("UPDATE counter SET n = n + 1 WHERE id = 1")  # every time
        await conn.execute("UPDATE counter SET n = %s WHERE id = 1", [n])

    async def body() -> TransientConflict:
        async with await db.open_pool(db_url) as pool:
            with pytest.raises(TransientConflict) as caught:
                await db.run_transaction(
                    pool, work, attempts=3, isolation=IsolationLevel.REPEATABLE_READ
                )
            return caught.value

    started = time.monotonic()
    error = asyncio.run(body())
    elapsed = time.monotonic() - started
    assert calls == 3
    assert str(error) == (
        "could not serialize access due to concurrent update; retry the operation"
    )
    assert isinstance(error, ConcurrencyConflict)  # what callers caught before still catches it
    assert elapsed < 2  # two pauses, of at most 50 ms and 100 ms
    print(f"\nbounded: attempts=3 -> {calls} calls, then TransientConflict, in {elapsed:.2f}s")


@pytest.fixture
def dies_on_commit(admin: psycopg.Connection[Any]) -> psycopg.Connection[Any]:
    """Table ``outbox``: the first ``kills`` transactions that insert into it lose their
    connection during COMMIT (a deferred trigger makes the backend terminate itself; a
    sequence, which no rollback undoes, counts them)."""
    admin.execute("CREATE TABLE outbox (id int PRIMARY KEY)")
    admin.execute("CREATE TABLE kills (remaining int NOT NULL)")
    admin.execute("CREATE SEQUENCE commits_seen")
    admin.execute(
        """
        CREATE FUNCTION die_on_commit() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF nextval('commits_seen') <= (SELECT remaining FROM kills) THEN
                PERFORM pg_terminate_backend(pg_backend_pid());
            END IF;
            RETURN NULL;
        END $$
        """
    )
    admin.execute(
        "CREATE CONSTRAINT TRIGGER die_on_commit AFTER INSERT ON outbox"
        " DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION die_on_commit()"
    )
    admin.execute("INSERT INTO kills VALUES (1)")
    return admin


def test_a_connection_lost_during_commit_is_retried_only_when_idempotent(
    db_url: str, dies_on_commit: psycopg.Connection[Any]
) -> None:
    calls = 0

    async def work(conn: psycopg.AsyncConnection[Any]) -> None:
        nonlocal calls
        calls += 1
        await conn.execute("INSERT INTO outbox VALUES (1) ON CONFLICT DO NOTHING")

    async def body() -> tuple[CommitOutcomeUnknown, int]:
        nonlocal calls
        async with await db.open_pool(db_url) as pool:
            with pytest.raises(CommitOutcomeUnknown) as caught:
                await db.run_transaction(pool, work, first_delay=0.01)
            refused = calls
            dies_on_commit.execute("ALTER SEQUENCE commits_seen RESTART")
            calls = 0
            await db.run_transaction(pool, work, idempotent=True, first_delay=0.01)
            return caught.value, refused

    error, refused = asyncio.run(body())
    assert refused == 1
    assert str(error) == UNKNOWN and one_sentence(str(error))
    assert isinstance(error, DatabaseUnavailable) and not isinstance(error, ConnectionLost)
    assert isinstance(error.__cause__, ConnectionLost)  # what the server said, kept as the cause
    assert calls == 2
    rows = count(dies_on_commit, "SELECT count(*) FROM outbox")
    assert rows == 1
    print(
        f"\nlost during COMMIT: not idempotent -> CommitOutcomeUnknown after {refused} call; "
        f"idempotent=True -> {calls} calls, rows {rows}"
    )


# -- 4. and 5. a server of our own: restarted, then killed --------------------------------


class OwnServer:
    def __init__(self, root: Path, url: str) -> None:
        self.root = root
        self.url = url
        self.pgdata = root / "pg18"

    def restart_after_crash(self) -> None:
        """Start it again the way an operator does, with `defi-sql db start`."""
        env = {"DEFI_SQL_DATA_DIR": str(self.root), "DEFI_SQL_PG_VERSION": "18"}
        started = cli("db", "start", env=env)
        assert started.returncode == 0, started.stderr


@pytest.fixture(scope="module")
def own_server() -> Iterator[OwnServer]:
    """A PostgreSQL 18 server of this module's own, migrated, for restarts and kills."""
    root = Path(tempfile.mkdtemp(prefix="defi-sql-test-faults-"))
    admin = embedded.start(18, database="postgres", root=root)
    embedded.create_database(admin, "faults")
    url = make_conninfo("", **{**conninfo_to_dict(admin), "dbname": "faults"})
    with Migrator(url) as migrator:
        migrator.migrate()
    yield OwnServer(root, url)
    embedded.stop(18, root=root)
    shutil.rmtree(root, ignore_errors=True)


def test_a_server_restart_mid_transaction(own_server: OwnServer) -> None:
    url, address = own_server.url, wallet(10)

    async def body() -> tuple[ConnectionLost, float, int]:
        async with await db.open_pool(url, min_size=2, max_size=2) as pool:
            async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
                with pytest.raises(ConnectionLost) as caught:
                    async with db.transaction(conn):
                        user = await db.users.create(conn, wallet_address=address)
                        rows = [snapshot(user.id, n, address=address) for n in range(5)]
                        await db.positions.ingest(conn, rows)
                        started = time.monotonic()
                        assert embedded.restart(18, root=own_server.root)
                        restart = time.monotonic() - started
                        await db.positions.create(conn, snapshot(user.id, 5, address=address))
            async with pool.connection() as conn:  # the pool's old connections died too
                user = await db.users.create(conn, wallet_address=address)
            calls = 0

            async def work(conn: psycopg.AsyncConnection[Any]) -> None:
                nonlocal calls
                calls += 1
                await db.positions.create(conn, snapshot(user.id, 0, address=address))

            await db.run_transaction(pool, work)
            return caught.value, restart, calls

    error, restart, calls = asyncio.run(body())
    assert str(error).startswith("the database connection was lost (")
    assert one_sentence(str(error))
    assert calls == 1
    with psycopg.connect(url, autocommit=True) as admin:
        assert written(admin, address) == (1, 1)  # only what was written after the restart
    print(
        f"\nserver restart ({restart:.1f}s) mid-transaction: {type(error).__name__}, "
        f"nothing half-written; pool served the next use, run_transaction {calls} call"
    )


BATCH = 200


@pytest.mark.parametrize(
    "victims",
    [
        pytest.param("postmaster", id="postmaster"),  # its children notice and exit
        pytest.param("every-process", id="every-process"),  # WAL writer and backends too
    ],
)
def test_sigkill_during_ingest_loses_no_acknowledged_batch(
    own_server: OwnServer, victims: str
) -> None:
    url, address = own_server.url, wallet(11 if victims == "postmaster" else 12)
    with psycopg.connect(url, autocommit=True) as conn:
        user_id = sync.users.create(conn, wallet_address=address).id
    acknowledged: list[int] = []
    failure: list[BaseException] = []

    def ingest() -> None:
        try:
            with psycopg.connect(url, autocommit=True) as conn:
                for batch in itertools.count():
                    rows = [
                        snapshot(user_id, n, batch=batch, address=address) for n in range(BATCH)
                    ]
                    sync.positions.ingest(conn, rows)
                    acknowledged.append(batch)  # only once ingest has returned: committed
        except (DefiSqlError, psycopg.Error) as exc:
            failure.append(exc)

    writer = threading.Thread(target=ingest, daemon=True)
    writer.start()
    deadline = time.monotonic() + 30
    while len(acknowledged) < 25 and writer.is_alive() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert len(acknowledged) >= 25, failure

    postmaster = int((own_server.pgdata / "postmaster.pid").read_text().splitlines()[0])
    children = psutil.Process(postmaster).children(recursive=True)
    os.kill(postmaster, signal.SIGKILL)
    if victims == "every-process":
        for child in children:
            child.kill()
    writer.join(timeout=30)
    assert not writer.is_alive()
    _, survivors = psutil.wait_procs(children, timeout=30)  # they notice and exit
    assert not survivors, survivors
    assert len(failure) == 1 and isinstance(failure[0], DatabaseUnavailable), failure

    own_server.restart_after_crash()
    with psycopg.connect(url, autocommit=True) as conn:
        present = dict(
            conn.execute(
                "SELECT (metadata->>'batch')::int, count(*) FROM positions"
                " WHERE wallet_address = %s GROUP BY 1",
                [address],
            ).fetchall()
        )
    missing = [b for b in acknowledged if present.get(b) != BATCH]
    who = "the postmaster" if victims == "postmaster" else "every server process"
    partial = [b for b, n in present.items() if n != BATCH]
    unacknowledged = sorted(set(present) - set(acknowledged))
    assert missing == []
    assert partial == []
    assert set(present) <= set(range(len(acknowledged) + 1))  # at most the one in flight
    print(
        f"\nSIGKILL of {who} during ingest: batches acknowledged "
        f"{len(acknowledged)}, present {len(present)} ({sum(present.values())} rows, "
        f"{BATCH} each), unacknowledged but committed {len(unacknowledged)}, partial "
        f"batches {len(partial)}, missing acknowledged {len(missing)}; "
        f"the writer got {type(failure[0]).__name__}"
    )
