"""Shared benchmark plumbing: a throwaway embedded server, timing, result tables."""

from __future__ import annotations

import gc
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg

from defi_sql import embedded
from defi_sql.migrations import Migrator


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


@contextmanager
def throwaway_database(version: int | None = None) -> Iterator[str]:
    """A migrated database on a fresh embedded server, removed afterwards."""
    version = version or embedded.pg_version()
    root = Path(tempfile.mkdtemp(prefix="defi-sql-bench-"))
    try:
        url = embedded.start(version, database="defi_bench", root=root)
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
