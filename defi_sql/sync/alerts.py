"""Alerts: queue, fan a signal out, lease for delivery, mark sent/failed, acknowledge.

Delivery by many workers, each with a connection for its work and an
autocommit connection of its own to wait on (:mod:`defi_sql.sync.wakeup`)::

    wakeup.listen(listener, [wakeup.ALERTS])               # before the first claim
    while True:
        batch = db.alerts.claim(conn, limit=100)          # leases, commits at once
        if not batch:                                     # nothing due: sleep until an
            wakeup.wait(listener, [wakeup.ALERTS], timeout=1.0)  # alert is queued, or 1 s
            continue
        for alert in batch:
            try:
                channel.send(alert.message, idempotency_key=alert.idempotency_key)
            except ChannelError as exc:
                db.alerts.mark_failed(conn, alert.id, str(exc), claim_token=alert.claim_token)
            else:
                db.alerts.mark_sent(conn, alert.id, claim_token=alert.claim_token)

Queuing alerts (:func:`create`, :func:`fan_out`, any INSERT) and :func:`requeue`
notify channel ``defi_alerts`` at COMMIT (migration 0035; of the transactions
queueing at once only one notifies, 0036, and ``wakeup.wait`` claims again
within milliseconds while the others are open), so an idle worker claims a new
alert within milliseconds; the notification is only a hint, and the
``timeout`` is the poll that finds what no notification announced (one sent
before the worker first listened, or a retry coming due).

A worker that dies between claim and mark leaves its alerts leased until
``claimed_until``; another worker then claims them again (new token, same
idempotency key, so a channel that honours the key does not deliver twice), and
the dead worker's token no longer marks anything (:class:`LeaseLost`).

A failed send (:func:`mark_failed`) goes back to the queue after a backoff
(``next_attempt_at``: ``backoff`` doubling per attempt up to ``max_backoff``,
shortened at random by up to half), with its holder's token void and the same
idempotency key, until its ``max_attempts``-th attempt fails: then it stays
``failed`` for good, a dead letter with the last error in
``metadata['failureReason']``. :func:`dead_letters` lists them for an
operator, and :func:`requeue` puts one back.

Generated from defi_sql/aio/alerts.py by tools/async_to_sync.py: do not edit.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any, get_args
from uuid import UUID

from psycopg import Connection
from psycopg.types.json import Jsonb

from defi_sql import validate
from defi_sql.errors import InvalidInput, LeaseLost, NotFound
from defi_sql.models import Alert, AlertChannel, AlertStatus, AlertWithSignal, Signal
from defi_sql.rows import Batch, encode_json
from defi_sql.sync._execute import (
    execute,
    fetch_all,
    fetch_batch,
    fetch_one,
    transaction,
    write_all,
    write_batch,
    write_one,
)

__all__ = [
    "acknowledge",
    "claim",
    "create",
    "dead_letters",
    "fan_out",
    "get",
    "mark_failed",
    "mark_sent",
    "mark_sent_many",
    "pending_for_user",
    "requeue",
]

#: How long a claim keeps an alert from other workers unless :func:`claim` is told otherwise.
DEFAULT_LEASE = timedelta(minutes=1)
#: The longest lease :func:`claim` grants: a dead worker's alerts wait at most this long.
MAX_LEASE = timedelta(hours=1)
#: How many attempts (claims) :func:`mark_failed` allows an alert unless told otherwise.
DEFAULT_MAX_ATTEMPTS = 5
#: The most attempts :func:`mark_failed` may be told to allow.
MAX_ATTEMPTS = 100
#: The wait after a first failed attempt unless :func:`mark_failed` is told otherwise; doubled
#: after each further one.
DEFAULT_BACKOFF = timedelta(seconds=30)
#: The longest wait between two attempts unless :func:`mark_failed` is told otherwise.
DEFAULT_MAX_BACKOFF = timedelta(hours=1)
#: The longest wait between two attempts :func:`mark_failed` may be told to use.
MAX_BACKOFF = timedelta(days=1)


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
    alert = write_one(conn, "alerts_create", params, Alert)
    assert alert is not None  # INSERT ... RETURNING always returns the row
    return alert


def get(conn: Connection[Any], alert_id: UUID) -> Alert:
    """The alert with this id; :class:`NotFound` otherwise."""
    alert = fetch_one(conn, "alerts_get", {"alert_id": validate.uuid(alert_id, "alert_id")}, Alert)
    if alert is None:
        raise NotFound(f"no alert with id {alert_id}.")
    return alert


def pending_for_user(conn: Connection[Any], user_id: UUID) -> list[AlertWithSignal]:
    """A user's pending alerts, newest first, each with its signal: two queries, no N+1."""
    alerts = fetch_all(
        conn, "alerts_pending_for_user", {"user_id": validate.uuid(user_id, "user_id")}, Alert
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
    return execute(conn, "alerts_fan_out", {"signal_id": validate.uuid(signal_id, "signal_id")})


def claim(
    conn: Connection[Any], *, limit: int = 100, lease: timedelta = DEFAULT_LEASE
) -> Batch[Alert]:
    """Lease up to ``limit`` pending alerts, oldest first, for delivery by this worker.

    An alert waiting for a retry (:func:`mark_failed`) is left until its
    ``next_attempt_at``.

    Each alert comes back with a new ``claim_token``, ``claimed_until`` (now +
    ``lease``) and its ``idempotency_key``. No other claim returns it until the
    lease ends, whether or not this worker is still alive; after that it may be
    claimed again, with a new token. Deliver it passing ``idempotency_key`` to
    the channel, then :func:`mark_sent` (or :func:`mark_sent_many`) with the
    token, before the lease ends. The lease commits at once (on an autocommit
    connection) or with the caller's transaction.

    A stored alert that cannot be read is not delivered: in the same
    transaction it leaves the queue as ``failed`` with the reason in
    ``metadata.failureReason``, and the result's ``unreadable`` reports it
    (:class:`~defi_sql.rows.Batch`), so it never blocks the alerts behind it.
    """
    params = {
        "max_rows": validate.positive_int(limit, "limit"),
        "lease": validate.duration(lease, "lease", maximum=MAX_LEASE),
    }
    with transaction(conn):
        batch = write_batch(conn, "alerts_claim", params, Alert)
        if batch.unreadable:
            ids = [error.row_id for error in batch.unreadable]
            reasons = [f"unreadable: {error}" for error in batch.unreadable]
            execute(conn, "alerts_set_aside_unreadable", {"alert_ids": ids, "reasons": reasons})
    return batch


def _transition(
    conn: Connection[Any],
    name: str,
    params: dict[str, Any],
    *,
    to: AlertStatus,
    leased_from: tuple[AlertStatus, ...] = (),
    rule: str,
) -> Alert:
    alert = write_one(conn, name, params, Alert)
    if alert is not None:
        return alert
    # Refused. The row may have changed since (a holder giving the alert back):
    # lock it, so that the retry and the diagnosis both see it as it now is.
    with transaction(conn):
        current = fetch_one(conn, "alerts_lock", {"alert_id": params["alert_id"]}, Alert)
        if current is None:
            raise NotFound(f"no alert with id {params['alert_id']}.")
        alert = write_one(conn, name, params, Alert)
        if alert is not None:
            return alert
    token = params["claim_token"]
    if current.status == to and token is not None and current.claim_token == token:
        return current  # the same holder repeating itself: already done
    if token is not None and current.claim_token is None and current.status == "pending":
        raise LeaseLost(
            f"alert {current.id} went back to the queue after this lease (a failed attempt, "
            "or an operator's requeue); leave its delivery to the worker that claims it next."
        )
    if token is not None and current.claim_token != token:
        raise LeaseLost(
            f"alert {current.id} was claimed again by another worker after this lease "
            "ended; leave its delivery to that worker."
        )
    # a tokenless call refused in a status it may leave: the lease was still live
    if token is None and current.claimed_until is not None and current.status in leased_from:
        raise LeaseLost(
            f"alert {current.id} is leased to a worker until {current.claimed_until}; "
            "pass the claim_token that claim returned."
        )
    raise InvalidInput(f"alert {current.id} is {current.status}: {rule}.")


def _token(claim_token: UUID | None) -> UUID | None:
    return None if claim_token is None else validate.uuid(claim_token, "claim_token")


def mark_sent(conn: Connection[Any], alert_id: UUID, *, claim_token: UUID | None = None) -> Alert:
    """A pending (or previously failed) alert was delivered.

    With the ``claim_token`` of its latest lease, or without one while no live
    lease is held on it; otherwise :class:`LeaseLost`. Repeating a successful
    call with the same token returns the alert again, so it is safe to retry.
    """
    params = {"alert_id": validate.uuid(alert_id, "alert_id"), "claim_token": _token(claim_token)}
    return _transition(
        conn,
        "alerts_mark_sent",
        params,
        to="sent",
        leased_from=("pending", "failed"),
        rule="only pending or failed alerts can be sent",
    )


def mark_sent_many(conn: Connection[Any], alerts: Sequence[Alert]) -> list[Alert]:
    """Mark every alert (as :func:`claim` returned them) sent, in one statement.

    Returns the alerts now sent; one whose lease passed to another worker, or
    that is no longer pending or failed, is left out, unchanged.
    """
    if not isinstance(alerts, Sequence):  # an Alert (a Struct) is not one either
        raise InvalidInput(
            f"alerts must be a sequence of {validate.expected(Alert)}, "
            f"not {type(alerts).__name__}; pass the list that claim returned."
        )
    ids: list[UUID] = []
    tokens: list[UUID] = []
    for alert in alerts:
        if not isinstance(alert, Alert) or alert.claim_token is None:
            raise InvalidInput(
                "mark_sent_many takes the alerts claim returned, each with its claim_token; "
                f"got {type(alert).__name__} without one."
            )
        ids.append(alert.id)
        tokens.append(alert.claim_token)
    if not ids:
        return []
    return write_all(
        conn, "alerts_mark_sent_many", {"alert_ids": ids, "claim_tokens": tokens}, Alert
    )


def mark_failed(
    conn: Connection[Any],
    alert_id: UUID,
    reason: str,
    *,
    claim_token: UUID | None = None,
    max_attempts: int = DEFAULT_MAX_ATTEMPTS,
    backoff: timedelta = DEFAULT_BACKOFF,
    max_backoff: timedelta = DEFAULT_MAX_BACKOFF,
) -> Alert:
    """A delivery attempt of a pending alert failed; ``metadata['failureReason']`` keeps why.

    Before its ``max_attempts``-th attempt (``attempts``, the claims; a
    failure outside any claim counts as one) the alert goes back to the queue:
    ``pending``, no lease, its ``claim_token`` void, and :func:`claim` leaves
    it until ``next_attempt_at``: now + ``backoff`` after the first attempt,
    doubling after each further one up to ``max_backoff``, each shortened at
    random by up to half. Its ``idempotency_key`` stays the same. At the
    ``max_attempts``-th it becomes ``failed`` for good (a dead letter,
    :func:`dead_letters`); ``max_attempts=1`` fails it at once.

    The same lease rule as :func:`mark_sent`; a holder repeating the call after
    its alert went back to the queue gets :class:`LeaseLost`, after it became a
    dead letter the alert again.
    """
    params = {
        "alert_id": validate.uuid(alert_id, "alert_id"),
        "reason": validate.text(reason, "reason", max_length=2000),
        "claim_token": _token(claim_token),
        "max_attempts": validate.positive_int(max_attempts, "max_attempts", maximum=MAX_ATTEMPTS),
        "backoff": validate.duration(backoff, "backoff", maximum=MAX_BACKOFF),
        "max_backoff": validate.duration(max_backoff, "max_backoff", maximum=MAX_BACKOFF),
    }
    if backoff > max_backoff:
        raise InvalidInput(
            f"backoff must be at most max_backoff, not {backoff} with max_backoff {max_backoff}."
        )
    return _transition(
        conn,
        "alerts_mark_failed",
        params,
        to="failed",
        leased_from=("pending",),
        rule="only pending alerts can fail",
    )


def dead_letters(conn: Connection[Any], *, limit: int = 100) -> Batch[Alert]:
    """The dead letters, newest first, at most ``limit``: alerts out of the queue for good.

    Those are the ``failed`` alerts: their last attempt failed (:func:`mark_failed`)
    or :func:`claim` could not read them; ``metadata['failureReason']`` says why.
    A row that cannot be read is left out and reported in the result's
    ``unreadable`` (:class:`~defi_sql.rows.Batch`).
    """
    params = {"max_rows": validate.positive_int(limit, "limit")}
    return fetch_batch(conn, "alerts_dead_letters", params, Alert)


def requeue(conn: Connection[Any], alert_id: UUID) -> Alert:
    """Put a dead letter (a ``failed`` alert) back in the queue, for an operator.

    It is ``pending`` and due at once, with ``attempts`` counted from 0 again,
    no lease (a late holder's token is void) and the same ``idempotency_key``;
    ``metadata['failureReason']`` keeps the last error. Waiting workers are
    woken. :class:`InvalidInput` when the alert is not failed.
    """
    params = {"alert_id": validate.uuid(alert_id, "alert_id"), "claim_token": None}
    return _transition(
        conn,
        "alerts_requeue",
        params,
        to="pending",
        rule="only failed alerts (dead letters) can be requeued",
    )


def acknowledge(conn: Connection[Any], alert_id: UUID) -> Alert:
    """The user saw a sent alert."""
    params = {"alert_id": validate.uuid(alert_id, "alert_id"), "claim_token": None}
    return _transition(
        conn,
        "alerts_acknowledge",
        params,
        to="acknowledged",
        rule="only sent alerts can be acknowledged",
    )
