"""One notifier at a time (migration 0036), and waiters that never sleep through a silent
commit.

PostgreSQL runs the commits of notifying transactions one at a time (a lock held
while the commit is flushed): with every append notifying, eight writers
appended at half the rate. So of the transactions writing at once only one
notifies. The others commit silently, and a waiter learns of them by asking,
before it looks for work, whether a writer is still in flight.

The scenarios hold transactions open on purpose, on connections of their own;
the consumer's poll fallback is set far longer than any bound asserted here,
so a waiter that slept through a silent commit fails the test. Durations are
bounds ("at most"), never exact.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any
from uuid import UUID, uuid4

import psycopg
import pytest

from defi_sql import sync
from defi_sql.models import Alert, Event, NewEvent
from defi_sql.sync import wakeup

#: the poll a waiter falls back on: far longer than any bound below
POLL = 30.0
#: a silent commit is seen within SETTLE_MAX; this bound leaves room for a busy CI
WELL_UNDER = 5.0


def append(conn: psycopg.Connection[Any], n: int) -> Event:
    [event] = sync.events.append(
        conn,
        stream_type="note",
        stream_id=uuid4(),
        expected_version=0,
        events=[NewEvent(event_type="Noted", payload={"n": n})],
    )
    return event


def new_alert(conn: psycopg.Connection[Any], user_id: UUID) -> Alert:
    return sync.alerts.create(
        conn, user_id=user_id, type="health_factor", channel="in_app", message="HF 1.1"
    )


@pytest.fixture
def writers(db_url: str) -> Iterator[list[psycopg.Connection[Any]]]:
    """Three connections that hold transactions open (not autocommit)."""
    made = [psycopg.connect(db_url) for _ in range(3)]
    try:
        yield made
    finally:
        for conn in made:
            conn.close()


def notifications(listener: psycopg.Connection[Any]) -> list[str]:
    """The channels of every notification the listener has received so far."""
    listener.execute("SELECT 1")  # a round trip: what was sent before it has arrived
    return [n.channel for n in listener.notifies(timeout=0.2, stop_after=100)]


def unsettled(conn: psycopg.Connection[Any], query: str) -> bool:
    value = conn.execute(sync_sql(query)).fetchone()
    assert value is not None
    return bool(value[0])


def sync_sql(name: str) -> str:
    from defi_sql.statements import statement

    return statement(name).sql


# -- the triggers: one notifier, every writer in flight ----------------------------


def test_of_appends_open_at_once_only_the_first_notifies_and_each_is_in_flight(
    db: psycopg.Connection[Any], db_url: str, writers: list[psycopg.Connection[Any]]
) -> None:
    t1, t2, _ = writers
    with psycopg.connect(db_url, autocommit=True) as listener:
        listener.execute("LISTEN defi_events")
        assert unsettled(db, "events_unsettled") is False
        t1.execute("BEGIN")
        append(t1, 1)
        t2.execute("BEGIN")
        append(t2, 2)
        assert unsettled(db, "events_unsettled") is True
        t2.commit()  # silent: t1 is the notifier
        assert notifications(listener) == []
        assert unsettled(db, "events_unsettled") is True  # t1 is open, t2's event behind it
        t1.commit()
        assert notifications(listener) == ["defi_events"]
        assert unsettled(db, "events_unsettled") is False
        with t1.transaction():  # alone again: it notifies
            append(t1, 3)
        assert notifications(listener) == ["defi_events"]


def test_of_alerts_queued_at_once_only_the_first_notifies(
    db: psycopg.Connection[Any], db_url: str, writers: list[psycopg.Connection[Any]]
) -> None:
    user = sync.users.create(db, wallet_address=f"0x{1:040x}").id
    c1, c2, _ = writers
    with psycopg.connect(db_url, autocommit=True) as listener:
        listener.execute("LISTEN defi_alerts")
        assert unsettled(db, "alerts_unsettled") is False
        c1.execute("BEGIN")
        new_alert(c1, user)
        c2.execute("BEGIN")
        new_alert(c2, user)
        assert unsettled(db, "alerts_unsettled") is True
        c2.commit()
        assert notifications(listener) == []
        c1.commit()
        assert notifications(listener) == ["defi_alerts"]
        assert unsettled(db, "alerts_unsettled") is False


def test_a_writer_that_rolls_back_leaves_nothing_in_flight(
    db: psycopg.Connection[Any], writers: list[psycopg.Connection[Any]]
) -> None:
    t1 = writers[0]
    t1.execute("BEGIN")
    append(t1, 1)
    assert unsettled(db, "events_unsettled") is True
    t1.rollback()
    assert unsettled(db, "events_unsettled") is False


# -- waiters: a silent commit is seen within milliseconds, not at the poll ----------


class Follower:
    """A thread following subscription ``all`` with ``subscriptions.run``."""

    def __init__(self, db_url: str) -> None:
        self.db_url = db_url
        self.events: list[Event] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._follow)

    def _handler(self, conn: psycopg.Connection[Any], events: list[Event]) -> None:
        self.events.extend(events)

    def _follow(self) -> None:
        with (
            psycopg.connect(self.db_url, autocommit=True) as consumer,
            psycopg.connect(self.db_url, autocommit=True) as listener,
        ):
            sync.subscriptions.subscribe(consumer, "all")
            sync.subscriptions.run(
                consumer,
                "all",
                self._handler,
                listener=listener,
                poll_interval=POLL,
                stop=self.stop.is_set,
            )

    def __enter__(self) -> Follower:
        self.thread.start()
        return self

    def until(self, count: int, within: float) -> float:
        """Seconds until the handler had ``count`` events (fails after ``within``)."""
        started = time.monotonic()
        while len(self.events) < count:
            assert time.monotonic() - started < within, (
                f"{len(self.events)} of {count} events after {within} s: the consumer slept "
                "through a commit"
            )
            time.sleep(0.005)
        return time.monotonic() - started

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        with psycopg.connect(self.db_url, autocommit=True) as poke:
            poke.execute("NOTIFY defi_events")  # end the wait
        self.thread.join(timeout=10)
        assert not self.thread.is_alive()


def test_a_consumer_delivers_a_silent_commit_without_waiting_for_the_poll(
    db_url: str, writers: list[psycopg.Connection[Any]]
) -> None:
    t1, t2, _ = writers
    with Follower(db_url) as follower:
        time.sleep(0.3)  # the follower is waiting by now
        t1.execute("BEGIN")
        first = append(t1, 1)  # t1 notifies at its commit
        t2.execute("BEGIN")
        second = append(t2, 2)  # t2 will commit silently
        t1.commit()
        follower.until(1, WELL_UNDER)
        time.sleep(0.3)  # the follower has gone back to waiting
        t2.commit()
        assert follower.until(2, WELL_UNDER) < WELL_UNDER
    assert [e.event_id for e in follower.events] == [first.event_id, second.event_id]


def test_a_consumer_delivers_events_held_behind_a_transaction_that_ends_silently(
    db_url: str, writers: list[psycopg.Connection[Any]]
) -> None:
    other, t1, _ = writers
    with Follower(db_url) as follower:
        time.sleep(0.3)
        other.execute("BEGIN")
        other.execute("SELECT pg_current_xact_id()")  # an older transaction, not appending
        with t1.transaction():
            event = append(t1, 1)  # notifies; but it is behind `other`, so not readable yet
        time.sleep(0.5)
        assert follower.events == []
        other.commit()  # no notification: nothing appended
        assert follower.until(1, WELL_UNDER) < WELL_UNDER
    assert [e.event_id for e in follower.events] == [event.event_id]


def wait_for_work(
    db_url: str, look: Callable[[psycopg.Connection[Any]], int], stop: threading.Event
) -> list[float]:
    """A worker's loop: look for work, wait when there is none. When each find happened."""
    found: list[float] = []
    with (
        psycopg.connect(db_url, autocommit=True) as conn,
        psycopg.connect(db_url, autocommit=True) as listener,
    ):
        wakeup.listen(listener, [wakeup.ALERTS])
        while not stop.is_set():
            got = look(conn)
            found.extend(time.monotonic() for _ in range(got))
            if not got:
                wakeup.wait(listener, [wakeup.ALERTS], timeout=POLL)
    return found


def test_a_delivery_worker_claims_a_silently_queued_alert_without_waiting_for_the_poll(
    db: psycopg.Connection[Any], db_url: str, writers: list[psycopg.Connection[Any]]
) -> None:
    user = sync.users.create(db, wallet_address=f"0x{2:040x}").id
    c1, c2, _ = writers
    stop = threading.Event()
    result: list[list[float]] = []

    def claim(conn: psycopg.Connection[Any]) -> int:
        return len(sync.alerts.claim(conn, limit=10))

    worker = threading.Thread(target=lambda: result.append(wait_for_work(db_url, claim, stop)))
    worker.start()
    try:
        time.sleep(0.3)
        c1.execute("BEGIN")
        new_alert(c1, user)
        c2.execute("BEGIN")
        new_alert(c2, user)  # silent: c1 is the notifier
        c1.commit()
        time.sleep(0.5)  # c1's alert claimed, the worker waiting again
        committed = time.monotonic()
        c2.commit()
        deadline = committed + WELL_UNDER
        while db.execute("SELECT count(*) FROM alerts WHERE claimed_until IS NULL").fetchone() != (
            0,
        ):
            assert time.monotonic() < deadline, "the worker slept through a silent commit"
            time.sleep(0.005)
    finally:
        stop.set()
        with psycopg.connect(db_url, autocommit=True) as poke:
            poke.execute("NOTIFY defi_alerts")
        worker.join(timeout=10)
    assert not worker.is_alive()
    [found] = result
    assert len(found) == 2 and found[1] - committed < WELL_UNDER


def test_an_idle_waiter_sleeps_for_its_timeout_rather_than_spinning(db_url: str) -> None:
    with psycopg.connect(db_url, autocommit=True) as listener:
        wakeup.listen(listener, [wakeup.EVENTS, wakeup.ALERTS])
        started = time.monotonic()
        assert wakeup.wait(listener, [wakeup.EVENTS, wakeup.ALERTS], timeout=0.5) is False
        assert time.monotonic() - started >= 0.45  # at least: not a settle of milliseconds


def test_a_waiter_while_writers_are_in_flight_waits_milliseconds_then_longer(
    db_url: str, writers: list[psycopg.Connection[Any]]
) -> None:
    t1 = writers[0]
    t1.execute("BEGIN")
    append(t1, 1)
    with psycopg.connect(db_url, autocommit=True) as listener:
        wakeup.listen(listener, [wakeup.EVENTS])
        started = time.monotonic()
        rounds = 0
        while time.monotonic() - started < 0.5:
            wakeup.wait(listener, [wakeup.EVENTS], timeout=POLL)
            rounds += 1
        # backs off from SETTLE_MIN to SETTLE_MAX: more than one round, never the poll
        assert 5 <= rounds <= 0.5 / wakeup.SETTLE_MAX + 10
    t1.rollback()
