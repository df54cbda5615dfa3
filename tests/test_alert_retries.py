"""Failed deliveries: retried after a backoff, then dead letters an operator can list and requeue.

Every test runs the sync and the async API on a real migrated database. Times
are asserted as bounds (at least, at most), never exactly.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import psycopg
import pytest

import defi_sql.sync
from defi_sql.errors import InvalidInput, LeaseLost, NotFound
from defi_sql.models import Alert

from .conftest import Api
from .helpers import new_user

UNKNOWN = UUID(int=1)
#: a slack for the clocks of the test and the server (the same machine)
SLACK = timedelta(seconds=2)


def new_alert(api: Api, n: int = 1, *, message: str = "HF 1.1") -> Alert:
    alert: Alert = api.alerts.create(
        user_id=new_user(api, n), type="health_factor", channel="telegram", message=message
    )
    return alert


def make_due(db: psycopg.Connection[Any], alert_ids: list[UUID]) -> None:
    """Move the retries' time into the past, as if the backoff had passed."""
    db.execute(
        "UPDATE alerts SET next_attempt_at = now() - interval '1 second' WHERE id = ANY(%s)",
        (alert_ids,),
    )


def snapshot(db: psycopg.Connection[Any]) -> list[tuple[Any, ...]]:
    return db.execute("SELECT * FROM alerts ORDER BY id").fetchall()


def assert_late_marks_refused(
    api: Api, db: psycopg.Connection[Any], late: Alert, message: str
) -> None:
    """The holder of ``late``'s lease marks it sent, then failed: each ``LeaseLost`` with
    ``message``, and nothing changes."""
    before = snapshot(db)
    for mark in (
        lambda: api.alerts.mark_sent(late.id, claim_token=late.claim_token),
        lambda: api.alerts.mark_failed(late.id, "late", claim_token=late.claim_token),
    ):
        with pytest.raises(LeaseLost) as caught:
            mark()
        assert str(caught.value) == message
    assert snapshot(db) == before


def test_a_failed_attempt_goes_back_to_the_queue_after_its_backoff(
    api: Api, db: psycopg.Connection[Any]
) -> None:
    alert = new_alert(api)
    [first] = api.alerts.claim()
    before = datetime.now(UTC)
    retry = api.alerts.mark_failed(
        alert.id, "telegram: 502", claim_token=first.claim_token, backoff=timedelta(minutes=10)
    )
    after = datetime.now(UTC)
    assert (retry.status, retry.attempts, retry.metadata) == (
        "pending",
        1,
        {"failureReason": "telegram: 502"},
    )
    # the lease ended with the attempt, and the holder's token is void
    assert (retry.claimed_until, retry.claim_token) == (None, None)
    assert retry.idempotency_key == first.idempotency_key
    # due after the backoff, shortened at random by at most half
    assert retry.next_attempt_at is not None
    assert before + timedelta(minutes=5) - SLACK <= retry.next_attempt_at
    assert retry.next_attempt_at <= after + timedelta(minutes=10) + SLACK
    assert api.alerts.claim() == []  # not before its time
    assert api.alerts.pending_for_user(alert.user_id)[0].alert == retry  # still queued
    make_due(db, [alert.id])
    [second] = api.alerts.claim()
    assert second.id == alert.id
    assert second.attempts == 2
    assert second.claim_token not in (None, first.claim_token)
    assert second.idempotency_key == first.idempotency_key  # the channel sees the same message
    # the first holder, late, marks nothing
    assert_late_marks_refused(
        api,
        db,
        first,
        f"alert {alert.id} was claimed again by another worker after this lease ended; "
        "leave its delivery to that worker.",
    )
    sent = api.alerts.mark_sent(alert.id, claim_token=second.claim_token)
    assert (sent.status, sent.attempts, sent.idempotency_key) == ("sent", 2, first.idempotency_key)


def test_the_failed_holder_cannot_mark_while_its_alert_waits_for_the_retry(
    api: Api, db: psycopg.Connection[Any]
) -> None:
    new_alert(api)
    [first] = api.alerts.claim()
    api.alerts.mark_failed(first.id, "timeout", claim_token=first.claim_token)
    assert_late_marks_refused(
        api,
        db,
        first,
        f"alert {first.id} went back to the queue after this lease (a failed attempt, or an "
        "operator's requeue); leave its delivery to the worker that claims it next.",
    )


def test_the_backoff_doubles_up_to_its_cap_then_the_alert_is_a_dead_letter(
    api: Api, db: psycopg.Connection[Any]
) -> None:
    alert = new_alert(api)
    keys, waits = set(), []
    for attempt in range(1, 6):
        make_due(db, [alert.id])
        [claimed] = api.alerts.claim()
        assert claimed.attempts == attempt
        keys.add(claimed.idempotency_key)
        before = datetime.now(UTC)
        failed = api.alerts.mark_failed(
            alert.id,
            f"attempt {attempt} bounced",
            claim_token=claimed.claim_token,
            backoff=timedelta(minutes=1),
            max_backoff=timedelta(minutes=3),
        )
        after = datetime.now(UTC)
        if attempt < 5:
            assert failed.status == "pending"
            assert failed.next_attempt_at is not None
            full = min(timedelta(minutes=1) * 2 ** (attempt - 1), timedelta(minutes=3))
            assert before + full / 2 - SLACK <= failed.next_attempt_at <= after + full + SLACK
            waits.append(full)
    assert len(keys) == 1  # one idempotency key for every attempt
    assert waits == [timedelta(minutes=m) for m in (1, 2, 3, 3)]
    # the fifth failure: out of the queue for good, with the last error
    assert (failed.status, failed.attempts, failed.next_attempt_at) == ("failed", 5, None)
    assert failed.metadata == {"failureReason": "attempt 5 bounced"}
    assert failed.claimed_until is not None and failed.claimed_until <= after + SLACK  # lease over
    db.execute(
        "UPDATE alerts SET claimed_until = now() - interval '1 hour', "
        "next_attempt_at = now() - interval '1 hour'"
    )
    assert api.alerts.claim() == []  # however long one waits
    assert [a.id for a in api.alerts.dead_letters()] == [alert.id]


def test_the_dead_letters_holder_may_repeat_its_call(api: Api, db: psycopg.Connection[Any]) -> None:
    new_alert(api)
    [claimed] = api.alerts.claim()
    dead = api.alerts.mark_failed(
        claimed.id, "bounced", claim_token=claimed.claim_token, max_attempts=1
    )
    assert (dead.status, dead.claim_token) == ("failed", claimed.claim_token)
    # a retry of the call after a lost reply: the same alert, nothing changed
    again = api.alerts.mark_failed(
        claimed.id, "bounced", claim_token=claimed.claim_token, max_attempts=1
    )
    assert again == dead == api.alerts.get(claimed.id)


def test_a_failure_outside_a_claim_counts_as_one_attempt(
    api: Api, db: psycopg.Connection[Any]
) -> None:
    pending = new_alert(api, 1)
    dead = new_alert(api, 2)
    assert api.alerts.mark_failed(pending.id, "down").status == "pending"
    assert api.alerts.mark_failed(dead.id, "down", max_attempts=1).status == "failed"


def test_dead_letters_newest_first_up_to_limit(api: Api, db: psycopg.Connection[Any]) -> None:
    alerts = [new_alert(api, n) for n in range(1, 6)]
    for minutes, alert in enumerate(alerts):
        db.execute(
            "UPDATE alerts SET created_at = now() - %s * interval '1 minute' WHERE id = %s",
            (10 - minutes, alert.id),
        )
    for alert in alerts[:4]:
        api.alerts.mark_failed(alert.id, f"bounced {alert.id}", max_attempts=1)
    api.alerts.mark_failed(alerts[4].id, "retry me")  # pending again: not a dead letter
    api.alerts.mark_sent(alerts[3].id)  # an operator delivered it by hand
    dead = api.alerts.dead_letters(limit=2)
    assert [a.id for a in dead] == [alerts[2].id, alerts[1].id]
    assert dead.unreadable == []
    everything = api.alerts.dead_letters()
    assert [a.id for a in everything] == [alerts[2].id, alerts[1].id, alerts[0].id]
    assert [a.metadata["failureReason"] for a in everything] == [
        f"bounced {a.id}" for a in (alerts[2], alerts[1], alerts[0])
    ]


def test_requeue_puts_a_dead_letter_back(api: Api, db: psycopg.Connection[Any]) -> None:
    alert = new_alert(api)
    for _ in range(2):
        make_due(db, [alert.id])
        [claimed] = api.alerts.claim()
        api.alerts.mark_failed(
            alert.id, "mailbox full", claim_token=claimed.claim_token, max_attempts=2
        )
    dead = api.alerts.get(alert.id)
    assert (dead.status, dead.attempts) == ("failed", 2)
    back = api.alerts.requeue(alert.id)
    assert (back.status, back.attempts, back.next_attempt_at) == ("pending", 0, None)
    assert (back.claimed_until, back.claim_token) == (None, None)
    assert back.idempotency_key == dead.idempotency_key
    assert back.metadata == {"failureReason": "mailbox full"}
    assert api.alerts.dead_letters() == []
    with pytest.raises(LeaseLost):  # the last holder, late
        api.alerts.mark_sent(alert.id, claim_token=claimed.claim_token)
    [again] = api.alerts.claim()  # due at once
    assert (again.id, again.attempts, again.idempotency_key) == (
        alert.id,
        1,
        dead.idempotency_key,
    )
    # counted from 0 again: a failure now is retried, not final
    assert (
        api.alerts.mark_failed(
            alert.id, "still full", claim_token=again.claim_token, max_attempts=2
        ).status
        == "pending"
    )


@pytest.mark.parametrize("status", ["pending", "sent"])
def test_only_a_dead_letter_can_be_requeued(
    api: Api, db: psycopg.Connection[Any], status: str
) -> None:
    alert = new_alert(api)
    if status == "sent":
        api.alerts.mark_sent(alert.id)
    before = snapshot(db)
    with pytest.raises(InvalidInput) as caught:
        api.alerts.requeue(alert.id)
    assert str(caught.value) == (
        f"alert {alert.id} is {status}: only failed alerts (dead letters) can be requeued."
    )
    with pytest.raises(NotFound):
        api.alerts.requeue(UNKNOWN)
    assert snapshot(db) == before


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        pytest.param(
            {"max_attempts": 0}, "max_attempts must be between 1 and 100, not 0.", id="zero"
        ),
        pytest.param(
            {"max_attempts": 101}, "max_attempts must be between 1 and 100, not 101.", id="101"
        ),
        pytest.param(
            {"max_attempts": True}, "max_attempts must be an integer, not bool.", id="bool"
        ),
        pytest.param({"max_attempts": "5"}, "max_attempts must be an integer, not str.", id="str"),
        pytest.param(
            {"backoff": timedelta(0)},
            "backoff must be above zero and at most 1 day, 0:00:00, not 0:00:00.",
            id="backoff-zero",
        ),
        pytest.param(
            {"backoff": timedelta(seconds=-1)},
            "backoff must be above zero and at most 1 day, 0:00:00, not -1 day, 23:59:59.",
            id="backoff-negative",
        ),
        pytest.param(
            {"max_backoff": timedelta(days=2)},
            "max_backoff must be above zero and at most 1 day, 0:00:00, not 2 days, 0:00:00.",
            id="max-backoff-too-long",
        ),
        pytest.param(
            {"backoff": 30},
            "backoff must be a timedelta (from datetime import timedelta), not int.",
            id="backoff-int",
        ),
        pytest.param(
            {"backoff": timedelta(hours=2), "max_backoff": timedelta(hours=1)},
            "backoff must be at most max_backoff, not 2:00:00 with max_backoff 1:00:00.",
            id="backoff-above-cap",
        ),
    ],
)
def test_mark_failed_bad_retry_arguments(
    api: Api, db: psycopg.Connection[Any], kwargs: dict[str, Any], message: str
) -> None:
    alert = new_alert(api)
    before = snapshot(db)
    with pytest.raises(InvalidInput) as caught:
        api.alerts.mark_failed(alert.id, "bounced", **kwargs)
    assert str(caught.value) == message
    assert snapshot(db) == before


def test_dead_letters_bad_limit(api: Api) -> None:
    with pytest.raises(InvalidInput) as caught:
        api.alerts.dead_letters(limit=0)
    assert str(caught.value) == "limit must be between 1 and 2147483647, not 0."


# -- many workers, a channel that fails ----------------------------------------------------

ALERTS = 200
WORKERS = 4
MAX_ATTEMPTS = 3
#: every tenth alert's channel never accepts it (a closed mailbox): it must end a dead letter
POISON = 10


def fails(message: str, attempt: int) -> bool:
    """The channel's answer, fixed per (alert, attempt): a poisoned alert always fails,
    and one send in ten of the others fails once in a while (deterministically)."""
    number = int(message.rsplit(" ", 1)[1])
    if number % POISON == 0:
        return True
    return (number * 7 + attempt * 3) % 10 == 0


def test_workers_with_a_failing_channel_send_each_alert_once_or_dead_letter_it(
    db_url: str, db: psycopg.Connection[Any]
) -> None:
    db.execute(
        "INSERT INTO users (wallet_address) VALUES ('0x00000000000000000000000000000000000000aa')"
    )
    db.execute(
        "INSERT INTO alerts (user_id, type, channel, message) "
        "SELECT (SELECT id FROM users), 'bench', 'in_app', 'alert ' || i "
        "FROM generate_series(1, %s) AS i",
        (ALERTS,),
    )
    sends: Counter[tuple[UUID | None, str]] = Counter()  # (idempotency key, outcome)
    delivered: Counter[UUID] = Counter()
    lock = threading.Lock()
    start = threading.Barrier(WORKERS)

    def worker() -> None:
        with psycopg.connect(db_url, autocommit=True) as conn:
            start.wait(timeout=30)
            idle_since = None
            while True:
                batch = defi_sql.sync.alerts.claim(conn, limit=10)
                if not batch:
                    row = conn.execute(
                        "SELECT count(*) FROM alerts WHERE status = 'pending'"
                    ).fetchone()
                    if row is not None and row[0] == 0:
                        return
                    idle_since = idle_since or time.monotonic()
                    assert time.monotonic() - idle_since < 30, "the queue never drained"
                    time.sleep(0.005)  # retries not due yet
                    continue
                idle_since = None
                for alert in batch:
                    failed = fails(alert.message, alert.attempts)
                    with lock:
                        sends[(alert.idempotency_key, "failed" if failed else "sent")] += 1
                    if failed:
                        defi_sql.sync.alerts.mark_failed(
                            conn,
                            alert.id,
                            f"attempt {alert.attempts} refused",
                            claim_token=alert.claim_token,
                            max_attempts=MAX_ATTEMPTS,
                            backoff=timedelta(milliseconds=2),
                            max_backoff=timedelta(milliseconds=20),
                        )
                    else:
                        defi_sql.sync.alerts.mark_sent(
                            conn, alert.id, claim_token=alert.claim_token
                        )
                        with lock:
                            delivered[alert.id] += 1

    threads = [threading.Thread(target=worker) for _ in range(WORKERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads)
    rows = db.execute(
        "SELECT status, attempts, message, metadata ->> 'failureReason' FROM alerts"
    ).fetchall()
    by_status = Counter(status for status, *_ in rows)
    dead = [
        (attempts, message, reason)
        for status, attempts, message, reason in rows
        if status == "failed"
    ]
    duplicates = sum(n - 1 for n in delivered.values())
    retried = sum(1 for _, attempts, *_ in rows if attempts > 1)
    assert by_status == {"sent": ALERTS - ALERTS // POISON, "failed": ALERTS // POISON}
    assert duplicates == 0 and len(delivered) == ALERTS - ALERTS // POISON
    # every dead letter: a poisoned alert, after exactly MAX_ATTEMPTS attempts, the last error kept
    assert all(
        attempts == MAX_ATTEMPTS
        and int(message.rsplit(" ", 1)[1]) % POISON == 0
        and reason == f"attempt {MAX_ATTEMPTS} refused"
        for attempts, message, reason in dead
    )
    # one idempotency key per alert, whatever the number of attempts
    keys = {key for key, _ in sends}
    assert len(keys) == ALERTS
    failed_sends = sum(n for (_, outcome), n in sends.items() if outcome == "failed")
    print(
        f"\nfailing channel: {ALERTS} alerts, {WORKERS} workers, max {MAX_ATTEMPTS} attempts: "
        f"{by_status['sent']} sent once ({duplicates} duplicates), {by_status['failed']} dead "
        f"letters after {MAX_ATTEMPTS} attempts, 0 left pending; {sum(sends.values())} sends "
        f"of which {failed_sends} failed; {retried} alerts retried"
    )
