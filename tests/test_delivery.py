"""Alert delivery by 8 worker processes, some of which die after claiming.

Each worker is a real process on its own connection, running the loop the
alerts module documents: claim a batch (a lease), "send" each alert over a fake
channel, mark it sent. The channel is a table: a send is a row with the alert's
idempotency key, the worker and its claim token. Three workers are killed
(``os._exit``, no cleanup) after a claim, one before sending and two after
sending part of the batch; one more stalls until others have taken its batch over, then marks it.

Afterwards: every alert is sent, each was marked by exactly one lease holder,
no two leases of an alert overlapped in time, a late worker's mark was refused
(:class:`LeaseLost`), and every second send of an alert carried the same
idempotency key as the first, so a channel that honours the key delivers it once.
"""

from __future__ import annotations

import itertools
import multiprocessing
import os
import time
from collections import Counter, defaultdict
from datetime import timedelta
from typing import Any
from uuid import UUID

import psycopg

import defi_sql.sync as db
from defi_sql.errors import LeaseLost

ALERTS = 240
WORKERS = 8
BATCH = 10
LEASE = timedelta(milliseconds=800)
#: worker number -> what goes wrong with it on its first claim
FATE = {
    0: "dies before sending",
    1: "dies after sending half",
    2: "dies after sending all",
    3: "stalls past its lease",
}

CHANNEL = """
CREATE TABLE test_channel (
    idempotency_key uuid NOT NULL,
    alert_id        uuid NOT NULL,
    worker          int  NOT NULL,
    claim_token     uuid NOT NULL
);
CREATE TABLE test_leases (
    alert_id      uuid        NOT NULL,
    worker        int         NOT NULL,
    claim_token   uuid        NOT NULL,
    claimed_until timestamptz NOT NULL
);
"""


def _send(conn: psycopg.Connection[Any], worker: int, alert: Any) -> None:
    conn.execute(
        "INSERT INTO test_channel VALUES (%s, %s, %s, %s)",
        (alert.idempotency_key, alert.id, worker, alert.claim_token),
    )


def _wait_until_taken_over(conn: psycopg.Connection[Any], batch: list[Any]) -> None:
    """Stall until other workers have claimed every alert of ``batch`` again."""
    mine = [alert.claim_token for alert in batch]
    for _ in range(1200):
        row = conn.execute(
            "SELECT count(*) FROM alerts WHERE claim_token = ANY(%s)", (mine,)
        ).fetchone()
        if row is not None and row[0] == 0:
            return
        time.sleep(0.05)
    raise AssertionError("nobody claimed the stalled worker's alerts again within 60 s")


def _worker(url: str, worker: int, start: Any) -> None:
    """One delivery worker; exits 0 when nothing is left, 3 when it 'dies'."""
    fate = FATE.get(worker)
    refused = 0
    with psycopg.connect(url, autocommit=True) as conn:
        start.wait()
        while True:
            with db.transaction(conn):  # the lease and its log commit together
                batch = db.alerts.claim(conn, limit=BATCH, lease=LEASE)
                for alert in batch:
                    conn.execute(
                        "INSERT INTO test_leases VALUES (%s, %s, %s, %s)",
                        (alert.id, worker, alert.claim_token, alert.claimed_until),
                    )
            if not batch:
                left = conn.execute(
                    "SELECT count(*) FROM alerts WHERE status = 'pending'"
                ).fetchone()
                if left is None or left[0] == 0:
                    break
                time.sleep(0.05)  # leased by others (perhaps dead): wait for the leases to end
                continue
            if fate == "dies before sending":
                os._exit(3)
            sent_now = batch[: len(batch) // 2] if fate == "dies after sending half" else batch
            for alert in sent_now:
                _send(conn, worker, alert)
            if fate in ("dies after sending half", "dies after sending all"):
                os._exit(3)
            if fate == "stalls past its lease":
                fate = None
                _wait_until_taken_over(conn, batch)
                for alert in batch:
                    try:
                        db.alerts.mark_sent(conn, alert.id, claim_token=alert.claim_token)
                    except LeaseLost:
                        refused += 1
                conn.execute("INSERT INTO test_refused VALUES (%s, %s)", (worker, refused))
                continue
            if worker % 2:
                db.alerts.mark_sent_many(conn, batch)
            else:
                for alert in batch:
                    db.alerts.mark_sent(conn, alert.id, claim_token=alert.claim_token)
    os._exit(0)


def test_workers_that_die_after_claiming_lose_no_alert(db_url: str) -> None:
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute(CHANNEL)
        conn.execute("CREATE TABLE test_refused (worker int NOT NULL, refused int NOT NULL)")
        users = [db.users.create(conn, wallet_address=f"0x{n:040x}").id for n in range(1, 9)]
        for n in range(ALERTS):
            db.alerts.create(
                conn,
                user_id=users[n % len(users)],
                type="health_factor",
                channel="telegram",
                message=f"alert {n}",
            )

    context = multiprocessing.get_context("fork")
    start = context.Barrier(WORKERS)
    processes = [context.Process(target=_worker, args=(db_url, n, start)) for n in range(WORKERS)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=120)
    codes = {n: p.exitcode for n, p in enumerate(processes)}
    assert codes == {n: 3 if FATE.get(n, "").startswith("dies") else 0 for n in range(WORKERS)}

    with psycopg.connect(db_url, autocommit=True) as conn:
        alerts = conn.execute(
            "SELECT id, status, attempts, claim_token, idempotency_key FROM alerts"
        ).fetchall()
        sends = conn.execute("SELECT * FROM test_channel").fetchall()
        leases = conn.execute(
            "SELECT alert_id, worker, claim_token, claimed_until FROM test_leases"
        ).fetchall()
        [(refused,)] = conn.execute("SELECT coalesce(sum(refused), 0) FROM test_refused")

    # every alert delivered, and marked sent by the holder of its last lease
    assert len(alerts) == ALERTS
    assert Counter(status for _, status, *_ in alerts) == {"sent": ALERTS}
    by_token = {token: (alert_id, worker) for alert_id, worker, token, _ in leases}
    for alert_id, _, _, token, _ in alerts:
        assert by_token[token][0] == alert_id
    # each lease logged once, and an alert's leases follow one another, never overlap
    assert len(by_token) == len(leases) == sum(a[2] for a in alerts)
    per_alert: dict[UUID, list[Any]] = defaultdict(list)
    for alert_id, _, _, until in leases:
        per_alert[alert_id].append(until)
    for ends in per_alert.values():
        ends.sort()
        for earlier, later in itertools.pairwise(ends):
            assert later - LEASE >= earlier  # the next lease began after the last one ended
    # every alert reached the channel; repeats carry the first send's idempotency key
    key_of = {alert_id: key for alert_id, _, _, _, key in alerts}
    assert {alert_id for _, alert_id, _, _ in sends} == set(key_of)
    assert all(key == key_of[alert_id] for key, alert_id, _, _ in sends)
    sends_per_alert = Counter(alert_id for _, alert_id, _, _ in sends)
    repeated = sum(n - 1 for n in sends_per_alert.values())
    reclaimed = sum(1 for a in alerts if a[2] > 1)
    # exactly the batches of the three dead workers and the stalled one were claimed again,
    # and re-sent were the half, the whole and the stalled batch that had reached the channel
    assert reclaimed == 4 * BATCH
    assert repeated == BATCH // 2 + BATCH + BATCH
    assert refused == BATCH  # the stalled worker's marks, all refused: others took over
    print(
        f"\ndelivery: {ALERTS} alerts, {WORKERS} workers ({len(FATE) - 1} killed, 1 stalled), "
        f"{len(leases)} leases, {reclaimed} alerts claimed again, {len(sends)} sends, "
        f"{repeated} repeated sends (same idempotency key), {refused} late marks refused, "
        f"0 lost, 0 marked by two"
    )
