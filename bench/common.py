"""Shared benchmark plumbing: a throwaway embedded server, timing, result tables."""

from __future__ import annotations

import functools
import gc
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from defi_sql.dev import embedded
from defi_sql.dev.seed import seed_users
from defi_sql.migrate import Migrator
from defi_sql.statements import Statement, load_statements

#: The bench server's shared_buffers: a quarter of a small production host's
#: memory (the embedded server's own default, 128MB, suits a laptop, not 1M rows).
SHARED_BUFFERS = "2GB"
#: snapshots per generated user in :func:`load_positions`
SNAPSHOTS_PER_USER = 50
#: the benchmarks' own named statements (baselines, DDL of scratch tables...)
BENCH_SQL_DIR = Path(__file__).resolve().parent / "sql"


@dataclass
class Result:
    section: str
    name: str
    seconds: float
    rows: int
    baseline: str
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds if self.seconds else 0.0


@functools.cache
def _bench_statements() -> dict[str, Statement]:
    return load_statements(BENCH_SQL_DIR)


def bench_sql(name: str) -> str:
    """The SQL of the benchmarks' own statement ``name`` (``bench/sql/*.sql``), loaded
    and checked as the project's queries are."""
    return _bench_statements()[name].sql


@contextmanager
def throwaway_database(version: int | None = None) -> Iterator[str]:
    """A migrated database on a fresh embedded server, removed afterwards."""
    version = version or embedded.pg_version()
    root = Path(tempfile.mkdtemp(prefix="defi-sql-bench-"))
    try:
        url = embedded.start(version, database="defi_bench", root=root)
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(f"ALTER SYSTEM SET shared_buffers = '{SHARED_BUFFERS}'")
        embedded.restart(version, root=root)  # shared_buffers takes a restart
        with Migrator(url) as migrator:
            migrator.migrate()
        yield url
    finally:
        embedded.stop(version, root=root)
        import shutil

        shutil.rmtree(root, ignore_errors=True)


def median_seconds(run: Callable[[], object], repeat: int) -> float:
    """Median wall time of ``repeat`` runs after one warm-up; GC collected between runs."""
    run()
    times = []
    for _ in range(repeat):
        gc.collect()
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


@dataclass(frozen=True)
class Budget:
    """Repetitions of the runs :func:`interleaved` times: up to ``reps``, at least ``least``,
    no new one started after ``seconds`` (beyond ``least``)."""

    reps: int
    least: int
    seconds: float


@dataclass
class Sample:
    seconds: list[float]
    rows: list[int]

    @property
    def p50(self) -> float:
        return statistics.median(self.seconds)

    @property
    def p95(self) -> float:
        if len(self.seconds) < 2:
            return self.seconds[0]
        return statistics.quantiles(self.seconds, n=20, method="inclusive")[18]

    @property
    def result_rows(self) -> float:
        return statistics.median(self.rows)


def interleaved(
    runs: Sequence[Callable[[], int]],
    budget: Budget,
    *,
    warm_up: bool = True,
    rotate: int = 0,
) -> list[Sample]:
    """Time each of ``runs``, after one warm-up each, round-robin within ``budget``.

    The objects alive before are frozen out of the collector's sight, so the
    collection before each run is quick and no run pays for an earlier one's garbage.
    ``rotate``: each round starts that many runs later than the one before, so
    that no run is always the first of a round, or always follows the same one.
    """
    for run in runs if warm_up else ():
        run()
    gc.collect()
    gc.freeze()
    samples = [Sample([], []) for _ in runs]
    deadline = time.perf_counter() + budget.seconds
    done = 0
    try:
        while done < budget.reps and (done < budget.least or time.perf_counter() < deadline):
            start = done * rotate % len(runs)
            order = list(range(start, len(runs))) + list(range(start))
            for run, sample in ((runs[i], samples[i]) for i in order):
                gc.collect()
                started = time.perf_counter()
                rows = run()
                sample.seconds.append(time.perf_counter() - started)
                sample.rows.append(rows)
            done += 1
    finally:
        gc.unfreeze()
    return samples


def server_version(url: str) -> str:
    with psycopg.connect(url) as conn:
        row = conn.execute("SHOW server_version").fetchone()
    return str(row[0]) if row else "?"


@dataclass(frozen=True)
class Target:
    """What the baseline must show against a variant: ``faster`` by at least
    ``factor`` (variant time / baseline time >= factor), or ``within`` a factor
    of it (baseline time / variant time <= factor)."""

    kind: str
    factor: float

    def check(self, ratio: float) -> str:
        if self.kind == "faster":
            met = ratio >= self.factor
            return f"≥ {self.factor:g}x faster: {'met' if met else 'MISSED'}"
        met = 1 / ratio <= self.factor
        return f"within {self.factor:g}x: {'met' if met else 'MISSED'} ({1 / ratio:.2f}x)"


def print_table(title: str, results: list[Result], targets: dict[str, Target]) -> None:
    """A markdown table: each variant's median, rows/s and time relative to the baseline."""
    by_name = {r.name: r for r in results}
    print(f"\n## {title}\n")
    print("| variant | median | rows/s | time vs baseline | baseline's target |")
    print("|---|---:|---:|---:|---|")
    for r in results:
        ratio = r.seconds / by_name[r.baseline].seconds
        target = targets.get(r.name)
        verdict = "" if target is None else target.check(ratio)
        print(
            f"| {r.name} | {r.seconds * 1000:,.0f} ms | {r.rows_per_second:,.0f} "
            f"| {ratio:.2f}x | {verdict} |"
        )


def print_markdown(
    title: str, header: Sequence[str], rows: Sequence[Sequence[str]], align: str = ""
) -> None:
    """A markdown table with a title; ``align`` has an ``l`` or ``r`` per column
    (by default the first column left, the others right)."""
    align = align or "l" + "r" * (len(header) - 1)
    print(f"\n## {title}\n")
    print("| " + " | ".join(header) + " |")
    print("|" + "".join("---:|" if a == "r" else "---|" for a in align))
    for row in rows:
        print("| " + " | ".join(row) + " |")


def database_url(url: str, dbname: str) -> str:
    """``url`` with another database name: same server, same user."""
    params = conninfo_to_dict(url)
    params["dbname"] = dbname
    return make_conninfo("", **params)


def database_name(url: str) -> str:
    return str(conninfo_to_dict(url)["dbname"])


def sibling_database(url: str, name: str, *, fresh: bool = False) -> str:
    """A migrated database ``name`` on ``url``'s server (dropped first when ``fresh``).

    For a section whose data must not mix with another's: a data set of a given
    size, or a queue that a section empties and refills.
    """
    admin = database_url(url, "postgres")
    if fresh:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
    embedded.create_database(admin, name)
    target = database_url(url, name)
    with Migrator(target) as migrator:
        migrator.migrate()
    return target


def count_positions(url: str) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT count(*) FROM positions").fetchone()
    return int(row[0]) if row else 0


def load_positions(url: str, rows: int) -> int:
    """Seed users with 50 snapshots each until there are ``rows`` positions; return the count.

    Idempotent: the generator numbers its users, so a second call (or one for
    fewer rows) adds nothing, and one for more rows adds only the users
    missing. ``rows`` is rounded up to a multiple of 50. Prints how long it took.
    """
    users = -(-rows // SNAPSHOTS_PER_USER)
    started = time.perf_counter()
    with psycopg.connect(url, autocommit=True) as conn:
        added = seed_users(conn, users, snapshots=SNAPSHOTS_PER_USER, chunk=500)
        if added:
            conn.execute("VACUUM ANALYZE positions")
    count = count_positions(url)
    seconds = time.perf_counter() - started
    print(
        f"positions in {database_name(url)}: {count:,} "
        f"({added:,} users of {SNAPSHOTS_PER_USER} snapshots added in {seconds:.1f} s)"
    )
    return count


def positions_database(url: str, rows: int) -> str:
    """A database of its own on ``url``'s server holding ``rows`` generated positions.

    Named after the size (``defi_bench_positions_1000000``) and reused by every
    section that asks for the same size in the same run, so each data set is
    generated once and sections of different sizes never see each other's rows.
    """
    target = sibling_database(url, f"{database_name(url)}_positions_{rows}")
    load_positions(target, rows)
    return target
