"""``defi-sql maintain``: the schema owner's housekeeping from the command line
(:func:`defi_sql.sync.maintenance.run`, step by step, saying what each did)."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime, timedelta

from defi_sql.connection import connect
from defi_sql.dev.target import resolve_target
from defi_sql.dev.terminal import out
from defi_sql.sync import events, maintenance, signals

__all__ = ["add_maintain_arguments", "cmd_maintain"]


def _days(text: str) -> int:
    """A whole number of days, at least 1 (argparse reports anything else)."""
    try:
        days = int(text)
    except ValueError:
        days = 0
    if not 1 <= days <= 36_500:
        raise argparse.ArgumentTypeError(
            f"expected a whole number of days from 1 to 36500, not {text!r}"
        )
    return days


def add_maintain_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--ahead",
        type=_days,
        default=90,
        metavar="DAYS",
        help="make partitions of positions until one covers DAYS from now (90)",
    )
    p.add_argument(
        "--width",
        choices=("month", "week", "day"),
        default="month",
        help="the span of each new partition (month)",
    )
    p.add_argument(
        "--archive-events-after",
        type=_days,
        default=90,
        metavar="DAYS",
        help="archive events recorded more than DAYS ago (90)",
    )
    p.add_argument(
        "--retention",
        type=_days,
        metavar="DAYS",
        help="roll up and drop the partitions of positions older than DAYS (default: keep all)",
    )
    p.add_argument(
        "--keep-events",
        dest="archive_events_after",
        action="store_const",
        const=None,
        help="archive no events",
    )


def cmd_maintain(args: argparse.Namespace) -> int:
    target = resolve_target()
    with connect(target.conninfo) as conn:
        out(f"database: {target.display} ({target.source})")
        for made in maintenance.make_partitions(
            conn, ahead=timedelta(days=args.ahead), width=args.width
        ):
            moved = f", {made.moved} snapshot(s) moved in from the default" if made.moved else ""
            span = f"[{made.range_start}, {made.range_end})"
            out(f"made partitions.{made.partition_name} {span}{moved}")
        last = max((p.range_end for p in maintenance.partitions(conn) if p.range_end), default=None)
        waiting = maintenance.waiting(conn)
        out(
            f"positions is partitioned until {last}; {waiting.snapshots} snapshot(s) wait in the "
            f"default partition"
            + (f" ({waiting.earliest} to {waiting.latest})" if waiting.snapshots else "")
        )
        out(f"expired {signals.expire_overdue(conn)} overdue signal(s)")
        if args.archive_events_after is not None:
            before = datetime.now(UTC) - timedelta(days=args.archive_events_after)
            archived = events.archive(conn, before)
            out(f"archived {archived} event(s) recorded before {before:%Y-%m-%d %H:%M} UTC")
        if args.retention is not None:
            for gone in maintenance.retire(conn, retention=timedelta(days=args.retention)):
                out(
                    f"retired partitions.{gone.partition_name}: {gone.snapshots} snapshot(s) "
                    f"rolled up into {gone.days} day(s) of positions_daily"
                )
    return 0
