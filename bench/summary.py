"""The headline: each figure the README states, as the median and range of several runs.

One benchmark run on a shared 2-core machine can move a ratio by 25%, so no
single run states a figure. ``python -m bench --runs 3`` (what ``make bench``
does) runs every section three times, each on a fresh server, and this module
turns the runs into one table: per headline figure the median, the lowest and
the highest value, the target and whether the median meets it, with the commit
the runs were made on. That table is written to ``bench/summary.md`` and
between the ``bench:summary`` markers of the README, so the figures a reader
sees are the ones the code of that commit produced.
"""

from __future__ import annotations

import re
import statistics
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import latency

ROOT = Path(__file__).resolve().parent.parent
SUMMARY = ROOT / "bench" / "summary.md"
README = ROOT / "README.md"
BEGIN = "<!-- bench:summary begin: written by make bench, do not edit by hand -->"
END = "<!-- bench:summary end -->"
#: a headline needs at least this many full runs
MIN_RUNS = 3

#: one run's results as bench writes them: dicts with section, name, seconds, rows, baseline, extra
Run = Sequence[dict[str, Any]]


@dataclass(frozen=True)
class Headline:
    section: str  #: the bench section (``--only`` name) that measures it
    label: str
    measure: Callable[[Run], float | None]  #: one run's value, None when it did not run
    unit: str  #: printed after the number: "x", " rows/s", " MB"...
    target: str  #: the target in words
    met: Callable[[float], bool]
    digits: int = 2


def _by_name(run: Run, name: str) -> dict[str, Any] | None:
    return next((r for r in run if r["name"] == name), None)


def ratio(variant: str, baseline: str) -> Callable[[Run], float | None]:
    """Variant time over baseline time in one run: how many times faster the baseline is."""

    def measure(run: Run) -> float | None:
        v, b = _by_name(run, variant), _by_name(run, baseline)
        if v is None or b is None:
            return None
        # per row: a variant may run on fewer rows (the ORM ingests 10k of the 100k)
        return float((v["seconds"] / v["rows"]) / (b["seconds"] / b["rows"]))

    return measure


def extra(name: str, key: str) -> Callable[[Run], float | None]:
    def measure(run: Run) -> float | None:
        r = _by_name(run, name)
        return None if r is None else float(r["extra"][key])

    return measure


def rows_per_second(name: str) -> Callable[[Run], float | None]:
    def measure(run: Run) -> float | None:
        r = _by_name(run, name)
        return None if r is None else float(r["rows"] / r["seconds"])

    return measure


def worst_point_growth(run: Run) -> float | None:
    """The largest p50 growth (largest size over smallest) among the point queries."""
    ratios = [
        float(r["extra"]["p50_ratio"])
        for r in run
        if r["section"] == "query latency against table size"
        and r["extra"].get("kind") == "point"
        and "p50_ratio" in r["extra"]
    ]
    return max(ratios) if ratios else None


#: how many set-based queries the latency section has
SET_BASED = sum(q.kind == "set" for q in latency.QUERIES)


def set_based_met(run: Run) -> float | None:
    """How many set-based queries grow no faster than their result."""
    verdicts = [
        bool(r["extra"]["met"])
        for r in run
        if r["section"] == "query latency against table size"
        and r["extra"].get("kind") == "set"
        and "met" in r["extra"]
    ]
    return float(sum(verdicts)) if verdicts else None


def delivery_faults(run: Run) -> float | None:
    """Duplicates, leftovers and wrong ends of every delivery variant (a failing channel's
    "not sent" counts alerts neither sent once nor dead-lettered after their attempts)."""
    rows = [r for r in run if r["section"] == "alert delivery"]
    if not rows:
        return None
    keys = ("duplicates", "left_behind", "not_sent")
    return float(sum(r["extra"][k] for r in rows for k in keys))


_RISK = "every-tick risk queries at scale (#11)"


def risk(role: str, query: str, key: str) -> Callable[[Run], float | None]:
    """``extra[key]`` of the risk section's result for ``query`` in ``role`` (e.g. "main":
    the comparison at 20k users, whatever the size of a --quick run)."""

    def measure(run: Run) -> float | None:
        for r in run:
            e = r["extra"]
            if r["section"] == _RISK and e.get("role") == role and e.get("query") == query:
                return None if e.get(key) is None else float(e[key])
        return None

    return measure


def risk_worst(key: str) -> Callable[[Run], float | None]:
    """The largest ``extra[key]`` among the risk section's results (None when none has it)."""

    def measure(run: Run) -> float | None:
        values = [
            float(r["extra"][key]) for r in run if r["section"] == _RISK and key in r["extra"]
        ]
        return max(values) if values else None

    return measure


_REPLICAS = "read replicas (#12)"


def replicas(workload: str, config: str, key: str) -> Callable[[Run], float | None]:
    """``extra[key]`` of the replicas section's result for ``workload`` in ``config``
    (their keys in bench/replicas.py: e.g. "per_request", "routed")."""

    def measure(run: Run) -> float | None:
        for r in run:
            e = r["extra"]
            if (
                r["section"] == _REPLICAS
                and e.get("workload") == workload
                and e.get("config") == config
            ):
                return None if e.get(key) is None else float(e[key])
        return None

    return measure


_APPEND_AFTER = "after: newest, the same statement"
_TYPED = "defi-sql typed (msgspec structs)"
_INGEST = "defi-sql positions.ingest (validated, binary COPY)"

_FLAT = "binary COPY into today's table, no read model (bench_positions_flat)"

HEADLINES: list[Headline] = [
    Headline(
        "reads",
        "typed reads: faster than psycopg dict_row",
        ratio("psycopg dict_row (untyped)", _TYPED),
        "x",
        "≥ 1.5x",
        lambda v: v >= 1.5,
    ),
    Headline(
        "reads",
        "typed reads: faster than asyncpg, JSONB decoded",
        ratio("asyncpg Records, JSONB decoded", _TYPED),
        "x",
        "≥ 1.2x",
        lambda v: v >= 1.2,
    ),
    Headline(
        "reads",
        "typed reads: faster than the SQLAlchemy 2 ORM",
        ratio("SQLAlchemy 2 ORM", _TYPED),
        "x",
        "≥ 3x",
        lambda v: v >= 3.0,
    ),
    Headline(
        "reads",
        "typed reads: time against psycopg tuples, JSONB undecoded (the floor)",
        lambda run: (lambda r: None if r is None else 1 / r)(
            ratio("psycopg tuples, JSONB as bytes (floor)", _TYPED)(run)
        ),
        "x",
        "≤ 1.3x",
        lambda v: v <= 1.3,
    ),
    Headline(
        "ingest",
        "snapshot ingest (binary COPY)",
        rows_per_second(_INGEST),
        " rows/s",
        "≥ 100,000 rows/s",
        lambda v: v >= 100_000,
        digits=0,
    ),
    Headline(
        "ingest",
        "ingest: faster than psycopg executemany",
        ratio("psycopg executemany (pipeline)", _INGEST),
        "x",
        "≥ 3x",
        lambda v: v >= 3.0,
    ),
    Headline(
        "ingest",
        "ingest: faster than the SQLAlchemy 2 ORM",
        ratio("SQLAlchemy 2 ORM (add_all)", _INGEST),
        "x",
        "≥ 25x",
        lambda v: v >= 25.0,
    ),
    Headline(
        "ingest",
        "ingest into positions: rows/s against raw COPY into today's table without the read model",
        extra(_FLAT, "speedup"),
        "x",
        "≥ 0.8x",
        lambda v: v >= 0.8,
    ),
    Headline(
        "latency",
        "point queries: p50 at 1M positions against 10k (the worst query)",
        worst_point_growth,
        "x",
        "≤ 2x",
        lambda v: v <= 2.0,
    ),
    Headline(
        "latency",
        f"set-based queries that grow no faster than their result (of {SET_BASED})",
        set_based_met,
        "",
        str(SET_BASED),
        lambda v: v >= SET_BASED,
        digits=0,
    ),
    Headline(
        "memory",
        "streaming 1M positions: peak memory of iterate_all",
        extra("iterate_all (sync)", "peak_rss_mb"),
        " MB",
        "< 200 MB",
        lambda v: v < 200,
        digits=0,
    ),
    Headline(
        "memory",
        "the same rows through fetch_all: peak memory",
        extra("fetch_all (every row in one list)", "peak_rss_mb"),
        " MB",
        "",
        lambda v: True,
        digits=0,
    ),
    Headline(
        "delivery",
        "delivery, 4 worker processes",
        extra("4 workers (processes)", "alerts_per_second"),
        " alerts/s",
        "",
        lambda v: True,
        digits=0,
    ),
    Headline(
        "delivery",
        "delivery, 1 worker",
        extra("1 worker", "alerts_per_second"),
        " alerts/s",
        "",
        lambda v: True,
        digits=0,
    ),
    Headline(
        "delivery",
        "delivery, 4 workers, channel failing 10% of sends (retries, dead letters)",
        extra("4 workers (processes), channel failing 10% of sends", "alerts_per_second"),
        " alerts/s",
        "",
        lambda v: True,
        digits=0,
    ),
    Headline(
        "delivery",
        "delivery: duplicates, alerts left and alerts not sent, all runs",
        delivery_faults,
        "",
        "0",
        lambda v: v == 0,
        digits=0,
    ),
    Headline(
        "delivery",
        "new alert to claim, worker woken by NOTIFY: p99",
        extra("wake-up: NOTIFY, then claim", "p99_ms"),
        " ms",
        "≤ 50 ms",
        lambda v: v <= 50,
        digits=1,
    ),
    Headline(
        "delivery",
        "new alert to claim, worker polling every second: p50",
        extra("wake-up: 1 s poll, then claim", "p50_ms"),
        " ms",
        "",
        lambda v: True,
        digits=0,
    ),
    Headline(
        "events",
        "event appends, 8 writers: rate after migration 0031 against before (same statement)",
        extra(f"event appends, 8 writers: {_APPEND_AFTER}", "vs_before"),
        "x",
        "≥ 0.7x",
        lambda v: v >= 0.7,
    ),
    Headline(
        "events",
        "event appends, 1 writer: rate after migration 0031 against before (same statement)",
        extra(f"event appends, 1 writer: {_APPEND_AFTER}", "vs_before"),
        "x",
        "≥ 0.7x",
        lambda v: v >= 0.7,
    ),
    Headline(
        "events",
        "new event to a subscriber's handler, woken by NOTIFY: p99",
        extra("new event to handler: subscriptions.run, woken by NOTIFY", "p99_ms"),
        " ms",
        "≤ 50 ms",
        lambda v: v <= 50,
        digits=1,
    ),
    Headline(
        "events",
        "new event to a subscriber's handler, polling every second: p99",
        extra("new event to handler: polling every 1 s, no listener", "p99_ms"),
        " ms",
        "",
        lambda v: True,
        digits=0,
    ),
    Headline(
        "events",
        "catch-up through a subscription: rows/s against typed reads of positions",
        extra("catch-up: every event through subscriptions.poll", "vs_typed_reads"),
        "x",
        "≥ 0.5x",
        lambda v: v >= 0.5,
    ),
    Headline(
        "risk",
        "every tick, at-risk users: server passes over the users (20k users)",
        risk("main", "at-risk users", "passes"),
        "",
        "≤ 20",
        lambda v: v <= 20,
        digits=1,
    ),
    Headline(
        "risk",
        "every tick, at-risk users: server speed-up over pre-#11 (20k users)",
        risk("main", "at-risk users", "speedup"),
        "x",
        "≥ 10x",
        lambda v: v >= 10,
    ),
    Headline(
        "risk",
        "every tick, at-risk users: API speed-up over pre-#11 (20k users)",
        risk("main", "at-risk users", "api_speedup"),
        "x",
        "",  # the target is the server's: the rows' decoding caps this one (bench/README.md)
        lambda v: True,
    ),
    Headline(
        "risk",
        "every tick, due intents: server passes over the users (20k users)",
        risk("main", "due intents", "passes"),
        "",
        "≤ 20",
        lambda v: v <= 20,
        digits=1,
    ),
    Headline(
        "risk",
        "every tick, due intents: server speed-up over pre-#11 (20k users)",
        risk("main", "due intents", "speedup"),
        "x",
        "≥ 10x",
        lambda v: v >= 10,
    ),
    Headline(
        "risk",
        "every tick, due intents: API speed-up over pre-#11 (20k users)",
        risk("main", "due intents", "api_speedup"),
        "x",
        "",  # the target is the server's: the rows' decoding caps this one (bench/README.md)
        lambda v: True,
    ),
    Headline(
        "risk",
        "every tick, latest per user (all users): server passes over the users (20k users)",
        risk("main", "latest per user (all users)", "passes"),
        "",
        "≤ 20",
        lambda v: v <= 20,
        digits=1,
    ),
    Headline(
        "risk",
        "every tick: answers that differ from the pre-#11 queries' (every size and depth)",
        risk("answers", "every tick", "differ"),
        "",
        "0",
        lambda v: v == 0,
        digits=0,
    ),
    Headline(
        "risk",
        "every tick, at-risk and due: p50 growth 2k → 100k users over users growth (worse)",
        risk_worst("growth_vs_users"),
        "",
        "≤ 1",
        lambda v: v <= 1,
    ),
    Headline(
        "risk",
        "history 50 → 2,500 snapshots a user: p50 growth of the worst query reading positions",
        risk_worst("depth_ratio"),
        "x",
        "≤ 1.3x",
        lambda v: v <= 1.3,
    ),
    # #12 sets no target: informational rows (no target, so no verdict); the servers and
    # the client threads share the bench machine's cores (2 for the figures committed)
    Headline(
        "replicas",
        "read replicas, per-request reads, 4 clients: ops/s of primary + 1 replica (router) "
        "against the primary alone, one machine",
        replicas("per_request", "routed", "vs_primary"),
        "x",
        "",
        lambda v: True,
    ),
    Headline(
        "replicas",
        "read replicas, every-tick reads, 4 clients: ops/s of primary + 1 replica (router) "
        "against the primary alone, one machine",
        replicas("every_tick", "routed", "vs_primary"),
        "x",
        "",
        lambda v: True,
    ),
    Headline(
        "replicas",
        "read replicas, read-your-writes, 4 clients: write-then-read cycles/s of primary + 1 "
        "replica (router) against the primary alone, one machine",
        replicas("read_your_writes", "routed", "vs_primary"),
        "x",
        "",
        lambda v: True,
    ),
    Headline(
        "replicas",
        "read replicas, read-your-writes: the read's p50 after its write, on a replica "
        "(waiting for its replay) against on the primary alone",
        replicas("read_your_writes", "routed", "read_p50_vs_primary"),
        "x",
        "",
        lambda v: True,
    ),
    Headline(
        "replicas",
        "read replicas, read-your-writes: reads the primary served after max_wait (0.1 s)",
        replicas("read_your_writes", "routed", "reads_on_primary_percent"),
        "%",
        "",
        lambda v: True,
        digits=1,
    ),
    Headline(
        "retention",
        "retention of a month (5M snapshots): a writer's longest stall during retire",
        extra("retire (roll up, detach, drop)", "stall_ms"),
        " ms",
        "< 1,000 ms",
        lambda v: v < 1000,
        digits=0,
    ),
    Headline(
        "retention",
        "the same writer's longest stall during a DELETE of the same rows",
        extra("DELETE, one statement", "stall_ms"),
        " ms",
        "",
        lambda v: True,
        digits=0,
    ),
    Headline(
        "retention",
        "retention: retire's time against the DELETE's",
        extra("retire (roll up, detach, drop)", "vs_delete_time"),
        "x",
        "",
        lambda v: True,
    ),
    Headline(
        "retention",
        "retention: retire's WAL against the DELETE's",
        extra("retire (roll up, detach, drop)", "vs_delete_wal"),
        "x",
        "",
        lambda v: True,
        digits=3,
    ),
]


def _number(value: float, digits: int) -> str:
    return f"{value:,.{digits}f}"


@dataclass(frozen=True)
class Row:
    headline: Headline
    values: list[float]

    @property
    def median(self) -> float:
        return statistics.median(self.values)

    def cells(self, commit: str) -> list[str]:
        h, d = self.headline, self.headline.digits
        low, high = min(self.values), max(self.values)
        spread = _number(low, d) if low == high else f"{_number(low, d)}-{_number(high, d)}"
        spread += h.unit
        verdict = "" if not h.target else ("met" if h.met(self.median) else "**missed**")
        return [
            h.label,
            f"{_number(self.median, d)}{h.unit}",
            f"{spread} ({len(self.values)} runs)",
            h.target,
            verdict,
            commit,
        ]


def summarize(runs: Sequence[Run], sections: Sequence[str]) -> list[Row]:
    """Every headline of the sections that ran, with its value in each run."""
    rows = []
    for h in HEADLINES:
        if h.section not in sections:
            continue
        values = [v for v in (h.measure(run) for run in runs) if v is not None]
        if values:
            rows.append(Row(h, values))
    return rows


HEADER = ["figure", "median", "range", "target", "verdict", "measured on"]


def table(lines: Sequence[Sequence[str]]) -> str:
    out = ["| " + " | ".join(HEADER) + " |", "|---|---:|---:|---|---|---|"]
    out += ["| " + " | ".join(cells) + " |" for cells in lines]
    return "\n".join(out) + "\n"


def parse(text: str) -> dict[str, list[str]]:
    """The rows of a summary table, by figure label."""
    rows = {}
    for line in text.splitlines():
        if not line.startswith("| ") or line.startswith("| figure |"):
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == len(HEADER):
            rows[cells[0]] = cells
    return rows


def merge(old: str, rows: Sequence[Row], commit: str) -> str:
    """The summary table with ``rows`` replacing their figures; figures of
    sections that did not run keep their earlier value and commit."""
    kept = parse(old)
    fresh = {row.headline.label: row.cells(commit) for row in rows}
    lines = [fresh.get(h.label) or kept.get(h.label) for h in HEADLINES]
    return table([line for line in lines if line])


def commit_of_code() -> str:
    """HEAD's short hash, with ``+changes`` when the measured code differs from it."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "defi_sql", "sql", "bench/*.py"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return f"{head}+changes" if dirty else head


def readme_block(readme: str) -> str:
    """The table between the README's markers ('' when there are none)."""
    match = re.search(re.escape(BEGIN) + r"\n(.*?)" + re.escape(END), readme, re.S)
    return match.group(1) if match else ""


def write(rows: Sequence[Row], *, when: str, environment: str) -> Path:
    """Merge ``rows`` into bench/summary.md and the README's block; return the summary's path."""
    commit = commit_of_code()
    old = SUMMARY.read_text() if SUMMARY.exists() else ""
    body = merge(old, rows, commit)
    SUMMARY.write_text(
        "# Benchmark headline\n\n"
        f"Written by `make bench` ({when}; {environment}). Each figure is the median\n"
        f"and range of at least {MIN_RUNS} full runs, each on a fresh server; "
        "ratios are taken within one run.\n"
        "Method and every figure: [README.md](README.md).\n\n" + body
    )
    readme = README.read_text()
    if BEGIN in readme:
        start = readme.index(BEGIN) + len(BEGIN) + 1
        README.write_text(readme[:start] + body + readme[readme.index(END) :])
    return SUMMARY
