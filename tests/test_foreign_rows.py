"""Rows written by others: the database refuses what our structs cannot read, and
what was stored before that rule (or around it) is read defensively.

Two oracles, neither written alongside the code it checks:

* the database's own CHECKs (migrations 0016/0017): a document our structs could
  not decode is refused there, whoever writes it (the TypeScript app, psql);
* a stored row that breaks the rules anyway (the CHECK dropped, as on a
  database where 0017 could not validate yet) never stops work for other
  users: single-row reads raise :class:`UnreadableRow` naming table, id and
  field; batch reads serve everyone else and report it.
"""

from __future__ import annotations

import json
from contextlib import closing
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

import msgspec
import psycopg
import psycopg.sql
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from defi_sql import sync, validate
from defi_sql.errors import Conflict, DefiSqlError, InvalidInput, UnreadableRow
from defi_sql.models import (
    AlertThresholds,
    IntentAction,
    IntentCondition,
    NewPosition,
    UserPreferences,
)

from .conftest import Api
from .helpers import wallet


def nested(levels: int) -> Any:
    """A JSON value ``levels`` lists deep: nested(0) is 0, nested(2) is [[0]]."""
    value: Any = 0
    for _ in range(levels):
        value = [value]
    return value


def deep(levels: int) -> str:
    """``{"x": nested(levels)}`` as JSON text (too deep for ``json.dumps``)."""
    return '{"x": ' + "[" * levels + "0" + "]" * levels + "}"


def to_json(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def insert(db: psycopg.Connection[Any], sql: str, *params: Any) -> UUID:
    row = db.execute(sql, params).fetchone()
    assert row is not None
    return UUID(str(row[0]))


def raw_user(db: psycopg.Connection[Any], n: int, preferences: Any) -> UUID:
    return insert(
        db,
        "INSERT INTO users (wallet_address, preferences) VALUES (%s, %s::jsonb) RETURNING id",
        wallet(n),
        to_json(preferences),
    )


def raw_position(
    db: psycopg.Connection[Any],
    user_id: UUID,
    n: int,
    health_factor: str,
    collateral: Any = (),
    metadata: Any = None,
) -> UUID:
    return insert(
        db,
        "INSERT INTO positions (user_id, wallet_address, protocol, health_factor, collateral,"
        " metadata) VALUES (%s, %s, 'aave', %s, %s::jsonb, %s::jsonb) RETURNING id",
        user_id,
        wallet(n),
        Decimal(health_factor),
        json.dumps(list(collateral)),
        to_json(metadata or {}),
    )


def drop(db: psycopg.Connection[Any], table: str, constraint: str) -> None:
    """Write around a rule, the way rows from before it exist."""
    db.execute(f"ALTER TABLE {table} DROP CONSTRAINT {constraint}")


# -- the database refuses what the structs cannot read ------------------------------

ASSET = {"symbol": "ETH", "amount": "1.5", "valueUSD": "3000"}
ACCEPTED_PREFERENCES = [
    ("empty", {}),
    ("document", {"riskProfile": "moderate", "notificationChannels": ["telegram", "in_app"]}),
    ("nulls", {"riskProfile": None, "notificationChannels": None, "alertThresholds": None}),
    ("app-threshold", {"alertThresholds": {"healthFactor": 1.5, "liquidationWarning": 1.25}}),
    ("string-threshold", {"alertThresholds": {"healthFactor": "1.5"}}),
    ("unknown-key", {"theme": {"dark": True}}),
    ("deepest", {"x": nested(validate.MAX_DEPTH - 2)}),
]
REFUSED_PREFERENCES = [
    ("push-channel", {"notificationChannels": ["telegram", "push"]},
     "users_preferences_notification_channels_check"),
    ("channel-string", {"notificationChannels": "telegram"},
     "users_preferences_notification_channels_check"),
    ("nested-channel", {"notificationChannels": [["telegram"]]},
     "users_preferences_notification_channels_check"),
    ("degen", {"riskProfile": "degen"}, "users_preferences_risk_profile_check"),
    ("profile-number", {"riskProfile": 5}, "users_preferences_risk_profile_check"),
    ("signal-number", {"activeSignals": ["depeg", 1]}, "users_preferences_active_signals_check"),
    ("signals-object", {"activeSignals": {"a": 1}}, "users_preferences_active_signals_check"),
    ("threshold-text", {"alertThresholds": {"healthFactor": "abc"}},
     "users_preferences_alert_thresholds_check"),
    ("threshold-negative", {"alertThresholds": {"healthFactor": -1}},
     "users_preferences_alert_thresholds_check"),
    ("thresholds-number", {"alertThresholds": 1.5}, "users_preferences_alert_thresholds_check"),
    ("too-deep", {"x": nested(validate.MAX_DEPTH - 1)}, "users_preferences_depth_check"),
    ("1500-deep", deep(1500), "users_preferences_depth_check"),
]  # fmt: skip


@pytest.mark.parametrize(("preferences"), [p for _, p in ACCEPTED_PREFERENCES],
                         ids=[i for i, _ in ACCEPTED_PREFERENCES])  # fmt: skip
def test_preferences_the_structs_read_are_accepted_and_read(
    db: psycopg.Connection[Any], preferences: Any
) -> None:
    user_id = raw_user(db, 1, preferences)
    assert isinstance(sync.users.get(db, user_id).preferences, UserPreferences)


@pytest.mark.parametrize(("preferences", "constraint"), [p[1:] for p in REFUSED_PREFERENCES],
                         ids=[p[0] for p in REFUSED_PREFERENCES])  # fmt: skip
def test_preferences_the_structs_cannot_read_are_refused_by_the_database(
    db: psycopg.Connection[Any], preferences: Any, constraint: str
) -> None:
    with pytest.raises(psycopg.errors.CheckViolation) as caught:
        raw_user(db, 1, preferences)
    assert caught.value.diag.constraint_name == constraint


REFUSED_ASSETS = [
    ("valueUsd", [{"symbol": "ETH", "amount": "1.5", "valueUsd": "3000"}]),
    ("no-symbol", [{"amount": "1", "valueUSD": "1"}]),
    ("empty-symbol", [{"symbol": "", "amount": "1", "valueUSD": "1"}]),
    ("text-amount", [{"symbol": "ETH", "amount": "one", "valueUSD": "1"}]),
    ("negative", [{"symbol": "ETH", "amount": "-1", "valueUSD": "1"}]),
    ("null-amount", [{"symbol": "ETH", "amount": None, "valueUSD": "1"}]),
    ("not-an-object", [["ETH", "1", "1"]]),
    ("second-entry", [ASSET, {"symbol": "BTC"}]),
]
ACCEPTED_ASSETS = [
    ("document", [ASSET]),
    ("numbers", [{"symbol": "ETH", "amount": 1.5, "valueUSD": 3000}]),
    ("exponents", [{"symbol": "ETH", "amount": "2E+1", "valueUSD": "1E-7"}]),
    ("extra-key", [{**ASSET, "decimals": 18}]),
    ("none", []),
]


@pytest.mark.parametrize("collateral", [a for _, a in REFUSED_ASSETS],
                         ids=[i for i, _ in REFUSED_ASSETS])  # fmt: skip
def test_assets_without_symbol_amount_and_value_usd_are_refused(
    db: psycopg.Connection[Any], collateral: Any
) -> None:
    user_id = raw_user(db, 1, {})
    with pytest.raises(psycopg.errors.CheckViolation) as caught:
        raw_position(db, user_id, 1, "1.2", collateral)
    assert caught.value.diag.constraint_name == "positions_collateral_assets_check"


@pytest.mark.parametrize("collateral", [a for _, a in ACCEPTED_ASSETS],
                         ids=[i for i, _ in ACCEPTED_ASSETS])  # fmt: skip
def test_assets_the_structs_read_are_accepted_and_read(
    db: psycopg.Connection[Any], collateral: Any
) -> None:
    user_id = raw_user(db, 1, {})
    raw_position(db, user_id, 1, "1.2", collateral)
    (position,) = sync.positions.list_for_user(db, user_id)
    assert [a.symbol for a in position.collateral] == [a["symbol"] for a in collateral]


@pytest.mark.parametrize(
    ("table", "column", "constraint"),
    [
        ("positions", "metadata", "positions_metadata_depth_check"),
        ("alerts", "metadata", "alerts_metadata_depth_check"),
        ("signals", "data", "signals_data_depth_check"),
        ("event_store", "payload", "event_store_payload_depth_check"),
        ("event_store", "metadata", "event_store_metadata_depth_check"),
    ],
)
def test_the_database_nesting_limit_is_the_validators(
    db: psycopg.Connection[Any], table: str, column: str, constraint: str
) -> None:
    """A document as deep as ``validate.document`` allows is stored; one level more is not."""
    deepest, too_deep = {"x": nested(validate.MAX_DEPTH - 2)}, {"x": nested(validate.MAX_DEPTH - 1)}
    validate.document(deepest, column)
    with pytest.raises(InvalidInput, match="nested more than"):
        validate.document(too_deep, column)
    check = "SELECT is_json_within_depth(%s::jsonb)"
    assert db.execute(check, (json.dumps(deepest),)).fetchone() == (True,)
    assert db.execute(check, (json.dumps(too_deep),)).fetchone() == (False,)
    definition = db.execute(
        "SELECT conrelid::regclass::text, pg_get_constraintdef(oid) FROM pg_constraint"
        " WHERE conname = %s AND conrelid = %s::regclass",  # partitions repeat the name
        (constraint, table),
    ).fetchone()
    assert definition == (table, f"CHECK (is_json_within_depth({column}))")


@pytest.mark.parametrize(
    ("condition", "action", "constraint"),
    [
        ({"operator": "<", "value": "1.2"}, {"type": "repay"}, None),
        ({"metric": "healthFactor", "operator": "<=", "value": 1.2},
         {"type": "notify", "asset": None, "amount": None}, None),
        ({"operator": "<", "value": "2E+1"}, {"type": "repay", "amount": "1E-7"}, None),
        ({"operator": "!=", "value": "1.2"}, {"type": "repay"}, "intents_condition_shape_check"),
        ({"value": "1.2"}, {"type": "repay"}, "intents_condition_shape_check"),
        ({"operator": "<"}, {"type": "repay"}, "intents_condition_shape_check"),
        ({"operator": "<", "value": "x"}, {"type": "repay"}, "intents_condition_shape_check"),
        ({"operator": "<", "value": "1", "metric": "ltv"}, {"type": "repay"},
         "intents_condition_shape_check"),
        ({"operator": "<", "value": "1", "metric": None}, {"type": "repay"},
         "intents_condition_shape_check"),
        ({"operator": "<", "value": "1"}, {"type": "swap"}, "intents_action_shape_check"),
        ({"operator": "<", "value": "1"}, {"type": "repay", "asset": 5},
         "intents_action_shape_check"),
        ({"operator": "<", "value": "1"}, {"type": "repay", "amount": "lots"},
         "intents_action_shape_check"),
    ],
)  # fmt: skip
def test_intent_documents_are_held_to_the_structs_shape(
    db: psycopg.Connection[Any], condition: Any, action: Any, constraint: str | None
) -> None:
    user_id = raw_user(db, 1, {})
    sql = (
        "INSERT INTO intents (user_id, condition, action) VALUES (%s, %s::jsonb, %s::jsonb)"
        " RETURNING id"
    )
    if constraint is None:
        intent_id = insert(db, sql, user_id, json.dumps(condition), json.dumps(action))
        assert sync.intents.get(db, intent_id).condition.operator == condition["operator"]
        return
    with pytest.raises(psycopg.errors.CheckViolation) as caught:
        insert(db, sql, user_id, json.dumps(condition), json.dumps(action))
    assert caught.value.diag.constraint_name == constraint


def test_chain_ids_stop_at_javascripts_largest_exact_integer(api: Api) -> None:
    user = api.users.create(wallet_address=wallet(1))
    made = api.positions.create(
        NewPosition(user_id=user.id, wallet_address=wallet(1), protocol="aave", chain_id=2**53 - 1)
    )
    assert made.chain_id == 9007199254740991
    with pytest.raises(InvalidInput, match=r"^chain_id must be between 1 and 9007199254740991"):
        api.positions.create(
            NewPosition(user_id=user.id, wallet_address=wallet(1), protocol="aave", chain_id=2**53)
        )


def test_the_database_refuses_chain_ids_javascript_cannot_read_exactly(
    db: psycopg.Connection[Any],
) -> None:
    user_id = raw_user(db, 1, {})
    for table, sql in [
        ("positions", "INSERT INTO positions (user_id, wallet_address, protocol, chain_id)"
                      " VALUES (%s, '0x" + "0" * 40 + "', 'aave', %s)"),
        ("intents", "INSERT INTO intents (user_id, chain_id, condition, action)"
                    " VALUES (%s, %s, '{\"operator\": \"<\", \"value\": 1}',"
                    " '{\"type\": \"repay\"}')"),
    ]:  # fmt: skip
        with pytest.raises(psycopg.errors.CheckViolation) as caught:
            db.execute(sql, (user_id, 2**53))
        assert caught.value.diag.constraint_name == f"{table}_chain_id_safe_integer_check"


# -- items of issue #7 one by one ------------------------------------------------------


def test_a_threshold_update_keeps_thresholds_python_does_not_model(
    api: Api, db: psycopg.Connection[Any]
) -> None:
    user_id = raw_user(
        db, 1, {"riskProfile": "moderate",
                "alertThresholds": {"healthFactor": 1.5, "liquidationWarning": 1.25}}
    )  # fmt: skip
    patch = UserPreferences(alert_thresholds=AlertThresholds(health_factor=Decimal("1.3")))
    api.users.update_preferences(user_id, patch)
    (stored,) = db.execute("SELECT preferences FROM users WHERE id = %s", (user_id,)).fetchone()
    assert stored == {
        "riskProfile": "moderate",
        "alertThresholds": {"healthFactor": 1.3, "liquidationWarning": 1.25},
    }
    api.users.update_preferences(user_id, UserPreferences(risk_profile="aggressive"))
    (stored,) = db.execute("SELECT preferences FROM users WHERE id = %s", (user_id,)).fetchone()
    assert stored["alertThresholds"] == {"healthFactor": 1.3, "liquidationWarning": 1.25}


def test_a_lookup_in_any_letter_case_finds_the_user(api: Api, db: psycopg.Connection[Any]) -> None:
    checksummed = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"
    user = api.users.create(wallet_address=checksummed)
    assert user.wallet_address == checksummed.lower()
    for spelling in (checksummed, checksummed.lower(), checksummed.upper().replace("0X", "0x")):
        assert api.users.find_by_wallet(spelling) == user
        found = db.execute("SELECT id FROM users WHERE wallet_address = %s", (spelling,))
        assert found.fetchall() == [(user.id,)]
        literal = psycopg.sql.SQL("SELECT id FROM users WHERE wallet_address = {}").format(
            psycopg.sql.Literal(spelling)
        )
        assert db.execute(literal).fetchall() == [(user.id,)]
    with pytest.raises(Conflict, match="users_wallet_address_key"):
        api.users.create(wallet_address=checksummed.lower())


def test_a_case_insensitive_lookup_uses_an_index(db: psycopg.Connection[Any]) -> None:
    db.execute(
        "INSERT INTO users (wallet_address)"
        " SELECT '0x' || lpad(to_hex(n), 40, '0') FROM generate_series(1, 2000) AS n"
    )
    db.execute("ANALYZE users")
    plan = "\n".join(
        row[0]
        for row in db.execute(
            "EXPLAIN SELECT id FROM users WHERE wallet_address = %s", (wallet(7).upper(),)
        )
    )
    assert "users_wallet_address_lower_idx" in plan


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (1e23, r"^metadata\.x is the float 1e\+23, which would not read back exactly "
               r"\(PostgreSQL keeps JSON numbers as decimals, so it would come back as the int "
               r"100000000000000000000000\); pass an int or a Decimal\.$"),
        (-1e16, r"^metadata\.x is the float -1e\+16, which would not read back exactly"),
        (float("nan"), r"^metadata\.x is nan, which JSON cannot hold\.$"),
    ],
    ids=["1e23", "-1e16", "nan"],
)  # fmt: skip
def test_floats_that_would_not_read_back_are_refused(
    api: Api, db: psycopg.Connection[Any], value: float, message: str
) -> None:
    user = api.users.create(wallet_address=wallet(1))
    snapshot = NewPosition(
        user_id=user.id, wallet_address=wallet(1), protocol="aave", metadata={"x": value}
    )
    with pytest.raises(InvalidInput, match=message):
        api.positions.create(snapshot)
    assert db.execute("SELECT count(*) FROM positions").fetchone() == (0,)


@settings(max_examples=300, derandomize=True, database=None, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])  # fmt: skip
@given(value=st.floats(allow_nan=False, allow_infinity=False))
def test_every_float_the_validator_accepts_reads_back_exactly(
    shared_db: psycopg.Connection[Any], value: float
) -> None:
    """The oracle is PostgreSQL's jsonb: what it gives back for msgspec's JSON of the float."""
    try:
        validate.document({"x": value}, "metadata")
    except InvalidInput:
        assert abs(value) >= validate.FLOAT_EXACT_BELOW
        return
    (text,) = shared_db.execute(
        "SELECT (%s::jsonb)::text", (msgspec.json.encode({"x": value}).decode(),)
    ).fetchone() or ("",)
    back = msgspec.json.decode(text)["x"]
    assert (type(back), back) == (float, value)


def test_floats_other_writers_store_read_back_as_the_database_keeps_them(
    api: Api, db: psycopg.Connection[Any]
) -> None:
    user_id = raw_user(db, 1, {})
    raw_position(db, user_id, 1, "1.2", metadata={"small": 0.1, "big": 1e23})
    (position,) = api.positions.list_for_user(user_id)
    assert position.metadata == {"small": 0.1, "big": 10**23}


def test_one_alert_per_channel_for_a_signal(api: Api, db: psycopg.Connection[Any]) -> None:
    user_id = raw_user(
        db,
        1,
        {"activeSignals": ["depeg"], "notificationChannels": ["telegram", "in_app", "telegram"]},
    )
    api.users.set_telegram_chat(user_id, "42")  # telegram reaches only a linked chat
    lurker = raw_user(db, 2, {"activeSignals": ["depeg"]})
    signal = api.signals.create(type="depeg", asset="USDC", severity="critical")
    assert api.alerts.fan_out(signal.id) == 3
    assert api.alerts.fan_out(signal.id) == 0
    rows = db.execute("SELECT user_id, channel FROM alerts ORDER BY user_id, channel").fetchall()
    assert sorted(rows) == sorted([(user_id, "in_app"), (user_id, "telegram"), (lurker, "in_app")])
    api.alerts.create(user_id=user_id, signal_id=signal.id, type="signal_detected",
                      channel="email", message="by hand")  # fmt: skip
    with pytest.raises(
        Conflict, match=r"on this channel \(alerts_signal_id_user_id_type_channel_key\)"
    ):
        api.alerts.create(user_id=user_id, signal_id=signal.id, type="signal_detected",
                          channel="email", message="twice")  # fmt: skip


# -- rows from before the rules: read defensively ----------------------------------------


def test_an_unreadable_user_is_a_typed_error_naming_table_id_and_field(
    api: Api, db: psycopg.Connection[Any]
) -> None:
    drop(db, "users", "users_preferences_notification_channels_check")
    user_id = raw_user(db, 1, {"notificationChannels": ["telegram", "push"]})
    expected = (
        rf"^users row {user_id} cannot be read into User: "
        r"preferences\.notificationChannels\[1\]: Invalid enum value 'push'; "
        r"it breaks a rule the database now enforces \(or was written around "
        r"it\): repair or delete the row\.$"
    )
    for read in (lambda: api.users.get(user_id), lambda: api.users.get_or_create(wallet(1))):
        with pytest.raises(UnreadableRow, match=expected) as caught:
            read()
        assert (caught.value.table, caught.value.row_id) == ("users", user_id)
        assert caught.value.field == "preferences.notificationChannels[1]"
    assert api.users.get_or_create(wallet(2)).wallet_address == wallet(2)


def test_json_nested_too_deep_to_decode_is_a_typed_error(
    api: Api, db: psycopg.Connection[Any]
) -> None:
    drop(db, "positions", "positions_metadata_depth_check")
    user_id = raw_user(db, 1, {})
    position_id = raw_position(db, user_id, 1, "1.1", metadata=deep(1500))
    with pytest.raises(UnreadableRow, match="the JSON is nested too deeply to decode") as caught:
        api.positions.list_for_user(user_id)
    assert (caught.value.table, caught.value.row_id, caught.value.field) == (
        "positions", position_id, "metadata"
    )  # fmt: skip


def test_one_unreadable_snapshot_does_not_stop_the_risk_reads_for_everyone(
    api: Api, db: psycopg.Connection[Any]
) -> None:
    drop(db, "positions", "positions_collateral_assets_check")
    bad_user, good_user = raw_user(db, 1, {}), raw_user(db, 2, {})
    bad = raw_position(db, bad_user, 1, "1.1", [{"symbol": "ETH", "amount": "1", "valueUsd": "1"}])
    good = raw_position(db, good_user, 2, "1.2", [ASSET])
    for read in (api.positions.at_risk, api.positions.latest_per_user):
        batch = read()
        assert [p.id for p in batch] == [good]
        (error,) = batch.unreadable
        assert (error.table, error.row_id, error.field) == ("positions", bad, "collateral[0]")
        assert "Object missing required field `valueUSD`" in str(error)


def test_one_unreadable_intent_does_not_stop_the_others(
    api: Api, db: psycopg.Connection[Any]
) -> None:
    drop(db, "intents", "intents_action_shape_check")
    users = [raw_user(db, n, {}) for n in (1, 2)]
    for n, user_id in enumerate(users, 1):
        raw_position(db, user_id, n, "1.1")
    bad = insert(db, "INSERT INTO intents (user_id, condition, action) VALUES (%s, "
                 "'{\"operator\": \"<\", \"value\": \"1.5\"}', '{\"type\": \"swap\"}')"
                 " RETURNING id", users[0])  # fmt: skip
    good = api.intents.create(
        user_id=users[1],
        condition=IntentCondition(operator="<", value=Decimal("1.5")),
        action=IntentAction(type="notify"),
    )
    batch = api.intents.due()
    assert [i.id for i in batch] == [good.id]
    assert [(e.table, e.row_id, e.field) for e in batch.unreadable] == [
        ("intents", bad, "action.type")
    ]


def test_an_unreadable_alert_leaves_the_queue_and_delivery_goes_on(
    api: Api, db: psycopg.Connection[Any]
) -> None:
    drop(db, "alerts", "alerts_metadata_depth_check")
    users = [raw_user(db, n, {}) for n in (1, 2, 3)]
    sql = (
        "INSERT INTO alerts (user_id, type, channel, message, metadata, created_at)"
        " VALUES (%s, 'hf', 'telegram', 'm', %s::jsonb, now() - %s * interval '1 minute')"
        " RETURNING id"
    )
    bad = insert(db, sql, users[0], deep(1500), 3)  # the oldest: first in line
    good = [insert(db, sql, user_id, "{}", 2 - n) for n, user_id in enumerate(users[1:])]
    batch = api.alerts.claim(limit=2)
    assert [a.id for a in batch] == [good[0]]
    assert [(e.table, e.row_id) for e in batch.unreadable] == [("alerts", bad)]
    status, reason = db.execute(
        "SELECT status, metadata ->> 'failureReason' FROM alerts WHERE id = %s", (bad,)
    ).fetchone() or (None, None)
    assert status == "failed"
    assert reason.startswith(f"unreadable: alerts row {bad} cannot be read into Alert: metadata")
    second = api.alerts.claim(limit=2)
    assert ([a.id for a in second], second.unreadable) == ([good[1]], [])
    assert len(api.alerts.mark_sent_many([*batch, *second])) == 2


def test_odd_preferences_never_stop_a_fan_out(api: Api, db: psycopg.Connection[Any]) -> None:
    for constraint in ("notification_channels", "active_signals", "alert_thresholds"):
        drop(db, "users", f"users_preferences_{constraint}_check")
    odd = [
        {"activeSignals": ["depeg", 7, {"x": 1}], "notificationChannels": "telegram"},
        {"activeSignals": ["depeg"], "notificationChannels": [1, None, ["email"], "push"]},
        {"activeSignals": ["depeg"], "alertThresholds": [1]},
    ]
    for n, preferences in enumerate(odd, 1):
        raw_user(db, n, preferences)
    fine = raw_user(db, 9, {"activeSignals": ["depeg"], "notificationChannels": ["email"]})
    signal = api.signals.create(type="depeg", asset="USDC", severity="high")
    assert api.alerts.fan_out(signal.id) == 4
    assert db.execute("SELECT channel FROM alerts WHERE user_id = %s", (fine,)).fetchall() == [
        ("email",)
    ]


def test_no_read_lets_a_foreign_exception_escape(api: Api, db: psycopg.Connection[Any]) -> None:
    """Every public read of an unreadable row raises a DefiSqlError, never msgspec's."""
    drop(db, "users", "users_preferences_risk_profile_check")
    user_id = raw_user(db, 1, {"riskProfile": "degen"})
    raw_position(db, user_id, 1, "1.1")
    reads = [
        lambda: api.users.get(user_id),
        lambda: api.users.find_by_wallet(wallet(1)),
        lambda: api.users.get_or_create(wallet(1)),
        lambda: api.users.get_with_positions(user_id),
        lambda: api.users.set_telegram_chat(user_id, "42"),
        lambda: api.users.update_preferences(user_id, UserPreferences(active_signals=["x"])),
    ]
    for read in reads:
        with pytest.raises(DefiSqlError) as caught:
            read()
        assert isinstance(caught.value, UnreadableRow), caught.value


# -- the contract is complete: whatever the database accepts, every read reads ---------

foreign = settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
#: Text PostgreSQL's jsonb stores (no NUL); hypothesis's default alphabet has no surrogates.
json_text = st.text(alphabet=st.characters(blacklist_characters="\x00"), max_size=8)
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=False, allow_infinity=False)
    | json_text,
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(json_text, children, max_size=3)
    ),
    max_leaves=8,
)
decimal_texts = st.sampled_from(
    ["1", "1.5", "2E+1", "1e-7", "00.5", "1.", ".5", "-1", "1e999", "1e1000", "NaN", "", "0x1"]
) | st.decimals(allow_nan=False, allow_infinity=False).map(str)
decimals_json = decimal_texts | st.integers(-5, 10**20) | st.floats(allow_nan=False) | json_values
literals = st.sampled_from(["telegram", "email", "in_app", "push", "moderate", "degen", "<", "!="])


def shaped(
    keys: dict[str, st.SearchStrategy[Any]],
    required: dict[str, st.SearchStrategy[Any]] | None = None,
) -> st.SearchStrategy[Any]:
    """Objects with the ``required`` keys, some of ``keys`` and some strangers, or any JSON."""
    objects = st.fixed_dictionaries(required or {}, optional=keys).flatmap(
        lambda known: st.dictionaries(json_text, json_values, max_size=2).map(
            lambda extra: {**extra, **known}
        )
    )
    return st.one_of(objects, objects, objects, json_values)


preferences_json = shaped(
    {
        "riskProfile": literals | json_values,
        "notificationChannels": st.lists(literals, max_size=3) | json_values,
        "activeSignals": st.lists(json_text, max_size=3) | json_values,
        "alertThresholds": shaped({"healthFactor": decimals_json}),
    }
)
asset_json = shaped({"symbol": json_text | json_values, "amount": decimals_json,
                     "valueUSD": decimals_json})  # fmt: skip
condition_json = shaped(
    {"metric": st.just("healthFactor") | st.none()},
    required={
        "operator": st.sampled_from(["<", "<=", ">", ">=", "!="]),
        "value": decimal_texts | st.integers(0, 10**20),
    },
)
action_json = shaped(
    {"asset": json_text | st.none() | json_values, "amount": decimal_texts | st.none()},
    required={"type": st.sampled_from(["repay", "notify", "swap"])},
)
rows = st.fixed_dictionaries(
    {
        "preferences": preferences_json,
        "collateral": st.lists(asset_json, max_size=2) | json_values,
        "metadata": shaped({}),
        "condition": condition_json,
        "action": action_json,
        "data": shaped({}),
    }
)

#: what the database refuses to store (a CHECK, a NUL, a lone surrogate in JSON text)
ACCEPTED_ERRORS = (
    psycopg.errors.CheckViolation,
    psycopg.errors.UntranslatableCharacter,
    psycopg.errors.InvalidTextRepresentation,
)


def stored(db: psycopg.Connection[Any], sql: str, *params: Any) -> UUID | None:
    """The id of the row ``sql`` inserts, or None when the database refuses it."""
    try:
        with db.transaction():
            row_id = insert(db, sql, *params)
    except ACCEPTED_ERRORS as exc:
        event(f"refused: {exc.diag.constraint_name or exc.sqlstate}")
        return None
    event(f"stored: {sql.split()[2]}")
    return row_id


@foreign
@given(row=rows)
def test_every_row_the_database_accepts_is_read_by_every_public_read(
    db: psycopg.Connection[Any], row: dict[str, Any]
) -> None:
    """The oracle is the database: a document it stores must never fail a read."""
    with db.transaction(force_rollback=True):
        user_id = stored(
            db, "INSERT INTO users (wallet_address, preferences) VALUES (%s, %s::jsonb)"
            " RETURNING id", wallet(1), json.dumps(row["preferences"])
        ) or raw_user(db, 1, {})  # fmt: skip
        stored(
            db, "INSERT INTO positions (user_id, wallet_address, protocol, health_factor,"
            " collateral, metadata) VALUES (%s, %s, 'aave', 0.5, %s::jsonb, %s::jsonb)"
            " RETURNING id", user_id, wallet(1), json.dumps(row["collateral"]),
            json.dumps(row["metadata"]),
        )  # fmt: skip
        stored(
            db, "INSERT INTO intents (user_id, condition, action) VALUES (%s, %s::jsonb,"
            " %s::jsonb) RETURNING id", user_id, json.dumps(row["condition"]),
            json.dumps(row["action"]),
        )  # fmt: skip
        signal_id = stored(
            db, "INSERT INTO signals (type, asset, severity, data) VALUES ('depeg', 'USDC',"
            " 'high', %s::jsonb) RETURNING id", json.dumps(row["data"])
        )  # fmt: skip
        stored(
            db, "INSERT INTO alerts (user_id, signal_id, type, channel, message, metadata)"
            " VALUES (%s, %s, 'hf', 'email', 'm', %s::jsonb) RETURNING id",
            user_id, signal_id, json.dumps(row["metadata"]),
        )  # fmt: skip
        stream = stored(
            db, "INSERT INTO event_store (stream_type, stream_id, version, event_type, payload,"
            " metadata) VALUES ('user', gen_random_uuid(), 1, 'x', %s::jsonb, %s::jsonb)"
            " RETURNING stream_id", json.dumps(row["data"]), json.dumps(row["metadata"]),
        )  # fmt: skip
        now = datetime.now(UTC)
        sync.users.get(db, user_id)
        sync.users.find_by_wallet(db, wallet(1))
        sync.users.get_or_create(db, wallet(1))
        sync.users.get_with_positions(db, user_id)
        sync.positions.list_for_user(db, user_id)
        sync.positions.latest(db, user_id)
        sync.positions.latest_per_protocol(db, user_id)
        sync.positions.list_for_wallet(db, wallet(1), "aave")
        sync.positions.history(db, user_id, now - timedelta(days=1), now + timedelta(days=1))
        with closing(sync.positions.iterate_all(db)) as every:
            list(every)
        sync.intents.active_for_user(db, user_id)
        sync.alerts.pending_for_user(db, user_id)
        sync.signals.active_for_asset(db, "USDC")
        sync.signals.active(db)
        if stream is not None:
            sync.events.read_stream(db, stream)
        sync.events.read_all_after(db)
        for batch in (
            sync.positions.at_risk(db),
            sync.positions.latest_per_user(db),
            sync.intents.due(db),
            sync.alerts.claim(db),
        ):
            assert batch.unreadable == []
