"""signals: every function, sync and async, on a real migrated database."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from uuid import UUID, uuid4

import msgspec
import psycopg
import pytest

from defi_sql.errors import InvalidInput, NotFound
from defi_sql.models import Signal

from .conftest import Api
from .helpers import count_rows

PLUS_TWO = timezone(timedelta(hours=2))
T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
BAD_LIMIT_0 = "limit must be between 1 and 2147483647, not 0."


def ago(hours: float) -> datetime:
    """A moment relative to now: the queries compare ``expires_at`` with ``now()``."""
    return datetime.now(UTC) - timedelta(hours=hours)


def statuses(db: psycopg.Connection[Any]) -> dict[UUID, str]:
    return dict(db.execute("SELECT id, status FROM signals").fetchall())


def make(
    api: Api,
    detected_hours_ago: float,
    *,
    type: str = "depeg",
    asset: str = "USDC",
    expires_hours_ago: float | None = None,
) -> Signal:
    expires_at = None if expires_hours_ago is None else ago(expires_hours_ago)
    signal: Signal = api.signals.create(
        type=type,
        asset=asset,
        severity="medium",
        detected_at=ago(detected_hours_ago),
        expires_at=expires_at,
    )
    return signal


def set_status(db: psycopg.Connection[Any], signal: Signal, status: str) -> None:
    db.execute("UPDATE signals SET status = %s WHERE id = %s", (status, signal.id))


# -- create ------------------------------------------------------------------------


def test_create_defaults(api: Api, db: psycopg.Connection[Any]) -> None:
    before = datetime.now(UTC)
    signal = api.signals.create(type="funding_rate", asset="ETH", severity="high")
    after = datetime.now(UTC)
    assert isinstance(signal, Signal)
    assert (signal.type, signal.asset, signal.severity) == ("funding_rate", "ETH", "high")
    assert (signal.status, signal.data, signal.expires_at) == ("active", {}, None)
    assert before - timedelta(seconds=1) <= signal.detected_at <= after + timedelta(seconds=1)
    assert signal.detected_at == signal.created_at  # both now() of the same statement
    assert signal.detected_at.utcoffset() is not None
    assert signal.created_at.utcoffset() is not None
    assert db.execute("SELECT data::text, status FROM signals").fetchall() == [("{}", "active")]
    assert api.signals.get(signal.id) == signal


def test_create_round_trips_data_and_times(api: Api, db: psycopg.Connection[Any]) -> None:
    data: dict[str, object] = {
        "rate": "0.0123",
        "venues": ["binance", "okx"],
        "window": {"minutes": 60, "partial": False, "source": None},
        "score": 0.5,
    }
    detected_at = datetime(2024, 5, 1, 14, 0, tzinfo=PLUS_TWO)
    expires_at = detected_at + timedelta(minutes=30)
    signal = api.signals.create(
        type="whale_movement",
        asset="WBTC",
        severity="critical",
        data=data,
        detected_at=detected_at,
        expires_at=expires_at,
    )
    assert signal.data == data
    assert signal.detected_at == T0  # the same instant, whatever the zone
    assert signal.expires_at == T0 + timedelta(minutes=30)
    assert signal.detected_at.utcoffset() is not None
    assert signal.expires_at is not None and signal.expires_at.utcoffset() is not None
    assert db.execute("SELECT data, detected_at FROM signals").fetchall() == [(data, T0)]
    assert api.signals.get(signal.id) == signal


@pytest.mark.parametrize("severity", ["low", "medium", "high", "critical"])
def test_create_every_severity(api: Api, severity: str) -> None:
    signal = api.signals.create(type="depeg", asset="USDT", severity=severity)
    assert api.signals.get(signal.id).severity == severity


GOOD = {"type": "depeg", "asset": "USDC", "severity": "high"}


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        pytest.param(
            {"severity": "urgent"},
            "severity must be one of low, medium, high, critical; not 'urgent'.",
            id="unknown-severity",
        ),
        pytest.param(
            {"severity": "HIGH"},
            "severity must be one of low, medium, high, critical; not 'HIGH'.",
            id="upper-case-severity",
        ),
        pytest.param(
            {"severity": None},
            "severity must be one of low, medium, high, critical; not None.",
            id="none-severity",
        ),
        pytest.param({"type": ""}, "type must not be empty.", id="empty-type"),
        pytest.param({"asset": ""}, "asset must not be empty.", id="empty-asset"),
        pytest.param({"type": 7}, "type must be a string, not int.", id="int-type"),
        pytest.param({"type": "x" * 65}, "type is longer than 64 characters.", id="type-too-long"),
        pytest.param(
            {"type": "de\x00peg"},
            "type contains a NUL byte, which PostgreSQL cannot store.",
            id="nul-in-type",
        ),
        pytest.param(
            {"asset": "US\x00DC"},
            "asset contains a NUL byte, which PostgreSQL cannot store.",
            id="nul-in-asset",
        ),
        pytest.param(
            {"detected_at": datetime(2024, 5, 1, 12)},
            "detected_at must be timezone-aware (e.g. datetime.now(UTC)), not naive.",
            id="naive-detected-at",
        ),
        pytest.param(
            {"expires_at": datetime(2099, 5, 1, 12)},
            "expires_at must be timezone-aware (e.g. datetime.now(UTC)), not naive.",
            id="naive-expires-at",
        ),
        pytest.param(
            {"detected_at": "2024-05-01T12:00:00Z"},
            "detected_at must be a datetime (from datetime import datetime), not str.",
            id="str-detected-at",
        ),
        pytest.param(
            {"detected_at": T0, "expires_at": T0},
            "expires_at must be after detected_at.",
            id="expires-at-equals-detected-at",
        ),
        pytest.param(
            {"detected_at": T0, "expires_at": T0 - timedelta(microseconds=1)},
            "expires_at must be after detected_at.",
            id="expires-at-before-detected-at",
        ),
        pytest.param(
            {"detected_at": T0, "expires_at": datetime(2024, 5, 1, 13, 0, tzinfo=PLUS_TWO)},
            "expires_at must be after detected_at.",
            id="expires-at-earlier-in-another-zone",
        ),
        pytest.param(
            # detected_at defaults to now(), so an expiry in the past is before it
            {"expires_at": T0},
            "expires_at must be after detected_at.",
            id="past-expires-at-with-default-detected-at",
        ),
        pytest.param({"data": ["whale"]}, "data must be a dict, not list.", id="list-data"),
        pytest.param({"data": []}, "data must be a dict, not list.", id="empty-list-data"),
        pytest.param({"data": ""}, "data must be a dict, not str.", id="empty-str-data"),
        pytest.param(
            {"data": {1: "one"}},
            "data has a key that is not a string: 1.",
            id="int-key-data",
        ),
        pytest.param(
            {"data": {"note": "a\x00b"}},
            "data.note contains a NUL byte, which PostgreSQL cannot store.",
            id="nul-in-data",
        ),
    ],
)
def test_create_bad(
    api: Api, db: psycopg.Connection[Any], overrides: dict[str, Any], message: str
) -> None:
    with pytest.raises(InvalidInput) as caught:
        api.signals.create(**{**GOOD, **overrides})
    assert str(caught.value) == message
    assert count_rows(db, "signals") == 0


# -- get ---------------------------------------------------------------------------


def test_get_missing_is_not_found(api: Api) -> None:
    make(api, 1)
    missing = uuid4()
    with pytest.raises(NotFound) as caught:
        api.signals.get(missing)
    assert str(caught.value) == f"no signal with id {missing}."


# -- reads -------------------------------------------------------------------------


def test_active_for_asset_only_active_unexpired_newest_first(
    api: Api, db: psycopg.Connection[Any]
) -> None:
    old = make(api, 3)
    newest = make(api, 1, expires_hours_ago=-1)  # expires in an hour
    middle = make(api, 2, type="funding_rate")
    make(api, 5, expires_hours_ago=1)  # still 'active' but overdue
    api.signals.acknowledge(make(api, 0.5).id)
    set_status(db, make(api, 0.25), "expired")
    make(api, 0.1, asset="ETH")
    make(api, 0.1, asset="usdc")  # assets are compared exactly
    assert [s.id for s in api.signals.active_for_asset("USDC")] == [newest.id, middle.id, old.id]
    assert api.signals.active_for_asset("DAI") == []


def test_active_for_asset_bad(api: Api) -> None:
    with pytest.raises(InvalidInput) as caught:
        api.signals.active_for_asset("")
    assert str(caught.value) == "asset must not be empty."


def test_recent_by_type_any_status_newest_first(api: Api, db: psycopg.Connection[Any]) -> None:
    oldest = make(api, 4)
    overdue = make(api, 3, asset="ETH", expires_hours_ago=2)
    acknowledged = api.signals.acknowledge(make(api, 2).id)
    expired = make(api, 1)
    set_status(db, expired, "expired")
    make(api, 0.5, type="funding_rate")
    make(api, 0.5, type="DEPEG")
    everything = [expired.id, acknowledged.id, overdue.id, oldest.id]
    assert [s.id for s in api.signals.recent_by_type("depeg")] == everything
    assert [s.id for s in api.signals.recent_by_type("depeg", limit=3)] == everything[:3]
    assert [s.id for s in api.signals.recent_by_type("depeg", limit=1)] == everything[:1]
    assert api.signals.recent_by_type("rate_spike") == []


@pytest.mark.parametrize(
    ("limit", "message"),
    [
        pytest.param(0, BAD_LIMIT_0, id="zero"),
        pytest.param(-1, "limit must be between 1 and 2147483647, not -1.", id="negative"),
        pytest.param(
            2**31, "limit must be between 1 and 2147483647, not 2147483648.", id="too-big"
        ),
        pytest.param(True, "limit must be an integer, not bool.", id="bool"),
        pytest.param("3", "limit must be an integer, not str.", id="str"),
        pytest.param(None, "limit must be an integer, not NoneType.", id="none"),
    ],
)
def test_limits_bad(api: Api, limit: object, message: str) -> None:
    make(api, 1)
    calls: list[Callable[[], object]] = [
        lambda: api.signals.recent_by_type("depeg", limit=limit),
        lambda: api.signals.active(limit=limit),
    ]
    for call in calls:
        with pytest.raises(InvalidInput) as caught:
            call()
        assert str(caught.value) == message


def test_recent_by_type_bad_type(api: Api) -> None:
    with pytest.raises(InvalidInput) as caught:
        api.signals.recent_by_type("")
    assert str(caught.value) == "type must not be empty."


def test_active_every_asset_newest_first_up_to_limit(api: Api, db: psycopg.Connection[Any]) -> None:
    third = make(api, 3, asset="ETH")
    first = make(api, 1, expires_hours_ago=-2)
    second = make(api, 2, type="funding_rate", asset="BTC")
    make(api, 0.5, expires_hours_ago=0.25)  # overdue
    api.signals.acknowledge(make(api, 0.5).id)
    set_status(db, make(api, 0.5), "expired")
    assert [s.id for s in api.signals.active()] == [first.id, second.id, third.id]
    assert [s.id for s in api.signals.active(limit=2)] == [first.id, second.id]
    assert [s.id for s in api.signals.active(limit=1)] == [first.id]


# -- expire_overdue ----------------------------------------------------------------


def test_expire_overdue_only_touches_active_overdue(api: Api, db: psycopg.Connection[Any]) -> None:
    overdue = [make(api, 3, expires_hours_ago=1), make(api, 2, asset="ETH", expires_hours_ago=0.1)]
    future = make(api, 1, expires_hours_ago=-1)
    forever = make(api, 1.5)
    acknowledged = api.signals.acknowledge(make(api, 3, expires_hours_ago=2).id)
    already = make(api, 3, expires_hours_ago=2)
    set_status(db, already, "expired")
    before = statuses(db)

    assert api.signals.expire_overdue() == 2

    after = statuses(db)
    assert after == {**before, overdue[0].id: "expired", overdue[1].id: "expired"}
    assert after[future.id] == after[forever.id] == "active"
    assert after[acknowledged.id] == "acknowledged"
    assert api.signals.expire_overdue() == 0
    assert statuses(db) == after
    assert [s.id for s in api.signals.active()] == [future.id, forever.id]


def test_expire_overdue_with_nothing_to_do(api: Api) -> None:
    assert api.signals.expire_overdue() == 0


# -- acknowledge -------------------------------------------------------------------


def test_acknowledge_active_and_again(api: Api, db: psycopg.Connection[Any]) -> None:
    signal = make(api, 1, expires_hours_ago=-1)
    other = make(api, 1)
    acknowledged = api.signals.acknowledge(signal.id)
    assert acknowledged == msgspec.structs.replace(signal, status="acknowledged")
    assert api.signals.acknowledge(signal.id) == acknowledged  # twice is harmless
    assert api.signals.get(signal.id) == acknowledged
    assert statuses(db) == {signal.id: "acknowledged", other.id: "active"}
    assert [s.id for s in api.signals.active()] == [other.id]


def test_acknowledge_expired_is_refused(api: Api, db: psycopg.Connection[Any]) -> None:
    signal = make(api, 2, expires_hours_ago=1)
    assert api.signals.expire_overdue() == 1
    expired = api.signals.get(signal.id)
    with pytest.raises(InvalidInput) as caught:
        api.signals.acknowledge(signal.id)
    assert str(caught.value) == f"signal {signal.id} is expired and cannot be acknowledged."
    assert api.signals.get(signal.id) == expired
    assert statuses(db) == {signal.id: "expired"}


def test_acknowledge_missing_is_not_found(api: Api, db: psycopg.Connection[Any]) -> None:
    signal = make(api, 1)
    missing = uuid4()
    with pytest.raises(NotFound) as caught:
        api.signals.acknowledge(missing)
    assert str(caught.value) == f"no signal with id {missing}."
    assert statuses(db) == {signal.id: "active"}
