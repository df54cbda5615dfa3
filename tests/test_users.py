"""users: every function, sync and async, on a real migrated database."""

from __future__ import annotations

from decimal import Decimal
from typing import Any
from uuid import uuid4

import psycopg
import pytest

from defi_sql.errors import Conflict, InvalidInput, NotFound
from defi_sql.models import AlertThresholds, User, UserPreferences
from defi_sql.translate import translate

from .conftest import Api
from .helpers import count_rows

WALLET = "0x1234567890ABCDEF1234567890abcdef12345678"
LOWER = WALLET.lower()


def test_create_with_typed_preferences(api: Api, db: psycopg.Connection[Any]) -> None:
    prefs = UserPreferences(
        risk_profile="moderate",
        alert_thresholds=AlertThresholds(health_factor=Decimal("1.5")),
        notification_channels=["telegram", "in_app"],
    )
    user = api.users.create(wallet_address=WALLET, preferences=prefs)
    assert isinstance(user, User)
    assert user.wallet_address == LOWER
    assert user.preferences == prefs
    assert user.telegram_chat_id is None
    assert user.created_at.tzinfo is not None
    stored = db.execute("SELECT preferences::text FROM users").fetchone()
    assert stored == (
        '{"riskProfile": "moderate", "alertThresholds": {"healthFactor": 1.5}, '
        '"notificationChannels": ["telegram", "in_app"]}',
    )  # camelCase on disk, thresholds as JSON numbers, unset keys left out
    assert api.users.get(user.id) == user
    assert api.users.find_by_wallet(WALLET.upper().replace("0X", "0x")) == user


def test_unknown_keys_written_by_others_do_not_break_reads(
    api: Api, db: psycopg.Connection[Any]
) -> None:
    user = api.users.create(wallet_address=WALLET)
    db.execute('UPDATE users SET preferences = \'{"riskProfile": "aggressive", "theme": "dark"}\'')
    assert api.users.get(user.id).preferences == UserPreferences(risk_profile="aggressive")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        pytest.param(
            {"wallet_address": "0x123"},
            "wallet address '0x123' is not 0x followed by 40 hexadecimal digits.",
            id="short-wallet",
        ),
        pytest.param(
            {"wallet_address": " " + LOWER},
            f"wallet address ' {LOWER}' is not 0x followed by 40 hexadecimal digits.",
            id="padded-wallet",
        ),
        pytest.param(
            {"wallet_address": 42}, "a wallet address must be a string, not int.", id="int-wallet"
        ),
        pytest.param(
            {"wallet_address": LOWER, "preferences": {"riskProfile": "moderate"}},
            "preferences must be a UserPreferences (from defi_sql.models import UserPreferences; "
            "fields: risk_profile, alert_thresholds, active_signals, notification_channels), "
            "not dict.",
            id="dict-preferences",
        ),
        pytest.param(
            {"wallet_address": LOWER, "telegram_chat_id": ""},
            "telegram_chat_id must not be empty.",
            id="empty-chat",
        ),
        pytest.param(
            {"wallet_address": LOWER, "telegram_chat_id": "12\x003"},
            "telegram_chat_id contains a NUL byte, which PostgreSQL cannot store.",
            id="nul-chat",
        ),
    ],
)
def test_create_bad(
    api: Api, db: psycopg.Connection[Any], kwargs: dict[str, Any], message: str
) -> None:
    with pytest.raises(InvalidInput) as caught:
        api.users.create(**kwargs)
    assert str(caught.value) == message
    assert count_rows(db, "users") == 0


def test_same_wallet_in_another_case_is_a_conflict(api: Api, db: psycopg.Connection[Any]) -> None:
    api.users.create(wallet_address=LOWER)
    with pytest.raises(Conflict) as caught:
        api.users.create(wallet_address=WALLET)
    assert caught.value.constraint == "users_wallet_address_key"
    assert caught.value.sqlstate == "23505"  # kept for a debugger, though raised from None
    assert caught.value.__cause__ is None
    assert str(caught.value) == (
        "a user with this wallet address already exists (users_wallet_address_key)"
    )
    assert count_rows(db, "users") == 1


def test_every_translated_error_keeps_its_sqlstate_and_constraint(
    api: Api, db: psycopg.Connection[Any]
) -> None:
    with pytest.raises(NotFound) as missing:  # a foreign key: no such user
        api.alerts.create(user_id=uuid4(), type="t", channel="email", message="m")
    assert (missing.value.sqlstate, missing.value.constraint) == ("23503", "alerts_user_id_fkey")
    # a CHECK of the table (the API validates first: go around it with raw SQL)
    with pytest.raises(psycopg.errors.CheckViolation) as raw:
        db.execute("INSERT INTO users (wallet_address) VALUES ('not a wallet')")
    refused = translate(raw.value)
    assert isinstance(refused, InvalidInput)
    assert (refused.sqlstate, refused.constraint) == ("23514", raw.value.diag.constraint_name)
    assert refused.constraint is not None


def test_get_or_create_is_idempotent(api: Api, db: psycopg.Connection[Any]) -> None:
    first = api.users.get_or_create(WALLET)
    assert first.preferences == UserPreferences()
    assert api.users.get_or_create(LOWER) == first
    assert count_rows(db, "users") == 1


def test_missing_users(api: Api) -> None:
    missing = uuid4()
    assert api.users.find_by_wallet(LOWER) is None
    for call in (
        lambda: api.users.get(missing),
        lambda: api.users.delete(missing),
        lambda: api.users.set_telegram_chat(missing, "1"),
        lambda: api.users.update_preferences(missing, UserPreferences()),
        lambda: api.users.get_with_positions(missing),
    ):
        with pytest.raises(NotFound) as caught:
            call()
        assert str(caught.value) == f"no user with id {missing}."


def test_update_preferences_merges(api: Api) -> None:
    user = api.users.create(
        wallet_address=LOWER,
        preferences=UserPreferences(risk_profile="moderate", active_signals=["funding_rate"]),
    )
    updated = api.users.update_preferences(
        user.id, UserPreferences(alert_thresholds=AlertThresholds(health_factor=Decimal("1.2")))
    )
    assert updated.preferences == UserPreferences(
        risk_profile="moderate",
        active_signals=["funding_rate"],
        alert_thresholds=AlertThresholds(health_factor=Decimal("1.2")),
    )
    assert updated.updated_at >= user.updated_at
    with pytest.raises(InvalidInput) as caught:
        api.users.update_preferences(user.id, ["nope"])
    assert str(caught.value) == (
        "preferences must be a UserPreferences (from defi_sql.models import UserPreferences; "
        "fields: risk_profile, alert_thresholds, active_signals, notification_channels), not list."
    )
    assert api.users.get(user.id) == updated


def test_telegram_chat_and_delete(api: Api, db: psycopg.Connection[Any]) -> None:
    user = api.users.create(wallet_address=LOWER)
    assert api.users.set_telegram_chat(user.id, "100000001").telegram_chat_id == "100000001"
    assert api.users.set_telegram_chat(user.id, None).telegram_chat_id is None
    assert api.users.delete(user.id) is None
    assert count_rows(db, "users") == 0


def test_get_with_positions_preloads_newest_first(api: Api, db: psycopg.Connection[Any]) -> None:
    user = api.users.create(wallet_address=LOWER)
    for hours, hf in ((2, "2.5"), (1, "2.4")):
        db.execute(
            "INSERT INTO positions (user_id, wallet_address, protocol, health_factor, collateral,"
            " snapshot_at) VALUES (%s, %s, 'aave', %s,"
            ' \'[{"symbol": "ETH", "amount": "1.5", "valueUSD": "3000"}]\','
            " now() - %s * interval '1 hour')",
            (user.id, LOWER, Decimal(hf), hours),
        )
    loaded = api.users.get_with_positions(user.id)
    assert loaded.user == user
    assert [p.health_factor for p in loaded.positions] == [Decimal("2.4"), Decimal("2.5")]
    assert loaded.positions[0].collateral[0].value_usd == Decimal("3000")
    assert loaded.positions[0].debt == []
