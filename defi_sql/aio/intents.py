"""Intents: create, list the active ones, move through legal states, find the due ones."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any, get_args
from uuid import UUID

from psycopg import AsyncConnection
from psycopg.types.json import Jsonb

from defi_sql import validate
from defi_sql.aio._execute import fetch_all, fetch_batch, fetch_one, write_one
from defi_sql.errors import InvalidInput, NotFound
from defi_sql.models import Intent, IntentAction, IntentCondition, IntentStatus
from defi_sql.rows import Batch, encode_json

__all__ = [
    "TRANSITIONS",
    "active_for_user",
    "cancel",
    "create",
    "due",
    "get",
    "mark_executed",
    "mark_failed",
    "transition",
    "trigger",
]

#: The legal state changes: from each status, the statuses it may move to.
TRANSITIONS: dict[str, tuple[str, ...]] = {
    "active": ("triggered", "cancelled", "expired"),
    "triggered": ("executed", "failed", "cancelled"),
    "executed": (),
    "cancelled": (),
    "failed": (),
    "expired": (),
}


def _plain(value: Decimal) -> str:
    """A decimal in plain notation, the one form intents store: 2E+1 is "20", 1E-7 "0.0000001"."""
    return format(value, "f")


def _condition(value: object) -> Jsonb:
    if not isinstance(value, IntentCondition):
        raise InvalidInput(
            f"condition must be an {validate.expected(IntentCondition)}, "
            f"not {type(value).__name__}."
        )
    validate.choice(value.metric, "condition.metric", ("healthFactor",))
    validate.choice(value.operator, "condition.operator", ("<", "<=", ">", ">="))
    validate.decimal(value.value, "condition.value", minimum=Decimal(0))
    document = {"metric": value.metric, "operator": value.operator, "value": _plain(value.value)}
    return Jsonb(document, dumps=encode_json)


def _action(value: object) -> Jsonb:
    if not isinstance(value, IntentAction):
        raise InvalidInput(
            f"action must be an {validate.expected(IntentAction)}, not {type(value).__name__}."
        )
    validate.choice(value.type, "action.type", ("repay", "deposit", "withdraw", "notify"))
    document: dict[str, object] = {"type": value.type}
    if value.asset is not None:
        document["asset"] = validate.text(value.asset, "action.asset", max_length=64)
    if value.amount is not None:
        amount = validate.decimal(value.amount, "action.amount", minimum=Decimal(0))
        document["amount"] = _plain(amount)
    return Jsonb(document, dumps=encode_json)


async def create(
    conn: AsyncConnection[Any],
    *,
    user_id: UUID,
    condition: IntentCondition,
    action: IntentAction,
    protocol: str | None = None,
    chain_id: int | None = None,
    expires_at: datetime | None = None,
) -> Intent:
    """Record an active intent; scope it to a protocol and chain, or leave them None for any."""
    params = {
        "user_id": validate.uuid(user_id, "user_id"),
        "protocol": None
        if protocol is None
        else validate.text(protocol, "protocol", max_length=64),
        "chain_id": None if chain_id is None else validate.chain_id(chain_id),
        "condition": _condition(condition),
        "action": _action(action),
        "expires_at": None if expires_at is None else validate.aware(expires_at, "expires_at"),
    }
    intent = await write_one(conn, "intents_create", params, Intent)
    assert intent is not None  # INSERT ... RETURNING always returns the row
    return intent


async def get(conn: AsyncConnection[Any], intent_id: UUID) -> Intent:
    """The intent with this id; :class:`NotFound` otherwise."""
    intent = await fetch_one(
        conn, "intents_get", {"intent_id": validate.uuid(intent_id, "intent_id")}, Intent
    )
    if intent is None:
        raise NotFound(f"no intent with id {intent_id}.")
    return intent


async def active_for_user(conn: AsyncConnection[Any], user_id: UUID) -> list[Intent]:
    """A user's active intents, oldest first."""
    return await fetch_all(
        conn, "intents_active_for_user", {"user_id": validate.uuid(user_id, "user_id")}, Intent
    )


async def transition(conn: AsyncConnection[Any], intent_id: UUID, to: IntentStatus) -> Intent:
    """Move an intent to ``to`` if :data:`TRANSITIONS` allows it from its current status.

    Checked and applied in one statement, so two workers cannot both move it.
    """
    validate.choice(to, "status", get_args(IntentStatus))
    sources = [status for status, targets in TRANSITIONS.items() if to in targets]
    params = {
        "intent_id": validate.uuid(intent_id, "intent_id"),
        "from_statuses": sources,
        "to_status": to,
    }
    intent = await write_one(conn, "intents_transition", params, Intent)
    if intent is None:
        current = await get(conn, intent_id)
        allowed = ", ".join(TRANSITIONS[current.status]) or "nothing (it is final)"
        raise InvalidInput(
            f"intent {intent_id} is {current.status} and cannot become {to}; "
            f"from {current.status} it can become {allowed}."
        )
    return intent


async def cancel(conn: AsyncConnection[Any], intent_id: UUID) -> Intent:
    """The user withdrew the intent (from active or triggered)."""
    return await transition(conn, intent_id, "cancelled")


async def trigger(conn: AsyncConnection[Any], intent_id: UUID) -> Intent:
    """Its condition held: an executor is about to act (stamps ``triggered_at``)."""
    return await transition(conn, intent_id, "triggered")


async def mark_executed(conn: AsyncConnection[Any], intent_id: UUID) -> Intent:
    """The action was carried out (stamps ``executed_at``)."""
    return await transition(conn, intent_id, "executed")


async def mark_failed(conn: AsyncConnection[Any], intent_id: UUID) -> Intent:
    """The action was attempted and failed."""
    return await transition(conn, intent_id, "failed")


async def due(conn: AsyncConnection[Any]) -> Batch[Intent]:
    """Active, unexpired intents whose condition holds on one of the user's latest snapshots.

    "Latest" means one per (protocol, chain) within the intent's scope (any
    protocol and chain when it names none): the newest ``snapshot_at``, the
    last written among equal ones. A NULL health factor (no debt) counts as
    infinitely high: ``>`` and ``>=`` conditions hold on it, ``<`` and ``<=``
    never do. Oldest intent first.

    A stored intent that cannot be read is left out and reported in the
    result's ``unreadable`` (:class:`~defi_sql.rows.Batch`); the others are served.
    """
    return await fetch_batch(conn, "intents_due", {}, Intent)
