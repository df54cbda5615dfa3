"""The database itself enforces the schema's rules, not the application.

Every test talks to a real, fully migrated PostgreSQL (16 and 18) and proves one
rule of ``sql/migrations``: good values are stored (normalised where the schema
says so), bad ones are rejected with the named constraint or the right error,
triggers keep ``updated_at`` and wallet addresses right, foreign keys cascade or
set NULL, ``event_store`` is append-only except through ``archive_events()``,
and the catalog carries the comments and foreign-key indexes we promise.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import psycopg
import pytest
from psycopg import errors, sql
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

Conn = psycopg.Connection[Any]
Row = dict[str, Any]

WALLET = "0xAbCdEf0123456789ABCDEF0123456789abcdef01"
T0 = datetime(2024, 1, 1, tzinfo=UTC)
APPEND_ONLY = "event_store is append-only: events cannot be updated or deleted"


def random_wallet() -> str:
    return "0x" + uuid.uuid4().hex + uuid.uuid4().hex[:8]


def insert(db: Conn, table: str, **values: Any) -> Row:
    """INSERT one row with the given columns and return it as stored."""
    query = sql.SQL("INSERT INTO {} ({}) VALUES ({}) RETURNING *").format(
        sql.Identifier(table),
        sql.SQL(", ").join(map(sql.Identifier, values)),
        sql.SQL(", ").join(sql.Placeholder() * len(values)),
    )
    with db.cursor(row_factory=dict_row) as cur:
        row = cur.execute(query, list(values.values())).fetchone()
    assert row is not None
    return row


def _owned(db: Conn, overrides: dict[str, Any]) -> dict[str, Any]:
    """The overrides, plus a fresh owner unless they name one."""
    return overrides if "user_id" in overrides else {"user_id": insert_user(db)["id"], **overrides}


def insert_user(db: Conn, **overrides: Any) -> Row:
    return insert(db, "users", **{"wallet_address": random_wallet(), **overrides})


def insert_signal(db: Conn, **overrides: Any) -> Row:
    return insert(
        db, "signals", **{"type": "depeg", "asset": "USDT", "severity": "high", **overrides}
    )


def insert_position(db: Conn, **overrides: Any) -> Row:
    defaults = {"wallet_address": WALLET, "protocol": "aave-v3"}
    return insert(db, "positions", **{**defaults, **_owned(db, overrides)})


def insert_alert(db: Conn, **overrides: Any) -> Row:
    defaults = {"type": "health_factor", "channel": "telegram", "message": "HF below 1.2"}
    return insert(db, "alerts", **{**defaults, **_owned(db, overrides)})


def insert_intent(db: Conn, **overrides: Any) -> Row:
    defaults = {
        "condition": Jsonb({"metric": "healthFactor", "operator": "<", "value": "1.2"}),
        "action": Jsonb({"type": "repay", "asset": "USDT", "amount": "1000"}),
    }
    return insert(db, "intents", **{**defaults, **_owned(db, overrides)})


def append_event(db: Conn, **overrides: Any) -> Row:
    defaults = {
        "stream_type": "intent",
        "stream_id": uuid.uuid4(),
        "version": 1,
        "event_type": "IntentCreated",
        "payload": Jsonb({}),
    }
    return insert(db, "event_store", **{**defaults, **overrides})


def assert_stored(row: Row, overrides: dict[str, Any]) -> None:
    """Every overridden column reads back as the value that was written."""
    expected = {k: v.obj if isinstance(v, Jsonb) else v for k, v in overrides.items()}
    assert {k: row[k] for k in overrides} == expected


# wallet addresses (users and positions share the rule and the trigger function)

WALLET_TABLES = [
    pytest.param("users", insert_user, id="users"),
    pytest.param("positions", insert_position, id="positions"),
]


@pytest.mark.parametrize(("table", "insert_row"), WALLET_TABLES)
@pytest.mark.parametrize(
    "address",
    [
        pytest.param(WALLET, id="mixed-case"),
        pytest.param(WALLET.upper().replace("0X", "0x"), id="upper-case-hex"),
        pytest.param(WALLET.upper(), id="upper-case-0X-prefix"),
        pytest.param(WALLET.lower(), id="lower-case"),
    ],
)
def test_wallet_address(db: Conn, table: str, insert_row: Any, address: str) -> None:
    assert insert_row(db, wallet_address=address)["wallet_address"] == WALLET.lower()


@pytest.mark.parametrize(("table", "insert_row"), WALLET_TABLES)
@pytest.mark.parametrize(
    "address",
    [
        pytest.param("0x" + "a" * 39, id="too-short"),
        pytest.param("0x" + "a" * 41, id="too-long"),
        pytest.param("0x" + "g" * 40, id="non-hex"),
        pytest.param("a" * 42, id="missing-0x"),
        pytest.param(" " + WALLET, id="leading-space"),
        pytest.param(WALLET + " ", id="trailing-space"),
        pytest.param(WALLET + "\n", id="trailing-newline"),
        pytest.param("0x", id="prefix-only"),
        pytest.param("", id="empty"),
    ],
)
def test_wallet_address_bad(db: Conn, table: str, insert_row: Any, address: str) -> None:
    with pytest.raises(errors.CheckViolation) as exc:
        insert_row(db, wallet_address=address)
    assert exc.value.diag.constraint_name == f"{table}_wallet_address_check"


@pytest.mark.parametrize(("table", "insert_row"), WALLET_TABLES)
def test_wallet_address_update_normalises(db: Conn, table: str, insert_row: Any) -> None:
    row = insert_row(db, wallet_address=random_wallet())
    update = sql.SQL("UPDATE {} SET wallet_address = %s WHERE id = %s RETURNING wallet_address")
    stored = db.execute(update.format(sql.Identifier(table)), (WALLET, row["id"])).fetchone()
    assert stored == (WALLET.lower(),)


@pytest.mark.parametrize(
    "address",
    [
        pytest.param(WALLET.lower(), id="same"),
        pytest.param(WALLET.upper().replace("0X", "0x"), id="upper-case-hex"),
        pytest.param(WALLET.upper(), id="upper-case-0X-prefix"),
    ],
)
def test_user_wallet_address_duplicate(db: Conn, address: str) -> None:
    insert_user(db, wallet_address=WALLET)
    with pytest.raises(errors.UniqueViolation) as exc:
        insert_user(db, wallet_address=address)
    assert exc.value.diag.constraint_name == "users_wallet_address_key"


# defaults


@pytest.mark.parametrize(
    ("insert_row", "expected"),
    [
        pytest.param(insert_user, {"preferences": {}, "telegram_chat_id": None}, id="users"),
        pytest.param(
            insert_signal, {"status": "active", "data": {}, "expires_at": None}, id="signals"
        ),
        pytest.param(
            insert_position,
            {"chain_id": 1, "health_factor": None, "collateral": [], "debt": [], "metadata": {}},
            id="positions",
        ),
        pytest.param(
            insert_alert, {"status": "pending", "signal_id": None, "metadata": {}}, id="alerts"
        ),
        pytest.param(
            insert_intent, {"status": "active", "protocol": None, "chain_id": None}, id="intents"
        ),
        pytest.param(append_event, {"metadata": {}}, id="event_store"),
    ],
)
def test_defaults(db: Conn, insert_row: Any, expected: dict[str, Any]) -> None:
    row = insert_row(db)
    assert {column: row[column] for column in expected} == expected


# users


@pytest.mark.parametrize(
    "overrides",
    [
        pytest.param({"preferences": Jsonb({})}, id="preferences-empty"),
        pytest.param({"preferences": Jsonb({"alertThresholds": {"hf": 1.5}})}, id="prefs-nested"),
        pytest.param({"telegram_chat_id": "123456789"}, id="telegram-chat-id"),
        pytest.param({"telegram_chat_id": None}, id="telegram-chat-id-null"),
    ],
)
def test_user(db: Conn, overrides: dict[str, Any]) -> None:
    assert_stored(insert_user(db, **overrides), overrides)


@pytest.mark.parametrize(
    ("overrides", "constraint"),
    [
        pytest.param({"preferences": Jsonb([])}, "users_preferences_check", id="prefs-array"),
        pytest.param({"preferences": Jsonb("x")}, "users_preferences_check", id="prefs-string"),
        pytest.param({"preferences": Jsonb(1)}, "users_preferences_check", id="prefs-number"),
        pytest.param({"preferences": Jsonb(None)}, "users_preferences_check", id="prefs-null"),
        pytest.param({"telegram_chat_id": ""}, "users_telegram_chat_id_check", id="chat-id-empty"),
    ],
)
def test_user_bad(db: Conn, overrides: dict[str, Any], constraint: str) -> None:
    with pytest.raises(errors.CheckViolation) as exc:
        insert_user(db, **overrides)
    assert exc.value.diag.constraint_name == constraint


# updated_at triggers


@pytest.mark.parametrize(
    ("table", "insert_row"),
    [
        pytest.param("users", insert_user, id="users"),
        pytest.param("positions", insert_position, id="positions"),
        pytest.param("intents", insert_intent, id="intents"),
    ],
)
def test_updated_at_is_set_on_update(db: Conn, table: str, insert_row: Any) -> None:
    old = T0 - timedelta(days=365)
    row = insert_row(db, created_at=T0, updated_at=T0)
    update = sql.SQL(
        "UPDATE {} SET updated_at = %s WHERE id = %s RETURNING created_at, updated_at, now()"
    ).format(sql.Identifier(table))
    with db.transaction():
        stored = db.execute(update, (old, row["id"])).fetchone()
    assert stored is not None
    created_at, updated_at, now = stored
    assert updated_at == now
    assert created_at == T0


# signals

SEVERITIES = ("low", "medium", "high", "critical")


@pytest.mark.parametrize(
    "overrides",
    [
        *(pytest.param({"severity": s}, id=f"severity-{s}") for s in SEVERITIES),
        *(pytest.param({"status": s}, id=f"status-{s}") for s in ("expired", "acknowledged")),
        pytest.param({"data": Jsonb({"peg": "0.97"})}, id="data-object"),
        pytest.param({"detected_at": T0, "expires_at": T0 + timedelta(hours=1)}, id="expires"),
        pytest.param({"detected_at": T0, "expires_at": None}, id="never-expires"),
    ],
)
def test_signal(db: Conn, overrides: dict[str, Any]) -> None:
    assert_stored(insert_signal(db, **overrides), overrides)


@pytest.mark.parametrize(
    ("overrides", "constraint"),
    [
        pytest.param({"severity": "urgent"}, "signals_severity_check", id="severity-urgent"),
        pytest.param({"severity": "HIGH"}, "signals_severity_check", id="severity-upper"),
        pytest.param({"status": "ACTIVE"}, "signals_status_check", id="status-upper"),
        pytest.param({"status": "open"}, "signals_status_check", id="status-open"),
        pytest.param({"type": ""}, "signals_type_check", id="type-empty"),
        pytest.param({"asset": ""}, "signals_asset_check", id="asset-empty"),
        pytest.param({"data": Jsonb([])}, "signals_data_check", id="data-array"),
        pytest.param(
            {"detected_at": T0, "expires_at": T0}, "signals_expires_at_check", id="expires-at-same"
        ),
        pytest.param(
            {"detected_at": T0, "expires_at": T0 - timedelta(seconds=1)},
            "signals_expires_at_check",
            id="expires-before-detected",
        ),
    ],
)
def test_signal_bad(db: Conn, overrides: dict[str, Any], constraint: str) -> None:
    with pytest.raises(errors.CheckViolation) as exc:
        insert_signal(db, **overrides)
    assert exc.value.diag.constraint_name == constraint


# positions


@pytest.mark.parametrize(
    "overrides",
    [
        pytest.param({"health_factor": Decimal("0")}, id="hf-zero"),
        pytest.param({"health_factor": Decimal("1.5")}, id="hf-1.5"),
        pytest.param({"health_factor": None}, id="hf-null"),
        pytest.param({"health_factor": Decimal("1e300")}, id="hf-huge"),
        pytest.param({"chain_id": 137}, id="chain-polygon"),
        pytest.param(
            {"collateral": Jsonb([{"symbol": "ETH", "amount": "1.5", "valueUSD": "3000"}])},
            id="collateral",
        ),
        pytest.param(
            {"debt": Jsonb([{"symbol": "USDT", "amount": "1000", "valueUSD": "1000"}])}, id="debt"
        ),
        pytest.param({"metadata": Jsonb({"ltv": "0.5"})}, id="metadata"),
    ],
)
def test_position(db: Conn, overrides: dict[str, Any]) -> None:
    assert_stored(insert_position(db, **overrides), overrides)


@pytest.mark.parametrize(
    ("overrides", "constraint"),
    [
        pytest.param({"health_factor": "-0.1"}, "positions_health_factor_check", id="hf-negative"),
        pytest.param({"health_factor": "NaN"}, "positions_health_factor_check", id="hf-nan"),
        pytest.param({"health_factor": "Infinity"}, "positions_health_factor_check", id="hf-inf"),
        pytest.param(
            {"health_factor": "-Infinity"}, "positions_health_factor_check", id="hf-minus-inf"
        ),
        # both the array rule (0004) and the asset rule (0016) refuse these; PostgreSQL
        # checks a row's CHECKs in name order and names the first that fails
        pytest.param(
            {"collateral": Jsonb({})}, "positions_collateral_assets_check", id="coll-object"
        ),
        pytest.param(
            {"collateral": Jsonb("x")}, "positions_collateral_assets_check", id="coll-string"
        ),
        pytest.param({"debt": Jsonb(None)}, "positions_debt_assets_check", id="debt-json-null"),
        pytest.param({"debt": Jsonb({})}, "positions_debt_assets_check", id="debt-object"),
        pytest.param({"metadata": Jsonb([])}, "positions_metadata_check", id="metadata-array"),
        pytest.param({"chain_id": 0}, "positions_chain_id_check", id="chain-id-zero"),
        pytest.param({"chain_id": -1}, "positions_chain_id_check", id="chain-id-negative"),
        pytest.param({"protocol": ""}, "positions_protocol_check", id="protocol-empty"),
    ],
)
def test_position_bad(db: Conn, overrides: dict[str, Any], constraint: str) -> None:
    with pytest.raises(errors.CheckViolation) as exc:
        insert_position(db, **overrides)
    assert exc.value.diag.constraint_name == constraint


@pytest.mark.parametrize(
    ("insert_row", "column", "constraint"),
    [
        pytest.param(insert_position, "user_id", "positions_user_id_fkey", id="positions-user"),
        pytest.param(insert_alert, "user_id", "alerts_user_id_fkey", id="alerts-user"),
        pytest.param(insert_alert, "signal_id", "alerts_signal_id_fkey", id="alerts-signal"),
        pytest.param(insert_intent, "user_id", "intents_user_id_fkey", id="intents-user"),
    ],
)
def test_foreign_key_unknown(db: Conn, insert_row: Any, column: str, constraint: str) -> None:
    with pytest.raises(errors.ForeignKeyViolation) as exc:
        insert_row(db, **{column: uuid.uuid4()})
    assert exc.value.diag.constraint_name == constraint


# alerts


@pytest.mark.parametrize(
    "overrides",
    [
        *(pytest.param({"channel": c}, id=f"channel-{c}") for c in ("telegram", "email", "in_app")),
        pytest.param({"status": "pending"}, id="status-pending"),
        pytest.param({"status": "failed"}, id="status-failed"),
        pytest.param({"status": "sent", "sent_at": T0}, id="status-sent"),
        pytest.param({"status": "acknowledged", "acknowledged_at": T0}, id="status-acknowledged"),
    ],
)
def test_alert(db: Conn, overrides: dict[str, Any]) -> None:
    assert_stored(insert_alert(db, **overrides), overrides)


@pytest.mark.parametrize(
    ("overrides", "constraint"),
    [
        pytest.param({"channel": "sms"}, "alerts_channel_check", id="channel-sms"),
        pytest.param({"status": "queued"}, "alerts_status_check", id="status-queued"),
        pytest.param({"type": ""}, "alerts_type_check", id="type-empty"),
        pytest.param({"metadata": Jsonb([])}, "alerts_metadata_check", id="metadata-array"),
        pytest.param({"status": "sent"}, "alerts_sent_has_sent_at", id="sent-without-sent-at"),
        pytest.param(
            {"status": "acknowledged", "sent_at": T0},
            "alerts_acknowledged_has_acknowledged_at",
            id="acknowledged-without-acknowledged-at",
        ),
    ],
)
def test_alert_bad(db: Conn, overrides: dict[str, Any], constraint: str) -> None:
    with pytest.raises(errors.CheckViolation) as exc:
        insert_alert(db, **overrides)
    assert exc.value.diag.constraint_name == constraint


def test_deleting_a_signal_keeps_its_alerts(db: Conn) -> None:
    signal = insert_signal(db)
    alert = insert_alert(db, signal_id=signal["id"])
    db.execute("DELETE FROM signals WHERE id = %s", (signal["id"],))
    rows = db.execute("SELECT id, signal_id FROM alerts").fetchall()
    assert rows == [(alert["id"], None)]


# intents

INTENT_STATUSES = ("active", "triggered", "executed", "cancelled", "failed", "expired")


@pytest.mark.parametrize(
    "overrides",
    [
        *(pytest.param({"status": s}, id=f"status-{s}") for s in INTENT_STATUSES[3:]),
        pytest.param({"status": "active"}, id="status-active"),
        pytest.param({"status": "triggered", "triggered_at": T0}, id="status-triggered"),
        pytest.param(
            {"status": "executed", "triggered_at": T0, "executed_at": T0}, id="status-executed"
        ),
        pytest.param({"protocol": "aave-v3", "chain_id": 1}, id="scoped"),
        pytest.param(
            {
                "condition": Jsonb({"operator": "<", "value": 1}),
                "action": Jsonb({"type": "notify"}),
            },
            id="smallest-documents",
        ),
    ],
)
def test_intent(db: Conn, overrides: dict[str, Any]) -> None:
    assert_stored(insert_intent(db, **overrides), overrides)


@pytest.mark.parametrize(
    ("overrides", "constraint"),
    [
        pytest.param({"status": "ACTIVE"}, "intents_status_check", id="status-upper"),
        pytest.param({"status": "done"}, "intents_status_check", id="status-done"),
        pytest.param(
            {"status": "triggered"}, "intents_triggered_has_triggered_at", id="triggered-no-time"
        ),
        pytest.param(
            {"status": "executed", "triggered_at": T0},
            "intents_executed_has_executed_at",
            id="executed-no-time",
        ),
        pytest.param({"condition": Jsonb([])}, "intents_condition_check", id="condition-array"),
        pytest.param({"condition": Jsonb(1)}, "intents_condition_check", id="condition-number"),
        pytest.param({"action": Jsonb("repay")}, "intents_action_check", id="action-string"),
        pytest.param({"action": Jsonb([])}, "intents_action_check", id="action-array"),
        pytest.param({"protocol": ""}, "intents_protocol_check", id="protocol-empty"),
        pytest.param({"chain_id": 0}, "intents_chain_id_check", id="chain-id-zero"),
    ],
)
def test_intent_bad(db: Conn, overrides: dict[str, Any], constraint: str) -> None:
    with pytest.raises(errors.CheckViolation) as exc:
        insert_intent(db, **overrides)
    assert exc.value.diag.constraint_name == constraint


# cascade


def test_deleting_a_user_deletes_only_their_rows(db: Conn) -> None:
    gone, kept = insert_user(db), insert_user(db)
    for user in (gone, kept):
        insert_position(db, user_id=user["id"])
        insert_alert(db, user_id=user["id"])
        insert_intent(db, user_id=user["id"])
    db.execute("DELETE FROM users WHERE id = %s", (gone["id"],))
    owners = db.execute(
        "SELECT 'positions', user_id FROM positions UNION ALL"
        " SELECT 'alerts', user_id FROM alerts UNION ALL"
        " SELECT 'intents', user_id FROM intents ORDER BY 1"
    ).fetchall()
    assert owners == [("alerts", kept["id"]), ("intents", kept["id"]), ("positions", kept["id"])]


# event_store


def test_event_position_is_generated(db: Conn) -> None:
    first, second = append_event(db), append_event(db)
    assert first["position"] < second["position"]
    with pytest.raises(errors.GeneratedAlways):
        append_event(db, position=second["position"] + 100)


@pytest.mark.parametrize(
    ("columns", "constraint"),
    [
        pytest.param(["event_id"], "event_store_event_id_key", id="event-id"),
        pytest.param(
            ["stream_id", "version"], "event_store_stream_id_version_key", id="stream-id-version"
        ),
    ],
)
def test_event_duplicate(db: Conn, columns: list[str], constraint: str) -> None:
    first = append_event(db, version=2)
    with pytest.raises(errors.UniqueViolation) as exc:
        append_event(db, **{column: first[column] for column in columns})
    assert exc.value.diag.constraint_name == constraint


@pytest.mark.parametrize(
    ("overrides", "constraint"),
    [
        pytest.param({"version": 0}, "event_store_version_check", id="version-zero"),
        pytest.param({"version": -1}, "event_store_version_check", id="version-negative"),
        pytest.param({"stream_type": ""}, "event_store_stream_type_check", id="stream-type-empty"),
        pytest.param({"event_type": ""}, "event_store_event_type_check", id="event-type-empty"),
        pytest.param({"payload": Jsonb([])}, "event_store_payload_check", id="payload-array"),
        pytest.param({"metadata": Jsonb("x")}, "event_store_metadata_check", id="metadata-string"),
    ],
)
def test_event_bad(db: Conn, overrides: dict[str, Any], constraint: str) -> None:
    with pytest.raises(errors.CheckViolation) as exc:
        append_event(db, **overrides)
    assert exc.value.diag.constraint_name == constraint


UPDATE_EVENTS = "UPDATE event_store SET event_type = 'Rewritten'"


@pytest.mark.parametrize(
    "statement",
    [
        pytest.param(UPDATE_EVENTS, id="update"),
        pytest.param("DELETE FROM event_store", id="delete"),
        pytest.param("TRUNCATE event_store", id="truncate"),
    ],
)
def test_event_store_is_append_only(db: Conn, statement: str) -> None:
    append_event(db)
    with pytest.raises(errors.RestrictViolation) as exc:
        db.execute(statement)
    assert exc.value.diag.message_primary == APPEND_ONLY
    events = db.execute("SELECT event_type FROM event_store").fetchall()
    assert events == [("IntentCreated",)]


@pytest.mark.parametrize(
    "statement",
    [
        pytest.param(UPDATE_EVENTS, id="update"),
        pytest.param("TRUNCATE event_store", id="truncate"),
    ],
)
def test_archiving_flag_set_by_hand(db: Conn, statement: str) -> None:
    """Only archive_events()'s row DELETEs are exempt; the flag unlocks nothing else."""
    append_event(db)
    with pytest.raises(errors.RestrictViolation) as exc, db.transaction():
        db.execute("SELECT set_config('defi_sql.archiving', 'on', true)")
        db.execute(statement)
    assert exc.value.diag.message_primary == APPEND_ONLY


def test_archive_events(db: Conn) -> None:
    cutoff = T0 + timedelta(days=30)
    old = [append_event(db, recorded_at=T0 + timedelta(days=d)) for d in (0, 29)]
    kept = [append_event(db, recorded_at=t) for t in (cutoff, cutoff + timedelta(days=1))]

    assert db.execute("SELECT archive_events(%s)", (cutoff,)).fetchone() == (2,)

    archived = db.execute("SELECT position, event_id FROM event_store_archive ORDER BY 1")
    assert archived.fetchall() == [(e["position"], e["event_id"]) for e in old]
    remaining = db.execute("SELECT position FROM event_store ORDER BY 1").fetchall()
    assert remaining == [(e["position"],) for e in kept]
    assert db.execute("SELECT archive_events(%s)", (cutoff,)).fetchone() == (0,)


def test_archive_events_leaves_delete_forbidden(db: Conn) -> None:
    append_event(db, recorded_at=T0)
    recent = append_event(db)
    with db.transaction():
        assert db.execute("SELECT archive_events(%s)", (T0 + timedelta(days=1),)).fetchone() == (1,)
        with pytest.raises(errors.RestrictViolation) as exc, db.transaction():
            db.execute("DELETE FROM event_store WHERE position = %s", (recent["position"],))
    assert exc.value.diag.message_primary == APPEND_ONLY
    assert db.execute("SELECT position FROM event_store").fetchall() == [(recent["position"],)]


@pytest.mark.parametrize(
    "statement",
    [
        pytest.param("UPDATE event_store_archive SET event_type = 'Rewritten'", id="update"),
        pytest.param("DELETE FROM event_store_archive", id="delete"),
        pytest.param("TRUNCATE event_store_archive", id="truncate"),
    ],
)
def test_archive_is_append_only_even_while_archiving(db: Conn, statement: str) -> None:
    append_event(db, recorded_at=T0)
    assert db.execute("SELECT archive_events(%s)", (T0 + timedelta(days=1),)).fetchone() == (1,)
    with pytest.raises(errors.RestrictViolation) as exc, db.transaction():
        db.execute("SELECT set_config('defi_sql.archiving', 'on', true)")
        db.execute(statement)
    assert exc.value.diag.message_primary == (
        "event_store_archive is append-only: events cannot be updated or deleted"
    )
    assert db.execute("SELECT event_type FROM event_store_archive").fetchall() == [
        ("IntentCreated",)
    ]


def test_archive_events_null_cutoff(db: Conn) -> None:
    append_event(db, recorded_at=T0)
    with pytest.raises(errors.NullValueNotAllowed):
        db.execute("SELECT archive_events(NULL)")
    assert db.execute("SELECT count(*) FROM event_store").fetchone() == (1,)


# catalog

# Migration bookkeeping (yoyo's and defi-sql's own tables) is not part of the schema.
SCHEMA_TABLES = {
    "users",
    "signals",
    "positions",
    "positions_latest",
    "positions_daily",
    "alerts",
    "intents",
    "event_store",
    "event_store_archive",
    "event_subscriptions",
}


def test_every_table_has_a_comment(db: Conn) -> None:
    rows = db.execute(
        """SELECT c.relname, obj_description(c.oid, 'pg_class') FROM pg_class AS c
            WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind IN ('r', 'p')
              AND c.relname !~ '^(_?yoyo_|_defi_sql_)'"""
    ).fetchall()
    assert {name for name, _ in rows} == SCHEMA_TABLES
    assert [name for name, comment in rows if not comment] == []


def test_every_jsonb_column_has_a_comment(db: Conn) -> None:
    rows = db.execute(
        """SELECT c.relname || '.' || a.attname, col_description(c.oid, a.attnum)
             FROM pg_class AS c JOIN pg_attribute AS a ON a.attrelid = c.oid
            WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind IN ('r', 'p')
              AND c.relname !~ '^(_?yoyo_|_defi_sql_)'
              AND a.attnum > 0 AND NOT a.attisdropped AND a.atttypid = 'jsonb'::regtype"""
    ).fetchall()
    assert "positions.collateral" in {column for column, _ in rows}
    assert sorted(column for column, comment in rows if not comment) == []


def test_every_foreign_key_is_indexed(db: Conn) -> None:
    """Each foreign key column leads some (non-partial) index, as the seed's practice asks."""
    rows = db.execute(
        """SELECT con.conname,
                  EXISTS (SELECT FROM pg_index AS i
                           WHERE i.indrelid = con.conrelid AND i.indpred IS NULL
                             AND i.indkey[0] = con.conkey[1])
             FROM pg_constraint AS con
            WHERE con.contype = 'f' AND con.connamespace = current_schema()::regnamespace"""
    ).fetchall()
    assert "positions_user_id_fkey" in {name for name, _ in rows}
    assert [name for name, indexed in rows if not indexed] == []
