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
from defi_sql.aio._execute import fetch_all, fetch_int, fetch_one, transaction, write_one
from defi_sql.errors import ConcurrencyConflict, Conflict, InvalidInput
from defi_sql.models import Checkpoint, Event, NewEvent
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
    owner_id: UUID | None = None,
) -> list[Event]:
    """Append ``events`` as versions ``expected_version + 1 ...``, all or none.

    A stream belongs to a user: to ``owner_id`` when its first event is
    appended, else to the user acted for (``acting_as``), else to nobody (the
    service's own streams, which only ``defi_worker`` and the owner see). Later
    events keep the stream's owner; appending while acting for another user
    raises :class:`NotAllowed`.

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
    owner = None if owner_id is None else validate.uuid(owner_id, "owner_id")
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
                "owner_id": owner,
            }
            try:
                row = await write_one(conn, "events_append", params, Event)
            except Conflict as exc:  # the same event_id, committed meanwhile by a re-send
                if exc.constraint != "event_store_event_id_key":
                    raise
                row = None
            if row is None:
                row = await fetch_one(conn, "events_get", {"event_id": event_id}, Event)
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
    return await fetch_int(
        conn, "events_version", {"stream_id": validate.uuid(stream_id, "stream_id")}
    )


async def read_stream(
    conn: AsyncConnection[Any], stream_id: UUID, *, after_version: int = 0
) -> list[Event]:
    """A stream's events after ``after_version``, in version order, archived ones included."""
    params = {
        "stream_id": validate.uuid(stream_id, "stream_id"),
        "after_version": validate.natural(after_version, "after_version"),
    }
    return await fetch_all(conn, "events_read_stream", params, Event)


def checkpoint(value: object, what: str = "after") -> Checkpoint:
    """``value`` as a :class:`Checkpoint` (None: the start), or :class:`InvalidInput`."""
    if value is None:
        return Checkpoint()
    if isinstance(value, int) and not isinstance(value, bool):
        raise InvalidInput(
            f"{what} must be an events.Checkpoint, not a position ({value}): a position alone "
            "cannot resume without skipping events that commit late; pass "
            "Checkpoint.of(last_event), or None to start from the beginning."
        )
    if not isinstance(value, Checkpoint):
        raise InvalidInput(
            f"{what} must be an events.Checkpoint or None, not {type(value).__name__}."
        )
    validate.natural(value.transaction_id, f"{what}.transaction_id")
    validate.natural(value.position, f"{what}.position")
    return value


def stream_type_list(value: object) -> list[str] | None:
    """``value`` as a list of stream types (None: every type), or :class:`InvalidInput`."""
    if value is None:
        return None
    if isinstance(value, str) or not isinstance(value, Sequence) or not value:
        raise InvalidInput(
            f"stream_types must be a non-empty list of stream types or None, not {value!r}."
        )
    return [validate.text(t, "stream_types[]", max_length=128) for t in value]


async def read_all_after(
    conn: AsyncConnection[Any],
    after: Checkpoint | None = None,
    *,
    limit: int = 1000,
    stream_types: Sequence[str] | None = None,
) -> list[Event]:
    """Events of every stream after the checkpoint ``after`` (None: from the
    start, archived events included), in ``(transaction_id, position)`` order.

    Gap-free: only events of transactions that have ended are returned, so an
    event can never commit later behind the last one read. A transaction still
    open holds the read back (it returns less, or nothing) until it ends.
    Resume with ``Checkpoint.of(events[-1])``; a named consumer whose
    checkpoint is kept in the database is :mod:`subscriptions`.
    """
    start = checkpoint(after)
    params = {
        "after_transaction_id": start.transaction_id,
        "after_position": start.position,
        "stream_types": stream_type_list(stream_types),
        "max_rows": validate.positive_int(limit, "limit"),
    }
    return await fetch_all(conn, "events_read_all_after", params, Event)


async def archive(conn: AsyncConnection[Any], before: datetime) -> int:
    """Move events recorded before ``before`` to ``event_store_archive``; return how many."""
    cutoff = validate.aware(before, "before")
    async with transaction(conn):
        return await fetch_int(conn, "events_archive", {"cutoff": cutoff})
