"""Delivery workers woken by NOTIFY (migration 0035), and the poll that finds what no
notification announced.

A worker waits with ``wakeup.wait(listener, [ALERTS], timeout=poll)`` on an
autocommit connection of its own. Durations are asserted as bounds ("at
most", far below the poll timeout), never exactly.
"""

from __future__ import annotations

import statistics
import threading
import time
from collections.abc import Callable
from typing import Any
from uuid import UUID

import psycopg
import pytest

import defi_sql.sync
from defi_sql.models import Alert, UserPreferences
from defi_sql.sync import wakeup

from .conftest import Api
from .helpers import new_user

#: the poll a waiting worker would fall back on; every wake-up must come far sooner
POLL = 10.0
#: "far sooner": a notification arrives in milliseconds; this bound leaves room for a busy CI
WELL_UNDER = 3.0


def new_alert(conn: psycopg.Connection[Any], user_id: UUID) -> Alert:
    return defi_sql.sync.alerts.create(
        conn, user_id=user_id, type="health_factor", channel="in_app", message="HF 1.1"
    )


def woken_by(api: Api, db_url: str, action: Callable[[psycopg.Connection[Any]], object]) -> float:
    """Seconds the listener (``api.conn``, already listening) waited for ``action``'s
    notification, done on another connection after the wait began; 0 if not woken."""
    done = threading.Event()

    def later() -> None:
        time.sleep(0.2)  # the listener is waiting by now (and if not, it finds it queued)
        with psycopg.connect(db_url, autocommit=True) as other:
            action(other)
        done.set()

    thread = threading.Thread(target=later)
    started = time.monotonic()
    thread.start()
    woken = api.wakeup.wait([wakeup.ALERTS], timeout=POLL)
    waited = time.monotonic() - started
    thread.join()
    assert done.is_set()
    return waited if woken else 0.0


@pytest.fixture
def listening(api: Api) -> Api:
    """``api.conn`` listening on defi_alerts, with nothing queued."""
    assert api.wakeup.wait([wakeup.ALERTS], timeout=0.05) is False
    return api


def test_a_new_alert_wakes_the_waiting_worker(
    listening: Api, db: psycopg.Connection[Any], db_url: str
) -> None:
    user_id = new_user(db, 1)
    waited = woken_by(listening, db_url, lambda other: new_alert(other, user_id))
    assert 0 < waited < WELL_UNDER  # woken, not timed out (POLL)
    assert len(defi_sql.sync.alerts.claim(db)) == 1


def test_a_fan_out_wakes_the_waiting_worker_once(
    listening: Api, db: psycopg.Connection[Any], db_url: str
) -> None:
    prefs = UserPreferences(active_signals=["depeg"])
    for n in range(1, 4):
        new_user(db, n, prefs)
    signal = defi_sql.sync.signals.create(db, type="depeg", asset="USDC", severity="high")
    waited = woken_by(
        listening, db_url, lambda other: defi_sql.sync.alerts.fan_out(other, signal.id)
    )
    assert 0 < waited < WELL_UNDER
    assert len(defi_sql.sync.alerts.claim(db)) == 3
    # one notification for the statement (wait drained the burst): nothing more is queued
    assert listening.wakeup.wait([wakeup.ALERTS], timeout=0.2) is False


def test_a_requeued_dead_letter_wakes_the_waiting_worker(
    listening: Api, db: psycopg.Connection[Any], db_url: str
) -> None:
    alert = new_alert(db, new_user(db, 1))
    listening.wakeup.wait([wakeup.ALERTS], timeout=0.2)  # the insert's notification
    [claimed] = defi_sql.sync.alerts.claim(db)
    defi_sql.sync.alerts.mark_failed(db, alert.id, "bounced", claim_token=claimed.claim_token)
    # a scheduled retry is not due: it does not wake anyone, the poll finds it when it is
    assert listening.wakeup.wait([wakeup.ALERTS], timeout=0.2) is False
    db.execute("UPDATE alerts SET next_attempt_at = now()")  # as if its backoff had passed
    [again] = defi_sql.sync.alerts.claim(db)
    defi_sql.sync.alerts.mark_failed(
        db, alert.id, "bounced", claim_token=again.claim_token, max_attempts=2
    )
    assert listening.wakeup.wait([wakeup.ALERTS], timeout=0.2) is False  # a dead letter
    waited = woken_by(
        listening, db_url, lambda other: defi_sql.sync.alerts.requeue(other, alert.id)
    )
    assert 0 < waited < WELL_UNDER
    assert [a.id for a in defi_sql.sync.alerts.claim(db)] == [alert.id]


def test_a_notification_sent_before_listening_is_found_by_the_next_poll(
    api: Api, db: psycopg.Connection[Any]
) -> None:
    alert = new_alert(db, new_user(db, 1))  # notified at commit: nobody listens yet
    api.wakeup.listen([wakeup.ALERTS])
    started = time.monotonic()
    assert api.wakeup.wait([wakeup.ALERTS], timeout=0.3) is False  # missed: the poll ran out
    assert time.monotonic() - started >= 0.3
    # the worker claims after every wait, whatever it returned: the alert is found
    assert [a.id for a in defi_sql.sync.alerts.claim(db)] == [alert.id]


def test_a_worker_loop_claims_new_alerts_within_milliseconds(
    db: psycopg.Connection[Any], db_url: str
) -> None:
    """The loop of the README: claim; if nothing, wait on the listener; again."""
    user_id = new_user(db, 1)
    claimed_at: dict[UUID, float] = {}
    stop = threading.Event()
    ready = threading.Event()

    def worker() -> None:
        with (
            psycopg.connect(db_url, autocommit=True) as conn,
            psycopg.connect(db_url, autocommit=True) as listener,
        ):
            wakeup.listen(listener, [wakeup.ALERTS])  # before the first claim
            ready.set()
            while not stop.is_set():
                batch = defi_sql.sync.alerts.claim(conn)
                now = time.monotonic()
                for alert in batch:
                    claimed_at[alert.id] = now
                defi_sql.sync.alerts.mark_sent_many(conn, batch)
                if not batch:
                    wakeup.wait(listener, [wakeup.ALERTS], timeout=POLL)

    thread = threading.Thread(target=worker)
    thread.start()
    assert ready.wait(timeout=30)
    created_at: dict[UUID, float] = {}
    try:
        for _ in range(10):
            time.sleep(0.05)
            alert = new_alert(db, user_id)  # autocommit: committed when it returns
            created_at[alert.id] = time.monotonic()
        deadline = time.monotonic() + WELL_UNDER
        while len(claimed_at) < len(created_at) and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        stop.set()
        new_alert(db, user_id)  # wake the worker so that it sees stop
        thread.join(timeout=30)
    assert not thread.is_alive()
    latencies = [claimed_at[i] - created_at[i] for i in created_at if i in claimed_at]
    assert len(latencies) == 10
    assert max(latencies) < WELL_UNDER  # woken each time, never left to the 10 s poll
    print(
        f"\nNOTIFY wake-up: 10 alerts, commit to claim p50 "
        f"{statistics.median(latencies) * 1000:.1f} ms, max {max(latencies) * 1000:.1f} ms "
        f"(poll {POLL:.0f} s)"
    )
