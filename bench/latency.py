"""Query latency against table size: every per-request and per-tick query at
10k, 100k and 1M positions.

One database grows 10k -> 100k -> 1M positions with the seed generator (users
of 50 snapshots each, so 200, 2,000 and 20,000 users; signals, alerts, intents
and events grow alike), and two signals are fanned out again at each step so
that every user has a pending alert with a signal. After each step: VACUUM
ANALYZE, then each query runs through the public sync API (``defi_sql.sync``)
many times with varying parameters (random users, assets), and its p50 and p95
are recorded. Claiming alerts runs in a transaction that rolls back, so the
data stays the same.

Targets (issue #5): a point query's p50 at the largest size within 2x of its
p50 at 10k; a set-based query (its result grows with the data) grows no faster
than its result: p50 ratio <= result-size ratio. "Active signals of an asset"
counts as set-based here: the seed adds a signal per ten users, so an asset's
active signals grow with the data.

"Latest per user for all users" is also run as the two other ways to write it
over the history (DISTINCT ON, row_number()) on the same data, interleaved with
the query file's (which reads the read model positions_latest since #11),
through the same row decoding. At the largest size the plan of
each query is read (EXPLAIN with the parameters it ran with) for sequential
scans of positions, signals or alerts. A chart of p50 against size goes to
``bench/results/latency.png``.

The database is the one :func:`bench.common.positions_database` would give for
the largest size: grown here first, the memory section then finds it full.
"""

from __future__ import annotations

import functools
import random
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import psycopg

from bench.common import (
    Budget,
    Result,
    Sample,
    count_positions,
    database_name,
    interleaved,
    load_positions,
    print_markdown,
    sibling_database,
)
from defi_sql import sync as db
from defi_sql.models import Position
from defi_sql.rows import paused_gc, struct_row, use_raw_json
from defi_sql.statements import statement
from defi_sql.sync.positions import DEFAULT_ALERT_THRESHOLD

SECTION = "query latency against table size"
SIZES = (10_000, 100_000, 1_000_000)
QUICK_SIZES = (10_000, 100_000)
CHART = Path(__file__).resolve().parent / "results" / "latency.png"
#: a point query's p50 at the largest size may be this many times its p50 at the smallest
POINT_FACTOR = 2.0
#: alerts per claim
CLAIM = 100
#: the seed's signals are about these two assets only
ASSETS = ("AAVE", "USDC")
#: never read whole by a per-request query
LARGE_TABLES = ("alerts", "positions", "signals")
#: ... unless it is this small (512 kB): then reading it whole is the right plan
SMALL_PAGES = 64

#: the two other ways to write ``positions_latest_per_user``, for the comparison only
ALTERNATIVES = {
    "DISTINCT ON": """
        SELECT DISTINCT ON (user_id)
               id, user_id, wallet_address, protocol, chain_id, health_factor, collateral,
               debt, metadata, snapshot_at, created_at, updated_at
          FROM positions
         ORDER BY user_id, snapshot_at DESC""",
    "window (row_number)": """
        SELECT id, user_id, wallet_address, protocol, chain_id, health_factor, collateral,
               debt, metadata, snapshot_at, created_at, updated_at
          FROM (SELECT id, user_id, wallet_address, protocol, chain_id, health_factor,
                       collateral, debt, metadata, snapshot_at, created_at, updated_at,
                       row_number() OVER (PARTITION BY user_id ORDER BY snapshot_at DESC) AS n
                  FROM positions) AS ranked
         WHERE n = 1
         ORDER BY user_id""",
}
QUERY_FILE = "query file (positions_latest)"


@dataclass
class Params:
    """What the queries pick their parameters from, renewed at each size."""

    rng: random.Random
    users: list[UUID]
    signals: list[UUID] = field(default_factory=list)

    def user(self) -> UUID:
        return self.rng.choice(self.users)

    def asset(self) -> str:
        return self.rng.choice(ASSETS)


@dataclass(frozen=True)
class Query:
    label: str
    #: "point": a fixed-size result; "set": a result that grows with the data
    kind: str
    run: Callable[[psycopg.Connection[Any], Params], int]  # -> rows returned
    #: the statements it runs, with the parameters for EXPLAIN
    plans: Callable[[Params], list[tuple[str, dict[str, Any]]]]


def _claim(conn: psycopg.Connection[Any], _: Params) -> int:
    with conn.transaction(force_rollback=True):
        return len(db.alerts.claim(conn, limit=CLAIM))


def _pending_plans(p: Params) -> list[tuple[str, dict[str, Any]]]:
    return [
        ("alerts_pending_for_user", {"user_id": p.users[0]}),
        ("signals_by_ids", {"signal_ids": p.signals}),
    ]


QUERIES = [
    Query(
        "latest position of a user",
        "point",
        lambda c, p: int(db.positions.latest(c, p.user()) is not None),
        lambda p: [("positions_latest", {"user_id": p.users[0]})],
    ),
    Query(
        "pending alerts with signals",
        "point",
        lambda c, p: len(db.alerts.pending_for_user(c, p.user())),
        _pending_plans,
    ),
    Query(
        "claim a batch of alerts",
        "point",
        _claim,
        lambda p: [("alerts_claim", {"max_rows": CLAIM, "lease": timedelta(minutes=1)})],
    ),
    Query(
        "read a stream",
        "point",
        lambda c, p: len(db.events.read_stream(c, p.user())),
        lambda p: [("events_read_stream", {"stream_id": p.users[0], "after_version": 0})],
    ),
    Query(
        "active signals of an asset",
        "set",
        lambda c, p: len(db.signals.active_for_asset(c, p.asset())),
        lambda p: [("signals_active_for_asset", {"asset": ASSETS[0]})],
    ),
    Query(
        "latest per user (all users)",
        "set",
        lambda c, p: len(db.positions.latest_per_user(c)),
        lambda p: [("positions_latest_per_user", {})],
    ),
    Query(
        "at-risk users",
        "set",
        lambda c, p: len(db.positions.at_risk(c)),
        lambda p: [("positions_at_risk", {"default_threshold": DEFAULT_ALERT_THRESHOLD})],
    ),
    Query(
        "due intents",
        "set",
        lambda c, p: len(db.intents.due(c)),
        lambda p: [("intents_due", {})],
    ),
]


def _fan_out_plans(p: Params) -> list[tuple[str, dict[str, Any]]]:
    """Fanning a signal out is not timed (a write, whose cost is the alerts it
    inserts), but its plan is read."""
    return [("alerts_fan_out", {"signal_id": p.signals[0]})]


def _size_label(rows: int) -> str:
    return f"{rows // 1_000_000}M" if rows % 1_000_000 == 0 else f"{rows // 1000}k"


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:,.2f} ms" if seconds < 0.01 else f"{seconds * 1000:,.0f} ms"


def _database(url: str, sizes: Sequence[int]) -> str:
    """positions_database's database for the largest size, grown here from empty;
    one of this section's own when another section already filled it."""
    target = sibling_database(url, f"{database_name(url)}_positions_{sizes[-1]}")
    if count_positions(target) > sizes[0]:
        target = sibling_database(url, f"{database_name(url)}_latency", fresh=True)
    return target


def _fan_out(conn: psycopg.Connection[Any], params: Params) -> None:
    """Fan out one active signal of each type users follow (the seed's
    funding_rate signals are all expired): the same ones at every size, so each
    step adds alerts for its new users only."""
    if not params.signals:
        for type in ("whale_movement", "liquidation_risk"):
            found = [s for s in db.signals.recent_by_type(conn, type) if s.status == "active"]
            params.signals += [found[0].id] if found else []
    for signal_id in params.signals:
        db.alerts.fan_out(conn, signal_id)


def _counts(conn: psycopg.Connection[Any]) -> dict[str, int]:
    row = conn.execute(
        "SELECT (SELECT count(*) FROM users), (SELECT count(*) FROM positions),"
        " (SELECT count(*) FROM signals), (SELECT count(*) FROM alerts),"
        " (SELECT count(*) FROM intents), (SELECT count(*) FROM event_store)"
    ).fetchone()
    assert row is not None
    names = ("users", "positions", "signals", "alerts", "intents", "events")
    return dict(zip(names, map(int, row), strict=True))


def _decoded(conn: psycopg.Connection[Any], sql: str) -> list[Position]:
    """``sql``'s rows as Positions, the way ``fetch_all`` decodes them."""
    with conn.cursor(row_factory=struct_row(Position)) as cur:
        use_raw_json(cur.adapters)
        cur.execute(sql)
        with paused_gc():
            return cur.fetchall()


def _count_decoded(conn: psycopg.Connection[Any], sql: str) -> int:
    return len(_decoded(conn, sql))


def _nodes(node: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield node
    for child in node.get("Plans", []):
        yield from _nodes(child)


def _plan(conn: psycopg.Connection[Any], name: str, params: dict[str, Any]) -> dict[str, Any]:
    """The indexes of ``name``'s plan with these parameters, and the tables it
    reads whole (sequential scans) with their size in pages."""
    row = conn.execute("EXPLAIN (FORMAT JSON) " + statement(name).sql, params).fetchone()
    assert row is not None
    nodes = list(_nodes(row[0][0]["Plan"]))
    seq_scans = sorted({n["Relation Name"] for n in nodes if n["Node Type"] == "Seq Scan"})
    pages = {}
    for table in seq_scans:
        found = conn.execute("SELECT relpages FROM pg_class WHERE oid = %s::regclass", [table])
        pages[table] = int(found.fetchone()[0])  # type: ignore[index]
    return {
        "indexes": sorted({n["Index Name"] for n in nodes if "Index Name" in n}),
        "seq_scans": seq_scans,
        "pages": pages,
    }


def run(url: str, *, quick: bool = False) -> list[Result]:
    sizes = QUICK_SIZES if quick else SIZES
    point = Budget(200, 30, 3.0) if quick else Budget(500, 100, 8.0)
    whole = Budget(10, 3, 3.0) if quick else Budget(25, 5, 10.0)
    compared = Budget(5, 3, 3.0) if quick else Budget(7, 3, 8.0)
    started = time.perf_counter()
    data = _database(url, sizes)
    rng = random.Random(5)
    params = Params(rng, [])
    results: list[Result] = []
    samples: dict[str, dict[int, Sample]] = {q.label: {} for q in QUERIES}
    comparison: dict[int, dict[str, Sample]] = {}
    loads: dict[int, tuple[float, dict[str, int]]] = {}
    plans: dict[str, dict[str, dict[str, Any]]] = {}
    with psycopg.connect(data, autocommit=True) as conn:
        for size in sizes:
            loading = time.perf_counter()
            load_positions(data, size)
            _fan_out(conn, params)
            conn.execute("VACUUM ANALYZE")
            loads[size] = (time.perf_counter() - loading, _counts(conn))
            params.users = [p.user_id for p in db.positions.latest_per_user(conn)]
            # the point queries round-robin, so that a burst of noise hits them alike
            points = [q for q in QUERIES if q.kind == "point"]
            runs = [functools.partial(q.run, conn, params) for q in points]
            for query, sample in zip(points, interleaved(runs, point), strict=True):
                samples[query.label][size] = sample
            for query in (q for q in QUERIES if q.kind == "set"):
                (sample,) = interleaved([functools.partial(query.run, conn, params)], whole)
                samples[query.label][size] = sample
            variants = {QUERY_FILE: statement("positions_latest_per_user").sql, **ALTERNATIVES}
            answers = {name: [p.id for p in _decoded(conn, sql)] for name, sql in variants.items()}
            if any(ids != answers[QUERY_FILE] for ids in answers.values()):
                raise AssertionError(f"the ways to write latest per user disagree at {size:,}")
            runs = [functools.partial(_count_decoded, conn, sql) for sql in variants.values()]
            # computing the answers was the warm-up
            compared_samples = interleaved(runs, compared, warm_up=False)
            comparison[size] = dict(zip(variants, compared_samples, strict=True))
            print(f"latency at {size:,} positions measured ({time.perf_counter() - started:.0f} s)")
        for query in QUERIES:
            plans[query.label] = {name: _plan(conn, name, p) for name, p in query.plans(params)}
        plans["fan out a signal (not timed)"] = {
            name: _plan(conn, name, p) for name, p in _fan_out_plans(params)
        }

    results += _report(sizes, samples, plans)
    results += _report_comparison(sizes, comparison)
    results += _report_data(sizes, loads)
    _chart(sizes, samples)
    print(f"\n{SECTION}: {time.perf_counter() - started:.0f} s in all; chart in {CHART}")
    return results


def _verdict(query: Query, first: Sample, last: Sample) -> dict[str, Any]:
    ratio = last.p50 / first.p50
    if query.kind == "point":
        met = ratio <= POINT_FACTOR
        return {"p50_ratio": ratio, "target": f"within {POINT_FACTOR:g}x", "met": met}
    rows_ratio = max(last.result_rows, 1) / max(first.result_rows, 1)
    met = ratio <= rows_ratio
    return {
        "p50_ratio": ratio,
        "rows_ratio": rows_ratio,
        "target": "p50 ratio <= result-size ratio",
        "met": met,
    }


def _report(
    sizes: Sequence[int],
    samples: dict[str, dict[int, Sample]],
    plans: dict[str, dict[str, dict[str, Any]]],
) -> list[Result]:
    first, last = sizes[0], sizes[-1]
    results = []
    rows_out = []
    targets_out = []
    for query in QUERIES:
        by_size = samples[query.label]
        verdict = _verdict(query, by_size[first], by_size[last])
        for size in sizes:
            s = by_size[size]
            extra: dict[str, Any] = {
                "query": query.label,
                "kind": query.kind,
                "positions": size,
                "p50_ms": s.p50 * 1000,
                "p95_ms": s.p95 * 1000,
                "repetitions": len(s.seconds),
            }
            if size == last:
                extra |= verdict | {"plans": plans[query.label]}
            results.append(
                Result(
                    SECTION,
                    f"{query.label} @ {_size_label(size)}",
                    s.p50,
                    round(s.result_rows),
                    f"{query.label} @ {_size_label(first)}",
                    extra,
                )
            )
        rows_out.append(
            [query.label, query.kind]
            + [f"{_ms(by_size[n].p50)} / {_ms(by_size[n].p95)}" for n in sizes]
            + [f"{by_size[n].result_rows:,.0f}" for n in (first, last)]
        )
        rows_ratio = f"{verdict['rows_ratio']:.0f}x" if "rows_ratio" in verdict else ""
        targets_out.append(
            [
                query.label,
                query.kind,
                f"{verdict['p50_ratio']:.2f}x",
                rows_ratio,
                verdict["target"],
                "met" if verdict["met"] else "MISSED",
            ]
        )
    labels = [_size_label(n) for n in sizes]
    print_markdown(
        f"{SECTION}: p50 / p95 (public sync API)",
        ["query", "kind"]
        + [f"{label} positions" for label in labels]
        + [f"rows @ {labels[0]}", f"rows @ {labels[-1]}"],
        rows_out,
        "ll" + "r" * (len(sizes) + 2),
    )
    print_markdown(
        f"{SECTION}: growth {labels[0]} -> {labels[-1]} against the targets",
        ["query", "kind", "p50 ratio", "result-size ratio", "target", "verdict"],
        targets_out,
        "llrrll",
    )
    plan_rows = []
    for label, by_statement in plans.items():
        for name, plan in by_statement.items():
            pages = plan["pages"]
            whole = [t for t in LARGE_TABLES if pages.get(t, 0) > SMALL_PAGES]
            plan_rows.append(
                [
                    label,
                    name,
                    ", ".join(plan["indexes"]) or "none",
                    ", ".join(f"{t} ({pages[t]:,} pages)" for t in plan["seq_scans"]) or "none",
                    "MISSED: reads " + ", ".join(whole) + " whole" if whole else "met",
                ]
            )
    print_markdown(
        f"{SECTION}: plans at {labels[-1]} (no sequential scan of "
        f"{', '.join(LARGE_TABLES)} beyond {SMALL_PAGES} pages)",
        ["query", "statement", "indexes", "sequential scans", "verdict"],
        plan_rows,
        "lllll",
    )
    return results


def _report_comparison(
    sizes: Sequence[int], comparison: dict[int, dict[str, Sample]]
) -> list[Result]:
    results = []
    rows_out = []
    for size in sizes:
        by_variant = comparison[size]
        base = by_variant[QUERY_FILE]
        for variant, s in by_variant.items():
            results.append(
                Result(
                    SECTION,
                    f"latest per user, {variant} @ {_size_label(size)}",
                    s.p50,
                    round(s.result_rows),
                    f"latest per user, {QUERY_FILE} @ {_size_label(size)}",
                    {
                        "variant": variant,
                        "positions": size,
                        "p50_ms": s.p50 * 1000,
                        "p95_ms": s.p95 * 1000,
                        "repetitions": len(s.seconds),
                    },
                )
            )
        rows_out.append(
            [_size_label(size), f"{base.result_rows:,.0f}"]
            + [f"{_ms(s.p50)} ({s.p50 / base.p50:.2f}x)" for s in by_variant.values()]
        )
    print_markdown(
        "latest per user for all users: the three ways to write it (p50, vs the query file)",
        ["positions", "users", *comparison[sizes[0]]],
        rows_out,
    )
    return results


def _report_data(
    sizes: Sequence[int], loads: dict[int, tuple[float, dict[str, int]]]
) -> list[Result]:
    results = []
    rows_out = []
    for size in sizes:
        seconds, counts = loads[size]
        results.append(
            Result(
                SECTION,
                f"grow data to {_size_label(size)}",
                seconds,
                counts["positions"],
                "",
                counts,
            )
        )
        rows_out.append(
            [_size_label(size), *(f"{n:,}" for n in counts.values()), f"{seconds:.1f} s"]
        )
    names = list(loads[sizes[0]][1])
    print_markdown(
        f"{SECTION}: data at each size (grown from the previous one, fan-outs, VACUUM ANALYZE)",
        ["size", *names, "time to grow"],
        rows_out,
    )
    return results


def _chart(sizes: Sequence[int], samples: dict[str, dict[int, Sample]]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import NullLocator

    fig, ax = plt.subplots(figsize=(9, 5.5))
    for query in QUERIES:
        style = "-" if query.kind == "point" else "--"
        values = [samples[query.label][n].p50 * 1000 for n in sizes]
        ax.plot(sizes, values, style, marker="o", label=f"{query.label} ({query.kind})")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xticks(list(sizes), [_size_label(n) for n in sizes])
    ax.xaxis.set_minor_locator(NullLocator())
    ax.set_xlabel("positions (users x 50 snapshots)")
    ax.set_ylabel("p50 latency (ms)")
    ax.set_title("defi-sql: query latency against table size")
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize="small", loc="upper left")
    CHART.parent.mkdir(exist_ok=True)
    fig.savefig(CHART, dpi=120, bbox_inches="tight")
    plt.close(fig)
