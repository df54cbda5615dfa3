"""Maintenance: the schema owner's housekeeping, idempotent and safe to run twice at once.

:func:`run` (what ``defi-sql maintain`` runs) does, each step in a
transaction of its own, on a connection of the schema's owner:

1. partitions of ``positions`` ahead of time (``positions_make_partitions``,
   migration 0046): contiguous after the last one, ``width`` each, until one
   covers ``ahead`` from now; the snapshots that waited in the default
   partition for a new range move into it;
2. overdue signals expired (:func:`defi_sql.sync.signals.expire_overdue`);
3. events recorded more than ``archive_events_after`` ago moved to the
   archive (:func:`defi_sql.sync.events.archive`); ``None``: none.

Its report also says what still waits in the default partition: snapshots
dated beyond every partition made, which the partition of their range takes
over once ``ahead`` reaches it. A worker may call :func:`run` on a schedule
(daily is plenty with monthly partitions three months ahead)::

    with psycopg.connect(owner_url, autocommit=True) as conn:
        report = db.maintenance.run(conn)

Generated from defi_sql/aio/maintenance.py by tools/async_to_sync.py: do not edit.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import msgspec
from psycopg import Connection

from defi_sql import validate
from defi_sql.errors import QueryError
from defi_sql.models import Partition, PartitionMade, Waiting
from defi_sql.sync import events, signals
from defi_sql.sync._execute import fetch_all, fetch_one, transaction

__all__ = ["Maintained", "Width", "make_partitions", "partitions", "run", "waiting"]

#: how long a partition of positions spans (whole UTC months, weeks or days)
Width = Literal["month", "week", "day"]
_WIDTHS: dict[str, str] = {"month": "1 month", "week": "7 days", "day": "1 day"}
#: how far ahead partitions are made by default
AHEAD = timedelta(days=90)
#: events older than this are archived by default
ARCHIVE_EVENTS_AFTER = timedelta(days=90)


class Maintained(msgspec.Struct, kw_only=True, frozen=True):
    """What :func:`run` did."""

    partitions_made: list[PartitionMade]
    waiting: Waiting
    signals_expired: int
    events_archived: int


def partitions(conn: Connection[Any]) -> list[Partition]:
    """Every partition of ``positions`` with its range, the default partition last."""
    return fetch_all(conn, "maintenance_partitions", {}, Partition)


def make_partitions(
    conn: Connection[Any], *, ahead: timedelta = AHEAD, width: Width = "month"
) -> list[PartitionMade]:
    """Make the partitions of ``positions`` until one covers ``ahead`` from now."""
    span = validate.duration(ahead, "ahead", maximum=timedelta(days=3660))
    chosen = validate.choice(width, "width", tuple(_WIDTHS))
    params = {"width": _WIDTHS[chosen], "until": datetime.now(UTC) + span}
    with transaction(conn):
        return fetch_all(conn, "maintenance_make_partitions", params, PartitionMade)


def waiting(conn: Connection[Any]) -> Waiting:
    """The snapshots in the default partition of ``positions``."""
    found = fetch_one(conn, "maintenance_waiting", {}, Waiting)
    if found is None:  # an aggregate without GROUP BY: never
        raise QueryError("maintenance_waiting returned no row.")
    return found


def run(
    conn: Connection[Any],
    *,
    ahead: timedelta = AHEAD,
    width: Width = "month",
    archive_events_after: timedelta | None = ARCHIVE_EVENTS_AFTER,
) -> Maintained:
    """Every maintenance step (see the module), each in a transaction of its own."""
    archive_before = None
    if archive_events_after is not None:
        age = validate.duration(
            archive_events_after, "archive_events_after", maximum=timedelta(days=36600)
        )
        archive_before = datetime.now(UTC) - age
    made = make_partitions(conn, ahead=ahead, width=width)
    expired = signals.expire_overdue(conn)
    archived = 0 if archive_before is None else events.archive(conn, archive_before)
    return Maintained(
        partitions_made=made,
        waiting=waiting(conn),
        signals_expired=expired,
        events_archived=archived,
    )
