"""Maintenance: the schema owner's housekeeping, idempotent and safe to run twice at once.

:func:`run` (what ``defi-sql maintain`` runs) does, each step in a
transaction of its own, on a connection of the schema's owner:

1. partitions of ``positions`` ahead of time (``positions_make_partitions``,
   migration 0046): contiguous after the last one, ``width`` each, until one
   covers ``ahead`` from now; the snapshots that waited in the default
   partition for a new range move into it;
2. overdue signals expired (:func:`defi_sql.aio.signals.expire_overdue`);
3. events recorded more than ``archive_events_after`` ago moved to the
   archive (:func:`defi_sql.aio.events.archive`); ``None``: none;
4. with a ``retention``: every partition of ``positions`` that ends before
   ``now - retention`` rolled up into ``positions_daily`` (first, last and
   lowest health factor and the last USD values, per user, protocol, chain
   and UTC day), detached and dropped (:func:`retire`). Without one (the
   default) no snapshot is ever removed.

Its report also says what still waits in the default partition: snapshots
dated beyond every partition made, which the partition of their range takes
over once ``ahead`` reaches it. A worker may call :func:`run` on a schedule
(daily is plenty with monthly partitions three months ahead)::

    with psycopg.connect(owner_url, autocommit=True) as conn:
        report = db.maintenance.run(conn)
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import msgspec
from psycopg import AsyncConnection

from defi_sql import validate
from defi_sql.aio import events, signals
from defi_sql.aio._execute import fetch_all, fetch_int, fetch_one, fetch_value, transaction
from defi_sql.errors import QueryError, TransientConflict
from defi_sql.models import Partition, PartitionMade, PartitionRetired, Waiting

__all__ = ["Maintained", "Width", "make_partitions", "partitions", "retire", "run", "waiting"]

#: how long a partition of positions spans (whole UTC months, weeks or days)
Width = Literal["month", "week", "day"]
_WIDTHS: dict[str, str] = {"month": "1 month", "week": "7 days", "day": "1 day"}
#: how far ahead partitions are made by default
AHEAD = timedelta(days=90)
#: events older than this are archived by default
ARCHIVE_EVENTS_AFTER = timedelta(days=90)
#: a retention step waits this long for its lock on positions, then tries again
LOCK_TIMEOUT = timedelta(milliseconds=500)
#: ... this many times in all
LOCK_ATTEMPTS = 6


class Maintained(msgspec.Struct, kw_only=True, frozen=True):
    """What :func:`run` did."""

    partitions_made: list[PartitionMade]
    waiting: Waiting
    signals_expired: int
    events_archived: int
    partitions_retired: list[PartitionRetired]


async def partitions(conn: AsyncConnection[Any]) -> list[Partition]:
    """Every partition of ``positions`` with its range, the default partition last."""
    return await fetch_all(conn, "maintenance_partitions", {}, Partition)


async def make_partitions(
    conn: AsyncConnection[Any], *, ahead: timedelta = AHEAD, width: Width = "month"
) -> list[PartitionMade]:
    """Make the partitions of ``positions`` until one covers ``ahead`` from now."""
    span = validate.duration(ahead, "ahead", maximum=timedelta(days=3660))
    chosen = validate.choice(width, "width", tuple(_WIDTHS))
    params = {"width": _WIDTHS[chosen], "until": datetime.now(UTC) + span}
    async with transaction(conn):
        return await fetch_all(conn, "maintenance_make_partitions", params, PartitionMade)


async def waiting(conn: AsyncConnection[Any]) -> Waiting:
    """The snapshots in the default partition of ``positions``."""
    found = await fetch_one(conn, "maintenance_waiting", {}, Waiting)
    if found is None:  # an aggregate without GROUP BY: never
        raise QueryError("maintenance_waiting returned no row.")
    return found


async def retire(conn: AsyncConnection[Any], *, retention: timedelta) -> list[PartitionRetired]:
    """Retention: every partition of ``positions`` that ends before ``now - retention``
    rolled up, detached and dropped (see the module).

    Three steps per partition, each in a transaction of its own: the roll-up
    while writers go on; the DETACH, which waits at most ``LOCK_TIMEOUT`` for
    its lock (writers queue behind a waiting DETACH) and is tried again after
    a pause, and redoes nothing else; the roll-up of the detached table, where
    no writer reaches any more (a snapshot written late into its range in
    between is counted), and its DROP. A partition that still holds a
    snapshot newer than the cutoff (it ends later) is kept whole: nothing the
    retention setting keeps is ever removed. A detached partition that a run
    stopped before dropping is finished by the next.
    """
    keep = validate.duration(retention, "retention", maximum=timedelta(days=36600))
    cutoff = datetime.now(UTC) - keep
    for part in await partitions(conn):
        if part.is_default or part.range_end is None or part.range_end > cutoff:
            continue
        await _roll_up(conn, part)
        await _detach(conn, part.partition_name)
    done: list[PartitionRetired] = []
    for detached in await fetch_all(conn, "maintenance_detached", {}, Partition):
        params = {"partition_name": detached.partition_name}
        async with transaction(conn):
            done += await fetch_all(conn, "maintenance_drop_detached", params, PartitionRetired)
    return done


async def _roll_up(conn: AsyncConnection[Any], part: Partition) -> None:
    params = {"range_start": part.range_start, "range_end": part.range_end}
    async with transaction(conn):
        await fetch_int(conn, "maintenance_roll_up", params)


async def _detach(conn: AsyncConnection[Any], name: str) -> None:
    """Detach one partition; its DETACH waits at most LOCK_TIMEOUT for its lock."""
    timeout = f"{int(LOCK_TIMEOUT.total_seconds() * 1000)}ms"
    for attempt in range(1, LOCK_ATTEMPTS + 1):
        try:
            async with transaction(conn):
                await fetch_value(conn, "maintenance_lock_timeout", {"timeout": timeout})
                await fetch_all(
                    conn, "maintenance_detach_partition", {"partition_name": name}, Partition
                )
                return
        except TransientConflict:
            if attempt == LOCK_ATTEMPTS:
                raise TransientConflict(
                    f"retention could not lock positions to detach partitions.{name} within "
                    f"{timeout}, {LOCK_ATTEMPTS} times: a long transaction holds it; run "
                    "maintain again once it has ended."
                ) from None
            await asyncio.sleep(LOCK_TIMEOUT.total_seconds() * attempt)


async def run(
    conn: AsyncConnection[Any],
    *,
    ahead: timedelta = AHEAD,
    width: Width = "month",
    archive_events_after: timedelta | None = ARCHIVE_EVENTS_AFTER,
    retention: timedelta | None = None,
) -> Maintained:
    """Every maintenance step (see the module), each in a transaction of its own."""
    if retention is not None:  # refused before anything is done
        validate.duration(retention, "retention", maximum=timedelta(days=36600))
    archive_before = None
    if archive_events_after is not None:
        age = validate.duration(
            archive_events_after, "archive_events_after", maximum=timedelta(days=36600)
        )
        archive_before = datetime.now(UTC) - age
    made = await make_partitions(conn, ahead=ahead, width=width)
    expired = await signals.expire_overdue(conn)
    archived = 0 if archive_before is None else await events.archive(conn, archive_before)
    retired = [] if retention is None else await retire(conn, retention=retention)
    return Maintained(
        partitions_made=made,
        waiting=await waiting(conn),
        signals_expired=expired,
        events_archived=archived,
        partitions_retired=retired,
    )
