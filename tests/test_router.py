"""The router on real streaming replicas of the embedded server (PostgreSQL 16 and 18).

Replicas are made of the session's embedded server, in its own temporary root
(never the developer's ``.pgdata``): ``fast`` replays at once, ``slow`` one
second after each commit (``recovery_min_apply_delay``), and ``victim`` is made
afresh for each test that kills, restarts or promotes it. Time is checked only
as an upper bound.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from uuid import UUID

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from defi_sql import aio
from defi_sql import sync as db
from defi_sql.dev import embedded, replicas
from defi_sql.errors import ConfigError, InvalidInput, NotReplicaSafe
from defi_sql.lsn import Token
from defi_sql.statements import statement

from .conftest import Server
from .helpers import caught_up, replica_of, wallet

#: the slow replica's replay delay, in milliseconds
DELAY_MS = 1000
#: how long a read waits for a replica in these tests: short, so that reads behind the
#: slow replica fall back to the primary quickly
MAX_WAIT = 0.05


# -- the servers -------------------------------------------------------------------


@pytest.fixture(scope="module")
def primary(server: Server) -> Server:
    if server.root is None or server.version is None:
        pytest.skip("replicas are made of the embedded server, not of TEST_DATABASE_URL")
    return server


@pytest.fixture(scope="module")
def fast(primary: Server) -> Iterator[str]:
    yield from replica_of(primary, "fast", 0)


@pytest.fixture(scope="module")
def slow(primary: Server) -> Iterator[str]:
    yield from replica_of(primary, "slow", DELAY_MS)


@pytest.fixture
def victim(primary: Server) -> Iterator[str]:
    yield from replica_of(primary, "victim", 0)


def host(url: str) -> str:
    return str(conninfo_to_dict(url)["host"])


def pg_ctl(server: Server, name: str, *args: str) -> None:
    assert server.root is not None and server.version is not None
    folder = replicas.replica_dir(name, server.version, server.root)
    done = embedded.run_program(server.version, "pg_ctl", ["--pgdata", str(folder), *args])
    assert done.returncode == 0, done.stderr


@pytest.fixture
def user_id(db_url: str) -> UUID:
    with psycopg.connect(db_url, autocommit=True) as conn:
        return db.users.get_or_create(conn, wallet(1)).id


# -- write-then-read cycles ----------------------------------------------------------


def cycles(write: Callable[[int], None], read: Callable[[], str | None], n: int) -> int:
    """Write value i, read it back, n times; the number of reads that were stale."""
    stale = 0
    for i in range(n):
        write(i)
        stale += read() != str(i)
    return stale


def test_1000_cycles_read_their_writes_through_the_router(
    db_url: str, user_id: UUID, fast: str, slow: str
) -> None:
    slow_db, fast_db = caught_up(db_url, slow, fast)
    served: Counter[str] = Counter()
    with db.open_router(db_url, [slow_db, fast_db], max_wait=MAX_WAIT) as router:
        session = router.session()

        def write(i: int) -> None:
            with session.write() as conn:
                db.users.set_telegram_chat(conn, user_id, str(i))

        def read() -> str | None:
            with session.read() as conn:
                served[conn.info.host] += 1
                return db.users.get(conn, user_id).telegram_chat_id

        assert cycles(write, read, 1000) == 0
    # the slow replica had never replayed the write just made: it served none of them,
    # while the fast one, which had, served reads
    assert served[host(slow_db)] == 0
    assert served[host(fast_db)] > 0
    assert sum(served.values()) == 1000


def test_the_same_cycles_straight_from_the_lagging_replica_read_stale_rows(
    db_url: str, user_id: UUID, slow: str
) -> None:
    """The router off: the check above would fail without it."""
    (slow_db,) = caught_up(db_url, slow)
    with (
        psycopg.connect(db_url, autocommit=True) as writer,
        psycopg.connect(slow_db, autocommit=True) as reader,
    ):
        stale = cycles(
            lambda i: db.users.set_telegram_chat(writer, user_id, str(i)),
            lambda: db.users.get(reader, user_id).telegram_chat_id,
            1000,
        )
    assert stale > 0


def test_1000_cycles_with_the_async_router(
    db_url: str, user_id: UUID, fast: str, slow: str
) -> None:
    slow_db, fast_db = caught_up(db_url, slow, fast)

    async def run() -> tuple[int, Counter[str]]:
        served: Counter[str] = Counter()
        stale = 0
        async with await aio.open_router(db_url, [slow_db, fast_db], max_wait=MAX_WAIT) as router:
            session = router.session()
            for i in range(1000):
                async with session.write() as conn:
                    await aio.users.set_telegram_chat(conn, user_id, str(i))
                async with session.read() as conn:
                    served[conn.info.host] += 1
                    stale += (await aio.users.get(conn, user_id)).telegram_chat_id != str(i)
        return stale, served

    stale, served = asyncio.run(run())
    assert stale == 0
    assert served[host(slow_db)] == 0
    assert served[host(fast_db)] > 0


def test_a_read_behind_a_lagging_replica_waits_at_most_max_wait(
    db_url: str, user_id: UUID, slow: str
) -> None:
    (slow_db,) = caught_up(db_url, slow)
    with db.open_router(db_url, [slow_db], max_wait=0.1) as router:
        session = router.session()
        with session.write() as conn:
            db.users.set_telegram_chat(conn, user_id, "fresh")
        started = time.monotonic()
        with session.read() as conn:
            assert db.users.get(conn, user_id).telegram_chat_id == "fresh"
            assert conn.info.host == host(db_url)  # the primary
        # at most: well under the replica's delay, which waiting for it would have cost
        assert time.monotonic() - started < DELAY_MS / 1000 * 0.8


def test_reads_without_a_token_go_to_any_replica(db_url: str, fast: str, slow: str) -> None:
    replica_urls = caught_up(db_url, slow, fast)
    with db.open_router(db_url, replica_urls, max_wait=MAX_WAIT) as router:
        session = router.session()
        assert session.token is None
        served = set()
        for _ in range(10):
            with session.read() as conn:
                served.add(conn.info.host)
        assert served == {host(url) for url in replica_urls}  # turn by turn, the slow one too


def test_a_token_from_another_request_is_honoured(
    db_url: str, user_id: UUID, fast: str, slow: str
) -> None:
    """A web app keeps the token between requests as text (a cookie) and reads it back."""
    replica_urls = caught_up(db_url, slow, fast)
    with db.open_router(db_url, replica_urls, max_wait=MAX_WAIT) as router:
        first = router.session()
        with first.write() as conn:
            db.users.set_telegram_chat(conn, user_id, "cookie")
        cookie = str(first.token)
        later = router.session(Token.parse(cookie))
        assert later.token == first.token
        for _ in range(20):
            with later.read() as conn:
                assert db.users.get(conn, user_id).telegram_chat_id == "cookie"
                assert conn.info.host != host(replica_urls[0])  # never the slow one


def test_the_token_moves_past_what_a_failed_write_block_committed(
    db_url: str, user_id: UUID, fast: str
) -> None:
    (fast_db,) = caught_up(db_url, fast)
    with db.open_router(db_url, [fast_db], max_wait=1.0) as router:
        session = router.session()
        with pytest.raises(ZeroDivisionError), session.write() as conn:
            db.users.set_telegram_chat(conn, user_id, "kept")  # committed on its own
            _ = 1 / 0
        assert session.token is not None
        with session.read() as conn:
            assert db.users.get(conn, user_id).telegram_chat_id == "kept"


# -- what may run on a read ----------------------------------------------------------


def _refused(name: str) -> str:
    return (
        f"query {name} ({statement(name).where}) may not run on a connection from a "
        "router's read(), since its doc does not declare `replica: ok`; run it inside the "
        "session's write(), or add the line `replica: ok` to its doc if it only reads and a "
        "replica's slightly older data will do."
    )


@pytest.mark.parametrize("replicated", [True, False], ids=["on-a-replica", "fallen-back"])
def test_a_query_not_declared_replica_ok_is_refused_on_a_read(
    db_url: str, user_id: UUID, fast: str, replicated: bool
) -> None:
    """Refused on the primary too when the read fell back to it: a missing declaration
    fails in the first test, not once a replica happens to be chosen."""
    replica_urls = caught_up(db_url, fast) if replicated else []
    with db.open_router(db_url, replica_urls, max_wait=1.0) as router:
        session = router.session()
        with session.read() as conn:
            assert (conn.info.host != host(db_url)) is replicated
            with pytest.raises(NotReplicaSafe) as caught:
                db.users.set_telegram_chat(conn, user_id, "nope")
            assert str(caught.value) == _refused("users_set_telegram_chat")
            with pytest.raises(NotReplicaSafe):
                db.events.version(conn, user_id)  # a read not declared: appends decide on it
            # declared ones run, acting for a user (the session queries) included
            with db.acting_as(conn, user_id):
                assert db.users.get(conn, user_id).id == user_id
        with session.write() as conn:  # the same connection, lent for a write: no guard
            assert db.users.set_telegram_chat(conn, user_id, "yes").telegram_chat_id == "yes"
    with psycopg.connect(db_url) as check:
        row = check.execute("SELECT telegram_chat_id FROM users WHERE id = %s", [user_id])
        assert row.fetchone() == ("yes",)


def test_the_async_read_refuses_alike(db_url: str, user_id: UUID, fast: str) -> None:
    (fast_db,) = caught_up(db_url, fast)

    async def run() -> str:
        async with (
            await aio.open_router(db_url, [fast_db], max_wait=1.0) as router,
            router.session().read() as conn,
        ):
            assert (await aio.users.get(conn, user_id)).id == user_id
            with pytest.raises(NotReplicaSafe) as caught:
                await aio.users.set_telegram_chat(conn, user_id, "nope")
            return str(caught.value)

    assert asyncio.run(run()) == _refused("users_set_telegram_chat")


# -- replicas that die, restart or are promoted ----------------------------------------


def test_a_replica_killed_mid_run_is_skipped_and_nothing_is_stale(
    primary: Server, db_url: str, user_id: UUID, victim: str
) -> None:
    (victim_db,) = caught_up(db_url, victim)
    served: Counter[str] = Counter()
    done = threading.Event()
    count = 0
    outcome: list[int] = []
    with db.open_router(db_url, [victim_db], max_wait=0.2, retry_after=0.1) as router:
        session = router.session()

        def write(i: int) -> None:
            nonlocal count
            count = i
            with session.write() as conn:
                db.users.set_telegram_chat(conn, user_id, str(i))

        def read() -> str | None:
            def work(conn: psycopg.Connection[Any]) -> str | None:
                served[conn.info.host] += 1
                return db.users.get(conn, user_id).telegram_chat_id

            return session.run_read(work)  # a read cut by the kill runs again elsewhere

        def run() -> None:
            try:
                outcome.append(cycles(write, read, 1000))
            finally:
                done.set()

        runner = threading.Thread(target=run)
        runner.start()
        while count < 300 and not done.is_set():
            time.sleep(0.001)
        pg_ctl(primary, "victim", "--mode=immediate", "stop")  # a crash, mid-run
        runner.join(timeout=300)
        assert not runner.is_alive()
        assert outcome == [0]  # all 1,000 cycles ran, and no read was stale
        assert served[host(victim_db)] > 0 and served[host(db_url)] > 0
        (state,) = router.replicas()
        assert not state.up and state.error

        # restarted (crash recovery): used again once it answers, with no error on the way
        assert primary.root is not None
        replicas.start("victim", version=primary.version, root=primary.root)
        deadline = time.monotonic() + 60
        while True:
            write(1001)
            if read() == "1001" and served[host(victim_db)] > 0 and router.replicas()[0].up:
                break
            assert time.monotonic() < deadline, router.replicas()
            time.sleep(0.05)
        before = served[host(victim_db)]
        for _ in range(20):
            assert read() == "1001"
        assert served[host(victim_db)] > before


def test_a_replica_restarted_between_reads_leaves_no_broken_connection_behind(
    primary: Server, db_url: str, user_id: UUID, victim: str
) -> None:
    (victim_db,) = caught_up(db_url, victim)
    with db.open_router(db_url, [victim_db], max_wait=1.0, max_size=3) as router:
        session = router.session()
        with session.read() as a, session.read() as b:  # two pooled connections
            assert {a.info.host, b.info.host} == {host(victim_db)}
        pg_ctl(primary, "victim", "--wait", "--mode=fast", "restart")
        for _ in range(5):  # the pool's connections died with the server: replaced unseen
            with session.read() as conn:
                assert db.users.get(conn, user_id).id == user_id
        assert router.replicas()[0].up


def test_a_promoted_replica_is_no_longer_read_from(
    primary: Server, db_url: str, user_id: UUID, victim: str, fast: str
) -> None:
    victim_db, fast_db = caught_up(db_url, victim, fast)
    with db.open_router(db_url, [victim_db, fast_db], max_wait=MAX_WAIT) as router:
        session = router.session()
        served = set()
        for _ in range(4):
            with session.read() as conn:
                served.add(conn.info.host)
        assert host(victim_db) in served
        pg_ctl(primary, "victim", "--wait", "promote")  # it leaves the primary's timeline
        for i in range(50):
            with session.write() as conn:
                db.users.set_telegram_chat(conn, user_id, f"after {i}")
            with session.read() as conn:
                assert conn.info.host != host(victim_db)
                assert db.users.get(conn, user_id).telegram_chat_id == f"after {i}"
        for _ in range(10):  # nor without a token: it no longer follows the primary
            with router.session().read() as conn:
                assert conn.info.host != host(victim_db)
        victim_state, fast_state = router.replicas()
        assert not victim_state.up
        assert victim_state.error == "it is not in recovery (promoted, or not a replica)"
        assert fast_state.up


def test_a_replica_down_from_the_start_is_skipped(
    db_url: str, user_id: UUID, tmp_path: Path
) -> None:
    nowhere = make_conninfo(db_url, host=str(tmp_path))  # no server listens there
    with db.open_router(db_url, [nowhere], max_wait=0.1, retry_after=60) as router:
        session = router.session()
        started = time.monotonic()
        for _ in range(3):
            with session.read() as conn:
                assert conn.info.host == host(db_url)
                assert db.users.get(conn, user_id).id == user_id
        assert time.monotonic() - started < 10  # at most one try: then skipped at once
        (state,) = router.replicas()
        assert not state.up and state.error and "No such file or directory" in state.error


# -- arguments -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "lsn"),
    [
        pytest.param("0/0", 0, id="zero"),
        pytest.param("16/B374D848", (0x16 << 32) | 0xB374D848, id="upper"),
        pytest.param("16/b374d848", (0x16 << 32) | 0xB374D848, id="lower"),
        pytest.param(" 0/3000000\n", 0x3000000, id="blanks"),
        pytest.param("FFFFFFFF/FFFFFFFF", 2**64 - 1, id="largest"),
    ],
)
def test_token_parse(text: str, lsn: int) -> None:
    token = Token.parse(text)
    assert token == Token(lsn)
    assert Token.parse(str(token)) == token
    assert str(token) == text.strip().upper()


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("", id="empty"),
        pytest.param("16", id="no-slash"),
        pytest.param("16/", id="no-low-half"),
        pytest.param("/1", id="no-high-half"),
        pytest.param("G/1", id="not-hex"),
        pytest.param("100000000/0", id="too-long"),
        pytest.param(16, id="a-number"),
    ],
)
def test_token_parse_bad(text: Any) -> None:
    with pytest.raises(InvalidInput) as caught:
        Token.parse(text)
    assert str(caught.value) == (
        f"{text!r} is not a WAL position; pass one as PostgreSQL writes a pg_lsn, "
        "e.g. '16/B374D848' (str() of a Token)."
    )


def test_tokens_are_ordered() -> None:
    assert Token.parse("0/FFFFFFFF") < Token.parse("1/0") < Token.parse("1/1")
    assert max(Token.parse("1/0"), Token.parse("0/5")) == Token.parse("1/0")


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        pytest.param(
            {"replicas": "postgresql://postgres@/db?host=/tmp"},
            InvalidInput,
            "replicas must be a list of connection strings (one per replica), not str; "
            "pass [url] for one.",
            id="one-string",
        ),
        pytest.param(
            {"replicas": [None]},
            InvalidInput,
            "replicas must be a list of connection strings (one per replica), not list; "
            "pass [url] for one.",
            id="not-strings",
        ),
        pytest.param(
            {"max_wait": -1},
            InvalidInput,
            "max_wait must be a number of seconds, at least 0, not -1.",
            id="negative-wait",
        ),
        pytest.param(
            {"retry_after": "1"},
            InvalidInput,
            "retry_after must be a number of seconds, at least 0, not '1'.",
            id="text-retry",
        ),
        pytest.param(
            {"replicas": ["host=/tmp port"]},
            ConfigError,
            "the replica connection string <unparseable connection string> is not valid; "
            "write it as postgresql://user:password@host:5432/database.",
            id="bad-conninfo",
        ),
    ],
)
def test_open_router_bad(kwargs: dict[str, Any], error: type[Exception], message: str) -> None:
    with pytest.raises(error) as caught:
        db.open_router("postgresql://postgres@/nowhere?host=/nonexistent", **kwargs)
    assert str(caught.value) == message


def test_a_session_takes_a_token_not_its_text(db_url: str) -> None:
    with db.open_router(db_url) as router:
        with pytest.raises(InvalidInput) as caught:
            router.session("0/0")  # type: ignore[arg-type]
        assert str(caught.value) == "token must be a Token (Token.parse(text) reads one), not str."
