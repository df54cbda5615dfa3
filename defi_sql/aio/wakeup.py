"""Wake-up without polling: wait on LISTEN/NOTIFY, and still poll.

Appends to the event store notify ``defi_events`` and new alerts notify
``defi_alerts`` (triggers of the migrations, one notification per statement,
delivered at COMMIT). A consumer or a delivery worker calls :func:`wait` on a
connection of its own between rounds of work: it returns as soon as one of
the channels is notified, or after ``timeout`` seconds. A notification is a
hint, not the queue: one sent while the waiter was busy (or before it first
listened) is not replayed, so the caller always looks for work after
:func:`wait` returns, whatever it returned, and ``timeout`` bounds how late a
missed hint can make it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from weakref import WeakKeyDictionary

from psycopg import AsyncConnection, sql

from defi_sql.errors import InvalidInput

__all__ = ["ALERTS", "EVENTS", "wait"]

#: the channel appends to the event store notify (payload: the stream type)
EVENTS = "defi_events"
#: the channel new or requeued alerts notify (payload: empty)
ALERTS = "defi_alerts"

#: the channels each connection already listens on: LISTEN once, so that no
#: notification can arrive (and be dropped) during a LISTEN of a later wait
_LISTENING: WeakKeyDictionary[AsyncConnection[Any], set[str]] = WeakKeyDictionary()


async def wait(conn: AsyncConnection[Any], channels: Sequence[str], *, timeout: float) -> bool:
    """LISTEN on ``channels`` (once per connection) and wait for a notification.

    True when a notification arrived within ``timeout`` seconds (every one
    already queued is consumed), False when the time ran out. ``conn`` must be
    in autocommit mode and used for nothing else meanwhile: notifications
    reach a connection only between transactions.
    """
    if not conn.autocommit:
        raise InvalidInput(
            "wait needs a connection in autocommit mode (notifications arrive only between "
            "transactions): open it with autocommit=True."
        )
    if isinstance(channels, str) or not channels:
        raise InvalidInput(f"channels must be a list of channel names, e.g. [{EVENTS!r}].")
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not timeout > 0:
        raise InvalidInput(f"timeout must be a number of seconds above 0, not {timeout!r}.")
    listening = _LISTENING.setdefault(conn, set())
    for channel in channels:
        if channel not in listening:
            await conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(channel)))
            listening.add(channel)
    woken = False
    async for _ in conn.notifies(timeout=float(timeout), stop_after=1):
        woken = True
    if woken:  # drain what else is queued: one wake-up for a burst
        async for _ in conn.notifies(timeout=0, stop_after=1_000_000):
            pass
    return woken
