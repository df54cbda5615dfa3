"""Consumers of the event store never miss an event and never see one twice.

The failure these tests reproduce: positions are taken at INSERT, not at
COMMIT, so a transaction that appends position 1 and commits after another
one committed position 2 is skipped for ever by a consumer that checkpointed
2. Every scenario is deterministic: open transactions are held open on
purpose, on connections of their own, and the consumer's log is compared with
the table.
"""

from __future__ import annotations

import asyncio
import os
import random
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any
from uuid import UUID, uuid4

import psycopg
import pytest

from defi_sql import aio, sync
from defi_sql.errors import InvalidInput, NotFound
from defi_sql.models import Checkpoint, Event, NewEvent

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def note(n: int) -> NewEvent:
    return NewEvent(event_type="Noted", payload={"n": n})


def append(conn: psycopg.Connection[Any], stream: UUID, expected: int, n: int) -> Event:
    [event] = sync.events.append(
        conn, stream_type="note", stream_id=stream, expected_version=expected, events=[note(n)]
    )
    return event


def table_ids(db: psycopg.Connection[Any]) -> list[UUID]:
    rows = db.execute(
        "SELECT event_id FROM event_store_archive UNION ALL SELECT event_id FROM event_store"
    ).fetchall()
    return [r[0] for r in rows]


class Log:
    """A handler that records what it was given, in order."""

    def __init__(self) -> None:
        self.events: list[Event] = []

    def __call__(self, conn: psycopg.Connection[Any], events: list[Event]) -> None:
        self.events.extend(events)

    @property
    def ids(self) -> list[UUID]:
        return [e.event_id for e in self.events]


@pytest.fixture
def conns(db_url: str) -> Iterator[list[psycopg.Connection[Any]]]:
    """Two writers (not autocommit: they hold transactions open) and a consumer."""
    made = [
        psycopg.connect(db_url),
        psycopg.connect(db_url),
        psycopg.connect(db_url, autocommit=True),
    ]
    try:
        yield made
    finally:
        for conn in made:
            conn.close()


# -- the late commit, reproduced ---------------------------------------------------


def test_an_event_that_commits_late_is_not_skipped(
    db: psycopg.Connection[Any], conns: list[psycopg.Connection[Any]]
) -> None:
    t1, t2, consumer = conns
    x, y = uuid4(), uuid4()
    with t1.transaction():
        first = append(t1, x, 0, 1)  # position 1, transaction still open
        with t2.transaction():
            second = append(t2, y, 0, 2)
        assert first.position < second.position
        # what a position-based consumer saw: 2 committed, 1 not yet
        assert db.execute("SELECT max(position) FROM event_store").fetchone() == (second.position,)
        assert sync.events.read_all_after(consumer) == []  # it waits for t1, it does not skip
    read = sync.events.read_all_after(consumer)
    assert [e.event_id for e in read] == [first.event_id, second.event_id]
    assert sync.events.read_all_after(consumer, Checkpoint.of(read[-1])) == []


def test_a_subscription_gets_the_late_event_exactly_once(
    db: psycopg.Connection[Any], conns: list[psycopg.Connection[Any]]
) -> None:
    t1, t2, consumer = conns
    sync.subscriptions.subscribe(consumer, "projection")
    log = Log()
    with t1.transaction():
        first = append(t1, uuid4(), 0, 1)
        with t2.transaction():
            second = append(t2, uuid4(), 0, 2)
        assert sync.subscriptions.poll(consumer, "projection", log) == 0
    assert sync.subscriptions.poll(consumer, "projection", log) == 2
    assert sync.subscriptions.poll(consumer, "projection", log) == 0
    assert log.ids == [first.event_id, second.event_id]
    sub = sync.subscriptions.get(consumer, "projection")
    assert (sub.checkpoint, sub.events_handled) == (Checkpoint.of(log.events[-1]), 2)


def test_a_slow_transaction_that_rolls_back_leaves_only_the_committed_event(
    db: psycopg.Connection[Any], conns: list[psycopg.Connection[Any]]
) -> None:
    t1, t2, consumer = conns
    sync.subscriptions.subscribe(consumer, "projection")
    log = Log()
    t1.execute("BEGIN")
    append(t1, uuid4(), 0, 1)
    with t2.transaction():
        second = append(t2, uuid4(), 0, 2)
    assert sync.subscriptions.poll(consumer, "projection", log) == 0
    t1.rollback()
    assert sync.subscriptions.poll(consumer, "projection", log) == 1
    assert log.ids == [second.event_id] == table_ids(db)


def test_a_consumer_waits_for_a_transaction_left_open_for_seconds_then_delivers(
    db_url: str, conns: list[psycopg.Connection[Any]]
) -> None:
    t1, t2, consumer = conns
    sync.subscriptions.subscribe(consumer, "projection")
    log = Log()
    stop = threading.Event()
    delivered_at: list[float] = []

    def handler(conn: psycopg.Connection[Any], events: list[Event]) -> None:
        log(conn, events)
        delivered_at.append(time.monotonic())

    def follow() -> None:
        with psycopg.connect(db_url, autocommit=True) as listener:
            sync.subscriptions.run(
                consumer,
                "projection",
                handler,
                listener=listener,
                poll_interval=5.0,
                stop=stop.is_set,
            )

    thread = threading.Thread(target=follow)
    thread.start()
    try:
        t1.execute("BEGIN")
        first = append(t1, uuid4(), 0, 1)
        with t2.transaction():
            second = append(t2, uuid4(), 0, 2)
        time.sleep(2.0)  # the second event is committed, the first held open
        assert log.events == []
        committed = time.monotonic()
        t1.commit()
        deadline = committed + 4.0  # woken by the commit's notification, not the 5 s poll
        while len(log.events) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert log.ids == [first.event_id, second.event_id]
        assert delivered_at[-1] - committed < 4.0
    finally:
        stop.set()
        with psycopg.connect(db_url, autocommit=True) as poke:
            poke.execute("NOTIFY defi_events")  # end the wait
        thread.join(timeout=10)
    assert not thread.is_alive()


def test_many_writers_many_streams_the_consumer_log_equals_the_table(
    db: psycopg.Connection[Any], db_url: str
) -> None:
    writers, appends = 8, 40
    errors: list[BaseException] = []

    def write(seed: int) -> None:
        rng = random.Random(seed)
        try:
            with psycopg.connect(db_url) as conn:
                streams = {uuid4(): 0 for _ in range(3)}
                for n in range(appends):
                    stream = rng.choice(list(streams))
                    with conn.transaction():
                        append(conn, stream, streams[stream], n)
                        time.sleep(rng.random() * 0.01)  # commit late, in any order
                    streams[stream] += 1
        except BaseException as exc:  # reported below
            errors.append(exc)

    log = Log()
    with psycopg.connect(db_url, autocommit=True) as consumer:
        sync.subscriptions.subscribe(consumer, "all")
        threads = [threading.Thread(target=write, args=(i,)) for i in range(writers)]
        for thread in threads:
            thread.start()
        while any(t.is_alive() for t in threads):
            sync.subscriptions.poll(consumer, "all", log, limit=7)  # a checkpoint per batch
        for thread in threads:
            thread.join()
        while sync.subscriptions.poll(consumer, "all", log, limit=7):
            pass
    assert errors == []
    ids = table_ids(db)
    assert len(ids) == writers * appends
    assert len(log.ids) == len(set(log.ids)), "an event was delivered twice"
    assert sorted(log.ids) == sorted(ids), "the consumer's log differs from the table"
    order = [(e.transaction_id, e.position) for e in log.events]
    assert order == sorted(order)


# -- at least once, exactly once with the database -------------------------------

KILLED_CONSUMER = """
import os, sys
import psycopg
from defi_sql import sync

def handler(conn, events):
    for e in events:
        conn.execute("INSERT INTO projection (event_id) VALUES (%s)", (e.event_id,))
    os._exit(3)  # dies after the handler's writes, before the commit

with psycopg.connect(sys.argv[1], autocommit=True) as conn:
    sync.subscriptions.poll(conn, "projection", handler)
"""


def test_a_consumer_killed_between_handler_and_commit_loses_nothing_and_applies_nothing_twice(
    db: psycopg.Connection[Any], db_url: str
) -> None:
    db.execute("CREATE TABLE projection (event_id uuid NOT NULL)")
    sync.subscriptions.subscribe(db, "projection")
    written = [append(db, uuid4(), 0, n) for n in range(5)]
    done = subprocess.run(
        [sys.executable, "-c", KILLED_CONSUMER, db_url],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 3, done.stderr
    assert db.execute("SELECT count(*) FROM projection").fetchone() == (0,)
    assert sync.subscriptions.get(db, "projection").checkpoint == Checkpoint()

    def apply(conn: psycopg.Connection[Any], events: list[Event]) -> None:
        for e in events:
            conn.execute("INSERT INTO projection (event_id) VALUES (%s)", (e.event_id,))

    assert sync.subscriptions.poll(db, "projection", apply) == 5
    assert sync.subscriptions.poll(db, "projection", apply) == 0
    rows = db.execute("SELECT event_id FROM projection").fetchall()
    assert sorted(r[0] for r in rows) == sorted(e.event_id for e in written)


def test_a_handler_that_raises_leaves_the_checkpoint_and_its_writes_undone(
    db: psycopg.Connection[Any],
) -> None:
    db.execute("CREATE TABLE projection (event_id uuid NOT NULL)")
    sync.subscriptions.subscribe(db, "projection")
    append(db, uuid4(), 0, 1)

    def broken(conn: psycopg.Connection[Any], events: list[Event]) -> None:
        conn.execute("INSERT INTO projection (event_id) VALUES (%s)", (events[0].event_id,))
        raise RuntimeError("the projection is broken")

    with pytest.raises(RuntimeError, match="broken"):
        sync.subscriptions.poll(db, "projection", broken)
    assert db.execute("SELECT count(*) FROM projection").fetchone() == (0,)
    sub = sync.subscriptions.get(db, "projection")
    assert (sub.checkpoint, sub.events_handled) == (Checkpoint(), 0)


def test_two_consumers_of_one_name_never_get_the_same_event(
    db: psycopg.Connection[Any], db_url: str
) -> None:
    sync.subscriptions.subscribe(db, "shared")
    for n in range(60):
        append(db, uuid4(), 0, n)
    logs = [Log(), Log()]

    def consume(log: Log) -> None:
        with psycopg.connect(db_url, autocommit=True) as conn:
            while sync.subscriptions.poll(conn, "shared", log, limit=5):
                pass

    threads = [threading.Thread(target=consume, args=(log,)) for log in logs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    together = logs[0].ids + logs[1].ids
    assert sorted(together) == sorted(table_ids(db))
    assert len(together) == len(set(together))


# -- the archive, filters, the async twin ---------------------------------------


def test_catch_up_and_read_stream_include_archived_events(db: psycopg.Connection[Any]) -> None:
    stream = uuid4()
    old = [append(db, stream, n, n) for n in range(3)]
    row = db.execute("SELECT clock_timestamp()").fetchone()
    assert row is not None
    assert sync.events.archive(db, row[0]) == 3
    newer = append(db, stream, 3, 3)
    assert [e.version for e in sync.events.read_stream(db, stream)] == [1, 2, 3, 4]
    assert sync.events.read_stream(db, stream, after_version=2)[0].version == 3
    sync.subscriptions.subscribe(db, "replay")
    log = Log()
    assert sync.subscriptions.poll(db, "replay", log) == 4
    assert log.ids == [e.event_id for e in [*old, newer]]
    assert [e.event_id for e in sync.events.read_all_after(db)] == log.ids


def test_a_filtered_subscription_sees_only_its_stream_types_and_moves_past_the_others(
    db: psycopg.Connection[Any],
) -> None:
    sync.subscriptions.subscribe(db, "wallets", stream_types=["wallet"])
    for n in range(5):
        sync.events.append(
            db, stream_type="other", stream_id=uuid4(), expected_version=0, events=[note(n)]
        )
    [wanted] = sync.events.append(
        db, stream_type="wallet", stream_id=uuid4(), expected_version=0, events=[note(9)]
    )
    log = Log()
    assert sync.subscriptions.poll(db, "wallets", log) == 1
    assert log.ids == [wanted.event_id]
    sync.events.append(
        db, stream_type="other", stream_id=uuid4(), expected_version=0, events=[note(10)]
    )
    assert sync.subscriptions.poll(db, "wallets", log) == 0
    assert sync.subscriptions.get(db, "wallets").events_handled == 1
    last_other = sync.events.read_all_after(db, limit=100)[-1]
    assert sync.subscriptions.get(db, "wallets").checkpoint > Checkpoint.of(last_other)


def test_the_async_twin_follows_the_store(db: psycopg.Connection[Any], db_url: str) -> None:
    written = [append(db, uuid4(), 0, n) for n in range(3)]

    async def main() -> list[Event]:
        seen: list[Event] = []

        async def handler(conn: psycopg.AsyncConnection[Any], events: list[Event]) -> None:
            seen.extend(events)

        async with await psycopg.AsyncConnection.connect(db_url, autocommit=True) as conn:
            await aio.subscriptions.subscribe(conn, "async")
            assert await aio.subscriptions.poll(conn, "async", handler) == 3
            assert await aio.subscriptions.poll(conn, "async", handler) == 0
        return seen

    assert [e.event_id for e in asyncio.run(main())] == [e.event_id for e in written]


def test_reset_replays_from_the_start(db: psycopg.Connection[Any]) -> None:
    sync.subscriptions.subscribe(db, "p")
    append(db, uuid4(), 0, 1)
    log = Log()
    assert sync.subscriptions.poll(db, "p", log) == 1
    assert sync.subscriptions.reset(db, "p").checkpoint == Checkpoint()
    assert sync.subscriptions.poll(db, "p", log) == 1
    assert log.ids[0] == log.ids[1]
    assert [s.name for s in sync.subscriptions.list_all(db)] == ["p"]
    assert sync.subscriptions.delete(db, "p").name == "p"
    assert sync.subscriptions.list_all(db) == []


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (
            lambda db: sync.events.read_all_after(db, 5),  # type: ignore[arg-type]
            InvalidInput,
            r"^after must be an events\.Checkpoint, not a position \(5\): a position alone "
            r"cannot resume",
        ),
        (
            lambda db: sync.events.read_all_after(db, stream_types="wallet"),
            InvalidInput,
            r"^stream_types must be a non-empty list",
        ),
        (
            lambda db: sync.subscriptions.poll(db, "nobody", Log()),
            NotFound,
            r"^there is no subscription 'nobody'; create it with subscriptions\.subscribe",
        ),
        (
            lambda db: sync.subscriptions.subscribe(db, ""),
            InvalidInput,
            r"^a subscription's name must not be empty; give it one",
        ),
        (
            lambda db: (
                sync.subscriptions.subscribe(db, "s", stream_types=["a"]),
                sync.subscriptions.subscribe(db, "s", stream_types=["b"]),
            ),
            InvalidInput,
            r"^subscription 's' follows stream_types \['a'\], not \['b'\]; delete it",
        ),
    ],
)
def test_bad_calls_say_what_to_do(
    db: psycopg.Connection[Any], call: Any, error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        call(db)


def test_a_writer_cannot_choose_its_place_in_the_order(db: psycopg.Connection[Any]) -> None:
    """A row written by others (psql, the TypeScript app) with its own transaction_id
    gets the database's: the order consumers rely on is not the writer's to set."""
    row = db.execute(
        "INSERT INTO event_store (event_id, stream_type, stream_id, version, event_type, payload,"
        " metadata, occurred_at, transaction_id)"
        " VALUES (gen_random_uuid(), 'note', gen_random_uuid(), 1, 'Noted', '{}', '{}', now(),"
        " '999999999999'::xid8)"
        " RETURNING transaction_id::text::bigint, pg_current_xact_id()::text::bigint"
    ).fetchone()
    assert row is not None
    assert row[0] == row[1] != 999999999999
    assert len(sync.events.read_all_after(db)) == 1
