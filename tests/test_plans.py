"""The queries a service runs per request or per tick use their indexes.

On tables large enough for the planner to care (seed users, ANALYZE), the
plan of each query with real parameter values (``EXPLAIN (FORMAT JSON)``,
the custom plan psycopg's bound parameters get) must name the index it was
written for and read none of positions, signals or alerts sequentially: a
dropped index, or a predicate rewritten so that its index no longer serves
it, fails here long before a benchmark at a million rows would show it.
No timings: only the plan's shape.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

import psycopg
import pytest

from defi_sql import sync as db
from defi_sql.dev.seed import seed_users
from defi_sql.statements import statement

#: 10,000 users with 2 snapshots each: 20,000 positions, 1,000 signals (the seed
#: adds one per ten users: fewer and the planner rightly reads signals whole),
#: 10,000 alerts, 3,333 intents, 20,000 events; then fan-outs add an alert with
#: a signal for every user, and each user gets 3 delivered alerts of history.
USERS = 10_000
SNAPSHOTS = 2
#: never read whole by a per-request query
LARGE = frozenset({"positions", "signals", "alerts"})


@dataclass(frozen=True)
class Data:
    user_id: UUID
    signal_ids: list[UUID]


def _wallet(number: int) -> str:
    """The wallet address ``seed_generated_users`` gives its user ``number``."""
    digest = hashlib.md5(f"defi-seed-{number}".encode(), usedforsecurity=False).hexdigest()
    return f"0x{number:08x}{digest[:32]}"


@pytest.fixture(scope="module")
def data(shared_db: psycopg.Connection[Any]) -> Data:
    seed_users(shared_db, USERS, snapshots=SNAPSHOTS, chunk=USERS)
    signal_ids = []
    # the seed's funding_rate signals are all expired; these two reach every user
    for type in ("whale_movement", "liquidation_risk"):
        signal = next(s for s in db.signals.recent_by_type(shared_db, type) if s.status == "active")
        db.alerts.fan_out(shared_db, signal.id)
        signal_ids.append(signal.id)
    # a user's history, as in a running system: more alerts delivered than
    # pending (were all pending, a user's pending alerts would be all of theirs,
    # as cheap to read through alerts_user_id_id_key of 0050 as through the
    # status index, and the planner would rightly take either)
    shared_db.execute(
        "INSERT INTO alerts (user_id, type, channel, message, status, sent_at)"
        " SELECT id, 'health_factor_low', 'in_app', 'delivered', 'sent', now()"
        "   FROM users, generate_series(1, 3)"
    )
    shared_db.execute("VACUUM ANALYZE")
    user = db.users.find_by_wallet(shared_db, _wallet(8))
    assert user is not None
    return Data(user.id, signal_ids)


@dataclass(frozen=True)
class Case:
    query: str
    params: Callable[[Data], dict[str, Any]]
    #: indexes the plan must use (all of them)
    indexes: frozenset[str]
    #: tables it must not read sequentially
    not_scanned: frozenset[str] = LARGE
    #: no Sort node: the rows come in index order (a poll sorts nothing)
    unsorted: bool = False


CASES = [
    Case(
        "positions_latest",
        lambda d: {"user_id": d.user_id},
        frozenset({"positions_latest_key"}),
        LARGE | {"positions_latest"},
    ),
    Case(
        "positions_latest_per_protocol",
        lambda d: {"user_id": d.user_id},
        frozenset({"positions_latest_key"}),
        LARGE | {"positions_latest"},
    ),
    Case(
        "positions_history",
        lambda d: {
            "user_id": d.user_id,
            "since": datetime.now(UTC) - timedelta(days=1),
            "until": datetime.now(UTC),
        },
        frozenset({"positions_user_id_snapshot_at_idx"}),
    ),
    Case(
        "positions_list_for_wallet_recent",
        lambda d: {
            "wallet_address": _wallet(8),
            "protocol": "aave-v3",
            "since": datetime.now(UTC) - timedelta(days=31),
            "until": "infinity",
            "max_rows": 10,
        },
        frozenset({"positions_wallet_address_protocol_snapshot_at_idx"}),
    ),
    Case(
        "positions_list_for_wallet_before",
        lambda d: {
            "wallet_address": _wallet(8),
            "protocol": "aave-v3",
            "before": datetime.now(UTC) - timedelta(days=31),
            "max_rows": 10,
        },
        frozenset({"positions_wallet_address_protocol_snapshot_at_idx"}),
    ),
    Case(
        "signals_active_for_asset",
        lambda d: {"asset": "AAVE"},
        frozenset({"signals_asset_status_idx"}),
    ),
    Case(
        "alerts_pending_for_user",
        lambda d: {"user_id": d.user_id},
        frozenset({"alerts_user_id_status_created_at_idx"}),
    ),
    Case(
        "signals_by_ids",  # the second query of alerts.pending_for_user
        lambda d: {"signal_ids": d.signal_ids},
        frozenset({"signals_pkey"}),
    ),
    Case(
        "alerts_claim",
        lambda d: {"max_rows": 100, "lease": timedelta(minutes=1)},
        frozenset({"alerts_status_created_at_idx"}),
    ),
    Case(
        "alerts_dead_letters",
        lambda d: {"max_rows": 100},
        frozenset({"alerts_status_created_at_idx"}),
    ),
    Case(
        "events_read_stream",
        lambda d: {"stream_id": d.user_id, "after_version": 0},
        frozenset({"event_store_stream_id_version_key"}),
    ),
    Case(
        # a subscription's poll: both tables in (transaction_id, position) order,
        # merged, LIMIT rows read; never every event sorted
        "events_read_all_after",
        lambda d: {
            "after_transaction_id": 0,
            "after_position": 0,
            "stream_types": None,
            "max_rows": 500,
        },
        frozenset(
            {
                "event_store_transaction_id_position_idx",
                "event_store_archive_transaction_id_position_idx",
            }
        ),
        LARGE | {"event_store"},
        unsorted=True,
    ),
    Case(
        "events_unsettled",  # every wait of an event consumer asks it
        lambda d: {},
        frozenset({"event_store_transaction_id_position_idx"}),
        LARGE | {"event_store"},
    ),
    Case(
        "alerts_fan_out",
        lambda d: {"signal_id": d.signal_ids[0]},
        frozenset({"signals_pkey", "users_preferences_active_signals_idx"}),
        LARGE | {"users"},
    ),
]


def _nodes(node: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every node of a plan, init plans and subplans included."""
    yield node
    for child in node.get("Plans", []):
        yield from _nodes(child)


def _describe(nodes: list[dict[str, Any]]) -> str:
    return "; ".join(
        " ".join(filter(None, (n["Node Type"], n.get("Relation Name"), n.get("Index Name"))))
        for n in nodes
        if "Relation Name" in n or "Index Name" in n
    )


@pytest.mark.parametrize("case", CASES, ids=[c.query for c in CASES])
def test_query_uses_its_index(shared_db: psycopg.Connection[Any], data: Data, case: Case) -> None:
    row = shared_db.execute(
        "EXPLAIN (FORMAT JSON) " + statement(case.query).sql, case.params(data)
    ).fetchone()
    assert row is not None
    nodes = list(_nodes(row[0][0]["Plan"]))
    seq_scans = {n["Relation Name"] for n in nodes if n["Node Type"] == "Seq Scan"}
    indexes = {n["Index Name"] for n in nodes if "Index Name" in n}
    plan = _describe(nodes)
    assert not seq_scans & case.not_scanned, f"{case.query} reads a table whole: {plan}"
    missing = sorted(case.indexes - indexes)
    assert not missing, f"{case.query} does not use {', '.join(missing)}: {plan}"
    sorts = [n for n in nodes if n["Node Type"] in ("Sort", "Incremental Sort")]
    assert not (case.unsorted and sorts), f"{case.query} sorts its rows: {plan}"


#: the every-tick questions, asked of every user at once
EVERY_TICK = {
    "positions_at_risk": {"default_threshold": Decimal("1.5")},
    "intents_due": {},
    "positions_latest_per_user": {},
}


@pytest.mark.parametrize("query", EVERY_TICK)
def test_every_tick_query_reads_the_latest_rows_once_and_no_history(
    shared_db: psycopg.Connection[Any], data: Data, query: str
) -> None:
    """No node reads positions (history), and no scan runs more than once: a
    per-user (or per-intent) probe would run once per row of the outer side."""
    row = shared_db.execute(
        "EXPLAIN (ANALYZE, TIMING OFF, FORMAT JSON) " + statement(query).sql, EVERY_TICK[query]
    ).fetchone()
    assert row is not None
    nodes = list(_nodes(row[0][0]["Plan"]))
    plan = _describe(nodes)
    assert "positions_latest" in {n.get("Relation Name") for n in nodes}, plan
    assert "positions" not in {n.get("Relation Name") for n in nodes}, f"reads history: {plan}"
    probes = [
        f"{n['Node Type']} {n.get('Relation Name')} x{n['Actual Loops']}"
        for n in nodes
        if "Relation Name" in n and n["Actual Loops"] > 1
    ]
    assert not probes, f"{query} probes once per row: {probes}"


def _hashed(node: dict[str, Any]) -> Iterator[str]:
    """The tables a Hash node builds from directly (through scans, filters and
    subquery scans, not through another join): the sides hashed in memory."""
    for child in node.get("Plans", []):
        if node["Node Type"] == "Hash":
            below = child
            while "Relation Name" not in below and len(below.get("Plans", [])) == 1:
                below = below["Plans"][0]
            if "Relation Name" in below:
                yield below["Relation Name"]
        yield from _hashed(child)


def test_due_intents_hash_the_intents_and_stream_the_latest_rows(
    shared_db: psycopg.Connection[Any], data: Data
) -> None:
    """intents_due builds its hash from the active intents' narrow columns and
    streams positions_latest past it: hashing positions_latest (one row per
    user and protocol, 150,000 at 100,000 users) outgrew work_mem and took
    1.35x as long at that size (bench/README.md, every-tick risk queries)."""
    row = shared_db.execute("EXPLAIN (FORMAT JSON) " + statement("intents_due").sql).fetchone()
    assert row is not None
    plan = row[0][0]["Plan"]
    hashed = set(_hashed(plan))
    assert "positions_latest" not in hashed, (
        f"hashes positions_latest: {_describe(list(_nodes(plan)))}"
    )
    assert "intents" in hashed, _describe(list(_nodes(plan)))


@pytest.mark.parametrize("query", ["positions_at_risk", "intents_due"])
def test_every_tick_query_reads_no_number_out_of_a_json_document(
    shared_db: psycopg.Connection[Any], query: str
) -> None:
    """The thresholds these compare are generated columns, computed once per
    write (users.alert_threshold, 0040; intents.threshold, 0056): json_decimal
    (a jsonb lookup, a regular expression and a cast, inlined into the plan)
    is evaluated for no row or pair on a tick."""
    row = shared_db.execute(
        "EXPLAIN (VERBOSE, FORMAT JSON) " + statement(query).sql, EVERY_TICK[query]
    ).fetchone()
    assert row is not None
    reads = [
        f"{n['Node Type']}: {n[key]}"
        for n in _nodes(row[0][0]["Plan"])
        for key in ("Filter", "Join Filter", "Hash Cond", "Output")
        if "jsonb_typeof" in str(n.get(key, ""))
    ]
    assert not reads, f"{query} reads a number out of JSON on every tick: {reads}"


def test_every_user_gets_a_signal_alert(shared_db: psycopg.Connection[Any], data: Data) -> None:
    """The fan-outs reached the user: the preloading plan above reads real signal ids."""
    pending = db.alerts.pending_for_user(shared_db, data.user_id)
    assert {item.signal.id for item in pending if item.signal} & set(data.signal_ids)
