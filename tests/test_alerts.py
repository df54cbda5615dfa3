"""alerts: every function, sync and async, on a real migrated database."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import msgspec
import psycopg
import pytest

import defi_sql.aio
import defi_sql.sync
from defi_sql.errors import InvalidInput, LeaseLost, NotFound
from defi_sql.models import Alert, AlertWithSignal, Signal, UserPreferences

from .conftest import Api
from .helpers import count_rows, new_user, wallet

UNKNOWN = UUID(int=1)


@contextmanager
def transaction(api: Api) -> Iterator[None]:
    """``transaction(api.conn)`` of the api's kind around the block; calls inside it via ``api``.

    The async one is entered and left on the api's event loop, one step at a time,
    so that the block in between can call ``api.alerts...`` (and other connections).
    """
    if api.kind == "sync":
        with defi_sql.sync.transaction(api.conn):
            yield
        return
    manager = defi_sql.aio.transaction(api.conn)
    api._run(manager.__aenter__())
    try:
        yield
    except BaseException as exc:
        if not api._run(manager.__aexit__(type(exc), exc, exc.__traceback__)):
            raise
    else:
        api._run(manager.__aexit__(None, None, None))


def raw_user(db: psycopg.Connection[Any], n: int, preferences: dict[str, Any]) -> UUID:
    """A user with preferences the typed API would not write (e.g. an 'sms' channel)."""
    row = db.execute(
        "INSERT INTO users (wallet_address, preferences) VALUES (%s, %s::jsonb) RETURNING id",
        (wallet(n), json.dumps(preferences)),
    ).fetchone()
    assert row is not None
    return UUID(str(row[0]))


def new_signal(api: Api, type: str = "depeg", asset: str = "USDC") -> Signal:
    signal: Signal = api.signals.create(type=type, asset=asset, severity="critical")
    return signal


def new_alert(
    api: Api,
    db: psycopg.Connection[Any],
    user_id: UUID,
    minutes_ago: int,
    signal_id: UUID | None = None,
) -> Alert:
    """A pending alert created ``minutes_ago`` (distinct times make the orders certain)."""
    alert = api.alerts.create(
        user_id=user_id,
        type=f"health_factor_{minutes_ago}",  # (signal, user, type) is unique
        channel="in_app",
        message=f"alert from {minutes_ago} minutes ago",
        signal_id=signal_id,
    )
    db.execute(
        "UPDATE alerts SET created_at = now() - %s * interval '1 minute' WHERE id = %s",
        (minutes_ago, alert.id),
    )
    aged: Alert = api.alerts.get(alert.id)
    return aged


def statuses(db: psycopg.Connection[Any]) -> dict[UUID, str]:
    return dict(db.execute("SELECT id, status FROM alerts").fetchall())


def snapshot(db: psycopg.Connection[Any]) -> list[tuple[Any, ...]]:
    return db.execute("SELECT * FROM alerts ORDER BY id").fetchall()


# -- create ------------------------------------------------------------------------


def test_create_defaults(api: Api, db: psycopg.Connection[Any]) -> None:
    user_id = new_user(api, 1)
    before = datetime.now(UTC)
    alert = api.alerts.create(
        user_id=user_id, type="health_factor", channel="telegram", message="HF is 1.1"
    )
    after = datetime.now(UTC)
    assert isinstance(alert, Alert)
    assert (alert.user_id, alert.type, alert.channel, alert.message) == (
        user_id,
        "health_factor",
        "telegram",
        "HF is 1.1",
    )
    assert (alert.status, alert.signal_id, alert.metadata) == ("pending", None, {})
    assert (alert.sent_at, alert.acknowledged_at) == (None, None)
    assert before - timedelta(seconds=1) <= alert.created_at <= after + timedelta(seconds=1)
    assert alert.created_at.utcoffset() is not None
    assert db.execute("SELECT metadata::text, status FROM alerts").fetchall() == [("{}", "pending")]
    assert api.alerts.get(alert.id) == alert


@pytest.mark.parametrize("channel", ["telegram", "email", "in_app"])
def test_create_with_signal_and_metadata(
    api: Api, db: psycopg.Connection[Any], channel: str
) -> None:
    user_id = new_user(api, 1)
    signal = new_signal(api)
    metadata: dict[str, object] = {"provider": "ses", "attempt": 2, "tags": ["a", "b"]}
    alert = api.alerts.create(
        user_id=user_id,
        signal_id=signal.id,
        type="depeg",
        channel=channel,
        message="USDC lost its peg",
        metadata=metadata,
    )
    assert (alert.channel, alert.signal_id, alert.metadata) == (channel, signal.id, metadata)
    assert db.execute("SELECT channel, metadata FROM alerts").fetchall() == [(channel, metadata)]
    assert api.alerts.get(alert.id) == alert


USER_GONE = "the alert's user does not exist (alerts_user_id_fkey)"
SIGNAL_GONE = "the alert's signal does not exist (alerts_signal_id_fkey)"


@pytest.mark.parametrize(
    ("overrides", "error", "message"),
    [
        pytest.param(
            {"channel": "sms"},
            InvalidInput,
            "channel must be one of telegram, email, in_app; not 'sms'.",
            id="unknown-channel",
        ),
        pytest.param(
            {"channel": None},
            InvalidInput,
            "channel must be one of telegram, email, in_app; not None.",
            id="none-channel",
        ),
        pytest.param(
            {"message": ""}, InvalidInput, "message must not be empty.", id="empty-message"
        ),
        pytest.param(
            {"message": "a\x00b"},
            InvalidInput,
            "message contains a NUL byte, which PostgreSQL cannot store.",
            id="nul-in-message",
        ),
        pytest.param({"type": ""}, InvalidInput, "type must not be empty.", id="empty-type"),
        pytest.param(
            {"type": "t" * 65}, InvalidInput, "type is longer than 64 characters.", id="long-type"
        ),
        pytest.param(
            {"user_id": str(UNKNOWN)},
            InvalidInput,
            "user_id must be a UUID (from uuid import UUID), not str.",
            id="str-user-id",
        ),
        pytest.param(
            {"signal_id": str(UNKNOWN)},
            InvalidInput,
            "signal_id must be a UUID (from uuid import UUID), not str.",
            id="str-signal-id",
        ),
        pytest.param(
            {"metadata": ["x"]},
            InvalidInput,
            "metadata must be a dict, not list.",
            id="list-metadata",
        ),
        pytest.param(
            {"metadata": []},
            InvalidInput,
            "metadata must be a dict, not list.",
            id="empty-list-metadata",
        ),
        pytest.param({"user_id": UNKNOWN}, NotFound, USER_GONE, id="unknown-user"),
        pytest.param({"signal_id": UNKNOWN}, NotFound, SIGNAL_GONE, id="unknown-signal"),
    ],
)
def test_create_bad(
    api: Api,
    db: psycopg.Connection[Any],
    overrides: dict[str, Any],
    error: type[Exception],
    message: str,
) -> None:
    good = {
        "user_id": new_user(api, 1),
        "signal_id": new_signal(api).id,
        "type": "depeg",
        "channel": "email",
        "message": "USDC lost its peg",
    }
    with pytest.raises(error) as caught:
        api.alerts.create(**{**good, **overrides})
    assert type(caught.value) is error
    assert str(caught.value) == message
    assert count_rows(db, "alerts") == 0


def test_get_missing_is_not_found(api: Api, db: psycopg.Connection[Any]) -> None:
    new_alert(api, db, new_user(api, 1), 1)
    missing = uuid4()
    with pytest.raises(NotFound) as caught:
        api.alerts.get(missing)
    assert str(caught.value) == f"no alert with id {missing}."


# -- pending_for_user --------------------------------------------------------------


def test_pending_for_user_newest_first_with_signals(api: Api, db: psycopg.Connection[Any]) -> None:
    user_id, other_id = new_user(api, 1), new_user(api, 2)
    depeg, funding = new_signal(api), new_signal(api, "funding_rate", "ETH")
    oldest = new_alert(api, db, user_id, 50)  # no signal
    with_depeg = new_alert(api, db, user_id, 40, depeg.id)
    with_funding = new_alert(api, db, user_id, 30, funding.id)
    newest = new_alert(api, db, user_id, 20, depeg.id)
    api.alerts.mark_sent(new_alert(api, db, user_id, 10, depeg.id).id)
    api.alerts.mark_failed(new_alert(api, db, user_id, 5).id, "bounced", max_attempts=1)
    new_alert(api, db, other_id, 1, depeg.id)

    found = api.alerts.pending_for_user(user_id)

    assert all(isinstance(item, AlertWithSignal) for item in found)
    assert found == [
        AlertWithSignal(alert=newest, signal=depeg),
        AlertWithSignal(alert=with_funding, signal=funding),
        AlertWithSignal(alert=with_depeg, signal=depeg),
        AlertWithSignal(alert=oldest, signal=None),
    ]
    assert api.alerts.pending_for_user(new_user(api, 3)) == []


def test_pending_for_user_after_its_signal_is_deleted(
    api: Api, db: psycopg.Connection[Any]
) -> None:
    user_id = new_user(api, 1)
    signal = new_signal(api)
    alert = new_alert(api, db, user_id, 1, signal.id)
    db.execute("DELETE FROM signals WHERE id = %s", (signal.id,))
    unlinked = msgspec.structs.replace(alert, signal_id=None)
    assert api.alerts.pending_for_user(user_id) == [AlertWithSignal(alert=unlinked, signal=None)]


# -- fan_out -----------------------------------------------------------------------


def test_fan_out_to_subscribers_on_each_of_their_valid_channels(
    api: Api, db: psycopg.Connection[Any]
) -> None:
    # rows from before the database held preferences to the structs (0016)
    for rule in ("notification_channels", "active_signals"):
        db.execute(f"ALTER TABLE users DROP CONSTRAINT users_preferences_{rule}_check")
    linked = new_user(
        api,
        13,
        UserPreferences(active_signals=["depeg"], notification_channels=["telegram", "in_app"]),
    )
    api.users.set_telegram_chat(linked, "42")
    channels_of = {
        new_user(  # telegram without a linked chat cannot reach the user
            api,
            1,
            UserPreferences(
                active_signals=["funding_rate", "depeg"],
                notification_channels=["telegram", "email"],
            ),
        ): ["email"],
        linked: ["in_app", "telegram"],
        new_user(
            api, 14, UserPreferences(active_signals=["depeg"], notification_channels=["telegram"])
        ): ["in_app"],
        raw_user(
            db, 2, {"activeSignals": ["depeg"], "notificationChannels": ["sms", "email", "email"]}
        ): ["email"],
        new_user(api, 3, UserPreferences(active_signals=["depeg"])): ["in_app"],
        raw_user(db, 4, {"activeSignals": ["depeg"], "notificationChannels": ["sms"]}): ["in_app"],
        raw_user(db, 5, {"activeSignals": ["depeg"], "notificationChannels": "email"}): ["in_app"],
        new_user(api, 6, UserPreferences(active_signals=["depeg"], notification_channels=[])): [
            "in_app"
        ],
    }
    # not subscribed to "depeg"
    new_user(api, 7, UserPreferences(active_signals=["funding_rate"]))
    new_user(api, 8)
    new_user(api, 9, UserPreferences(active_signals=["DEPEG"], notification_channels=["email"]))
    raw_user(db, 10, {"activeSignals": "depeg"})
    raw_user(db, 11, {"activeSignals": [["depeg"]]})
    raw_user(db, 12, {"activeSignal": ["depeg"]})
    signal = api.signals.create(type="depeg", asset="USDC", severity="critical")
    new_signal(api, "funding_rate", "ETH")  # the other signal is not fanned out

    assert api.alerts.fan_out(signal.id) == 9

    rows = db.execute(
        "SELECT user_id, signal_id, type, channel, message, metadata, status, sent_at,"
        " acknowledged_at FROM alerts"
    ).fetchall()
    expected = [
        (
            user_id,
            signal.id,
            "signal_detected",
            channel,
            "depeg signal on USDC (critical)",
            {"severity": "critical"},
            "pending",
            None,
            None,
        )
        for user_id, channels in channels_of.items()
        for channel in channels
    ]
    assert sorted(rows) == sorted(expected)


def test_fan_out_twice_adds_nothing(api: Api, db: psycopg.Connection[Any]) -> None:
    first = new_user(api, 1, UserPreferences(active_signals=["depeg"]))
    new_user(api, 2, UserPreferences(active_signals=["depeg"]))
    signal = api.signals.create(type="depeg", asset="DAI", severity="low")
    assert api.alerts.fan_out(signal.id) == 2
    before = snapshot(db)
    assert api.alerts.fan_out(signal.id) == 0
    assert snapshot(db) == before

    # a user who subscribes later gets exactly one, even after the first one was delivered
    api.alerts.mark_sent(api.alerts.pending_for_user(first)[0].alert.id)
    late = new_user(api, 3, UserPreferences(active_signals=["depeg"]))
    assert api.alerts.fan_out(signal.id) == 1
    assert count_rows(db, "alerts") == 3
    [(alert,)] = db.execute("SELECT message FROM alerts WHERE user_id = %s", (late,)).fetchall()
    assert alert == "depeg signal on DAI (low)"
    assert api.alerts.fan_out(signal.id) == 0


@pytest.mark.parametrize("status", ["expired", "acknowledged"])
def test_fan_out_ignores_a_signal_that_is_no_longer_active(
    api: Api, db: psycopg.Connection[Any], status: str
) -> None:
    new_user(api, 1, UserPreferences(active_signals=["depeg"]))
    signal = new_signal(api)
    db.execute("UPDATE signals SET status = %s WHERE id = %s", (status, signal.id))
    assert api.alerts.fan_out(signal.id) == 0
    assert statuses(db) == {}


def test_fan_out_without_subscribers(api: Api, db: psycopg.Connection[Any]) -> None:
    new_user(api, 1, UserPreferences(active_signals=["funding_rate"]))
    assert api.alerts.fan_out(new_signal(api).id) == 0
    assert api.alerts.fan_out(uuid4()) == 0  # an unknown signal queues nothing either
    assert count_rows(db, "alerts") == 0


def test_concurrent_fan_outs_alert_each_subscriber_once(
    api: Api, db: psycopg.Connection[Any], db_url: str
) -> None:
    subscribers = [new_user(api, n, UserPreferences(active_signals=["depeg"])) for n in (1, 2)]
    signal = new_signal(api)
    outcome: list[object] = []

    def second_worker() -> None:
        try:
            with psycopg.connect(db_url, autocommit=True) as other:
                outcome.append(defi_sql.sync.alerts.fan_out(other, signal.id))
        except Exception as exc:
            outcome.append(exc)

    with transaction(api):
        assert api.alerts.fan_out(signal.id) == 2
        worker = threading.Thread(target=second_worker)
        worker.start()
        worker.join(timeout=1)  # it may wait for this transaction, or not
    worker.join(timeout=30)
    assert not worker.is_alive()
    assert outcome == [0]
    rows = db.execute("SELECT user_id, count(*) FROM alerts GROUP BY user_id").fetchall()
    assert sorted(rows) == sorted((user_id, 1) for user_id in subscribers)


# -- claim -------------------------------------------------------------------------


@pytest.fixture
def queue(api: Api, db: psycopg.Connection[Any]) -> list[Alert]:
    """Six pending alerts, oldest first, plus a sent and a failed one older than all."""
    user_id, other_id = new_user(api, 1), new_user(api, 2)
    api.alerts.mark_sent(new_alert(api, db, user_id, 100).id)
    api.alerts.mark_failed(new_alert(api, db, other_id, 90).id, "bounced", max_attempts=1)
    return [new_alert(api, db, (user_id, other_id)[m % 2], m) for m in (60, 50, 40, 30, 20, 10)]


def ids(alerts: list[Alert]) -> list[UUID]:
    return [alert.id for alert in alerts]


def test_claim_leases_the_oldest_pending_first_up_to_limit(
    api: Api, db: psycopg.Connection[Any], queue: list[Alert]
) -> None:
    before = datetime.now(UTC)
    claimed = api.alerts.claim(limit=4)  # autocommit: the lease is committed at once
    after = datetime.now(UTC)
    assert ids(claimed) == ids(queue[:4])
    for alert, queued in zip(claimed, queue, strict=False):
        assert alert.claimed_until is not None
        assert alert.claim_token is not None
        assert alert.idempotency_key is not None
        assert before + timedelta(seconds=59) <= alert.claimed_until
        assert alert.claimed_until <= after + timedelta(seconds=61)
        assert alert == msgspec.structs.replace(
            queued,
            attempts=1,
            claimed_until=alert.claimed_until,
            claim_token=alert.claim_token,
            idempotency_key=alert.idempotency_key,
        )
        assert api.alerts.get(alert.id) == alert
    assert len({a.claim_token for a in claimed} | {a.idempotency_key for a in claimed}) == 8
    assert ids(api.alerts.claim()) == ids(queue[4:])  # leased alerts are not offered again
    assert api.alerts.claim() == []
    sent = [api.alerts.mark_sent(a.id, claim_token=a.claim_token) for a in claimed]
    assert [alert.status for alert in sent] == ["sent"] * 4
    assert {a.id for a in queue if statuses(db)[a.id] == "pending"} == set(ids(queue[4:]))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        pytest.param({"limit": 0}, "limit must be between 1 and 2147483647, not 0.", id="zero"),
        pytest.param(
            {"limit": -3}, "limit must be between 1 and 2147483647, not -3.", id="negative"
        ),
        pytest.param({"limit": 1.5}, "limit must be an integer, not float.", id="float"),
        pytest.param(
            {"lease": timedelta(0)},
            "lease must be above zero and at most 1:00:00, not 0:00:00.",
            id="no-lease",
        ),
        pytest.param(
            {"lease": timedelta(seconds=-1)},
            "lease must be above zero and at most 1:00:00, not -1 day, 23:59:59.",
            id="negative-lease",
        ),
        pytest.param(
            {"lease": timedelta(hours=2)},
            "lease must be above zero and at most 1:00:00, not 2:00:00.",
            id="long-lease",
        ),
        pytest.param(
            {"lease": 60},
            "lease must be a timedelta (from datetime import timedelta), not int.",
            id="seconds-as-int",
        ),
    ],
)
def test_claim_bad_arguments(
    api: Api, db: psycopg.Connection[Any], queue: list[Alert], kwargs: Any, message: str
) -> None:
    before = snapshot(db)
    with transaction(api):
        with pytest.raises(InvalidInput) as caught:
            api.alerts.claim(**kwargs)
        assert str(caught.value) == message
        assert snapshot(db) == before
        assert ids(api.alerts.claim(limit=1)) == ids(queue[:1])  # the transaction is still usable


def test_an_unfinished_claim_is_rolled_back(
    api: Api, db: psycopg.Connection[Any], queue: list[Alert]
) -> None:
    before = snapshot(db)
    with pytest.raises(RuntimeError, match=r"^worker crashed$"), transaction(api):
        [first] = api.alerts.claim(limit=1)
        api.alerts.mark_sent(first.id, claim_token=first.claim_token)
        raise RuntimeError("worker crashed")
    assert snapshot(db) == before
    assert ids(api.alerts.claim(limit=1)) == ids(queue[:1])  # claimable again, at once


def claim_elsewhere(db_url: str, limit: int) -> Callable[[], list[Alert]]:
    """A second worker on its own connection; it gives up instead of waiting for a lock."""

    def claim() -> list[Alert]:
        with psycopg.connect(db_url, autocommit=True, options="-c lock_timeout=5s") as other:
            return defi_sql.sync.alerts.claim(other, limit=limit)

    return claim


@pytest.mark.parametrize(
    ("mine", "theirs"),
    [
        pytest.param(3, 3, id="half-each"),
        pytest.param(4, 10, id="the-rest"),
        pytest.param(6, 6, id="nothing-left"),
        pytest.param(1, 2, id="some-left"),
    ],
)
def test_two_claimers_never_share_an_alert(
    api: Api, db_url: str, queue: list[Alert], mine: int, theirs: int
) -> None:
    with transaction(api):
        claimed_here = api.alerts.claim(limit=mine)
        claimed_there = claim_elsewhere(db_url, theirs)()  # while this claim is uncommitted
    assert ids(claimed_here) == ids(queue[:mine])
    assert ids(claimed_there) == ids(queue[mine : mine + theirs])
    if mine + theirs >= len(queue):
        assert sorted(ids(claimed_here) + ids(claimed_there)) == sorted(ids(queue))
    # and once both are committed, neither lease is offered to a third claimer
    assert ids(claim_elsewhere(db_url, 100)()) == ids(queue[mine + theirs :])


def expire(db: psycopg.Connection[Any], alert_ids: list[UUID]) -> None:
    """Move the leases' end into the past, as if their worker had died long ago."""
    db.execute(
        "UPDATE alerts SET claimed_until = now() - interval '1 second' WHERE id = ANY(%s)",
        (alert_ids,),
    )


def test_an_ended_lease_is_claimed_again_and_the_first_token_loses(
    api: Api, db: psycopg.Connection[Any], queue: list[Alert]
) -> None:
    [first] = api.alerts.claim(limit=1)
    assert api.alerts.claim(limit=1)[0].id == queue[1].id  # still leased: skipped
    expire(db, [first.id])
    [again] = api.alerts.claim(limit=1)
    assert again.id == first.id
    assert again.attempts == 2
    assert again.claim_token != first.claim_token
    assert again.idempotency_key == first.idempotency_key  # the channel sees the same message
    before = snapshot(db)
    with pytest.raises(LeaseLost) as caught:
        api.alerts.mark_sent(first.id, claim_token=first.claim_token)
    assert str(caught.value) == (
        f"alert {first.id} was claimed again by another worker after this lease ended; "
        "leave its delivery to that worker."
    )
    with pytest.raises(LeaseLost):
        api.alerts.mark_failed(first.id, "timeout", claim_token=first.claim_token)
    assert snapshot(db) == before
    sent = api.alerts.mark_sent(again.id, claim_token=again.claim_token)
    assert sent.status == "sent"
    # repeating it (a retry after a lost reply) returns the same alert, changes nothing
    assert api.alerts.mark_sent(again.id, claim_token=again.claim_token) == sent
    with pytest.raises(LeaseLost):  # the first worker, late: still not its alert
        api.alerts.mark_sent(first.id, claim_token=first.claim_token)
    assert api.alerts.get(first.id) == sent


@pytest.mark.parametrize("action", ["mark_sent", "mark_failed"])
def test_marking_without_the_token_while_leased_is_refused(
    api: Api, db: psycopg.Connection[Any], queue: list[Alert], action: str
) -> None:
    [leased] = api.alerts.claim(limit=1)
    before = snapshot(db)
    args = (leased.id, "bounced") if action == "mark_failed" else (leased.id,)
    kwargs = {"max_attempts": 1} if action == "mark_failed" else {}
    with pytest.raises(LeaseLost) as caught:
        getattr(api.alerts, action)(*args, **kwargs)
    assert str(caught.value) == (
        f"alert {leased.id} is leased to a worker until {leased.claimed_until}; "
        "pass the claim_token that claim returned."
    )
    assert snapshot(db) == before
    expire(db, [leased.id])  # once the lease has ended, anyone may
    assert getattr(api.alerts, action)(*args, **kwargs).status == action.removeprefix("mark_")


def test_mark_sent_many(api: Api, db: psycopg.Connection[Any], queue: list[Alert]) -> None:
    claimed = api.alerts.claim(limit=5)
    expire(db, [claimed[1].id])
    [taken_over] = api.alerts.claim(limit=1)  # another worker now owns claimed[1]
    assert taken_over.id == claimed[1].id
    api.alerts.mark_sent(claimed[2].id, claim_token=claimed[2].claim_token)
    sent = api.alerts.mark_sent_many(claimed)
    assert ids(sent) and sorted(ids(sent)) == sorted(ids([claimed[0], *claimed[3:]]))
    assert all(alert.status == "sent" and alert.sent_at is not None for alert in sent)
    assert statuses(db)[claimed[1].id] == "pending"
    assert api.alerts.get(claimed[1].id) == taken_over
    assert {a.id: statuses(db)[a.id] for a in queue[5:]} == {queue[5].id: "pending"}
    assert api.alerts.mark_sent_many([]) == []


@pytest.mark.parametrize(
    ("alerts", "message"),
    [
        pytest.param(
            "not alerts",
            "mark_sent_many takes the alerts claim returned, each with its claim_token; "
            "got str without one.",
            id="string",
        ),
        pytest.param(
            None,
            "alerts must be a sequence of Alert (from defi_sql.models import Alert), not NoneType; "
            "pass the list that claim returned.",
            id="none",
        ),
        pytest.param(
            [UNKNOWN],
            "mark_sent_many takes the alerts claim returned, each with its claim_token; "
            "got UUID without one.",
            id="ids",
        ),
    ],
)
def test_mark_sent_many_bad_input(
    api: Api, db: psycopg.Connection[Any], queue: list[Alert], alerts: Any, message: str
) -> None:
    before = snapshot(db)
    with pytest.raises(InvalidInput) as caught:
        api.alerts.mark_sent_many(alerts)
    assert str(caught.value) == message
    with pytest.raises(InvalidInput, match="each with its claim_token; got Alert without one"):
        api.alerts.mark_sent_many(queue)  # never claimed: no token
    assert snapshot(db) == before


def test_two_open_claimers_then_a_third_after_both(
    api: Api, db: psycopg.Connection[Any], db_url: str, queue: list[Alert]
) -> None:
    with (
        psycopg.connect(db_url, options="-c lock_timeout=5s") as other,
        defi_sql.sync.transaction(other),
    ):
        theirs = defi_sql.sync.alerts.claim(other, limit=2)
        with transaction(api):
            mine = api.alerts.claim(limit=100)
            for alert in mine:
                api.alerts.mark_sent(alert.id, claim_token=alert.claim_token)
        for alert in theirs:
            defi_sql.sync.alerts.mark_failed(
                other, alert.id, "timeout", claim_token=alert.claim_token, max_attempts=1
            )
    assert ids(theirs) == ids(queue[:2])
    assert ids(mine) == ids(queue[2:])
    assert {a.id: statuses(db)[a.id] for a in queue} == {
        **{a.id: "failed" for a in queue[:2]},
        **{a.id: "sent" for a in queue[2:]},
    }
    assert api.alerts.claim() == []


# -- transitions -------------------------------------------------------------------


def test_mark_sent(api: Api, db: psycopg.Connection[Any]) -> None:
    alert = new_alert(api, db, new_user(api, 1), 5)
    untouched = new_alert(api, db, new_user(api, 2), 4)
    before = datetime.now(UTC)
    sent = api.alerts.mark_sent(alert.id)
    after = datetime.now(UTC)
    assert sent.sent_at is not None
    assert before - timedelta(seconds=1) <= sent.sent_at <= after + timedelta(seconds=1)
    assert sent == msgspec.structs.replace(alert, status="sent", sent_at=sent.sent_at)
    assert api.alerts.get(alert.id) == sent
    assert api.alerts.get(untouched.id) == untouched


def test_mark_failed_keeps_the_reason(api: Api, db: psycopg.Connection[Any]) -> None:
    user_id = new_user(api, 1)
    alert = api.alerts.create(
        user_id=user_id,
        type="depeg",
        channel="email",
        message="USDC lost its peg",
        metadata={"provider": "ses"},
    )
    failed = api.alerts.mark_failed(alert.id, "mailbox full", max_attempts=1)
    assert failed == msgspec.structs.replace(
        alert, status="failed", metadata={"provider": "ses", "failureReason": "mailbox full"}
    )
    assert db.execute("SELECT metadata FROM alerts").fetchall() == [
        ({"provider": "ses", "failureReason": "mailbox full"},)
    ]
    assert api.alerts.get(alert.id) == failed


def test_failed_then_sent_then_acknowledged(api: Api, db: psycopg.Connection[Any]) -> None:
    alert = new_alert(api, db, new_user(api, 1), 5)
    failed = api.alerts.mark_failed(alert.id, "telegram is down", max_attempts=1)
    sent = api.alerts.mark_sent(alert.id)
    assert sent.sent_at is not None
    assert sent == msgspec.structs.replace(failed, status="sent", sent_at=sent.sent_at)
    assert sent.metadata == {"failureReason": "telegram is down"}  # the history is kept
    acknowledged = api.alerts.acknowledge(alert.id)
    assert acknowledged.acknowledged_at is not None
    assert acknowledged.acknowledged_at >= sent.sent_at
    assert acknowledged == msgspec.structs.replace(
        sent, status="acknowledged", acknowledged_at=acknowledged.acknowledged_at
    )
    assert api.alerts.get(alert.id) == acknowledged


def test_acknowledge_a_sent_alert(api: Api, db: psycopg.Connection[Any]) -> None:
    alert = new_alert(api, db, new_user(api, 1), 5)
    sent = api.alerts.mark_sent(alert.id)
    before = datetime.now(UTC)
    acknowledged = api.alerts.acknowledge(alert.id)
    after = datetime.now(UTC)
    assert acknowledged.acknowledged_at is not None
    assert before - timedelta(seconds=1) <= acknowledged.acknowledged_at
    assert acknowledged.acknowledged_at <= after + timedelta(seconds=1)
    assert acknowledged == msgspec.structs.replace(
        sent, status="acknowledged", acknowledged_at=acknowledged.acknowledged_at
    )
    assert statuses(db) == {alert.id: "acknowledged"}
    assert api.alerts.acknowledge(alert.id) == acknowledged  # twice: harmless, first time kept


def to_sent(api: Api, alert_id: UUID) -> None:
    api.alerts.mark_sent(alert_id)


def to_failed(api: Api, alert_id: UUID) -> None:
    api.alerts.mark_failed(alert_id, "bounced", max_attempts=1)


def to_acknowledged(api: Api, alert_id: UUID) -> None:
    api.alerts.mark_sent(alert_id)
    api.alerts.acknowledge(alert_id)


def stay_pending(api: Api, alert_id: UUID) -> None:
    pass


SEND = "only pending or failed alerts can be sent"
FAIL = "only pending alerts can fail"
ACKNOWLEDGE = "only sent alerts can be acknowledged"


@pytest.mark.parametrize(
    ("setup", "status", "action", "rule"),
    [
        pytest.param(to_sent, "sent", "mark_sent", SEND, id="send-sent"),
        pytest.param(to_acknowledged, "acknowledged", "mark_sent", SEND, id="send-acknowledged"),
        pytest.param(to_sent, "sent", "mark_failed", FAIL, id="fail-sent"),
        pytest.param(to_failed, "failed", "mark_failed", FAIL, id="fail-failed"),
        pytest.param(to_acknowledged, "acknowledged", "mark_failed", FAIL, id="fail-acknowledged"),
        pytest.param(stay_pending, "pending", "acknowledge", ACKNOWLEDGE, id="acknowledge-pending"),
        pytest.param(to_failed, "failed", "acknowledge", ACKNOWLEDGE, id="acknowledge-failed"),
    ],
)
def test_illegal_transitions_change_nothing(
    api: Api,
    db: psycopg.Connection[Any],
    setup: Callable[[Api, UUID], None],
    status: str,
    action: str,
    rule: str,
) -> None:
    alert = new_alert(api, db, new_user(api, 1), 5)
    setup(api, alert.id)
    before = snapshot(db)
    args = (alert.id, "retry failed") if action == "mark_failed" else (alert.id,)
    with pytest.raises(InvalidInput) as caught:
        getattr(api.alerts, action)(*args)
    assert str(caught.value) == f"alert {alert.id} is {status}: {rule}."
    assert statuses(db) == {alert.id: status}
    assert snapshot(db) == before


@pytest.mark.parametrize(
    ("reason", "message"),
    [
        pytest.param("", "reason must not be empty.", id="empty"),
        pytest.param(None, "reason must be a string, not NoneType.", id="none"),
        pytest.param(
            "x\x00", "reason contains a NUL byte, which PostgreSQL cannot store.", id="nul"
        ),
        pytest.param("r" * 2001, "reason is longer than 2000 characters.", id="too-long"),
    ],
)
def test_mark_failed_bad_reason(
    api: Api, db: psycopg.Connection[Any], reason: object, message: str
) -> None:
    alert = new_alert(api, db, new_user(api, 1), 5)
    before = snapshot(db)
    with pytest.raises(InvalidInput) as caught:
        api.alerts.mark_failed(alert.id, reason)
    assert str(caught.value) == message
    assert snapshot(db) == before


def test_transitions_of_a_missing_alert_are_not_found(
    api: Api, db: psycopg.Connection[Any]
) -> None:
    alert = new_alert(api, db, new_user(api, 1), 5)
    before = snapshot(db)
    missing = uuid4()
    calls: list[Callable[[], object]] = [
        lambda: api.alerts.get(missing),
        lambda: api.alerts.mark_sent(missing),
        lambda: api.alerts.mark_failed(missing, "bounced"),
        lambda: api.alerts.acknowledge(missing),
    ]
    for call in calls:
        with pytest.raises(NotFound) as caught:
            call()
        assert str(caught.value) == f"no alert with id {missing}."
    assert snapshot(db) == before
    assert statuses(db) == {alert.id: "pending"}


@pytest.mark.parametrize("action", ["mark_sent", "mark_failed"])
def test_a_refusal_is_judged_on_the_row_as_it_is_once_locked(
    api: Api,
    db: psycopg.Connection[Any],
    db_url: str,
    queue: list[Alert],
    action: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A tokenless call refused while another worker's lease was live, whose holder
    then gives the alert back (mark_failed: pending, lease and token void) before
    the refusal is diagnosed: the row now allows the call, so it is done, not
    refused with a reason the row contradicts ("alert is pending: only pending ...")."""
    [leased] = defi_sql.sync.alerts.claim(db, limit=1)
    module = defi_sql.sync.alerts if api.kind == "sync" else defi_sql.aio.alerts
    real = module.write_one
    calls: list[str] = []

    def holder_gives_it_back() -> None:
        with psycopg.connect(db_url, autocommit=True) as holder:
            defi_sql.sync.alerts.mark_failed(
                holder, leased.id, "channel down", claim_token=leased.claim_token
            )

    if api.kind == "sync":

        def write_one(*args: Any, **kwargs: Any) -> Any:
            result = real(*args, **kwargs)
            if args[0] is not api.conn:  # the holder's own call, through the same module
                return result
            calls.append("refused" if result is None else "done")
            if result is None and len(calls) == 1:
                holder_gives_it_back()  # between the refusal and its diagnosis
            return result

    else:

        async def write_one(*args: Any, **kwargs: Any) -> Any:  # type: ignore[misc]
            result = await real(*args, **kwargs)
            calls.append("refused" if result is None else "done")
            if result is None and len(calls) == 1:
                holder_gives_it_back()
            return result

    monkeypatch.setattr(module, "write_one", write_one)
    args = (leased.id, "bounced") if action == "mark_failed" else (leased.id,)
    kwargs = {"max_attempts": 5} if action == "mark_failed" else {}
    done = getattr(api.alerts, action)(*args, **kwargs)
    assert calls == ["refused", "done"]
    assert done.id == leased.id
    if action == "mark_sent":
        assert done.status == "sent"
    else:
        assert done.status == "pending"
        assert done.metadata["failureReason"] == "bounced"
        assert done.attempts == leased.attempts
