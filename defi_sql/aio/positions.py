"""Positions: record snapshots (one, or many by COPY), latest, history, at risk."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Iterable
from contextlib import aclosing
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, Literal
from uuid import UUID

import msgspec
import psycopg
from psycopg import AsyncConnection
from psycopg.types.json import Jsonb, set_json_dumps

from defi_sql import validate
from defi_sql.aio._execute import (
    _checked,
    _sql,
    fetch_all,
    fetch_batch,
    fetch_one,
    fetch_value,
    stream,
    transaction,
    write_one,
)
from defi_sql.errors import InvalidInput
from defi_sql.models import DailyPosition, History, NewPosition, Position, PositionAtRisk
from defi_sql.rows import Batch, encode_json
from defi_sql.translate import translate

__all__ = [
    "DEFAULT_ALERT_THRESHOLD",
    "at_risk",
    "create",
    "history",
    "ingest",
    "iterate_all",
    "latest",
    "latest_per_protocol",
    "latest_per_user",
    "list_for_user",
    "list_for_wallet",
]

#: The health factor below which a user without their own threshold is at risk.
DEFAULT_ALERT_THRESHOLD = Decimal("1.5")
#: how far back list_for_wallet's first read goes (its second reads the rest)
_RECENT_WALLET_HISTORY = timedelta(days=31)

_COPY_TYPES = (
    "uuid",
    "text",
    "text",
    "int8",  # chain_id is bigint
    "numeric",
    "jsonb",
    "jsonb",
    "jsonb",
    "timestamptz",
)
_ENCODER = msgspec.json.Encoder()


def _json(value: object) -> Jsonb:
    return Jsonb(value, dumps=encode_json)


async def create(conn: AsyncConnection[Any], snapshot: NewPosition) -> Position:
    """Record one snapshot; :class:`NotFound` when its user does not exist."""
    validate.new_position(snapshot)
    params = {
        "user_id": snapshot.user_id,
        "wallet_address": snapshot.wallet_address.lower(),
        "protocol": snapshot.protocol,
        "chain_id": snapshot.chain_id,
        "health_factor": snapshot.health_factor,
        "collateral": _json(snapshot.collateral),
        "debt": _json(snapshot.debt),
        "metadata": _json(snapshot.metadata),
        "snapshot_at": snapshot.snapshot_at,
    }
    position = await write_one(conn, "positions_create", params, Position)
    assert position is not None  # INSERT ... RETURNING always returns the row
    return position


async def ingest(conn: AsyncConnection[Any], snapshots: Iterable[NewPosition]) -> int:
    """Record many snapshots at once by binary COPY, all or nothing; return how many.

    Each snapshot is checked as it is sent (the common flat ones by a fast
    check, the rest by the full one, which names what is wrong); an invalid one
    aborts the COPY and nothing is written. Snapshots without ``snapshot_at``
    get the time the ingest started.
    """
    if not isinstance(snapshots, Iterable):
        raise InvalidInput(
            f"snapshots must be an iterable of {validate.expected(NewPosition)}, "
            f"not {type(snapshots).__name__}."
        )
    started = datetime.now(UTC)
    count = 0
    plain = validate.plainly_valid_position
    try:
        async with _checked(conn).transaction(), conn.cursor() as cur:
            set_json_dumps(_ENCODER.encode, context=cur)
            async with cur.copy(_sql(conn, "positions_ingest")) as copy:
                copy.set_types(list(_COPY_TYPES))
                for snapshot in snapshots:
                    if not plain(snapshot):
                        validate.new_position(snapshot)
                    await copy.write_row(
                        (
                            snapshot.user_id,
                            snapshot.wallet_address,
                            snapshot.protocol,
                            snapshot.chain_id,
                            snapshot.health_factor,
                            snapshot.collateral,
                            snapshot.debt,
                            snapshot.metadata,
                            snapshot.snapshot_at or started,
                        )
                    )
                    count += 1
    except psycopg.Error as exc:
        raise translate(exc) from None
    return count


async def list_for_user(conn: AsyncConnection[Any], user_id: UUID) -> list[Position]:
    """Every snapshot of a user, newest first."""
    return await fetch_all(
        conn, "positions_list_for_user", {"user_id": validate.uuid(user_id, "user_id")}, Position
    )


async def latest(conn: AsyncConnection[Any], user_id: UUID) -> Position | None:
    """The user's most recent snapshot on any protocol, or None."""
    return await fetch_one(
        conn, "positions_latest", {"user_id": validate.uuid(user_id, "user_id")}, Position
    )


async def latest_per_protocol(conn: AsyncConnection[Any], user_id: UUID) -> list[Position]:
    """The user's most recent snapshot on each (protocol, chain)."""
    return await fetch_all(
        conn,
        "positions_latest_per_protocol",
        {"user_id": validate.uuid(user_id, "user_id")},
        Position,
    )


async def list_for_wallet(
    conn: AsyncConnection[Any], wallet_address: str, protocol: str, *, limit: int = 100
) -> list[Position]:
    """Snapshots of a wallet on a protocol, newest first, at most ``limit``.

    Read in two statements: the last month's snapshots (only the newest
    partitions are planned and read), then, if they are fewer than ``limit``,
    the older ones. A snapshot written between the two is in the answer if the
    second statement sees it.
    """
    params: dict[str, Any] = {
        "wallet_address": validate.wallet_address(wallet_address),
        "protocol": validate.text(protocol, "protocol", max_length=64),
        "max_rows": validate.positive_int(limit, "limit"),
    }
    # the newest partitions first; the older ones only for what they lack
    since = datetime.now(UTC) - _RECENT_WALLET_HISTORY
    recent = {**params, "since": since, "until": "infinity"}
    found = await fetch_all(conn, "positions_list_for_wallet_recent", recent, Position)
    if len(found) < params["max_rows"]:
        rest = {**params, "before": since, "max_rows": params["max_rows"] - len(found)}
        found += await fetch_all(conn, "positions_list_for_wallet_before", rest, Position)
    return found


async def history(
    conn: AsyncConnection[Any], user_id: UUID, since: datetime, until: datetime
) -> History:
    """The user's history over ``since <= t < until``, and where it comes from.

    Snapshots are kept from ``snapshots_since`` on (retention, ``maintain``);
    the days before it are answered by their daily rollups (``days``). One
    transaction, so the boundary and both reads agree.
    """
    params = {
        "user_id": validate.uuid(user_id, "user_id"),
        "since": validate.aware(since, "since"),
        "until": validate.aware(until, "until"),
    }
    async with transaction(conn):
        kept_since = await fetch_value(conn, "positions_snapshots_since", {})
        snapshots: list[Position] = []
        days: list[DailyPosition] = []
        if kept_since is None or params["until"] > kept_since:
            snapshots = await fetch_all(conn, "positions_history", params, Position)
        if kept_since is not None and params["since"] < kept_since:
            before = {**params, "until": min(params["until"], kept_since)}
            days = await fetch_all(conn, "positions_history_daily", before, DailyPosition)
    if kept_since is None or params["since"] >= kept_since:
        source: Literal["snapshots", "rollups", "both"] = "snapshots"
    elif params["until"] <= kept_since:
        source = "rollups"
    else:
        source = "both"
    return History(source=source, snapshots=snapshots, days=days, snapshots_since=kept_since)


async def latest_per_user(conn: AsyncConnection[Any]) -> Batch[Position]:
    """The most recent snapshot of every user who has one.

    A stored snapshot that cannot be read is left out and reported in the
    result's ``unreadable`` (:class:`~defi_sql.rows.Batch`); the others are served.
    """
    return await fetch_batch(conn, "positions_latest_per_user", {}, Position)


async def at_risk(
    conn: AsyncConnection[Any], *, default_threshold: Decimal = DEFAULT_ALERT_THRESHOLD
) -> Batch[PositionAtRisk]:
    """Latest snapshots (per user, protocol and chain) below the user's alert threshold.

    The threshold is the user's ``preferences.alertThresholds.healthFactor``, or
    ``default_threshold`` when unset. Lowest health factor first. A stored
    snapshot that cannot be read is left out and reported in the result's
    ``unreadable`` (:class:`~defi_sql.rows.Batch`); the others are served.
    """
    threshold = validate.decimal(default_threshold, "default_threshold", minimum=Decimal(0))
    return await fetch_batch(
        conn, "positions_at_risk", {"default_threshold": threshold}, PositionAtRisk
    )


async def iterate_all(
    conn: AsyncConnection[Any], *, batch: int = 2000
) -> AsyncGenerator[Position, None]:
    """Every snapshot in storage order (no sort), ``batch`` rows at a time: flat memory.

    Leaving the loop early (``break``) ends the server-side cursor and its
    transaction when the generator is closed: use ``async with aclosing(...)``
    to close it at once.
    """
    async with aclosing(stream(conn, "positions_iterate_all", {}, Position, batch=batch)) as rows:
        async for position in rows:
            yield position
