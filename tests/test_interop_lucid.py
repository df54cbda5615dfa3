"""The TypeScript app and defi-sql on one database: a real Lucid 21 app (tests/interop/lucid).

The app's models are the design document's (UserModel, PositionModel,
SignalModel, AlertModel), its queries the document's examples. Each test
writes with one side and reads with the other, on a fresh migrated database
(PostgreSQL 16 and 18): the app runs one named scenario per node process
(``tests/interop/lucid/run.ts``), which prints one JSON object.

The harness installs the app with ``npm ci`` when its node_modules is missing
or older than its package-lock.json, and compiles it with the TypeScript
compiler (strict, legacy decorators) into its build/, once per test run. A
refused write is the app's result too: {"error", "code": SQLSTATE,
"constraint"}. Without node or npm on PATH every test is skipped.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode
from uuid import UUID

import msgspec
import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict

from defi_sql import errors
from defi_sql import sync as db
from defi_sql.models import (
    Alert,
    AlertThresholds,
    AlertWithSignal,
    Asset,
    NewPosition,
    Position,
    PositionAtRisk,
    Signal,
    User,
    UserPreferences,
    UserWithPositions,
)

from .helpers import wallet

LUCID = Path(__file__).resolve().parent / "interop" / "lucid"
NODE = shutil.which("node")
NPM = shutil.which("npm")

pytestmark = pytest.mark.skipif(
    NODE is None or NPM is None,
    reason="node/npm is absent from PATH: the Lucid interop tests need Node.js >= 20.6 and npm",
)

# EIP-55 test vectors: checksummed (mixed-case) addresses as wallets hand them out
CHECKSUMMED = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"
CHECKSUMMED_2 = "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359"
WALLET = "0x1234567890abcdef1234567890abcdef12345678"
OTHER_WALLET = "0xabcdefabcdefabcdefabcdefabcdefabcdefabcd"
DEEP = 1500  # JSON nesting past msgspec's recursion limit (and the database's 32)

Run = Callable[..., dict[str, Any]]
NUMBERS = msgspec.json.Encoder(decimal_format="number")  # how defi-sql stores preferences


# -- the harness ---------------------------------------------------------------


def _npm(*args: str, timeout: float) -> None:
    assert NPM is not None
    done = subprocess.run(
        [NPM, *args], cwd=LUCID, capture_output=True, text=True, timeout=timeout, check=False
    )
    if done.returncode != 0:
        pytest.fail(f"npm {' '.join(args)} failed in {LUCID}:\n{done.stdout}\n{done.stderr}")


@pytest.fixture(scope="module")
def lucid_app() -> Path:
    """The app, installed (npm ci, when needed) and compiled by tsc: its build/run.js."""
    installed = LUCID / "node_modules" / ".package-lock.json"
    lock = LUCID / "package-lock.json"
    if not installed.exists() or installed.stat().st_mtime < lock.stat().st_mtime:
        _npm("ci", "--no-audit", "--no-fund", timeout=600)
    _npm("run", "--silent", "build", timeout=300)  # tsc: type errors fail here
    return LUCID / "build" / "run.js"


def node_url(conninfo: str) -> str:
    """A libpq conninfo (key=value or URL) as the postgresql:// URL node-postgres reads.

    Host and port go in the query string, where node-postgres takes a socket
    directory or an IPv6 address as they are.
    """
    params = conninfo_to_dict(conninfo)
    user = quote(str(params.get("user") or "postgres"), safe="")
    password = params.get("password")
    auth = f"{user}:{quote(str(password), safe='')}" if password else user
    query = {key: str(params[key]) for key in ("host", "port") if params.get(key)}
    dbname = quote(str(params.get("dbname") or "postgres"), safe="")
    return f"postgresql://{auth}@/{dbname}" + (f"?{urlencode(query)}" if query else "")


@pytest.fixture
def app(lucid_app: Path, db_url: str) -> Run:
    """``app("scenario", **arguments)``: one scenario of the Lucid app on this test's database."""
    env = {**os.environ, "DATABASE_URL": node_url(db_url)}

    def run(scenario: str, **arguments: Any) -> dict[str, Any]:
        assert NODE is not None
        done = subprocess.run(
            [NODE, str(lucid_app), scenario, json.dumps(arguments)],
            cwd=LUCID,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, (
            f"scenario {scenario} exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
        )
        result: dict[str, Any] = json.loads(done.stdout)
        return result

    return run


@pytest.fixture
def conn(db_url: str) -> Iterator[psycopg.Connection[Any]]:
    with psycopg.connect(db_url, autocommit=True) as connection:
        yield connection


# -- values as each side sees them ------------------------------------------------


def instant(value: str) -> datetime:
    """A timestamp the app printed (Luxon's ISO form)."""
    return datetime.fromisoformat(value)


def ms(value: datetime) -> datetime:
    """What the app holds of a timestamp: a JS Date keeps milliseconds."""
    return value.replace(microsecond=value.microsecond // 1000 * 1000)


def app_instants(value: Any) -> Any:
    """The app's JSON with every ``...At`` timestamp as a datetime, for comparison."""
    if isinstance(value, list):
        return [app_instants(item) for item in value]
    if isinstance(value, dict):
        return {
            key: instant(item)
            if key.endswith("At") and isinstance(item, str)
            else app_instants(item)
            for key, item in value.items()
        }
    return value


def refusal(result: dict[str, Any]) -> tuple[str, str]:
    """(SQLSTATE, constraint) of a write the database refused the app."""
    assert "error" in result, f"the database accepted the write: {result}"
    return result["code"], result["constraint"]


def as_app_user(user: User) -> dict[str, Any]:
    return {
        "id": str(user.id),
        "walletAddress": user.wallet_address,
        "preferences": json.loads(NUMBERS.encode(user.preferences)),
        "telegramChatId": user.telegram_chat_id,
        "createdAt": ms(user.created_at),
        "updatedAt": ms(user.updated_at),
    }


def as_app_asset(asset: Asset) -> dict[str, Any]:
    return {"symbol": asset.symbol, "amount": str(asset.amount), "valueUSD": str(asset.value_usd)}


def as_app_position(position: Position) -> dict[str, Any]:
    health_factor = position.health_factor
    return {
        "id": str(position.id),
        "userId": str(position.user_id),
        "walletAddress": position.wallet_address,
        "protocol": position.protocol,
        "chainId": position.chain_id,
        "healthFactor": None if health_factor is None else float(health_factor),
        "collateral": [as_app_asset(a) for a in position.collateral],
        "debt": [as_app_asset(a) for a in position.debt],
        "metadata": position.metadata,
        "snapshotAt": ms(position.snapshot_at),
        "createdAt": ms(position.created_at),
        "updatedAt": ms(position.updated_at),
    }


def as_app_signal(signal: Signal) -> dict[str, Any]:
    return {
        "id": str(signal.id),
        "type": signal.type,
        "asset": signal.asset,
        "severity": signal.severity,
        "data": signal.data,
        "detectedAt": ms(signal.detected_at),
        "expiresAt": None if signal.expires_at is None else ms(signal.expires_at),
        "status": signal.status,
        "createdAt": ms(signal.created_at),
    }


def as_app_alert(alert: Alert, signal: Signal | None) -> dict[str, Any]:
    """An alert as the app serializes it with its signal preloaded."""
    return {
        "id": str(alert.id),
        "userId": str(alert.user_id),
        "signalId": None if alert.signal_id is None else str(alert.signal_id),
        "type": alert.type,
        "channel": alert.channel,
        "message": alert.message,
        "metadata": alert.metadata,
        "sentAt": None if alert.sent_at is None else ms(alert.sent_at),
        "acknowledgedAt": None if alert.acknowledged_at is None else ms(alert.acknowledged_at),
        "status": alert.status,
        "createdAt": ms(alert.created_at),
        "signal": None if signal is None else as_app_signal(signal),
    }


def drop_check(conn: psycopg.Connection[Any], table: str, constraint: str) -> None:
    """Let a legacy row in: the superuser drops the CHECK that would refuse it (if present)."""
    conn.execute(
        sql.SQL("ALTER TABLE {} DROP CONSTRAINT IF EXISTS {}").format(
            sql.Identifier(table), sql.Identifier(constraint)
        )
    )


def count(conn: psycopg.Connection[Any], table: str) -> int:
    row = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table))).fetchone()
    assert row is not None
    return int(row[0])


def snapshot(user: User, health_factor: str, **fields: Any) -> NewPosition:
    return NewPosition(
        user_id=user.id,
        wallet_address=user.wallet_address,
        protocol=fields.pop("protocol", "aave"),
        health_factor=Decimal(health_factor),
        collateral=[Asset(symbol="ETH", amount=Decimal("1.5"), value_usd=Decimal("3000"))],
        debt=[Asset(symbol="USDC", amount=Decimal("1500"), value_usd=Decimal("1500"))],
        **fields,
    )


# -- 1. the design document's examples -----------------------------------------------


def test_what_the_app_creates_as_the_document_shows_is_read_by_python(
    app: Run, conn: psycopg.Connection[Any]
) -> None:
    made = app_instants(app("create-document-examples", walletAddress=WALLET))
    u, p, s, a = made["user"], made["position"], made["signal"], made["alert"]
    user_id = UUID(u["id"])

    user = User(
        id=user_id,
        wallet_address=WALLET,
        preferences=UserPreferences(
            risk_profile="moderate",
            alert_thresholds=AlertThresholds(health_factor=Decimal("1.5")),
            notification_channels=["telegram", "in_app"],
        ),
        telegram_chat_id=None,
        created_at=u["createdAt"],
        updated_at=u["updatedAt"],
    )
    position = Position(
        id=UUID(p["id"]),
        user_id=user_id,
        wallet_address=WALLET,
        protocol="aave",
        chain_id=1,
        health_factor=Decimal("2.5"),
        collateral=[Asset(symbol="ETH", amount=Decimal("1.5"), value_usd=Decimal("3000"))],
        debt=[Asset(symbol="USDC", amount=Decimal("1500"), value_usd=Decimal("1500"))],
        metadata={"ltv": "0.5", "liquidationThreshold": "0.825"},
        snapshot_at=p["snapshotAt"],
        created_at=p["createdAt"],
        updated_at=p["updatedAt"],
    )
    signal = Signal(
        id=UUID(s["id"]),
        type="funding_rate",
        asset="AAVE",
        severity="high",
        data={"value": "0.0125", "percentile": 99},
        detected_at=s["detectedAt"],
        expires_at=None,
        status="active",
        created_at=s["createdAt"],
    )
    alert = Alert(
        id=UUID(a["id"]),
        user_id=user_id,
        signal_id=signal.id,
        type="signal_detected",
        channel="telegram",
        message="AAVE funding rate at the 99th percentile",
        metadata={"severity": "high"},
        sent_at=None,
        acknowledged_at=None,
        status="pending",
        created_at=a["createdAt"],
        attempts=0,
        claimed_until=None,
        claim_token=None,
        idempotency_key=None,
        next_attempt_at=None,
    )
    assert db.users.get(conn, user_id) == user
    assert db.positions.latest(conn, user_id) == position
    assert db.users.get_with_positions(conn, user_id) == UserWithPositions(
        user=user, positions=[position]
    )
    assert db.signals.active_for_asset(conn, "AAVE") == [signal]
    assert db.alerts.pending_for_user(conn, user_id) == [
        AlertWithSignal(alert=alert, signal=signal)
    ]


def test_the_documents_app_queries_read_what_python_wrote(
    app: Run, conn: psycopg.Connection[Any]
) -> None:
    user = db.users.create(
        conn,
        wallet_address=WALLET,
        preferences=UserPreferences(
            risk_profile="moderate",
            alert_thresholds=AlertThresholds(health_factor=Decimal("1.5")),
            notification_channels=["telegram", "in_app"],
        ),
    )
    now = datetime.now(UTC)
    older = db.positions.create(
        conn,
        snapshot(user, "1.8", protocol="compound", snapshot_at=now - timedelta(hours=1)),
    )
    newer = db.positions.create(
        conn,
        snapshot(
            user,
            "2.5",
            metadata={"ltv": "0.5", "liquidationThreshold": "0.825"},
            snapshot_at=now,
        ),
    )
    aave = db.signals.create(
        conn, type="funding_rate", asset="AAVE", severity="high", data={"value": "0.0125"}
    )
    db.signals.acknowledge(
        conn, db.signals.create(conn, type="tvl", asset="AAVE", severity="low").id
    )
    db.signals.create(conn, type="whale_movement", asset="ETH", severity="medium")
    with_signal = db.alerts.create(
        conn,
        user_id=user.id,
        signal_id=aave.id,
        type="signal_detected",
        channel="telegram",
        message="AAVE funding rate",
        metadata={"severity": "high"},
    )
    without_signal = db.alerts.create(
        conn, user_id=user.id, type="health_factor_critical", channel="in_app", message="HF 1.05"
    )
    sent = db.alerts.create(conn, user_id=user.id, type="digest", channel="email", message="sent")
    db.alerts.mark_sent(conn, sent.id)
    other = db.users.create(conn, wallet_address=OTHER_WALLET)
    db.alerts.create(conn, user_id=other.id, type="digest", channel="email", message="not yours")

    seen = app_instants(app("document-queries", userId=str(user.id)))

    assert seen["latestPosition"] == as_app_position(newer)
    assert seen["activeSignals"] == [as_app_signal(aave)]
    assert seen["pendingAlerts"] == [
        as_app_alert(without_signal, None),
        as_app_alert(with_signal, aave),
    ]
    loaded = seen["user"]
    assert sorted(loaded.pop("positions"), key=lambda p: p["snapshotAt"]) == [
        as_app_position(older),
        as_app_position(newer),
    ]
    assert loaded == as_app_user(user)
    assert sorted(seen["positionsOfUser"]) == [["aave", 2.5], ["compound", 1.8]]


# -- 2. updates from each side -----------------------------------------------------


def test_preferences_and_telegram_chat_the_app_updates_are_read_by_python(
    app: Run, conn: psycopg.Connection[Any]
) -> None:
    before = db.users.create(
        conn,
        wallet_address=WALLET,
        preferences=UserPreferences(risk_profile="moderate", notification_channels=["telegram"]),
    )
    updated = app_instants(
        app(
            "update-user",
            userId=str(before.id),
            preferences={"riskProfile": "aggressive", "activeSignals": ["depeg"]},
            telegramChatId="123456789",
        )
    )
    after = db.users.get(conn, before.id)
    assert after == User(
        id=before.id,
        wallet_address=WALLET,
        preferences=UserPreferences(
            risk_profile="aggressive", active_signals=["depeg"], notification_channels=["telegram"]
        ),
        telegram_chat_id="123456789",
        created_at=before.created_at,
        updated_at=after.updated_at,
    )
    assert after.updated_at > before.updated_at
    assert ms(after.updated_at) == updated["updatedAt"]


def test_preferences_and_telegram_chat_python_updates_are_read_by_the_app(
    app: Run, conn: psycopg.Connection[Any]
) -> None:
    made = app_instants(
        app(
            "create-user",
            walletAddress=WALLET,
            preferences={"riskProfile": "conservative", "alertThresholds": {"healthFactor": 1.5}},
        )
    )
    user_id = UUID(made["id"])
    db.users.update_preferences(
        conn,
        user_id,
        UserPreferences(risk_profile="aggressive", notification_channels=["email"]),
    )
    user = db.users.set_telegram_chat(conn, user_id, "987654321")

    seen = app_instants(app("get-user", userId=str(user_id)))

    assert seen["user"] == as_app_user(user)
    assert seen["user"]["preferences"] == {
        "riskProfile": "aggressive",
        "alertThresholds": {"healthFactor": 1.5},
        "notificationChannels": ["email"],
    }
    assert seen["user"]["telegramChatId"] == "987654321"


# -- 3. the cascade delete ---------------------------------------------------------


def test_a_user_the_app_deletes_takes_their_positions_and_alerts_along_for_python(
    app: Run, conn: psycopg.Connection[Any]
) -> None:
    user = db.users.create(conn, wallet_address=WALLET)
    keeps = db.users.create(conn, wallet_address=OTHER_WALLET)
    db.positions.create(conn, snapshot(user, "1.8"))
    db.positions.create(conn, snapshot(user, "2.5"))
    kept_position = db.positions.create(conn, snapshot(keeps, "3.0"))
    signal = db.signals.create(conn, type="depeg", asset="USDC", severity="critical")
    alert = db.alerts.create(
        conn, user_id=user.id, signal_id=signal.id, type="depeg", channel="telegram", message="!"
    )

    assert app("delete-user", userId=str(user.id)) == {"deleted": True}

    with pytest.raises(errors.NotFound):
        db.users.get(conn, user.id)
    with pytest.raises(errors.NotFound):
        db.alerts.get(conn, alert.id)
    assert db.positions.list_for_user(conn, user.id) == []
    assert db.positions.latest_per_user(conn) == [kept_position]
    assert db.signals.get(conn, signal.id) == signal


def test_a_user_python_deletes_leaves_the_app_nothing_of_theirs(
    app: Run, conn: psycopg.Connection[Any]
) -> None:
    made = app("create-document-examples", walletAddress=WALLET)
    user_id = made["user"]["id"]

    db.users.delete(conn, UUID(user_id))

    assert app("user-graph", userId=user_id) == {"user": None, "positions": [], "alerts": []}
    assert [s.id for s in db.signals.active_for_asset(conn, "AAVE")] == [UUID(made["signal"]["id"])]


# -- 4. an alert marked sent the app's way ---------------------------------------------


def test_an_alert_the_app_marks_sent_is_read_as_sent_by_python(
    app: Run, conn: psycopg.Connection[Any]
) -> None:
    user = db.users.create(conn, wallet_address=WALLET)
    alert = db.alerts.create(
        conn, user_id=user.id, type="health_factor_critical", channel="telegram", message="HF 1.05"
    )

    marked = app_instants(app("mark-alert-sent", alertId=str(alert.id), withSentAt=True))

    sent = msgspec.structs.replace(alert, status="sent", sent_at=marked["sentAt"])
    assert marked["alert"]["status"] == "sent"
    assert db.alerts.get(conn, alert.id) == sent
    acknowledged = db.alerts.acknowledge(conn, alert.id)
    assert (acknowledged.status, acknowledged.sent_at) == ("acknowledged", sent.sent_at)


def test_the_database_refuses_an_alert_the_app_marks_sent_without_sent_at(
    app: Run, conn: psycopg.Connection[Any]
) -> None:
    user = db.users.create(conn, wallet_address=WALLET)
    alert = db.alerts.create(
        conn, user_id=user.id, type="health_factor_critical", channel="telegram", message="HF 1.05"
    )

    refused = app("mark-alert-sent", alertId=str(alert.id), withSentAt=False)

    assert refusal(refused) == ("23514", "alerts_sent_has_sent_at")
    assert db.alerts.get(conn, alert.id) == alert


# -- 5. issue #7 ---------------------------------------------------------------------
# D1: one odd row must not stop batch work


def test_batch_reads_serve_every_other_user_and_report_a_legacy_position_row(
    app: Run, conn: psycopg.Connection[Any]
) -> None:
    first, second, legacy = (db.users.create(conn, wallet_address=wallet(n)) for n in (1, 2, 3))
    at_risk = [
        db.positions.create(conn, snapshot(u, hf)) for u, hf in ((first, "1.1"), (second, "1.2"))
    ]
    drop_check(conn, "positions", "positions_collateral_assets_check")
    odd = app(
        "create-position",
        userId=str(legacy.id),
        walletAddress=legacy.wallet_address,
        healthFactor=1.0,
        collateral=[{"symbol": "ETH", "amount": "1.5", "valueUsd": "3000"}],
    )
    assert "error" not in odd, odd
    odd_id = UUID(odd["id"])

    risky = db.positions.at_risk(conn)
    latest = db.positions.latest_per_user(conn)

    threshold = Decimal("1.5")  # positions.DEFAULT_ALERT_THRESHOLD
    assert list(risky) == [
        PositionAtRisk(**msgspec.structs.asdict(p), alert_threshold=threshold) for p in at_risk
    ]
    assert sorted(latest, key=lambda p: p.user_id) == sorted(at_risk, key=lambda p: p.user_id)
    for result in (risky, latest):
        assert [type(e) for e in result.unreadable] == [errors.UnreadableRow]
        assert [(e.table, e.row_id, e.field) for e in result.unreadable] == [
            ("positions", odd_id, "collateral[0]")
        ]
        assert isinstance(result.unreadable[0], errors.DefiSqlError)


def test_claim_leases_the_good_alerts_and_fails_a_legacy_alert(
    app: Run, conn: psycopg.Connection[Any]
) -> None:
    user = db.users.create(conn, wallet_address=WALLET)
    drop_check(conn, "alerts", "alerts_metadata_depth_check")
    odd = app(
        "create-alert",
        userId=str(user.id),
        type="signal_detected",
        channel="telegram",
        message="written around the checks",
        metadataDepth=DEEP,
    )
    assert "error" not in odd, odd
    odd_id = UUID(odd["id"])
    good = [
        db.alerts.create(conn, user_id=user.id, type="digest", channel=channel, message=channel)
        for channel in ("email", "in_app")
    ]

    claimed = db.alerts.claim(conn, limit=10)

    assert [(a.id, a.status, a.attempts) for a in claimed] == [(g.id, "pending", 1) for g in good]
    assert [(e.table, e.row_id, e.field) for e in claimed.unreadable] == [
        ("alerts", odd_id, "metadata")
    ]
    row = conn.execute(
        "SELECT status, metadata ->> 'failureReason' FROM alerts WHERE id = %s", (odd_id,)
    ).fetchone()
    assert row is not None
    status, reason = row
    assert status == "failed"
    assert reason.startswith("unreadable")
    assert list(db.alerts.claim(conn, limit=10)) == []  # the good ones are leased, the odd one out


@pytest.mark.parametrize(
    ("constraint", "arguments", "field"),
    [
        pytest.param(
            "users_preferences_notification_channels_check",
            {"preferences": {"notificationChannels": ["telegram", "push"]}},
            "preferences.notificationChannels[1]",
            id="unknown-channel",
        ),
        pytest.param(
            "users_preferences_risk_profile_check",
            {"preferences": {"riskProfile": "degen"}},
            "preferences.riskProfile",
            id="unknown-risk-profile",
        ),
        pytest.param(
            "users_preferences_depth_check",
            {"preferences": {"riskProfile": "moderate"}, "preferencesDepth": DEEP},
            "preferences",
            id="nested-too-deep",
        ),
    ],
)
def test_reading_a_legacy_user_raises_unreadable_row_naming_the_field(
    app: Run,
    conn: psycopg.Connection[Any],
    constraint: str,
    arguments: dict[str, Any],
    field: str,
) -> None:
    drop_check(conn, "users", constraint)
    made = app("create-user", walletAddress=WALLET, **arguments)
    assert "error" not in made, made
    user_id = UUID(made["id"])

    with pytest.raises(errors.UnreadableRow) as raised:
        db.users.get(conn, user_id)

    assert (raised.value.table, raised.value.row_id, raised.value.field) == (
        "users",
        user_id,
        field,
    )
    assert isinstance(raised.value, errors.DefiSqlError)


# D2: the database is the contract


def test_the_database_refuses_app_writes_that_defi_sql_could_not_read(
    app: Run, conn: psycopg.Connection[Any]
) -> None:
    user = db.users.create(conn, wallet_address=WALLET)

    results = app(
        "write-undecodable",
        userId=str(user.id),
        walletAddress=WALLET,
        metadataDepth=DEEP,
    )

    assert {name: refusal(result) for name, result in results.items()} == {
        "notificationChannels": ("23514", "users_preferences_notification_channels_check"),
        "riskProfile": ("23514", "users_preferences_risk_profile_check"),
        "valueUsd": ("23514", "positions_collateral_assets_check"),
        "metadataDepth": ("23514", "positions_metadata_depth_check"),
    }
    assert count(conn, "users") == 1
    assert count(conn, "positions") == 0


# D3: one alert per notification channel


def test_the_app_queues_one_alert_per_channel_for_the_same_signal_user_and_type(
    app: Run, conn: psycopg.Connection[Any]
) -> None:
    user = db.users.create(conn, wallet_address=WALLET)
    signal = db.signals.create(conn, type="depeg", asset="USDC", severity="critical")

    queued = app(
        "queue-alert-per-channel",
        userId=str(user.id),
        signalId=str(signal.id),
        type="signal_detected",
        message="USDC depeg",
        channels=["telegram", "in_app"],
    )

    assert queued == {
        "telegram": {"channel": "telegram", "status": "pending"},
        "in_app": {"channel": "in_app", "status": "pending"},
    }
    pending = db.alerts.pending_for_user(conn, user.id)
    assert sorted((p.alert.channel, p.alert.type, p.signal) for p in pending) == [
        ("in_app", "signal_detected", signal),
        ("telegram", "signal_detected", signal),
    ]


def test_fan_out_queues_one_alert_per_channel_of_an_app_user_and_only_once(
    app: Run, conn: psycopg.Connection[Any]
) -> None:
    made = app(
        "create-user",
        walletAddress=WALLET,
        preferences={"activeSignals": ["depeg"], "notificationChannels": ["telegram", "in_app"]},
        telegramChatId="42",  # telegram reaches only a linked chat
    )
    signal = db.signals.create(conn, type="depeg", asset="USDC", severity="critical")

    assert db.alerts.fan_out(conn, signal.id) == 2
    assert db.alerts.fan_out(conn, signal.id) == 0

    seen = app("pending-alerts", userId=made["id"])
    assert [
        (a["channel"], a["type"], a["signalId"], a["signal"]["type"], a["message"])
        for a in seen["alerts"]
    ] == [
        ("in_app", "signal_detected", str(signal.id), "depeg", "depeg signal on USDC (critical)"),
        ("telegram", "signal_detected", str(signal.id), "depeg", "depeg signal on USDC (critical)"),
    ]


# D4: a threshold update keeps the app's other thresholds


def test_a_threshold_python_updates_keeps_the_apps_other_thresholds(
    app: Run, conn: psycopg.Connection[Any]
) -> None:
    made = app(
        "create-user",
        walletAddress=WALLET,
        preferences={
            "riskProfile": "moderate",
            "alertThresholds": {"healthFactor": 1.5, "liquidationWarning": 1.25},
        },
    )
    user_id = UUID(made["id"])

    updated = db.users.update_preferences(
        conn,
        user_id,
        UserPreferences(alert_thresholds=AlertThresholds(health_factor=Decimal("1.3"))),
    )

    assert updated.preferences == UserPreferences(
        risk_profile="moderate", alert_thresholds=AlertThresholds(health_factor=Decimal("1.3"))
    )
    assert app("get-user", userId=str(user_id))["user"]["preferences"] == {
        "riskProfile": "moderate",
        "alertThresholds": {"healthFactor": 1.3, "liquidationWarning": 1.25},
    }


# D5: chain ids the app reads exactly


def test_the_app_reads_a_chain_id_beyond_32_bits_as_the_exact_number(
    app: Run, conn: psycopg.Connection[Any]
) -> None:
    user = db.users.create(conn, wallet_address=WALLET)
    palm = db.positions.create(conn, snapshot(user, "2.5", chain_id=11297108109))

    seen = app("get-position", positionId=str(palm.id))

    assert (seen["position"]["chainId"], seen["chainIdType"], seen["chainIdIsSafeInteger"]) == (
        11297108109,
        "number",
        True,
    )


def test_the_database_refuses_a_chain_id_the_app_could_not_read_exactly(
    app: Run, conn: psycopg.Connection[Any]
) -> None:
    user = db.users.create(conn, wallet_address=WALLET)

    results = app(
        "create-positions-on-chains",
        userId=str(user.id),
        walletAddress=WALLET,
        chainIds=[2**53 - 1, 2**53],
    )

    assert results["9007199254740991"] == {"chainId": 2**53 - 1}
    assert refusal(results["9007199254740992"]) == (
        "23514",
        "positions_chain_id_safe_integer_check",
    )
    assert [p.chain_id for p in db.positions.list_for_user(conn, user.id)] == [2**53 - 1]


# D6: a checksummed wallet address finds the user


def test_the_app_finds_a_python_user_by_its_checksummed_wallet_address(
    app: Run, conn: psycopg.Connection[Any]
) -> None:
    user = db.users.create(conn, wallet_address=CHECKSUMMED.lower())

    found = app("find-by-wallet", addresses=[CHECKSUMMED, CHECKSUMMED.lower()])

    assert found == {CHECKSUMMED: str(user.id), CHECKSUMMED.lower(): str(user.id)}


def test_a_user_the_app_creates_with_a_checksummed_address_is_found_in_either_case(
    app: Run, conn: psycopg.Connection[Any]
) -> None:
    made = app("create-user", walletAddress=CHECKSUMMED_2)
    user_id = made["id"]

    found = app("find-by-wallet", addresses=[CHECKSUMMED_2.lower(), CHECKSUMMED_2])

    assert found == {CHECKSUMMED_2.lower(): user_id, CHECKSUMMED_2: user_id}
    for address in (CHECKSUMMED_2, CHECKSUMMED_2.lower()):
        user = db.users.find_by_wallet(conn, address)
        assert user is not None
        assert user.id == UUID(user_id)


# D7: floats in JSON documents


def test_python_refuses_a_float_that_would_not_read_back_and_keeps_one_that_does(
    app: Run, conn: psycopg.Connection[Any]
) -> None:
    user = db.users.create(conn, wallet_address=WALLET)

    with pytest.raises(errors.InvalidInput, match=r"^metadata\.x is the float 1e\+23, "):
        db.positions.create(conn, snapshot(user, "2.5", metadata={"x": 1e23}))
    assert count(conn, "positions") == 0

    made = db.positions.create(conn, snapshot(user, "2.5", metadata={"x": 0.1}))
    assert made.metadata == {"x": 0.1}
    assert [p["metadata"] for p in app("user-graph", userId=str(user.id))["positions"]] == [
        {"x": 0.1}
    ]


def test_floats_the_app_writes_are_read_by_python_as_the_exact_json_decimals(
    app: Run, conn: psycopg.Connection[Any]
) -> None:
    user = db.users.create(conn, wallet_address=WALLET)
    made = app(
        "create-position",
        userId=str(user.id),
        walletAddress=WALLET,
        metadata={"x": 0.1, "big": 1e23},
    )
    assert "error" not in made, made

    position = db.positions.latest(conn, user.id)

    assert position is not None
    assert sorted((k, type(v), v) for k, v in position.metadata.items()) == [
        ("big", int, 100000000000000000000000),
        ("x", float, 0.1),
    ]
