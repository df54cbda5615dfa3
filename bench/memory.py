"""Streaming memory: 1M positions through ``iterate_all`` against ``fetch_all``.

Each variant runs in a child process of its own (``python -m bench.memory
VARIANT URL``), so one variant's heap never inflates another's figure. The
child runs one tiny query so that imports and caches are in place, restarts
its peak RSS from the current RSS (``/proc/self/clear_refs``) and notes that
RSS, then reads every row of ``positions_iterate_all`` and reads its peak RSS
(``VmHWM``: see :func:`_peak_mb`); it prints both as JSON. "growth" is the
peak minus the RSS before: what the read cost, connection included. The
issue's target is on the whole process: peak RSS under 200 MB while streaming.
"""

from __future__ import annotations

import asyncio
import gc
import json
import resource
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

import psycopg

from bench.common import Result, positions_database, print_markdown
from defi_sql import aio, sync
from defi_sql.models import Position
from defi_sql.statements import statement
from defi_sql.sync._execute import fetch_all

SECTION = "streaming memory"
BASELINE = "fetch_all (every row in one list)"
STREAMED = ("iterate_all (sync)", "iterate_all (async)")
TARGET_MB = 200.0
BATCH = 2000


def _fetch_all(url: str) -> int:
    with psycopg.connect(url, autocommit=True) as conn:
        rows = fetch_all(conn, "positions_iterate_all", {}, Position)
        return len(rows)


def _iterate_sync(url: str) -> int:
    count = 0
    with psycopg.connect(url, autocommit=True) as conn:
        for _ in sync.positions.iterate_all(conn, batch=BATCH):
            count += 1
    return count


def _iterate_async(url: str) -> int:
    async def drain() -> int:
        count = 0
        async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
            async for _ in aio.positions.iterate_all(conn, batch=BATCH):
                count += 1
        return count

    return asyncio.run(drain())


def _client_cursor(url: str) -> int:
    """A plain psycopg cursor iterated row by row: the whole result is still in memory."""
    count = 0
    with psycopg.connect(url, autocommit=True) as conn:
        for _ in conn.execute(statement("positions_iterate_all").sql):
            count += 1
    return count


#: variant name -> what the child runs; the baseline first
VARIANTS: dict[str, Callable[[str], int]] = {
    BASELINE: _fetch_all,
    STREAMED[0]: _iterate_sync,
    STREAMED[1]: _iterate_async,
    "psycopg client-side cursor, iterated": _client_cursor,
}


def _status_mb(field: str) -> float | None:
    """A ``Vm...`` line of /proc/self/status in MB (Linux), or None."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def _peak_mb() -> float:
    """This process's peak RSS.

    ``VmHWM`` rather than ``ru_maxrss``: Linux carries ``ru_maxrss`` over
    ``execve`` from the process that forked, so a child of a parent that
    grew to 500 MB would report 500 MB whatever it did.
    """
    hwm = _status_mb("VmHWM")
    return hwm if hwm is not None else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _reset_peak() -> bool:
    """Start the peak RSS again from the current RSS (Linux >= 4.0), so that a
    passing peak of the imports or the warm-up does not hide the query's."""
    try:
        with open("/proc/self/clear_refs", "w") as clear:
            clear.write("5")
    except OSError:
        return False
    return True


def child(variant: str, url: str) -> dict[str, Any]:
    """In the child process: measure one variant."""
    with psycopg.connect(url, autocommit=True) as conn:  # warm-up: one row, every cache
        row = conn.execute("SELECT user_id FROM positions LIMIT 1").fetchone()
        assert row is not None, "no positions to read"
        sync.positions.latest(conn, row[0])
    asyncio.run(asyncio.sleep(0))
    gc.collect()
    reset = _reset_peak()
    before = (_status_mb("VmRSS") if reset else None) or _peak_mb()
    started = time.perf_counter()
    rows = VARIANTS[variant](url)
    seconds = time.perf_counter() - started
    peak = _peak_mb()
    return {"rows": rows, "seconds": seconds, "before_mb": before, "peak_mb": peak, "reset": reset}


def measure(variant: str, url: str) -> dict[str, Any]:
    """Run ``variant`` in a fresh interpreter; its figures."""
    done = subprocess.run(
        [sys.executable, "-m", "bench.memory", variant, url],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"memory variant {variant!r} failed:\n{done.stderr}")
    figures: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return figures


def run(url: str, *, quick: bool = False) -> list[Result]:
    rows = 100_000 if quick else 1_000_000
    data = positions_database(url, rows)
    results = []
    for name in VARIANTS:
        f = measure(name, data)
        extra = {
            "peak_rss_mb": round(f["peak_mb"], 1),
            "before_mb": round(f["before_mb"], 1),
            "growth_mb": round(f["peak_mb"] - f["before_mb"], 1),
        }
        results.append(Result(SECTION, name, f["seconds"], f["rows"], BASELINE, extra))
    base = results[0].extra["growth_mb"]
    table = []
    for r in results:
        ratio = r.extra["growth_mb"] / base if base > 0 else float("nan")
        r.extra["growth_vs_baseline"] = round(ratio, 4)
        verdict = ""
        if r.name in STREAMED:
            met = r.extra["peak_rss_mb"] < TARGET_MB
            r.extra["target"] = f"peak < {TARGET_MB:g} MB: {'met' if met else 'MISSED'}"
            verdict = r.extra["target"]
        table.append(
            [
                r.name,
                f"{r.rows:,}",
                f"{r.extra['peak_rss_mb']:,.0f} MB",
                f"{r.extra['growth_mb']:,.0f} MB",
                f"{ratio:.3f}x",
                f"{r.seconds:,.1f} s",
                verdict,
            ]
        )
    print_markdown(
        f"{SECTION} ({rows:,} positions, batch {BATCH}, one child process per variant)",
        [
            "variant",
            "rows",
            "peak RSS",
            "growth during the read",
            "memory vs fetch_all",
            "time",
            "target",
        ],
        table,
        align="lrrrrrl",
    )
    return results


if __name__ == "__main__":
    print(json.dumps(child(sys.argv[1], sys.argv[2])))
