"""Alerts: queue, fan a signal out, claim for delivery, mark sent/failed, acknowledge.

Generated from defi_sql/aio/alerts.py by defi_sql/_async_to_sync.py: do not edit.
"""

from __future__ import annotations

from typing import Any, get_args
from uuid import UUID

from psycopg import Connection
from psycopg.pq import TransactionStatus
from psycopg.types.json import Jsonb

from defi_sql import validate
from defi_sql.errors import InvalidInput, NotFound
from defi_sql.models import Alert, AlertChannel, AlertWithSignal, Signal
from defi_sql.rows import encode_json
from defi_sql.sync._execute import execute, fetch_all, fetch_one, write_one

__all__ = [
    "acknowledge",
    "claim",
    "create",
    "fan_out",
    "get",
    "mark_failed",
    "mark_sent",
    "pending_for_user",
]


def create(
    conn: Connection[Any],
    *,
    user_id: UUID,
    type: str,
    channel: AlertChannel,
    message: str,
    signal_id: UUID | None = None,
    metadata: dict[str, object] | None = None,
) -> Alert:
    """Queue an alert for delivery; :class:`NotFound` when the user or signal is missing."""
    params = {
        "user_id": validate.uuid(user_id, "user_id"),
        "signal_id": None if signal_id is None else validate.uuid(signal_id, "signal_id"),
        "type": validate.text(type, "type", max_length=64),
        "channel": validate.choice(channel, "channel", get_args(AlertChannel)),
        "message": validate.text(message, "message"),
        "metadata": Jsonb(
            validate.document({} if metadata is None else metadata, "metadata"), dumps=encode_json
        ),
    }
    alert = write_one(conn, "create_alert", params, Alert)
    assert alert is not None
    return alert


def get(conn: Connection[Any], alert_id: UUID) -> Alert:
    """The alert with this id; :class:`NotFound` otherwise."""
    alert = fetch_one(conn, "get_alert", {"alert_id": validate.uuid(alert_id, "alert_id")}, Alert)
    if alert is None:
        raise NotFound(f"no alert with id {alert_id}.")
    return alert


def pending_for_user(conn: Connection[Any], user_id: UUID) -> list[AlertWithSignal]:
    """A user's pending alerts, newest first, each with its signal: two queries, no N+1."""
    alerts = fetch_all(
        conn, "pending_alerts_for_user", {"user_id": validate.uuid(user_id, "user_id")}, Alert
    )
    ids = sorted({a.signal_id for a in alerts if a.signal_id is not None})
    signals = fetch_all(conn, "signals_by_ids", {"signal_ids": ids}, Signal) if ids else []
    by_id = {s.id: s for s in signals}
    return [
        AlertWithSignal(alert=a, signal=None if a.signal_id is None else by_id.get(a.signal_id))
        for a in alerts
    ]


def fan_out(conn: Connection[Any], signal_id: UUID) -> int:
    """Queue the signal for every user whose ``activeSignals`` include its type; return how many.

    One statement; users already alerted about this signal are skipped, so
    fanning out twice adds nothing.
    """
    return execute(conn, "fan_out_signal", {"signal_id": validate.uuid(signal_id, "signal_id")})


def claim(conn: Connection[Any], *, limit: int = 100) -> list[Alert]:
    """Lock up to ``limit`` pending alerts, oldest first, for delivery by this worker.

    Must run inside a transaction (``db.transaction(conn)``): the alerts stay
    locked, invisible to other workers' claims (``FOR UPDATE SKIP LOCKED``),
    until it ends. Mark each one sent or failed before it does.
    """
    if conn.info.transaction_status != TransactionStatus.INTRANS:
        raise InvalidInput(
            "claim needs an open transaction (use `with db.transaction(conn):`), otherwise the alerts are unlocked as soon as they are read."
        )
    params = {"max_rows": validate.positive_int(limit, "limit")}
    return fetch_all(conn, "claim_pending_alerts", params, Alert)


def _transition(conn: Connection[Any], name: str, params: dict[str, Any], rule: str) -> Alert:
    alert = write_one(conn, name, params, Alert)
    if alert is None:
        current = get(conn, params["alert_id"])
        raise InvalidInput(f"alert {current.id} is {current.status}: {rule}.")
    return alert


def mark_sent(conn: Connection[Any], alert_id: UUID) -> Alert:
    """A pending (or previously failed) alert was delivered."""
    return _transition(
        conn,
        "mark_alert_sent",
        {"alert_id": validate.uuid(alert_id, "alert_id")},
        "only pending or failed alerts can be sent",
    )


def mark_failed(conn: Connection[Any], alert_id: UUID, reason: str) -> Alert:
    """A pending alert could not be delivered; ``metadata['failureReason']`` keeps why."""
    params = {
        "alert_id": validate.uuid(alert_id, "alert_id"),
        "reason": validate.text(reason, "reason", max_length=2000),
    }
    return _transition(conn, "mark_alert_failed", params, "only pending alerts can fail")


def acknowledge(conn: Connection[Any], alert_id: UUID) -> Alert:
    """The user saw a sent alert."""
    return _transition(
        conn,
        "acknowledge_alert",
        {"alert_id": validate.uuid(alert_id, "alert_id")},
        "only sent alerts can be acknowledged",
    )
