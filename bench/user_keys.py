"""What the (user_id, id) keys of migrations 0050-0052 cost alerts and intents:
insert throughput and index size, before the keys and after.

`python -m bench.user_keys [--users N] [--rows N] [--one-row N] [--rounds N]`
(not a section of `make bench`: it measures one change, for its migration's
comment and docs/scale-out.md).

Method: a throwaway embedded server (bench.common's, shared_buffers 2GB), two
databases on it, migrated to the end (after) and rolled back to before 0050
(before); the same users in each. Every round writes to each database in turn
(the order alternating by round): `rows` alerts in one INSERT ... SELECT, then
`one_row` alerts through the API's alerts.create, one per transaction (as the
app and a fan-out write them), then the same for intents; a first round warms
up and is not counted. The figure of each is the median over the rounds of
rows per second, and after / before is the ratio of those medians. Sizes are
read at the end, when both databases hold the same rows.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import psycopg

from bench.common import bench_sql, print_markdown, sibling_database, throwaway_database
from defi_sql import sync as db
from defi_sql.migrate import Migrator
from defi_sql.models import IntentAction, IntentCondition

FIRST_KEY = "0050.create-index-alerts-user-id-id"


def _before(url: str) -> None:
    """Roll ``url`` back to the migration before the user keys."""
    with Migrator(url) as migrator:
        applied = [m.id for m in migrator.status() if m.applied]
        previous = applied[applied.index(FIRST_KEY) - 1]
        migrator.rollback(to=previous)


def _timed(run: Callable[[], object]) -> float:
    started = time.perf_counter()
    run()
    return time.perf_counter() - started


def _write(url: str, rows: int, one_row: int) -> dict[str, float]:
    """Seconds of each write, in one database."""
    with psycopg.connect(url, autocommit=True) as conn:
        found = conn.execute(bench_sql("user_keys_user_ids"), {"count": one_row})
        users = [row[0] for row in found]
        seconds = {
            "alerts, one INSERT ... SELECT": _timed(
                lambda: conn.execute(bench_sql("user_keys_alerts"), {"count": rows})
            ),
            "alerts.create, one per transaction": _timed(
                lambda: [
                    db.alerts.create(conn, user_id=u, type="bench", channel="in_app", message="m")
                    for u in users
                ]
            ),
            "intents, one INSERT ... SELECT": _timed(
                lambda: conn.execute(bench_sql("user_keys_intents"), {"count": rows})
            ),
            "intents.create, one per transaction": _timed(
                lambda: [
                    db.intents.create(
                        conn,
                        user_id=u,
                        protocol="aave",
                        chain_id=1,
                        condition=IntentCondition(operator="<", value=Decimal("1.2")),
                        action=IntentAction(type="notify"),
                    )
                    for u in users
                ]
            ),
        }
    return seconds


def _mb(size: int | None) -> str:
    return "-" if size is None else f"{size / 2**20:,.1f}"


def run(users: int, rows: int, one_row: int, rounds: int) -> None:
    with throwaway_database() as url:
        after = sibling_database(url, "user_keys_after")
        before = sibling_database(url, "user_keys_before")
        _before(before)
        for target in (before, after):
            with psycopg.connect(target, autocommit=True) as conn:
                conn.execute(bench_sql("user_keys_users"), {"count": users})
                conn.execute("VACUUM ANALYZE users")
        times: dict[str, dict[str, list[float]]] = {"before": {}, "after": {}}
        for r in range(rounds + 1):  # round 0 warms up and is not counted
            order = [("before", before), ("after", after)]
            for label, target in order if r % 2 == 0 else order[::-1]:
                for name, seconds in _write(target, rows, one_row).items():
                    if r:
                        times[label].setdefault(name, []).append(seconds)
        table = []
        for name in times["before"]:
            count = rows if "SELECT" in name else one_row
            rates = {k: count / statistics.median(v[name]) for k, v in times.items()}
            table.append(
                [
                    name,
                    f"{rates['before']:,.0f}",
                    f"{rates['after']:,.0f}",
                    f"{rates['after'] / rates['before']:.2f}x",
                ]
            )
        print_markdown(
            f"Inserts, rows/s (median of {rounds} rounds)",
            ["write", "before 0050", "after 0052", "after / before"],
            table,
        )
        sizes: dict[str, dict[str, Any]] = {}
        for label, target in (("before", before), ("after", after)):
            with psycopg.connect(target) as conn:
                sizes[label] = dict(conn.execute(bench_sql("user_keys_sizes")).fetchall())
        with psycopg.connect(after) as conn:
            counted = conn.execute(bench_sql("user_keys_counts")).fetchone()
        print(f"\nrows in each database at the end: alerts, intents = {counted}")
        print_markdown(
            "Sizes at the end (MB)",
            ["relation", "before 0050", "after 0052"],
            [
                [
                    name,
                    _mb(sizes["before"].get(name)),
                    _mb(sizes["after"][name]),
                ]
                for name in sizes["after"]
            ],
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--one-row", type=int, default=2_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    run(args.users, args.rows, args.one_row, args.rounds)


if __name__ == "__main__":
    main()
