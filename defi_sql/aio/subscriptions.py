"""Named consumers of the event store, whose checkpoints live in the database.

A projection, an audit feed or an export follows every stream (or some stream
types) from where it stopped::

    await db.subscriptions.subscribe(conn, "balances", stream_types=["wallet"])
    await db.wakeup.listen(listener, [db.wakeup.EVENTS])
    while True:
        if not await db.subscriptions.poll(conn, "balances", apply):
            await db.wakeup.wait(listener, [db.wakeup.EVENTS], timeout=1.0)

Each :func:`poll` is one transaction: it locks the subscription (one consumer
of a name at a time), reads the events after its checkpoint in the gap-free
order of :func:`events.read_all_after`, calls ``handler(conn, events)`` and
moves the checkpoint past them, then commits. Delivery is at least once: a
consumer that dies before the commit leaves the checkpoint where it was, and
the same events are handed over again. A handler that writes only to this
database, on the connection it is given, commits with the checkpoint: its
effect happens exactly once. A handler with effects elsewhere (a message, an
HTTP call) must tolerate a repeat: use ``event_id`` as its idempotency key.

Catch-up from the start includes archived events. Subscriptions are the
worker's (``defi_worker``): ``defi_app`` has no access to them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol

from psycopg import AsyncConnection

from defi_sql import validate
from defi_sql.aio import wakeup
from defi_sql.aio._execute import fetch_all, fetch_int, fetch_one, transaction, write_one
from defi_sql.aio.events import checkpoint, stream_type_list
from defi_sql.errors import InvalidInput, NotFound
from defi_sql.models import Checkpoint, Event, Subscription

__all__ = ["Handler", "delete", "get", "list_all", "poll", "reset", "run", "subscribe"]

#: a checkpoint past every event of a transaction below the horizon
_LAST_POSITION = 2**63 - 1


class Handler(Protocol):
    """What :func:`poll` calls with each batch, inside the batch's transaction."""

    async def __call__(self, conn: AsyncConnection[Any], events: list[Event]) -> object: ...


def _name(value: object) -> str:
    if value == "":
        raise InvalidInput("a subscription's name must not be empty; give it one, e.g. 'balances'.")
    return validate.text(value, "name", max_length=200)


def _missing(name: str) -> NotFound:
    return NotFound(
        f"there is no subscription {name!r}; create it with subscriptions.subscribe first."
    )


async def subscribe(
    conn: AsyncConnection[Any], name: str, *, stream_types: Sequence[str] | None = None
) -> Subscription:
    """The subscription ``name``, created at the start of the store if new.

    An existing one is returned as it stands (its checkpoint kept), provided it
    follows the same ``stream_types`` (None: every stream); to change them,
    :func:`delete` it and subscribe again.
    """
    key = _name(name)
    types = stream_type_list(stream_types)
    params = {"name": key, "stream_types": types}
    async with transaction(conn):
        sub = await write_one(conn, "subscriptions_create", params, Subscription)
        if sub is None:
            sub = await fetch_one(conn, "subscriptions_get", {"name": key}, Subscription)
    if sub is None:  # deleted between the two statements
        raise _missing(key)
    if sub.stream_types != types:
        raise InvalidInput(
            f"subscription {key!r} follows stream_types {sub.stream_types!r}, not {types!r}; "
            "delete it and subscribe again to change them."
        )
    return sub


async def get(conn: AsyncConnection[Any], name: str) -> Subscription:
    """The subscription ``name`` and its checkpoint, or :class:`NotFound`."""
    key = _name(name)
    sub = await fetch_one(conn, "subscriptions_get", {"name": key}, Subscription)
    if sub is None:
        raise _missing(key)
    return sub


async def list_all(conn: AsyncConnection[Any]) -> list[Subscription]:
    """Every subscription, by name: where each consumer stands."""
    return await fetch_all(conn, "subscriptions_list_all", {}, Subscription)


async def poll(conn: AsyncConnection[Any], name: str, handler: Handler, *, limit: int = 500) -> int:
    """Hand the next events of subscription ``name`` to ``handler``; return how many.

    One transaction (a savepoint inside an open one): lock the subscription,
    read up to ``limit`` events after its checkpoint, ``await handler(conn,
    events)``, move the checkpoint past them, commit. If ``handler`` raises,
    everything rolls back, the checkpoint stays, and the error propagates.
    0 means nothing is ready: no new event, or the next one belongs to a
    transaction still open.
    """
    key = _name(name)
    size = validate.positive_int(limit, "limit")
    async with transaction(conn):
        sub = await fetch_one(conn, "subscriptions_lock", {"name": key}, Subscription)
        if sub is None:
            raise _missing(key)
        # taken before the read: every transaction below it has ended by then
        horizon = await fetch_int(conn, "events_horizon", {})
        start = sub.checkpoint
        params = {
            "after_transaction_id": start.transaction_id,
            "after_position": start.position,
            "stream_types": sub.stream_types,
            "max_rows": size,
        }
        events = await fetch_all(conn, "events_read_all_after", params, Event)
        end = Checkpoint.of(events[-1]) if events else start
        if sub.stream_types is not None and len(events) < size and horizon > 0:
            # everything below the horizon was read: skip the other types' events for good
            end = max(end, Checkpoint(transaction_id=horizon - 1, position=_LAST_POSITION))
        if events:
            await handler(conn, events)
        if end != start:
            advanced = {
                "name": key,
                "transaction_id": end.transaction_id,
                "position": end.position,
                "handled": len(events),
            }
            await write_one(conn, "subscriptions_advance", advanced, Subscription)
    return len(events)


async def run(
    conn: AsyncConnection[Any],
    name: str,
    handler: Handler,
    *,
    listener: AsyncConnection[Any],
    limit: int = 500,
    poll_interval: float = 1.0,
    stop: Callable[[], bool] | None = None,
) -> int:
    """Follow subscription ``name`` until ``stop()`` is true (None: for ever); return the
    events handled.

    Polls while there is work; when there is none, waits on ``listener`` (a
    connection of its own, in autocommit mode) until an append notifies
    ``defi_events`` or ``poll_interval`` seconds pass, then polls again (after
    a few milliseconds while appending transactions that may commit without a
    notification are open: :mod:`defi_sql.aio.wakeup`). A notification is only
    a hint: events appended while nobody listened are found by the next poll
    all the same.
    """
    done = stop or (lambda: False)
    handled = 0
    await wakeup.listen(listener, [wakeup.EVENTS])
    while not done():
        got = await poll(conn, name, handler, limit=limit)
        handled += got
        if got == 0 and not done():
            await wakeup.wait(listener, [wakeup.EVENTS], timeout=poll_interval)
    return handled


async def reset(
    conn: AsyncConnection[Any], name: str, to: Checkpoint | None = None
) -> Subscription:
    """Put the checkpoint of ``name`` at ``to`` (None: the start, for a full replay)."""
    key = _name(name)
    where = checkpoint(to, "to")
    params = {"name": key, "transaction_id": where.transaction_id, "position": where.position}
    async with transaction(conn):
        sub = await write_one(conn, "subscriptions_reset", params, Subscription)
    if sub is None:
        raise _missing(key)
    return sub


async def delete(conn: AsyncConnection[Any], name: str) -> Subscription:
    """Forget subscription ``name`` and its checkpoint; return it as it was."""
    key = _name(name)
    async with transaction(conn):
        sub = await write_one(conn, "subscriptions_delete", {"name": key}, Subscription)
    if sub is None:
        raise _missing(key)
    return sub
