"""Monthly partitions of positions for test and benchmark databases: a freshly
migrated database made to look like one partitioned for a while.

A migrated database holds two partitions: the legacy one (MINVALUE to the
conversion's month, 0045) and the default one. A database partitioned for a
year holds a partition per month instead, named as
``positions_make_partitions`` (0046) names them.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import psycopg
from psycopg import sql


def month_start(moment: datetime, ahead: int = 0) -> datetime:
    """The first instant (UTC) of ``moment``'s month, ``ahead`` months on
    (back when negative)."""
    months = moment.year * 12 + moment.month - 1 + ahead
    return datetime(months // 12, months % 12 + 1, 1, tzinfo=UTC)


def partition_name(begin: datetime) -> str:
    """The name of the monthly partition starting at ``begin``, as 0046 names it."""
    return f"positions_{begin:%Y_%m}"


def make_month(conn: psycopg.Connection[Any], begin: datetime) -> str:
    """Create the partition of the month starting at ``begin``; its name."""
    name = partition_name(begin)
    conn.execute(
        sql.SQL(
            "CREATE TABLE partitions.{} PARTITION OF positions FOR VALUES FROM ({}) TO ({})"
        ).format(sql.Identifier(name), sql.Literal(begin), sql.Literal(month_start(begin, 1)))
    )
    return name


def by_month(conn: psycopg.Connection[Any], first: datetime, last: datetime) -> list[datetime]:
    """Replace the legacy partition, which must be empty, by monthly ones from
    ``first``'s month to ``last``'s, in one transaction; their starts."""
    starts = [month_start(first)]
    while month_start(starts[-1], 1) <= last:
        starts.append(month_start(starts[-1], 1))
    with conn.transaction():
        row = conn.execute("SELECT EXISTS (SELECT FROM partitions.positions_legacy)").fetchone()
        if row is None or row[0]:
            raise ValueError("positions_legacy holds snapshots: by_month replaces it only empty")
        conn.execute("ALTER TABLE positions DETACH PARTITION partitions.positions_legacy")
        conn.execute("DROP TABLE partitions.positions_legacy")
        for begin in starts:
            make_month(conn, begin)
    return starts
