"""The rows and JSONB documents of the schema, as msgspec structs.

One struct per table row and one per JSONB shape. Rows are immutable
(``frozen``) and untracked by the garbage collector (``gc=False``: a row never
holds a reference cycle), which halves the cost of building many of them.
JSONB documents keep the TypeScript application's camelCase keys on disk
(``riskProfile``, ``valueUSD``) while Python attributes are snake_case; unknown
keys written by others are ignored on read. Money amounts and health factors
are ``Decimal``, never ``float``; timestamps are timezone-aware.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import ClassVar, Literal
from uuid import UUID

import msgspec

__all__ = [
    "Alert",
    "AlertChannel",
    "AlertStatus",
    "AlertThresholds",
    "AlertWithSignal",
    "Asset",
    "Checkpoint",
    "DailyPosition",
    "Event",
    "History",
    "Intent",
    "IntentAction",
    "IntentCondition",
    "IntentStatus",
    "NewEvent",
    "NewPosition",
    "Partition",
    "PartitionMade",
    "PartitionRetired",
    "Position",
    "PositionAtRisk",
    "RiskProfile",
    "Row",
    "Severity",
    "Signal",
    "SignalStatus",
    "Subscription",
    "User",
    "UserPreferences",
    "UserWithPositions",
    "Waiting",
]

RiskProfile = Literal["conservative", "moderate", "aggressive"]
Severity = Literal["low", "medium", "high", "critical"]
SignalStatus = Literal["active", "expired", "acknowledged"]
AlertChannel = Literal["telegram", "email", "in_app"]
AlertStatus = Literal["pending", "sent", "failed", "acknowledged"]
IntentStatus = Literal["active", "triggered", "executed", "cancelled", "failed", "expired"]


class Row(msgspec.Struct, kw_only=True, frozen=True, gc=False):
    """Base of every row struct: keyword-only, immutable, untracked by the GC.

    (Subclasses repeat ``kw_only``/``frozen`` so that type checkers see them.)
    A row of a table names it in ``table``, for errors about a stored row.
    """

    table: ClassVar[str] = ""


class Document(msgspec.Struct, kw_only=True, frozen=True, gc=False, omit_defaults=True):
    """Base of every JSONB document: camelCase on disk, unset keys left out."""


# -- JSONB documents -----------------------------------------------------------


class AlertThresholds(Document, rename="camel", kw_only=True, frozen=True):
    """``preferences.alertThresholds``: when to warn the user."""

    health_factor: Decimal | None = None


class UserPreferences(Document, rename="camel", kw_only=True, frozen=True):
    """``users.preferences``; every key is optional, an empty object means defaults."""

    risk_profile: RiskProfile | None = None
    alert_thresholds: AlertThresholds | None = None
    active_signals: list[str] | None = None
    notification_channels: list[AlertChannel] | None = None


class Asset(Document, kw_only=True, frozen=True):
    """One entry of ``positions.collateral`` or ``positions.debt``; amounts as decimal strings."""

    symbol: str
    amount: Decimal
    value_usd: Decimal = msgspec.field(name="valueUSD")


class IntentCondition(Document, kw_only=True, frozen=True, omit_defaults=False):
    """``intents.condition``: e.g. health factor < 1.2 (every key written, metric included)."""

    metric: Literal["healthFactor"] = "healthFactor"
    operator: Literal["<", "<=", ">", ">="]
    value: Decimal


class IntentAction(Document, kw_only=True, frozen=True):
    """``intents.action``: e.g. repay 1000 USDT."""

    type: Literal["repay", "deposit", "withdraw", "notify"]
    asset: str | None = None
    amount: Decimal | None = None


# -- rows ------------------------------------------------------------------------


class User(Row, kw_only=True, frozen=True):
    table: ClassVar[str] = "users"

    id: UUID
    wallet_address: str
    preferences: UserPreferences
    telegram_chat_id: str | None
    created_at: datetime
    updated_at: datetime


class Position(Row, kw_only=True, frozen=True):
    table: ClassVar[str] = "positions"

    id: UUID
    user_id: UUID
    wallet_address: str
    protocol: str
    chain_id: int
    health_factor: Decimal | None
    collateral: list[Asset]
    debt: list[Asset]
    metadata: dict[str, object]
    snapshot_at: datetime
    created_at: datetime
    updated_at: datetime


class PositionAtRisk(Position, kw_only=True, frozen=True):
    """A latest snapshot below its user's alert threshold (``positions.at_risk``)."""

    alert_threshold: Decimal


class NewPosition(msgspec.Struct, kw_only=True, frozen=True, gc=False):
    """A snapshot to record (``positions.create`` and the bulk ``positions.ingest``)."""

    user_id: UUID
    wallet_address: str
    protocol: str
    chain_id: int = 1
    health_factor: Decimal | None = None
    collateral: list[Asset] = msgspec.field(default_factory=list)
    debt: list[Asset] = msgspec.field(default_factory=list)
    metadata: dict[str, object] = msgspec.field(default_factory=dict)
    snapshot_at: datetime | None = None


class UserWithPositions(Row, kw_only=True, frozen=True):
    user: User
    positions: list[Position]


class Signal(Row, kw_only=True, frozen=True):
    table: ClassVar[str] = "signals"

    id: UUID
    type: str
    asset: str
    severity: Severity
    data: dict[str, object]
    detected_at: datetime
    expires_at: datetime | None
    status: SignalStatus
    created_at: datetime


class Alert(Row, kw_only=True, frozen=True):
    table: ClassVar[str] = "alerts"

    id: UUID
    user_id: UUID
    signal_id: UUID | None
    type: str
    channel: AlertChannel
    message: str
    metadata: dict[str, object]
    sent_at: datetime | None
    acknowledged_at: datetime | None
    status: AlertStatus
    created_at: datetime
    attempts: int
    claimed_until: datetime | None
    claim_token: UUID | None
    idempotency_key: UUID | None
    #: a pending alert whose last attempt failed is not claimed before this (migration 0034)
    next_attempt_at: datetime | None


class AlertWithSignal(Row, kw_only=True, frozen=True):
    alert: Alert
    signal: Signal | None


class Intent(Row, kw_only=True, frozen=True):
    table: ClassVar[str] = "intents"

    id: UUID
    user_id: UUID
    protocol: str | None
    chain_id: int | None
    condition: IntentCondition
    action: IntentAction
    status: IntentStatus
    triggered_at: datetime | None
    executed_at: datetime | None
    expires_at: datetime | None
    created_at: datetime
    updated_at: datetime


class NewEvent(msgspec.Struct, kw_only=True, frozen=True, gc=False):
    """An event to append. Give it an ``event_id`` to make re-sending it harmless."""

    event_type: str
    payload: dict[str, object]
    metadata: dict[str, object] = msgspec.field(default_factory=dict)
    event_id: UUID | None = None
    occurred_at: datetime | None = None


class Event(Row, kw_only=True, frozen=True):
    table: ClassVar[str] = "event_store"

    position: int
    event_id: UUID
    stream_type: str
    stream_id: UUID
    version: int
    event_type: str
    payload: dict[str, object]
    metadata: dict[str, object]
    occurred_at: datetime
    recorded_at: datetime
    #: the appending transaction (0 before migration 0031): with ``position``, the
    #: gap-free order consumers read in (see :class:`Checkpoint`)
    transaction_id: int
    #: the user the stream belongs to; None for the service's own streams
    owner_id: UUID | None


class Checkpoint(msgspec.Struct, kw_only=True, frozen=True, gc=False, order=True):
    """Where a consumer of every stream stands: after the event with this
    ``(transaction_id, position)``. Events are read in that order, and only
    once every transaction that could still append before it has ended, so
    nothing ever appears behind a checkpoint. ``Checkpoint()`` is the start."""

    transaction_id: int = 0
    position: int = 0

    @classmethod
    def of(cls, event: Event) -> Checkpoint:
        """The checkpoint just after ``event``."""
        return cls(transaction_id=event.transaction_id, position=event.position)


class Subscription(Row, kw_only=True, frozen=True):
    """A named consumer of the event store and its checkpoint."""

    table: ClassVar[str] = "event_subscriptions"

    name: str
    #: the stream types it follows; None: every stream
    stream_types: list[str] | None
    transaction_id: int
    position: int
    events_handled: int
    created_at: datetime
    updated_at: datetime

    @property
    def checkpoint(self) -> Checkpoint:
        return Checkpoint(transaction_id=self.transaction_id, position=self.position)


class Partition(msgspec.Struct, kw_only=True, frozen=True):
    """A partition of ``positions`` and its range [range_start, range_end)."""

    partition_name: str
    is_default: bool
    #: None: unbounded (the first partition's start, the default partition's)
    range_start: datetime | None
    range_end: datetime | None


class PartitionMade(msgspec.Struct, kw_only=True, frozen=True):
    """A partition :func:`maintenance.run` made, and the snapshots it took over
    from the default partition."""

    partition_name: str
    range_start: datetime
    range_end: datetime
    moved: int


class Waiting(msgspec.Struct, kw_only=True, frozen=True):
    """The snapshots in the default partition: dated beyond every partition made."""

    snapshots: int
    earliest: datetime | None
    latest: datetime | None


class PartitionRetired(msgspec.Struct, kw_only=True, frozen=True):
    """A partition retention dropped: its snapshots, rolled up into that many days."""

    partition_name: str
    snapshots: int
    days: int


class DailyPosition(Row, kw_only=True, frozen=True):
    """One UTC day of a (user, protocol, chain) whose snapshots retention removed."""

    table: ClassVar[str] = "positions_daily"

    user_id: UUID
    protocol: str
    chain_id: int
    day: date
    snapshots: int
    #: None: that snapshot had no debt (as Position.health_factor)
    first_health_factor: Decimal | None
    last_health_factor: Decimal | None
    #: None: no snapshot of the day had debt
    min_health_factor: Decimal | None
    #: the sum of valueUSD over the last snapshot's collateral, and over its debt
    last_collateral_usd: Decimal
    last_debt_usd: Decimal
    first_snapshot_at: datetime
    last_snapshot_at: datetime


class History(msgspec.Struct, kw_only=True, frozen=True):
    """A user's history over a time range (``positions.history``), and where it comes from.

    Snapshots are kept from ``snapshots_since`` on (None: every snapshot ever
    written); the days before it are answered by their daily rollups.
    """

    #: "snapshots": all of it from snapshots; "rollups": all from daily rollups
    #: (the range ends before snapshots_since); "both": rollups, then snapshots
    source: Literal["snapshots", "rollups", "both"]
    #: the snapshots with since <= snapshot_at < until, oldest first
    snapshots: list[Position]
    #: the days of the range before snapshots_since, oldest first
    days: list[DailyPosition]
    snapshots_since: datetime | None
