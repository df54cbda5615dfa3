"""Run the benchmarks: `python -m bench [--quick] [--only NAME]` (or `make bench`)."""

from __future__ import annotations

import argparse
import json
import platform
from collections.abc import Callable
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path

from bench import delivery, ingest, latency, memory, reads
from bench.common import Result, server_version, throwaway_database

RESULTS = Path(__file__).resolve().parent / "results"


def _reads(url: str, *, quick: bool = False) -> list[Result]:
    return reads.run(url, repeat=3 if quick else 5)


#: every section in the order it runs: name, run(url, quick=...) -> results
SECTIONS: list[tuple[str, Callable[..., list[Result]]]] = [
    ("reads", _reads),
    ("ingest", ingest.run),
    # before memory: it grows the database of memory's size, which memory then reuses
    ("latency", latency.run),
    ("memory", memory.run),
    ("delivery", delivery.run),
]


def main() -> None:
    names = [name for name, _ in SECTIONS]
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="smaller data, fewer repetitions")
    parser.add_argument(
        "--only",
        action="append",
        choices=names,
        metavar="NAME",
        help=f"run only this section (repeatable): {', '.join(names)}",
    )
    args = parser.parse_args()
    chosen = [(name, run) for name, run in SECTIONS if not args.only or name in args.only]
    results: list[Result] = []
    with throwaway_database() as url:
        version = server_version(url)
        print(f"# defi-sql benchmarks, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC")
        print(f"PostgreSQL {version}, Python {platform.python_version()}, {platform.machine()}")
        for _, run in chosen:
            results += run(url, quick=args.quick)
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / "latest.json"
    out.write_text(
        json.dumps(
            {
                "when": datetime.now(UTC).isoformat(),
                "postgresql": version,
                "python": platform.python_version(),
                "quick": args.quick,
                "sections": [name for name, _ in chosen],
                "results": [asdict(r) for r in results],
            },
            indent=2,
        )
    )
    print(f"\nresults written to {out}")


if __name__ == "__main__":
    main()
