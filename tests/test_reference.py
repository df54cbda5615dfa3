"""The risk queries against a reference implementation, answer by answer.

Hypothesis writes realistic data through the public API (and, for what another
application may store, plain SQL): users with thresholds unset, JSON numbers,
decimal strings and exponent strings; several protocols and chains; snapshots
late and out of order, with exact ties in ``snapshot_at`` (ingests without
one), NULL health factors and values on the boundaries; intents of every
operator with values in every notation; signals active, expired by status and
expired by time; alerts already queued. Each public answer is then compared
with a small Python computation over the raw rows, written from the rules the
README states, not from the SQL:

* the latest snapshot of a (user, protocol, chain): newest ``snapshot_at``,
  then the last written (``write_seq``, NULL lowest), then the highest id;
* a threshold or intent value is a JSON number or decimal string in any
  notation; a NULL health factor is infinitely high;
* fan-out queues the signal once per channel that can reach each subscriber.

This suite is what keeps the answers right when the queries are rewritten.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from defi_sql import sync
from defi_sql.aio.positions import DEFAULT_ALERT_THRESHOLD
from defi_sql.models import (
    AlertThresholds,
    IntentAction,
    IntentCondition,
    NewPosition,
    UserPreferences,
)

from .helpers import wallet

T0 = datetime(2026, 1, 1, tzinfo=UTC)
INFINITY = Decimal("Infinity")
DECIMAL_TEXT = re.compile(r"[0-9]+(\.[0-9]+)?([eE][+-]?[0-9]{1,3})?")
reference = settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


# -- the reference: the README's rules over raw rows -------------------------------------


@dataclass(frozen=True)
class Row:
    id: UUID
    user_id: UUID
    protocol: str
    chain_id: int
    health_factor: Decimal | None
    snapshot_at: datetime
    write_seq: int | None

    @property
    def recency(self) -> tuple[datetime, int, UUID]:
        """Larger is later: snapshot_at, then write_seq (NULL lowest), then id."""
        return (self.snapshot_at, -1 if self.write_seq is None else self.write_seq, self.id)


def raw_positions(db: psycopg.Connection[Any]) -> list[Row]:
    return [
        Row(*r)
        for r in db.execute(
            "SELECT id, user_id, protocol, chain_id, health_factor, snapshot_at, write_seq"
            " FROM positions"
        )
    ]


def json_decimal(value: Any) -> Decimal | None:
    """What a stored JSON value means as a decimal (loaded with parse_float=Decimal)."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | Decimal):
        return Decimal(value) if value >= 0 else None
    if isinstance(value, str) and len(value) <= 255 and DECIMAL_TEXT.fullmatch(value):
        return Decimal(value)
    return None


def documents(db: psycopg.Connection[Any], sql: str) -> list[tuple[Any, ...]]:
    """Rows whose last column is a JSON document, loaded with exact decimals."""
    return [
        (*row[:-1], json.loads(row[-1], parse_float=Decimal))
        for row in db.execute(sql)  # type: ignore[call-overload]
    ]


def latest_of(rows: list[Row]) -> Row | None:
    return max(rows, key=lambda r: r.recency, default=None)


def latest_per_key(rows: list[Row]) -> dict[tuple[str, int], Row]:
    groups: dict[tuple[str, int], list[Row]] = {}
    for row in rows:
        groups.setdefault((row.protocol, row.chain_id), []).append(row)
    return {key: latest for key, group in groups.items() if (latest := latest_of(group))}


def thresholds(db: psycopg.Connection[Any]) -> dict[UUID, Decimal]:
    out = {}
    for user_id, preferences in documents(db, "SELECT id, preferences::text FROM users"):
        given_ = (preferences.get("alertThresholds") or {}).get("healthFactor")
        out[user_id] = json_decimal(given_) if isinstance(given_, int | Decimal | str) else None
    return {k: DEFAULT_ALERT_THRESHOLD if v is None else v for k, v in out.items()}


def expected_at_risk(db: psycopg.Connection[Any]) -> list[UUID]:
    limit = thresholds(db)
    rows = raw_positions(db)
    found = []
    for user_id in limit:
        for latest in latest_per_key([r for r in rows if r.user_id == user_id]).values():
            if latest.health_factor is not None and latest.health_factor < limit[user_id]:
                found.append(latest)
    found.sort(key=lambda r: (r.health_factor, r.user_id, r.protocol, r.chain_id))
    return [r.id for r in found]


def expected_due(db: psycopg.Connection[Any]) -> list[UUID]:
    rows = raw_positions(db)
    holds = {
        "<": lambda hf, v: hf < v,
        "<=": lambda hf, v: hf <= v,
        ">": lambda hf, v: hf > v,
        ">=": lambda hf, v: hf >= v,
    }
    due = []
    intents = documents(
        db,
        "SELECT id, user_id, protocol, chain_id, status, expires_at, expires_at > now(),"
        " created_at, condition::text FROM intents",
    )
    for intent_id, user_id, protocol, chain, status, expires, live, created, condition in intents:
        if status != "active" or (expires is not None and not live):
            continue
        value = json_decimal(condition.get("value"))
        test = holds.get(condition.get("operator"))
        if (
            value is None
            or test is None
            or condition.get("metric", "healthFactor") != "healthFactor"
        ):
            continue
        scoped = [
            r
            for r in rows
            if r.user_id == user_id
            and protocol in (None, r.protocol)
            and chain in (None, r.chain_id)
        ]
        latest = latest_per_key(scoped).values()
        if any(
            test(INFINITY if r.health_factor is None else r.health_factor, value) for r in latest
        ):
            due.append((created, intent_id))
    return [intent_id for _, intent_id in sorted(due)]


def expected_fan_out(db: psycopg.Connection[Any], signal_id: UUID) -> set[tuple[UUID, str]]:
    ((signal_type, status, live),) = db.execute(
        "SELECT type, status, expires_at IS NULL OR expires_at > now() FROM signals WHERE id = %s",
        (signal_id,),
    ).fetchall()
    if status != "active" or not live:
        return set()
    alerted = {u for (u,) in db.execute("SELECT user_id FROM alerts WHERE signal_id = %s",
                                        (signal_id,))}  # fmt: skip
    queued = set()
    for user_id, chat, preferences in documents(
        db, "SELECT id, telegram_chat_id, preferences::text FROM users"
    ):
        signals = preferences.get("activeSignals")
        if not isinstance(signals, list) or signal_type not in signals or user_id in alerted:
            continue
        wanted = preferences.get("notificationChannels")
        reach = {
            c
            for c in (wanted if isinstance(wanted, list) else [])
            if c in ("email", "in_app") or (c == "telegram" and chat is not None)
        }
        queued |= {(user_id, channel) for channel in reach or {"in_app"}}
    return queued


# -- the data, written through the API ----------------------------------------------------

health_factors = st.one_of(
    st.none(),
    st.sampled_from(["0", "1", "1.1", "1.2", "1.25", "1.5", "2", "20", "1E-30", "1E+30"]).map(
        Decimal
    ),
    st.decimals(min_value=0, max_value=5, places=2),
)
threshold_forms = st.sampled_from(
    [None, "unset", 1.25, 2, "1.25", "2.0", "2E+1", "1E-1", "0", "20"]
)
intent_values = st.sampled_from(
    ["1.1", "1.2", "1.25", "1.5", "2", "2E+1", "1E-7", "0", "1" * 61]
).map(Decimal)


@dataclass(frozen=True)
class Snapshot:
    user: int
    protocol: str
    chain: int
    health_factor: Decimal | None
    minutes: int | None  # None: ingest without snapshot_at (the ingest's own time)
    legacy: bool  # written with no write_seq, as before migration 0023


snapshots = st.builds(
    Snapshot,
    user=st.integers(0, 3),
    protocol=st.sampled_from(["aave", "compound"]),
    chain=st.sampled_from([1, 137]),
    health_factor=health_factors,
    minutes=st.none() | st.integers(0, 3),
    legacy=st.booleans(),
)
users = st.lists(
    st.tuples(
        threshold_forms,
        st.booleans(),  # telegram linked
        st.lists(st.sampled_from(["telegram", "email", "in_app"]), max_size=3),
        st.lists(st.sampled_from(["depeg", "whale"]), max_size=2),
    ),
    min_size=4,
    max_size=4,
)
intents = st.lists(
    st.tuples(
        st.integers(0, 3),
        st.sampled_from(["<", "<=", ">", ">="]),
        intent_values,
        st.sampled_from([None, "aave"]),
        st.sampled_from([None, 1]),
        st.sampled_from(["active", "active", "cancelled", "expired-by-time"]),
    ),
    max_size=6,
)


def write_users(db: psycopg.Connection[Any], spec: list[Any]) -> list[UUID]:
    ids = []
    for n, (threshold, telegram, channels, subscribed) in enumerate(spec):
        preferences = UserPreferences(
            notification_channels=channels,
            active_signals=subscribed,
            alert_thresholds=AlertThresholds(health_factor=Decimal(str(threshold)))
            if isinstance(threshold, int | float)
            else None,
        )
        user = sync.users.create(
            db, wallet_address=wallet(n), preferences=preferences,
            telegram_chat_id="42" if telegram else None,
        )  # fmt: skip
        if isinstance(threshold, str) and threshold != "unset":  # the TypeScript app's way
            db.execute(
                "UPDATE users SET preferences = jsonb_set(preferences, '{alertThresholds}',"
                " jsonb_build_object('healthFactor', %s::text)) WHERE id = %s",
                (threshold, user.id),
            )
        ids.append(user.id)
    return ids


def write_snapshots(
    db: psycopg.Connection[Any], user_ids: list[UUID], spec: list[Snapshot]
) -> None:
    batch: list[NewPosition] = []
    for s in spec:
        new = NewPosition(
            user_id=user_ids[s.user], wallet_address=wallet(s.user), protocol=s.protocol,
            chain_id=s.chain, health_factor=s.health_factor,
            snapshot_at=None if s.minutes is None else T0 + timedelta(minutes=s.minutes),
        )  # fmt: skip
        if s.legacy and s.minutes is not None:
            db.execute(
                "INSERT INTO positions (user_id, wallet_address, protocol, chain_id,"
                " health_factor, snapshot_at, write_seq) VALUES (%s, %s, %s, %s, %s, %s, NULL)",
                (new.user_id, new.wallet_address, new.protocol, new.chain_id,
                 new.health_factor, new.snapshot_at),
            )  # fmt: skip
        elif s.minutes is None:
            batch.append(new)  # ingested together: one snapshot_at for all of them
        else:
            sync.positions.create(db, new)
    sync.positions.ingest(db, batch)


def write_intents(db: psycopg.Connection[Any], user_ids: list[UUID], spec: list[Any]) -> None:
    for user, operator, value, protocol, chain, state in spec:
        intent = sync.intents.create(
            db, user_id=user_ids[user], protocol=protocol, chain_id=chain,
            condition=IntentCondition(operator=operator, value=value),
            action=IntentAction(type="notify"),
        )  # fmt: skip
        if state == "cancelled":
            sync.intents.cancel(db, intent.id)
        elif state == "expired-by-time":
            db.execute(
                "UPDATE intents SET expires_at = now() - interval '1 minute' WHERE id = %s",
                (intent.id,),
            )


@reference
@given(user_spec=users, snapshot_spec=st.lists(snapshots, max_size=14), intent_spec=intents)
def test_every_risk_answer_matches_the_reference(
    db: psycopg.Connection[Any],
    user_spec: list[Any],
    snapshot_spec: list[Snapshot],
    intent_spec: list[Any],
) -> None:
    with db.transaction(force_rollback=True):
        user_ids = write_users(db, user_spec)
        write_snapshots(db, user_ids, snapshot_spec)
        write_intents(db, user_ids, intent_spec)
        rows = raw_positions(db)

        for user_id in user_ids:
            mine = [r for r in rows if r.user_id == user_id]
            latest = sync.positions.latest(db, user_id)
            expected = latest_of(mine)
            assert (latest and latest.id) == (expected and expected.id)
            per_key = {(p.protocol, p.chain_id): p.id
                       for p in sync.positions.latest_per_protocol(db, user_id)}  # fmt: skip
            assert per_key == {k: r.id for k, r in latest_per_key(mine).items()}
            listed = [p.id for p in sync.positions.list_for_user(db, user_id)]
            assert listed == [r.id for r in sorted(mine, key=lambda r: r.recency, reverse=True)]

        per_user = sync.positions.latest_per_user(db)
        expected_per_user = [
            latest_of([r for r in rows if r.user_id == u]) for u in sorted(user_ids)
        ]
        assert [p.id for p in per_user] == [r.id for r in expected_per_user if r is not None]

        assert [p.id for p in sync.positions.at_risk(db)] == expected_at_risk(db)
        assert [i.id for i in sync.intents.due(db)] == expected_due(db)


@reference
@given(
    user_spec=users,
    status=st.sampled_from(["active", "expired", "acknowledged"]),
    expires_in=st.sampled_from([None, -1, 60]),
    alerted=st.lists(st.integers(0, 3), max_size=2, unique=True),
)
def test_fan_out_matches_the_reference(
    db: psycopg.Connection[Any],
    user_spec: list[Any],
    status: str,
    expires_in: int | None,
    alerted: list[int],
) -> None:
    with db.transaction(force_rollback=True):
        user_ids = write_users(db, user_spec)
        signal = sync.signals.create(
            db, type="depeg", asset="USDC", severity="high", detected_at=T0,
            expires_at=None if expires_in is None else datetime.now(UTC)
            + timedelta(minutes=expires_in),
        )  # fmt: skip
        if status != "active":
            db.execute("UPDATE signals SET status = %s WHERE id = %s", (status, signal.id))
        for n in alerted:  # already told about this signal, by another kind of alert
            sync.alerts.create(
                db, user_id=user_ids[n], signal_id=signal.id, type="health_factor_critical",
                channel="email", message="m",
            )  # fmt: skip
        expected = expected_fan_out(db, signal.id)
        before = set(db.execute("SELECT id FROM alerts").fetchall())
        assert sync.alerts.fan_out(db, signal.id) == len(expected)
        queued = db.execute(
            "SELECT id, user_id, channel FROM alerts WHERE signal_id = %s", (signal.id,)
        ).fetchall()
        assert {(u, c) for i, u, c in queued if (i,) not in before} == expected
        assert sync.alerts.fan_out(db, signal.id) == 0


@pytest.mark.parametrize("condition_value", ["2E+1", "1E-7", "1" * 61, "20", "0.0000001"])
def test_intents_store_values_in_plain_notation(
    db: psycopg.Connection[Any], condition_value: str
) -> None:
    user = sync.users.create(db, wallet_address=wallet(1))
    intent = sync.intents.create(
        db, user_id=user.id,
        condition=IntentCondition(operator="<", value=Decimal(condition_value)),
        action=IntentAction(type="repay", asset="USDT", amount=Decimal("1E+3")),
    )  # fmt: skip
    stored = db.execute(
        "SELECT condition ->> 'value', action ->> 'amount' FROM intents WHERE id = %s",
        (intent.id,),
    ).fetchone()
    assert stored == (format(Decimal(condition_value), "f"), "1000")
    assert intent.condition.value == Decimal(condition_value)
