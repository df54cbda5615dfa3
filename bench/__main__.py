"""Run the benchmarks: `python -m bench [--runs N] [--quick] [--only NAME]` (or `make bench`)."""

from __future__ import annotations

import argparse
import json
import platform
import time
from collections.abc import Callable
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import (
    delivery,
    events,
    ingest,
    latency,
    memory,
    reads,
    replicas,
    retention,
    risk,
    summary,
)
from bench.common import Result, server_version, throwaway_database

RESULTS = Path(__file__).resolve().parent / "results"


def _reads(url: str, *, quick: bool = False) -> list[Result]:
    return reads.run(url, repeat=3 if quick else 5)


#: every section in the order it runs: name, run(url, quick=...) -> results
SECTIONS: list[tuple[str, Callable[..., list[Result]]]] = [
    # first: its replica is a copy of the whole server, made before the others fill it
    ("replicas", replicas.run),
    ("reads", _reads),
    ("ingest", ingest.run),
    # before memory: it grows the database of memory's size, which memory then reuses
    ("latency", latency.run),
    ("memory", memory.run),
    ("delivery", delivery.run),
    ("events", events.run),
    ("risk", risk.run),
    ("retention", retention.run),
]


def main() -> None:
    names = [name for name, _ in SECTIONS]
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="smaller data, fewer repetitions")
    parser.add_argument(
        "--runs",
        type=int,
        default=None,
        metavar="N",
        help=f"run every chosen section N times, each on a fresh server (default "
        f"{summary.MIN_RUNS}, or 1 with --quick); {summary.MIN_RUNS} or more full runs "
        "write the headline (bench/summary.md and the README's table)",
    )
    parser.add_argument(
        "--only",
        action="append",
        choices=names,
        metavar="NAME",
        help=f"run only this section (repeatable): {', '.join(names)}",
    )
    args = parser.parse_args()
    runs = args.runs if args.runs is not None else (1 if args.quick else summary.MIN_RUNS)
    if runs < 1:
        parser.error("--runs must be at least 1")
    chosen = [(name, run) for name, run in SECTIONS if not args.only or name in args.only]
    started = time.perf_counter()
    all_runs: list[list[dict[str, Any]]] = []
    version = "?"
    for number in range(1, runs + 1):
        results: list[Result] = []
        with throwaway_database() as url:
            version = server_version(url)
            print(
                f"# defi-sql benchmarks, run {number} of {runs}, "
                f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC"
            )
            print(f"PostgreSQL {version}, Python {platform.python_version()}, {platform.machine()}")
            for _, run in chosen:
                results += run(url, quick=args.quick)
        all_runs.append([asdict(r) for r in results])
    minutes, seconds = divmod(round(time.perf_counter() - started), 60)
    when = f"{datetime.now(UTC):%Y-%m-%d}"
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / "latest.json"
    out.write_text(
        json.dumps(
            {
                "when": datetime.now(UTC).isoformat(),
                "commit": summary.commit_of_code(),
                "postgresql": version,
                "python": platform.python_version(),
                "quick": args.quick,
                "sections": [name for name, _ in chosen],
                "runs": all_runs,
            },
            indent=2,
        )
    )
    rows = summary.summarize(all_runs, [name for name, _ in chosen])
    print(f"\n# Headline: median and range of {runs} run(s), {minutes} min {seconds} s in all\n")
    print(summary.table([row.cells(summary.commit_of_code()) for row in rows]))
    print(f"raw results of every run written to {out}")
    if args.quick or runs < summary.MIN_RUNS:
        print(
            f"the headline (bench/summary.md, the README's table) is written only by "
            f"{summary.MIN_RUNS} or more full runs; this run left it as it was"
        )
        return
    environment = (
        f"PostgreSQL {version}, Python {platform.python_version()}, {platform.machine()}, "
        f"{runs} runs in {minutes} min {seconds} s"
    )
    path = summary.write(rows, when=when, environment=environment)
    print(f"headline written to {path.relative_to(summary.ROOT)} and README.md")


if __name__ == "__main__":
    main()
