"""The event store: append with an expected version, read streams, feed projections."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from psycopg import AsyncConnection
from psycopg.types.json import Jsonb

from defi_sql import validate
from defi_sql.aio._execute import fetch_all, fetch_one, fetch_value, transaction, write_one
from defi_sql.errors import ConcurrencyConflict, Conflict, InvalidInput
from defi_sql.models import Event, NewEvent
from defi_sql.rows import encode_json

__all__ = ["append", "archive", "read_all_after", "read_stream", "version"]


def _checked(event: object) -> NewEvent:
    if not isinstance(event, NewEvent):
        raise InvalidInput(
            f"an event must be a {validate.expected(NewEvent)}, not {type(event).__name__}."
        )
    validate.text(event.event_type, "event_type", max_length=128)
    validate.document(event.payload, "payload")
    validate.document(event.metadata, "metadata")
    if event.event_id is not None:
        validate.uuid(event.event_id, "event_id")
    if event.occurred_at is not None:
        validate.aware(event.occurred_at, "occurred_at")
    return event


async def append(
    conn: AsyncConnection[Any],
    *,
    stream_type: str,
    stream_id: UUID,
    expected_version: int,
    events: Sequence[NewEvent],
) -> list[Event]:
    """Append ``events`` as versions ``expected_version + 1 ...``, all or none.

    :class:`ConcurrencyConflict` when the stream is no longer at
    ``expected_version`` (another writer appended first): reload and retry.
    Re-sending events that were already appended (same ``event_id``, same
    versions) returns them again and appends nothing.
    """
    validate.text(stream_type, "stream_type", max_length=128)
    validate.uuid(stream_id, "stream_id")
    if not isinstance(events, Sequence):
        raise InvalidInput(
            f"events must be a list of {validate.expected(NewEvent)}, not {type(events).__name__}."
        )
    validate.natural(expected_version, "expected_version", maximum=2**31 - 2 - len(events))
    checked = [_checked(e) for e in events]
    appended: list[Event] = []
    async with transaction(conn):
        for offset, event in enumerate(checked):
            event_id = event.event_id or uuid.uuid4()
            at = expected_version + offset
            params = {
                "event_id": event_id,
                "stream_type": stream_type,
                "stream_id": stream_id,
                "expected_version": at,
                "event_type": event.event_type,
                "payload": Jsonb(event.payload, dumps=encode_json),
                "metadata": Jsonb(event.metadata, dumps=encode_json),
                "occurred_at": event.occurred_at,
            }
            try:
                row = await write_one(conn, "append_event", params, Event)
            except Conflict as exc:  # the same event_id, committed meanwhile by a re-send
                if exc.constraint != "event_store_event_id_key":
                    raise
                row = None
            if row is None:
                row = await fetch_one(conn, "get_event", {"event_id": event_id}, Event)
                resent = row is not None and row.stream_id == stream_id and row.version == at + 1
                if row is not None and not resent:
                    raise Conflict(
                        f"event {event_id} was already appended to stream {row.stream_id} as "
                        f"version {row.version}; give a new event a new event_id.",
                        constraint="event_store_event_id_key",
                    )
                if not resent:
                    current = await version(conn, stream_id)
                    raise ConcurrencyConflict(
                        f"stream {stream_id} is at version {current}, not {at}; "
                        "reload it and retry."
                    )
            assert row is not None
            appended.append(row)
    return appended


async def version(conn: AsyncConnection[Any], stream_id: UUID) -> int:
    """The stream's current version (0 for a stream without events)."""
    return int(
        await fetch_value(
            conn, "stream_version", {"stream_id": validate.uuid(stream_id, "stream_id")}
        )
    )


async def read_stream(
    conn: AsyncConnection[Any], stream_id: UUID, *, after_version: int = 0
) -> list[Event]:
    """A stream's events after ``after_version``, in version order."""
    params = {
        "stream_id": validate.uuid(stream_id, "stream_id"),
        "after_version": validate.natural(after_version, "after_version"),
    }
    return await fetch_all(conn, "read_stream", params, Event)


async def read_all_after(
    conn: AsyncConnection[Any], position: int, *, limit: int = 1000
) -> list[Event]:
    """Events of every stream after a global ``position``, in position order.

    Positions are taken at insert time, so a slow concurrent append can commit
    a lower position after a higher one was read: a projection should re-read
    a small window behind its last position, or read only events older than
    its longest transaction.
    """
    params = {
        "after_position": validate.natural(position, "position"),
        "max_rows": validate.positive_int(limit, "limit"),
    }
    return await fetch_all(conn, "read_all_after", params, Event)


async def archive(conn: AsyncConnection[Any], before: datetime) -> int:
    """Move events recorded before ``before`` to ``event_store_archive``; return how many."""
    cutoff = validate.aware(before, "before")
    async with transaction(conn):
        return int(await fetch_value(conn, "archive_events_before", {"cutoff": cutoff}))
