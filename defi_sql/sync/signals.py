"""Signals: detect, read the active ones, expire the overdue, acknowledge.

Generated from defi_sql/aio/signals.py by tools/async_to_sync.py: do not edit.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, get_args
from uuid import UUID

from psycopg import Connection
from psycopg.types.json import Jsonb

from defi_sql import validate
from defi_sql.errors import InvalidInput, NotFound
from defi_sql.models import Severity, Signal
from defi_sql.rows import encode_json
from defi_sql.sync._execute import execute, fetch_all, fetch_one, write_one

__all__ = [
    "acknowledge",
    "active",
    "active_for_asset",
    "create",
    "expire_overdue",
    "get",
    "recent_by_type",
]


def create(
    conn: Connection[Any],
    *,
    type: str,
    asset: str,
    severity: Severity,
    data: dict[str, object] | None = None,
    detected_at: datetime | None = None,
    expires_at: datetime | None = None,
) -> Signal:
    """Record a detected signal (``detected_at`` defaults to now)."""
    if detected_at is not None:
        validate.aware(detected_at, "detected_at")
    if expires_at is not None:
        validate.aware(expires_at, "expires_at")
        if expires_at <= (detected_at or datetime.now(UTC)):
            raise InvalidInput("expires_at must be after detected_at.")
    params = {
        "type": validate.text(type, "type", max_length=64),
        "asset": validate.text(asset, "asset", max_length=64),
        "severity": validate.choice(severity, "severity", get_args(Severity)),
        "data": Jsonb(validate.document({} if data is None else data, "data"), dumps=encode_json),
        "detected_at": detected_at,
        "expires_at": expires_at,
    }
    signal = write_one(conn, "signals_create", params, Signal)
    assert signal is not None  # INSERT ... RETURNING always returns the row
    return signal


def get(conn: Connection[Any], signal_id: UUID) -> Signal:
    """The signal with this id; :class:`NotFound` otherwise."""
    signal = fetch_one(
        conn, "signals_get", {"signal_id": validate.uuid(signal_id, "signal_id")}, Signal
    )
    if signal is None:
        raise NotFound(f"no signal with id {signal_id}.")
    return signal


def active_for_asset(conn: Connection[Any], asset: str) -> list[Signal]:
    """Active, unexpired signals of one asset, newest first."""
    params = {"asset": validate.text(asset, "asset", max_length=64)}
    return fetch_all(conn, "signals_active_for_asset", params, Signal)


def recent_by_type(conn: Connection[Any], type: str, *, limit: int = 50) -> list[Signal]:
    """The latest ``limit`` signals of one type, any status, newest first."""
    params = {
        "type": validate.text(type, "type", max_length=64),
        "max_rows": validate.positive_int(limit, "limit"),
    }
    return fetch_all(conn, "signals_recent_by_type", params, Signal)


def active(conn: Connection[Any], *, limit: int = 100) -> list[Signal]:
    """Every active, unexpired signal, newest first, at most ``limit``."""
    params = {"max_rows": validate.positive_int(limit, "limit")}
    return fetch_all(conn, "signals_active", params, Signal)


def expire_overdue(conn: Connection[Any]) -> int:
    """Mark active signals past their ``expires_at`` expired; return how many."""
    return execute(conn, "signals_expire_overdue", {})


def acknowledge(conn: Connection[Any], signal_id: UUID) -> Signal:
    """Mark an active signal acknowledged (acknowledging twice is harmless)."""
    signal = write_one(
        conn, "signals_acknowledge", {"signal_id": validate.uuid(signal_id, "signal_id")}, Signal
    )
    if signal is None:
        current = get(conn, signal_id)
        raise InvalidInput(f"signal {signal_id} is {current.status} and cannot be acknowledged.")
    return signal
