"""Wake-up without polling: wait on LISTEN/NOTIFY, and still poll.

Appends to the event store notify ``defi_events`` and new alerts notify
``defi_alerts`` (triggers of the migrations, delivered at COMMIT). A consumer
or a delivery worker calls :func:`wait` on a connection of its own between
rounds of work: it returns as soon as one of the channels is notified, or
after ``timeout`` seconds. A notification is a hint, not the queue: one sent
while the waiter was busy (or before it first listened) is not replayed, so
the caller always looks for work after :func:`wait` returns, whatever it
returned, and ``timeout`` bounds how late a missed hint can make it.

Notifying commits run one at a time in PostgreSQL, so of the transactions
writing at once only one notifies (migration 0036); the others commit
silently. :func:`wait` makes up for it: before it returns it asks whether a
silent writer is still in flight (or, for events, whether committed events
wait behind an older open transaction), and if so its next wait lasts
milliseconds (``SETTLE_MIN``, doubling up to ``SETTLE_MAX``), not ``timeout``.
Because the question is asked before the caller looks for work, no silent
commit can fall between the look and the sleep. Call :func:`listen` once
before the first look for work, so that the first wait knows too; without
it, the first wait is short.

Generated from defi_sql/aio/wakeup.py by tools/async_to_sync.py: do not edit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from weakref import WeakKeyDictionary

from psycopg import Connection, sql

from defi_sql.errors import InvalidInput
from defi_sql.sync._execute import fetch_value

__all__ = ["ALERTS", "EVENTS", "SETTLE_MAX", "SETTLE_MIN", "listen", "wait"]

#: the channel appends to the event store notify (payload: empty)
EVENTS = "defi_events"
#: the channel new or requeued alerts notify (payload: empty)
ALERTS = "defi_alerts"
#: the first short wait while writers are in flight, in seconds
SETTLE_MIN = 0.002
#: the longest wait while writers are in flight: how late a silent commit can be seen
SETTLE_MAX = 0.05

#: the named query that says whether a channel's writers may still commit silently
_UNSETTLED = {EVENTS: "events_unsettled", ALERTS: "alerts_unsettled"}


@dataclass
class _Listener:
    channels: set[str]
    unsettled: bool = True  # until asked: the caller may have looked for work already
    settle: float = 0.0  # the last short wait, doubled while writers stay in flight


#: each connection's channels (LISTEN once, so that no notification can arrive,
#: and be dropped, during a LISTEN of a later wait) and what it last learnt
_LISTENERS: WeakKeyDictionary[Connection[Any], _Listener] = WeakKeyDictionary()


def _checked(conn: Connection[Any], channels: Sequence[str]) -> None:
    if not conn.autocommit:
        raise InvalidInput(
            "wait needs a connection in autocommit mode (notifications arrive only between "
            "transactions): open it with autocommit=True."
        )
    if isinstance(channels, str) or not channels:
        raise InvalidInput(f"channels must be a list of channel names, e.g. [{EVENTS!r}].")


def _listening(conn: Connection[Any], channels: Sequence[str]) -> _Listener:
    state = _LISTENERS.setdefault(conn, _Listener(set()))
    for channel in channels:
        if channel not in state.channels:
            conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(channel)))
            state.channels.add(channel)
    return state


def _unsettled(conn: Connection[Any], channels: Sequence[str]) -> bool:
    for channel in channels:
        name = _UNSETTLED.get(channel)
        if name is not None and fetch_value(conn, name, {}):
            return True
    return False


def listen(conn: Connection[Any], channels: Sequence[str]) -> None:
    """LISTEN on ``channels`` now, before the caller first looks for work.

    Notifications sent from here on wake the next :func:`wait`, and that wait
    knows whether writers were in flight when the caller looked.
    """
    _checked(conn, channels)
    state = _listening(conn, channels)
    state.unsettled = _unsettled(conn, channels)


def wait(conn: Connection[Any], channels: Sequence[str], *, timeout: float) -> bool:
    """LISTEN on ``channels`` (once per connection) and wait for a notification.

    True when a notification arrived within ``timeout`` seconds (every one
    already queued is consumed), False when the time ran out. While writers
    that may commit without notifying are in flight, the time is a few
    milliseconds instead (see the module's doc). ``conn`` must be in
    autocommit mode and used for nothing else meanwhile: notifications reach
    a connection only between transactions.
    """
    _checked(conn, channels)
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not timeout > 0:
        raise InvalidInput(f"timeout must be a number of seconds above 0, not {timeout!r}.")
    state = _listening(conn, channels)
    limit = float(timeout)
    if state.unsettled:
        state.settle = min(max(state.settle * 2, SETTLE_MIN), SETTLE_MAX)
        limit = min(limit, state.settle)
    else:
        state.settle = 0.0
    woken = False
    for _ in conn.notifies(timeout=limit, stop_after=1):
        woken = True
    if woken:  # drain what else is queued: one wake-up for a burst
        for _ in conn.notifies(timeout=0, stop_after=1_000_000):
            pass
    # asked before the caller looks for work again: a writer that commits
    # silently after this is either in flight now, or finds a notifier that is
    state.unsettled = _unsettled(conn, channels)
    return woken
