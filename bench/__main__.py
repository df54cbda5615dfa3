"""Run the benchmarks: `python -m bench [--quick]` (or `make bench`)."""

from __future__ import annotations

import argparse
import json
import platform
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path

from bench import reads
from bench.common import server_version, throwaway_database

RESULTS = Path(__file__).resolve().parent / "results"


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer repetitions (about a minute)")
    args = parser.parse_args()
    repeat = 3 if args.quick else 5
    with throwaway_database() as url:
        version = server_version(url)
        print(f"# defi-sql benchmarks, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC")
        print(f"PostgreSQL {version}, Python {platform.python_version()}, {platform.machine()}")
        results = reads.run(url, repeat=repeat)
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / "latest.json"
    out.write_text(
        json.dumps(
            {
                "when": datetime.now(UTC).isoformat(),
                "postgresql": version,
                "python": platform.python_version(),
                "results": [asdict(r) for r in results],
            },
            indent=2,
        )
    )
    print(f"\nresults written to {out}")


if __name__ == "__main__":
    main()
