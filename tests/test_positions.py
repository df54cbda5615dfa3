"""positions: every function, sync and async, on a real migrated database."""

from __future__ import annotations

import random
import re
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

import psycopg
import pytest
from msgspec.structs import asdict, replace

from defi_sql import validate
from defi_sql.errors import InvalidInput, NotFound
from defi_sql.models import (
    AlertThresholds,
    Asset,
    IntentAction,
    IntentCondition,
    NewPosition,
    Position,
    PositionAtRisk,
    UserPreferences,
)

from .conftest import Api
from .helpers import count_rows, new_user, wallet

WALLET = "0x1234567890ABCDEF1234567890abcdef12345678"
LOWER = WALLET.lower()
T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
UNKNOWN_USER = "the position's user does not exist (positions_user_id_fkey)"


def at(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


def own_threshold(health_factor: str) -> UserPreferences:
    """Preferences with the user's own alert threshold."""
    return UserPreferences(alert_thresholds=AlertThresholds(health_factor=Decimal(health_factor)))


def snap(
    user_id: UUID,
    hours: float | None = 0,
    hf: str | None = "2",
    protocol: str = "aave-v3",
    chain_id: int = 1,
    address: str = WALLET,
) -> NewPosition:
    return NewPosition(
        user_id=user_id,
        wallet_address=address,
        protocol=protocol,
        chain_id=chain_id,
        health_factor=None if hf is None else Decimal(hf),
        snapshot_at=None if hours is None else at(hours),
    )


def iterate_all(api: Api, **kwargs: Any) -> list[Position]:
    """Drain ``iterate_all``; the ``Api`` wrapper would try to run the async generator."""
    generator = api._package.positions.iterate_all(api.conn, **kwargs)
    if api.kind == "async":

        async def drain() -> list[Position]:
            return [position async for position in generator]

        result: list[Position] = api._run(drain())
        return result
    return list(generator)


def recorded(p: Position | NewPosition) -> tuple[object, ...]:
    """What a snapshot records, comparable between the one sent and the row read back."""
    hf = str(p.health_factor)  # str: 1.50 and 1.5 differ, a float would show
    return (p.user_id, p.wallet_address.lower(), p.protocol, p.chain_id, hf, p.collateral,
            p.debt, p.metadata, p.snapshot_at)  # fmt: skip


# -- create ------------------------------------------------------------------------


def test_create_round_trips_a_full_snapshot(api: Api, db: psycopg.Connection[Any]) -> None:
    user_id = new_user(api, 1)
    new = NewPosition(
        user_id=user_id,
        wallet_address=WALLET,
        protocol="aave-v3",
        chain_id=42161,
        health_factor=Decimal("1.23456789012345678901"),
        collateral=[
            Asset(symbol="ETH", amount=Decimal("0.000000000000000001"), value_usd=Decimal("0.01")),
            Asset(symbol="WBTC", amount=Decimal("2.50"), value_usd=Decimal("150000.00")),
        ],
        debt=[Asset(symbol="USDT", amount=Decimal("1000.50"), value_usd=Decimal("1000.50"))],
        metadata={"ltv": "0.5", "liquidationThreshold": "0.825", "tags": ["e-mode"]},
        snapshot_at=datetime(2024, 5, 1, 14, 30, tzinfo=timezone(timedelta(hours=2))),
    )
    position = api.positions.create(new)
    assert recorded(position) == recorded(new)
    assert str(position.health_factor) == "1.23456789012345678901"
    assert str(position.collateral[1].amount) == "2.50"  # trailing zeros kept: never a float
    assert position.wallet_address == LOWER
    assert position.snapshot_at == T0.replace(hour=12, minute=30)
    for moment in (position.snapshot_at, position.created_at, position.updated_at):
        assert moment.utcoffset() is not None
    assert api.positions.list_for_user(user_id) == [position]
    stored = db.execute(
        "SELECT debt::text, jsonb_typeof(collateral -> 0 -> 'amount'),"
        " (collateral -> 0 ->> 'amount')::numeric = 0.000000000000000001, metadata::text"
        " FROM positions"
    ).fetchone()
    assert stored == (
        '[{"amount": "1000.50", "symbol": "USDT", "valueUSD": "1000.50"}]',
        "string",
        True,
        '{"ltv": "0.5", "tags": ["e-mode"], "liquidationThreshold": "0.825"}',
    )  # camelCase valueUSD, amounts as JSON strings


#: Palm mainnet: EIP-155 chain ids go beyond 2**31, hence 0009.widen-chain-id-to-bigint.
PALM = 11297108109


def test_chain_ids_beyond_32_bits_are_stored_and_read_back(
    api: Api, db: psycopg.Connection[Any]
) -> None:
    user_id = new_user(api, 1)
    created = api.positions.create(snap(user_id, hours=0, chain_id=PALM))
    assert api.positions.ingest([snap(user_id, hours=1, chain_id=PALM)]) == 1  # bulk ingest
    assert created.chain_id == PALM
    assert [p.chain_id for p in api.positions.list_for_user(user_id)] == [PALM, PALM]
    intent = api.intents.create(
        user_id=user_id,
        condition=IntentCondition(operator="<", value=Decimal("1.2")),
        action=IntentAction(type="notify"),
        chain_id=PALM,
    )
    assert intent.chain_id == api.intents.get(intent.id).chain_id == PALM
    stored = db.execute(
        "SELECT chain_id FROM positions UNION ALL SELECT chain_id FROM intents"
    ).fetchall()
    assert stored == [(PALM,)] * 3


def test_create_defaults(api: Api) -> None:
    user_id = new_user(api, 1)
    before = datetime.now(UTC)
    position = api.positions.create(
        NewPosition(user_id=user_id, wallet_address=LOWER, protocol="x")
    )
    after = datetime.now(UTC)
    assert (position.chain_id, position.health_factor) == (1, None)
    assert (position.collateral, position.debt, position.metadata) == ([], [], {})
    assert before - timedelta(seconds=1) <= position.snapshot_at <= after + timedelta(seconds=1)
    assert position.snapshot_at.utcoffset() is not None


DAI = Asset(symbol="DAI", amount=Decimal("10.0"), value_usd=Decimal("10.00"))
NAN_ASSET = Asset(symbol="ETH", amount=Decimal("NaN"), value_usd=Decimal(1))
BAD: list[tuple[str, dict[str, object] | None, str]] = [  # id, changes (None: a dict), message
    ("short-wallet", {"wallet_address": "0x123"},
     "wallet address '0x123' is not 0x followed by 40 hexadecimal digits."),
    ("empty-protocol", {"protocol": ""}, "protocol must not be empty."),
    ("chain-0", {"chain_id": 0}, "chain_id must be between 1 and 9007199254740991, not 0."),
    ("chain-2**53", {"chain_id": 2**53},
     "chain_id must be between 1 and 9007199254740991, not 9007199254740992."),
    ("chain-true", {"chain_id": True}, "chain_id must be an integer, not bool."),
    ("chain-str", {"chain_id": "1"}, "chain_id must be an integer, not str."),
    ("hf-nan", {"health_factor": Decimal("NaN")},
     "health_factor must be a finite number, not NaN."),
    ("hf-infinity", {"health_factor": Decimal("Infinity")},
     "health_factor must be a finite number, not Infinity."),
    ("hf-negative", {"health_factor": Decimal(-1)}, "health_factor must be at least 0, not -1."),
    ("hf-float", {"health_factor": 1.5},
     "health_factor must be a Decimal (from decimal import Decimal), not float."),
    ("amount-nan", {"collateral": [NAN_ASSET]},
     "collateral[0].amount must be a finite number, not NaN."),
    ("naive-snapshot-at", {"snapshot_at": datetime(2024, 5, 1, 12)},
     "snapshot_at must be timezone-aware (e.g. datetime.now(UTC)), not naive."),
    ("collateral-dict", {"collateral": {"symbol": "ETH"}},
     "collateral must be a list of Asset (from defi_sql.models import Asset; "
     "fields: symbol, amount, value_usd), not dict."),
    ("debt-element-dict", {"debt": [{"symbol": "USDT", "amount": "1", "valueUSD": "1"}]},
     "debt[0] must be an Asset (from defi_sql.models import Asset; "
     "fields: symbol, amount, value_usd), not dict."),
    ("metadata-int-key", {"metadata": {1: "one"}},
     "metadata has a key that is not a string: 1."),
    ("not-a-new-position", None,
     "a snapshot must be a NewPosition (from defi_sql.models import NewPosition; fields: user_id, "
     "wallet_address, protocol, chain_id, health_factor, collateral, debt, metadata, "
     "snapshot_at), not dict."),
]  # fmt: skip
BAD_SNAPSHOTS = [pytest.param(changes, message, id=id) for id, changes, message in BAD]


def spoil(snapshot: NewPosition, changes: dict[str, object] | None) -> object:
    return asdict(snapshot) if changes is None else replace(snapshot, **changes)


@pytest.mark.parametrize(("changes", "message"), BAD_SNAPSHOTS)
def test_create_bad(
    api: Api, db: psycopg.Connection[Any], changes: dict[str, object] | None, message: str
) -> None:
    bad = spoil(snap(new_user(api, 1)), changes)
    with pytest.raises(InvalidInput) as caught:
        api.positions.create(bad)
    assert str(caught.value) == message
    assert count_rows(db, "positions") == 0


def test_create_for_an_unknown_user_is_not_found(api: Api, db: psycopg.Connection[Any]) -> None:
    with pytest.raises(NotFound) as caught:
        api.positions.create(snap(uuid4()))
    assert str(caught.value) == UNKNOWN_USER
    assert count_rows(db, "positions") == 0


# -- ingest ------------------------------------------------------------------------


def test_ingest_round_trips_a_thousand_snapshots(api: Api, db: psycopg.Connection[Any]) -> None:
    users = [new_user(api, 1), new_user(api, 2)]
    snapshots = [
        NewPosition(
            user_id=users[i % 2],
            wallet_address=WALLET if i % 2 else wallet(9),
            protocol=("aave-v3", "compound-v3")[i % 3 == 0],
            chain_id=1 + i % 4,
            health_factor=None if i % 7 == 0 else Decimal(f"1.{i:021d}"),
            collateral=[Asset(symbol="ETH", amount=Decimal(f"{i}.5e-18"), value_usd=Decimal(i))],
            debt=[] if i % 5 else [DAI],
            metadata={"i": str(i)},
            snapshot_at=at(i / 60),
        )
        for i in range(1000)
    ]
    assert api.positions.ingest(snapshots) == 1000
    assert count_rows(db, "positions") == 1000
    for user_id in users:
        stored = api.positions.list_for_user(user_id)
        expected = [s for s in reversed(snapshots) if s.user_id == user_id]
        assert len(stored) == len(expected) == 500
        for position, new in zip(stored, expected, strict=True):
            assert recorded(position) == recorded(new)


def test_ingest_stamps_missing_snapshot_at_with_its_start(api: Api) -> None:
    user_id = new_user(api, 1)
    before = datetime.now(UTC)
    assert api.positions.ingest(snap(user_id, hours=None) for _ in range(3)) == 3
    stamps = {p.snapshot_at for p in api.positions.list_for_user(user_id)}
    assert len(stamps) == 1
    assert before <= stamps.pop() <= datetime.now(UTC)


def test_ingest_nothing(api: Api, db: psycopg.Connection[Any]) -> None:
    assert api.positions.ingest([]) == 0
    assert count_rows(db, "positions") == 0


@pytest.mark.parametrize(("changes", "message"), BAD_SNAPSHOTS)
def test_ingest_with_one_bad_snapshot_writes_nothing(
    api: Api, db: psycopg.Connection[Any], changes: dict[str, object] | None, message: str
) -> None:
    user_id = new_user(api, 1)
    snapshots: list[object] = [snap(user_id, hours=i) for i in range(1000)]
    snapshots[499] = spoil(snap(user_id, hours=499), changes)  # the 500th
    with pytest.raises(InvalidInput) as caught:
        api.positions.ingest(snapshots)
    assert str(caught.value) == message
    assert count_rows(db, "positions") == 0


@pytest.mark.parametrize(("changes", "message"), BAD_SNAPSHOTS)
def test_the_fast_check_never_passes_what_the_full_check_refuses(
    changes: dict[str, object] | None, message: str
) -> None:
    spoiled = spoil(snap(uuid4(), hours=1), changes)
    assert not validate.plainly_valid_position(spoiled)
    with pytest.raises(InvalidInput, match=re.escape(message)):
        validate.new_position(spoiled)


@pytest.mark.parametrize(
    "changes",
    [
        {},
        {"health_factor": None, "snapshot_at": None},
        {"collateral": [DAI, DAI], "debt": [DAI], "metadata": {"a": "b", "n": 1, "t": True}},
        {"wallet_address": WALLET.upper().replace("0X", "0x"), "chain_id": 2**53 - 1},
        {"health_factor": Decimal("1e-60"), "protocol": "p" * 64},
    ],
    ids=["plain", "nulls", "assets-and-flat-metadata", "upper-wallet-max-chain", "edges"],
)
def test_the_fast_check_passes_plain_snapshots(changes: dict[str, object]) -> None:
    snapshot = replace(snap(uuid4(), hours=1), **changes)
    assert validate.plainly_valid_position(snapshot)
    assert validate.new_position(snapshot) is snapshot


def test_ingest_keeps_amounts_and_instants_exactly(api: Api) -> None:
    user_id = new_user(api, 1)
    plus_five = timezone(timedelta(hours=5, minutes=30))
    amounts = ["0", "0.000000000000000001", "123456789012345678901234567890.123456789", "1E+20"]
    snapshots = [
        replace(
            snap(user_id),
            health_factor=Decimal(amount),
            collateral=[Asset(symbol="X", amount=Decimal(amount), value_usd=Decimal(amount))],
            snapshot_at=datetime(2024, 2, 29, 23, 59, 59, 999999, tzinfo=plus_five)
            + timedelta(days=i),
        )
        for i, amount in enumerate(amounts)
    ]
    assert api.positions.ingest(snapshots) == len(amounts)
    stored = sorted(api.positions.list_for_user(user_id), key=lambda p: p.snapshot_at)
    for position, sent in zip(stored, snapshots, strict=True):
        assert position.snapshot_at == sent.snapshot_at  # the same instant, to the microsecond
        assert position.collateral == sent.collateral
        assert position.health_factor == sent.health_factor
        assert str(position.collateral[0].amount) == str(sent.collateral[0].amount)


def test_ingest_for_an_unknown_user_writes_nothing(api: Api, db: psycopg.Connection[Any]) -> None:
    user_id = new_user(api, 1)
    snapshots = [snap(user_id, hours=i) for i in range(10)] + [snap(uuid4(), hours=10)]
    with pytest.raises(NotFound) as caught:
        api.positions.ingest(snapshots)
    assert str(caught.value) == UNKNOWN_USER
    assert count_rows(db, "positions") == 0


def test_create_and_ingest_both_refuse_a_decimal_string(
    api: Api, db: psycopg.Connection[Any]
) -> None:
    new = replace(snap(new_user(api, 1)), health_factor="1.5")
    for call in (lambda: api.positions.create(new), lambda: api.positions.ingest([new])):
        with pytest.raises(InvalidInput) as caught:
            call()
        assert str(caught.value) == (
            "health_factor must be a Decimal (from decimal import Decimal), not str."
        )
    assert count_rows(db, "positions") == 0


# -- reads -------------------------------------------------------------------------


def test_latest_and_list_for_user(api: Api) -> None:
    user_id, other_id = new_user(api, 1), new_user(api, 2)
    assert api.positions.latest(user_id) is None
    assert api.positions.list_for_user(user_id) == []
    api.positions.ingest(
        [
            snap(user_id, hours=1, protocol="aave-v3"),
            snap(user_id, hours=3, protocol="compound-v3"),
            snap(user_id, hours=2, protocol="aave-v3", chain_id=10),
            snap(other_id, hours=4),
        ]
    )
    latest = api.positions.latest(user_id)
    assert latest is not None
    assert (latest.protocol, latest.snapshot_at) == ("compound-v3", at(3))
    assert [p.snapshot_at for p in api.positions.list_for_user(user_id)] == [at(3), at(2), at(1)]


def test_latest_per_protocol(api: Api) -> None:
    user_id, other_id = new_user(api, 1), new_user(api, 2)
    snapshots = [
        snap(
            user_id, hours=hours + offset, hf=f"{hours}.{offset}", protocol=protocol, chain_id=chain
        )
        for offset, (protocol, chain) in enumerate(
            [("aave-v3", 1), ("aave-v3", 10), ("compound-v3", 1), ("compound-v3", 10)]
        )
        for hours in (0, 5, 2)
    ]
    api.positions.ingest([*snapshots, snap(other_id, hours=9, protocol="spark")])
    latest = api.positions.latest_per_protocol(user_id)
    assert [(p.protocol, p.chain_id, p.snapshot_at, p.health_factor) for p in latest] == [
        ("aave-v3", 1, at(5), Decimal("5.0")),
        ("aave-v3", 10, at(6), Decimal("5.1")),
        ("compound-v3", 1, at(7), Decimal("5.2")),
        ("compound-v3", 10, at(8), Decimal("5.3")),
    ]


def test_list_for_wallet(api: Api) -> None:
    user_id = new_user(api, 1)  # the positions' wallet need not be the user's
    api.positions.ingest(
        [snap(user_id, hours=h, protocol="aave-v3") for h in (1, 4, 2, 3)]
        + [snap(user_id, hours=9, protocol="compound-v3")]
        + [snap(user_id, hours=9, protocol="aave-v3", address=wallet(7))]
    )
    found = api.positions.list_for_wallet(WALLET.upper().replace("0X", "0x"), "aave-v3", limit=2)
    assert [(p.wallet_address, p.snapshot_at) for p in found] == [(LOWER, at(4)), (LOWER, at(3))]
    assert len(api.positions.list_for_wallet(LOWER, "aave-v3")) == 4
    assert api.positions.list_for_wallet(LOWER, "spark") == []


def test_list_for_wallet_reads_recent_then_older_as_one_statement_would(
    api: Api, db_url: str
) -> None:
    """list_for_wallet reads the last month first and the older snapshots only
    for what it lacks; the oracle is the one statement over all of positions,
    for every limit, with ties on snapshot_at on both sides of the month."""
    now = datetime.now(UTC)
    user_id = new_user(api, 1)
    ages = [timedelta(days=d) for d in (400, 45, 32, 31.5, 30.5, 30, 2)] + [timedelta(hours=1)]
    for age in ages:  # each age twice in one statement, then once more in another
        moment = now - age
        two = [replace(snap(user_id, protocol="aave"), snapshot_at=moment) for _ in range(2)]
        api.positions.ingest(two)
        api.positions.ingest([replace(two[0], health_factor=Decimal("3"))])
    api.positions.ingest([replace(snap(user_id, protocol="spark"), snapshot_at=now)])
    with psycopg.connect(db_url) as conn:
        oracle = [
            row[0]
            for row in conn.execute(
                "SELECT id FROM positions WHERE wallet_address = %s AND protocol = 'aave' "
                "ORDER BY snapshot_at DESC, write_seq DESC NULLS LAST, id DESC",
                (LOWER,),
            )
        ]
    assert len(oracle) == 3 * len(ages)
    for limit in range(1, len(oracle) + 2):
        found = api.positions.list_for_wallet(LOWER, "aave", limit=limit)
        assert [p.id for p in found] == oracle[:limit], limit


@pytest.mark.parametrize(
    ("address", "protocol", "limit", "message"),
    [
        pytest.param(LOWER, "aave-v3", 0, "limit must be between 1 and 2147483647, not 0.", id="0"),
        pytest.param(LOWER, "aave-v3", True, "limit must be an integer, not bool.", id="true"),
        pytest.param(LOWER, "", 1, "protocol must not be empty.", id="empty-protocol"),
        pytest.param(
            "0x12",
            "aave-v3",
            1,
            "wallet address '0x12' is not 0x followed by 40 hexadecimal digits.",
            id="short-wallet",
        ),
    ],
)
def test_list_for_wallet_bad(
    api: Api, address: str, protocol: str, limit: object, message: str
) -> None:
    with pytest.raises(InvalidInput) as caught:
        api.positions.list_for_wallet(address, protocol, limit=limit)
    assert str(caught.value) == message


@pytest.mark.parametrize(
    ("since", "until", "hours"),
    [
        pytest.param(1, 3, [1, 2], id="since-inclusive-until-exclusive"),
        pytest.param(0.5, 3.5, [1, 2, 3], id="between-snapshots"),
        pytest.param(-10, 10, [0, 1, 2, 3, 4], id="everything"),
        pytest.param(2, 2, [], id="empty-range"),
        pytest.param(3, 1, [], id="reversed-range"),
    ],
)
def test_history(api: Api, since: float, until: float, hours: list[int]) -> None:
    user_id, other_id = new_user(api, 1), new_user(api, 2)
    api.positions.ingest([snap(user_id, hours=h) for h in (3, 0, 4, 1, 2)] + [snap(other_id)])
    found = api.positions.history(user_id, at(since), at(until))
    assert [p.snapshot_at for p in found.snapshots] == [at(h) for h in hours]
    assert (found.source, found.days, found.snapshots_since) == ("snapshots", [], None)


def test_history_bad(api: Api) -> None:
    user_id = new_user(api, 1)
    with pytest.raises(InvalidInput) as caught:
        api.positions.history(user_id, datetime(2024, 1, 1), T0)
    assert str(caught.value) == (
        "since must be timezone-aware (e.g. datetime.now(UTC)), not naive."
    )
    with pytest.raises(InvalidInput) as caught:
        api.positions.history(user_id, T0, "2024-06-01")
    assert str(caught.value) == "until must be a datetime (from datetime import datetime), not str."


def test_latest_per_user(api: Api) -> None:
    first, second, _without = new_user(api, 1), new_user(api, 2), new_user(api, 3)
    api.positions.ingest(
        [snap(first, hours=h, protocol=p) for h, p in ((1, "a"), (5, "b"), (3, "c"))]
        + [snap(second, hours=h) for h in (7, 2)]
    )
    found = api.positions.latest_per_user()
    assert [(p.user_id, p.snapshot_at) for p in found] == sorted([(first, at(5)), (second, at(7))])


# -- at risk -----------------------------------------------------------------------


@pytest.fixture
def risky(api: Api, db: psycopg.Connection[Any]) -> dict[str, UUID]:
    """Users and snapshots whose at-risk set depends on each rule of ``at_risk``."""
    u = users = {
        "default": new_user(api, 1),
        "own-2.0": new_user(api, 2, own_threshold("2.0")),
        "own-1.1": new_user(api, 3, own_threshold("1.1")),
        "string": new_user(api, 4),
        "no-debt": new_user(api, 5),
        "recovered": new_user(api, 6),
    }
    db.execute(
        """UPDATE users SET preferences = '{"alertThresholds": {"healthFactor": "3.0"}}'"""
        " WHERE id = %s",
        (users["string"],),
    )
    api.positions.ingest(
        [
            snap(u["default"], hf="1.2", protocol="aave-v3"),
            snap(u["default"], hf="1.6", protocol="compound-v3"),
            snap(u["own-2.0"], hf="1.8"),
            snap(u["own-1.1"], hf="1.3"),
            snap(u["string"], hf="2.5"),  # below "3.0": a decimal string is a threshold too
            snap(u["string"], hf="1.4", chain_id=10),
            snap(u["no-debt"], hf=None),
            snap(u["no-debt"], hours=-1, hf=None, chain_id=10),
            snap(u["recovered"], hours=-1, hf="0.5"),  # old and low, then healthy
            snap(u["recovered"], hours=0, hf="3"),
            snap(u["recovered"], hours=-1, hf="3", chain_id=10),  # old and healthy, then low
            snap(u["recovered"], hours=0, hf="0.9", chain_id=10),
        ]
    )
    return users


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [  # "user/chain health factor<alert threshold", lowest health factor first
        pytest.param(
            {},
            [
                "recovered/10 0.9<1.5",
                "default/1 1.2<1.5",
                "string/10 1.4<3.0",
                "own-2.0/1 1.8<2.0",
                "string/1 2.5<3.0",
            ],
            id="default-1.5",
        ),
        pytest.param(
            {"default_threshold": Decimal("1.3")},
            [
                "recovered/10 0.9<1.3",
                "default/1 1.2<1.3",
                "string/10 1.4<3.0",
                "own-2.0/1 1.8<2.0",
                "string/1 2.5<3.0",
            ],
            id="default-1.3",
        ),
        pytest.param(
            {"default_threshold": Decimal(0)},
            ["string/10 1.4<3.0", "own-2.0/1 1.8<2.0", "string/1 2.5<3.0"],
            id="default-0",
        ),
    ],
)
def test_at_risk(
    api: Api, risky: dict[str, UUID], kwargs: dict[str, Decimal], expected: list[str]
) -> None:
    found = api.positions.at_risk(**kwargs)
    names = {user_id: name for name, user_id in risky.items()}
    assert all(isinstance(p, PositionAtRisk) for p in found)
    assert all(isinstance(v, Decimal) for p in found for v in (p.health_factor, p.alert_threshold))
    assert [
        f"{names[p.user_id]}/{p.chain_id} {p.health_factor}<{p.alert_threshold}" for p in found
    ] == expected
    assert all(p.snapshot_at == at(0) for p in found)  # only latest snapshots


@pytest.mark.parametrize(
    ("threshold", "message"),
    [
        pytest.param(
            1.5,
            "default_threshold must be a Decimal (from decimal import Decimal), not float.",
            id="float",
        ),
        pytest.param(Decimal(-1), "default_threshold must be at least 0, not -1.", id="negative"),
        pytest.param(
            Decimal("NaN"), "default_threshold must be a finite number, not NaN.", id="nan"
        ),
    ],
)
def test_at_risk_bad_default(api: Api, threshold: object, message: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        api.positions.at_risk(default_threshold=threshold)
    assert str(caught.value) == message


# -- iterate_all -------------------------------------------------------------------


def test_iterate_all_streams_every_row(api: Api, db: psycopg.Connection[Any]) -> None:
    assert iterate_all(api) == []
    users = [new_user(api, 1), new_user(api, 2)]
    snapshots = [snap(users[i % 2], hours=i // 2) for i in range(5000)]  # pairs share a time
    random.Random(7).shuffle(snapshots)
    assert api.positions.ingest(snapshots) == 5000
    streamed = iterate_all(api, batch=100)
    assert len(streamed) == 5000
    assert len({p.id for p in streamed}) == 5000
    stored = db.execute("SELECT id, snapshot_at FROM positions").fetchall()
    assert sorted((p.id, p.snapshot_at) for p in streamed) == sorted(stored)


@pytest.mark.parametrize("batch", [0, -1])
def test_iterate_all_rejects_a_batch_below_one(api: Api, batch: int) -> None:
    user_id = new_user(api, 1)
    api.positions.ingest([snap(user_id, hours=h) for h in range(3)])
    try:
        outcome: object = iterate_all(api, batch=batch)
    except InvalidInput as exc:
        outcome = str(exc)
    assert outcome == f"batch must be between 1 and 2147483647, not {batch}."


def test_a_snapshot_may_hold_another_wallet_than_the_users_sign_in_wallet(api: Api) -> None:
    """Decided (README): positions.wallet_address is the wallet holding the position, which
    may be any wallet the user follows (a cold wallet, a Safe), not only the one they sign in
    with; the foreign key is on user_id alone."""
    user = api.users.create(wallet_address=WALLET)
    cold = "0x" + "cd" * 20
    made = api.positions.create(NewPosition(user_id=user.id, wallet_address=cold, protocol="aave"))
    assert (made.user_id, made.wallet_address) == (user.id, cold)
    assert [p.id for p in api.positions.list_for_wallet(cold, "aave")] == [made.id]
