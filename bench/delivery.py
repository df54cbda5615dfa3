"""Delivery throughput: workers claiming and marking pending alerts concurrently.

Each worker is a process with its own connection that loops through the
public API until a claim comes back empty::

    batch = db.alerts.claim(conn, limit=BATCH)   # a lease: FOR UPDATE SKIP LOCKED, committed
    db.alerts.mark_sent_many(conn, batch)        # one statement, each with its claim_token

The same four workers as threads of one process are measured too: psycopg
releases the GIL while it waits on the server, but building each result row
holds it, so threads show how far one Python process goes.

With a failing channel: four worker processes whose channel refuses 10% of
sends (fixed per alert and attempt), each refusal ``mark_failed`` with at
most ``MAX_ATTEMPTS`` attempts and a millisecond backoff; a worker stops when
a claim is empty and no alert is pending any more. Each send is recorded:
"duplicates" are alerts sent more than once, "left behind" those still
pending, "wrong end" those neither sent once nor dead-lettered after exactly
``MAX_ATTEMPTS`` attempts with their last error; all must be 0, and the dead
letters are counted (about 10%^3 of the alerts are expected).

Wake-up: one worker thread loops ``claim``; when nothing is due it waits
``wakeup.wait(listener, [ALERTS], timeout=1.0)`` (woken by the NOTIFY of
migration 0035), or, for comparison, sleeps a 1-second poll. Another
connection creates alerts one at a time at 20 to 80 ms intervals; the latency
of each is from its commit (``create`` returned) to the claim that leased it
(``claim`` returned), both on ``time.perf_counter``.

Every run starts from a fresh queue of pending alerts in a database of its
own, and records the id of every alert each worker claimed: "duplicates" are
claims beyond the first of any alert (delivered twice), "left behind" the
alerts still pending afterwards; both must be 0. "CPU per alert" adds the
workers' CPU time and their server backends' (read from /proc: the server is
local); "cores busy" is that CPU over the wall time: when it reaches the
machine's cores, more workers cannot go faster. The baseline is one worker on
the same queue, in the same run.
"""

from __future__ import annotations

import multiprocessing
import os
import queue
import random
import statistics
import threading
import time
import traceback
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any
from uuid import UUID

import psycopg

import defi_sql.sync as db
from bench.common import Result, database_name, print_markdown, sibling_database
from defi_sql.dev.seed import seed_users
from defi_sql.sync import wakeup

SECTION = "alert delivery"
BATCH = 100
BASELINE = "1 worker"
#: name, workers, threads (in this process) rather than processes
VARIANTS = [
    (BASELINE, 1, False),
    ("4 workers (processes)", 4, False),
    ("4 workers (threads of one process)", 4, True),
]
START_TIMEOUT = 120.0
USERS = 100
FAILING = "4 workers (processes), channel failing 10% of sends"
#: the share of sends the failing channel refuses, and the attempts each alert gets
FAIL_RATE = 0.10
MAX_ATTEMPTS = 3
#: short, so that a run is not mostly waiting: the rule, not the length, is measured
BACKOFF = timedelta(milliseconds=2)
MAX_BACKOFF = timedelta(milliseconds=20)
NOTIFIED = "wake-up: NOTIFY, then claim"
POLLED = "wake-up: 1 s poll, then claim"
POLL = 1.0
#: target for the p99 from commit to claim of a worker woken by NOTIFY
WAKE_P99_TARGET_MS = 50.0

# Setup only (the bench's own data, not a query of the package): an empty queue,
# then `alerts` pending ones for the seeded users, oldest first by a millisecond each.
EMPTY_QUEUE = "TRUNCATE alerts"
FILL_QUEUE = """
WITH u AS (SELECT array_agg(id ORDER BY id) AS ids FROM users)
INSERT INTO alerts (user_id, type, channel, message, created_at)
SELECT u.ids[1 + mod(i, cardinality(u.ids))], 'bench_delivery', 'in_app',
       'delivery benchmark alert ' || i, now() - (%(alerts)s - i) * interval '1 millisecond'
  FROM u, generate_series(1, %(alerts)s) AS i
"""
COUNT_PENDING = "SELECT count(*) FROM alerts WHERE status = 'pending'"
COUNT_SENT = "SELECT count(*) FROM alerts WHERE status = 'sent'"
ENDS = "SELECT id, status, attempts, metadata ->> 'failureReason' FROM alerts"
ONE_USER = "SELECT id FROM users ORDER BY id LIMIT 1"


@dataclass
class Worker:
    claimed: list[UUID] = field(default_factory=list)
    #: with a failing channel: (alert, attempt) of every send that went through, and that failed
    sent: list[tuple[UUID, int]] = field(default_factory=list)
    failed: list[tuple[UUID, int]] = field(default_factory=list)
    refused: int = 0  # left out by mark_sent_many: the lease had passed to another worker
    finished: float = 0.0  # time.perf_counter() (system-wide) when its last claim came back empty
    client_cpu: float = 0.0  # CPU seconds of this worker's thread
    server_cpu: float = 0.0  # CPU seconds of its server backend (0 when /proc is not readable)


@dataclass
class Outcome:
    workers: int
    alerts: int
    seconds: float
    duplicates: int
    left_behind: int
    sent: int
    refused: int
    cpu: float  # client and server CPU seconds of every worker


def backend_cpu(conn: psycopg.Connection[Any]) -> float:
    """CPU seconds used so far by the server process of ``conn`` (a local server), or 0."""
    try:
        with open(f"/proc/{conn.info.backend_pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def fill_queue(url: str, alerts: int) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(EMPTY_QUEUE)
        conn.execute(FILL_QUEUE, {"alerts": alerts})
        conn.execute("VACUUM ANALYZE alerts")


def _count(url: str, query: str) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute(query).fetchone()
    return int(row[0]) if row else 0


def work(conn: psycopg.Connection[Any], start: Any) -> Worker:
    """One worker: lease a batch, mark it sent in one statement; until a claim is empty."""
    mine = Worker()
    if start.wait(timeout=START_TIMEOUT) is False:  # an Event's; a Barrier raises
        raise TimeoutError("the other workers never started")
    client, server = time.thread_time(), backend_cpu(conn)
    while True:
        batch = db.alerts.claim(conn, limit=BATCH)
        mine.claimed.extend(alert.id for alert in batch)
        mine.refused += len(batch) - len(db.alerts.mark_sent_many(conn, batch))
        if not batch:
            mine.finished = time.perf_counter()
            mine.client_cpu = time.thread_time() - client
            mine.server_cpu = backend_cpu(conn) - server
            return mine


def refuses(alert_id: UUID, attempt: int) -> bool:
    """The failing channel's answer, fixed per alert and attempt: FAIL_RATE of sends fail."""
    return random.Random(alert_id.int + attempt).random() < FAIL_RATE


def work_failing(conn: psycopg.Connection[Any], start: Any) -> Worker:
    """One worker on a failing channel: send each claimed alert, mark it sent (the batch,
    in one statement) or failed (one by one, retried after a backoff); until no alert is
    pending any more."""
    mine = Worker()
    if start.wait(timeout=START_TIMEOUT) is False:
        raise TimeoutError("the other workers never started")
    client, server = time.thread_time(), backend_cpu(conn)
    while True:
        batch = db.alerts.claim(conn, limit=BATCH)
        mine.claimed.extend(alert.id for alert in batch)
        delivered = []
        for alert in batch:
            if refuses(alert.id, alert.attempts):
                mine.failed.append((alert.id, alert.attempts))
                db.alerts.mark_failed(
                    conn,
                    alert.id,
                    f"refused at attempt {alert.attempts}",
                    claim_token=alert.claim_token,
                    max_attempts=MAX_ATTEMPTS,
                    backoff=BACKOFF,
                    max_backoff=MAX_BACKOFF,
                )
            else:
                mine.sent.append((alert.id, alert.attempts))
                delivered.append(alert)
        mine.refused += len(delivered) - len(db.alerts.mark_sent_many(conn, delivered))
        if not batch:
            if _pending(conn) == 0:
                mine.finished = time.perf_counter()
                mine.client_cpu = time.thread_time() - client
                mine.server_cpu = backend_cpu(conn) - server
                return mine
            time.sleep(BACKOFF.total_seconds())  # only retries not yet due are left


def _pending(conn: psycopg.Connection[Any]) -> int:
    row = conn.execute(COUNT_PENDING).fetchone()
    return int(row[0]) if row else 0


def _in_threads(url: str, workers: int) -> tuple[float, list[Worker]]:
    conns = [psycopg.connect(url, autocommit=True) for _ in range(workers)]
    start = threading.Barrier(workers + 1)
    try:
        with ThreadPoolExecutor(workers) as pool:
            futures = [pool.submit(work, conn, start) for conn in conns]
            start.wait(timeout=START_TIMEOUT)  # every worker connected: go
            started = time.perf_counter()
            return started, [f.result() for f in futures]
    finally:
        for conn in conns:
            conn.close()


def _child(url: str, go: Any, out: Any, failing: bool = False) -> None:
    """A worker process: connect, say so, wait for the signal, work, send back what it did."""
    try:
        with psycopg.connect(url, autocommit=True) as conn:
            out.put(("ready", None))
            out.put(("done", (work_failing if failing else work)(conn, go)))
    except BaseException:
        out.put(("failed", traceback.format_exc()))


def _in_processes(url: str, workers: int, failing: bool = False) -> tuple[float, list[Worker]]:
    # fresh interpreters (forked from a clean server process), not copies of this
    # one, whose heap after the other sections would slow their collector
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["bench.delivery"])
    go, out = context.Event(), context.Queue()
    children = [
        context.Process(target=_child, args=(url, go, out, failing)) for _ in range(workers)
    ]
    for child in children:
        child.start()
    try:
        ready, done = 0, list[Worker]()
        started = 0.0
        while len(done) < workers:
            try:
                kind, value = out.get(timeout=1)
            except queue.Empty:
                if any(child.exitcode not in (None, 0) for child in children):
                    raise RuntimeError("a delivery worker died before it reported") from None
                continue
            if kind == "failed":
                raise RuntimeError(f"a delivery worker failed:\n{value}")
            if kind == "ready":
                ready += 1
                if ready == workers:  # every worker connected: go
                    started = time.perf_counter()
                    go.set()
            else:
                done.append(value)
    finally:
        go.set()
        for child in children:
            child.join(timeout=60)
            if child.is_alive():
                child.kill()
    return started, done


def deliver(url: str, workers: int, alerts: int, *, threads: bool = False) -> Outcome:
    """Fill the queue with ``alerts``, drain it with ``workers`` workers; what happened."""
    fill_queue(url, alerts)
    started, done = (_in_threads if threads else _in_processes)(url, workers)
    claims = Counter(alert_id for w in done for alert_id in w.claimed)
    return Outcome(
        workers=workers,
        alerts=alerts,
        seconds=max(w.finished for w in done) - started,
        duplicates=sum(claims.values()) - len(claims),
        left_behind=_count(url, COUNT_PENDING),
        sent=_count(url, COUNT_SENT),
        refused=sum(w.refused for w in done),
        cpu=sum(w.client_cpu + w.server_cpu for w in done),
    )


@dataclass
class FailingOutcome:
    alerts: int
    seconds: float
    sent: int  # alerts sent (status), each by exactly one send
    dead: int  # dead letters (status failed)
    expected_dead: int  # alerts the channel refuses at every attempt (known in advance)
    duplicates: int  # successful sends beyond the first of an alert
    left_behind: int  # alerts still pending
    wrong_end: int  # neither sent once nor dead after MAX_ATTEMPTS with its last error
    sends: int
    failed_sends: int
    retried: int  # alerts claimed more than once
    cpu: float


def deliver_failing(url: str, workers: int, alerts: int) -> FailingOutcome:
    """Fill the queue, drain it with ``workers`` processes on a failing channel; count the ends."""
    fill_queue(url, alerts)
    started, done = _in_processes(url, workers, failing=True)
    sends = Counter(alert_id for w in done for alert_id, _ in w.sent)
    claims = Counter(alert_id for w in done for alert_id in w.claimed)
    with psycopg.connect(url) as conn:
        ends = conn.execute(ENDS).fetchall()
    last_error = f"refused at attempt {MAX_ATTEMPTS}"
    wrong = 0
    for alert_id, status, attempts, reason in ends:
        sent_once = status == "sent" and sends[alert_id] == 1
        dead = (status, attempts, reason, sends[alert_id]) == (
            "failed",
            MAX_ATTEMPTS,
            last_error,
            0,
        )
        wrong += not (sent_once or dead)
    return FailingOutcome(
        alerts=alerts,
        seconds=max(w.finished for w in done) - started,
        sent=sum(1 for _, status, *_ in ends if status == "sent"),
        dead=sum(1 for _, status, *_ in ends if status == "failed"),
        expected_dead=sum(
            all(refuses(alert_id, attempt) for attempt in range(1, MAX_ATTEMPTS + 1))
            for alert_id, *_ in ends
        ),
        duplicates=sum(n - 1 for n in sends.values()),
        left_behind=sum(1 for _, status, *_ in ends if status == "pending"),
        wrong_end=wrong,
        sends=sum(len(w.sent) + len(w.failed) for w in done),
        failed_sends=sum(len(w.failed) for w in done),
        retried=sum(1 for n in claims.values() if n > 1),
        cpu=sum(w.client_cpu + w.server_cpu for w in done),
    )


@dataclass
class Wake:
    latencies: list[float]  # seconds from an alert's commit to the claim that leased it
    alerts: int
    duplicates: int  # claims beyond the first of an alert
    left_behind: int  # alerts created but never claimed


def wake_latencies(url: str, alerts: int, *, notified: bool) -> Wake:
    """One worker thread claims alerts as another connection creates them one at a time;
    between empty claims it waits on NOTIFY (``notified``) or sleeps a POLL."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(EMPTY_QUEUE)
        row = conn.execute(ONE_USER).fetchone()
    assert row is not None, "the delivery database has no user"
    user_id = row[0]
    claimed: dict[UUID, float] = {}
    claims = 0
    stop, ready = threading.Event(), threading.Event()
    failure: list[BaseException] = []

    def worker() -> None:
        nonlocal claims
        try:
            with (
                psycopg.connect(url, autocommit=True) as conn,
                psycopg.connect(url, autocommit=True) as listener,
            ):
                wakeup.listen(listener, [wakeup.ALERTS])  # before claiming
                ready.set()
                while not stop.is_set():
                    batch = db.alerts.claim(conn, limit=BATCH)
                    now = time.perf_counter()
                    for alert in batch:
                        claimed.setdefault(alert.id, now)
                    claims += len(batch)
                    db.alerts.mark_sent_many(conn, batch)
                    if batch:
                        continue
                    if notified:
                        wakeup.wait(listener, [wakeup.ALERTS], timeout=POLL)
                    else:
                        time.sleep(POLL)
        except BaseException as exc:  # reported by the main thread
            failure.append(exc)
            ready.set()

    thread = threading.Thread(target=worker)
    thread.start()
    created: dict[UUID, float] = {}
    pace = random.Random(7)  # the same arrivals in every run
    try:
        if not ready.wait(timeout=START_TIMEOUT):
            raise TimeoutError("the wake-up worker never started")
        with psycopg.connect(url, autocommit=True) as conn:
            for number in range(alerts):
                time.sleep(pace.uniform(0.02, 0.08))
                alert = db.alerts.create(
                    conn,
                    user_id=user_id,
                    type="bench_wakeup",
                    channel="in_app",
                    message=f"wake-up benchmark alert {number}",
                )
                created[alert.id] = time.perf_counter()  # autocommit: committed by now
        deadline = time.perf_counter() + 3 * POLL
        while len(claimed) < len(created) and time.perf_counter() < deadline:
            time.sleep(0.01)
    finally:
        stop.set()
        thread.join(timeout=3 * POLL + 10)
    if failure:
        raise RuntimeError("the wake-up worker failed") from failure[0]
    return Wake(
        latencies=[claimed[i] - created[i] for i in created if i in claimed],
        alerts=alerts,
        duplicates=claims - len(claimed),
        left_behind=sum(1 for i in created if i not in claimed),
    )


def _p(values: list[float], percent: int) -> float:
    """The ``percent``-th percentile (inclusive method), in milliseconds."""
    return statistics.quantiles(values, n=100, method="inclusive")[percent - 1] * 1000


def run(url: str, *, quick: bool = False) -> list[Result]:
    alerts = 2_000 if quick else 20_000
    repeat = 3
    target = sibling_database(url, f"{database_name(url)}_delivery", fresh=True)
    with psycopg.connect(target, autocommit=True) as conn:
        seed_users(conn, USERS, snapshots=1)
    deliver(target, 1, min(alerts, 500))  # warm-up: server caches, prepared statements
    results = []
    for name, workers, threads in VARIANTS:
        runs = [deliver(target, workers, alerts, threads=threads) for _ in range(repeat)]
        extra = {
            "workers": workers,
            "threads": threads,
            "runs": repeat,
            "alerts_per_second": round(alerts / statistics.median(o.seconds for o in runs), 1),
            "duplicates": sum(o.duplicates for o in runs),
            "left_behind": sum(o.left_behind for o in runs),
            "not_sent": sum(alerts - o.sent for o in runs),
            "refused_marks": sum(o.refused for o in runs),
            # CPU per alert (client and server) and cores kept busy: speed-up stops at the cores
            "cpu_ms_per_alert": round(statistics.median(o.cpu for o in runs) / alerts * 1000, 3),
            "cores_busy": round(statistics.median(o.cpu / o.seconds for o in runs), 2),
        }
        seconds = statistics.median(o.seconds for o in runs)
        results.append(Result(SECTION, name, seconds, alerts, BASELINE, extra))
    base = results[0].seconds
    table = []
    for r in results:
        r.extra["speed_up"] = round(base / r.seconds, 3)
        clean = r.extra["duplicates"] == 0 and r.extra["left_behind"] == 0
        clean = clean and r.extra["not_sent"] == 0
        table.append(
            [
                r.name,
                f"{r.rows:,}",
                f"{r.seconds * 1000:,.0f} ms",
                f"{r.extra['alerts_per_second']:,.0f}",
                f"{r.extra['speed_up']:.2f}x",
                str(r.extra["duplicates"]),
                str(r.extra["left_behind"]),
                f"{r.extra['cpu_ms_per_alert']:.2f} ms",
                f"{r.extra['cores_busy']:.1f} of {os.cpu_count()}",
                "0 and 0: met" if clean else "MISSED",
            ]
        )
    print_markdown(
        f"{SECTION} ({alerts:,} pending alerts, claims of {BATCH}, median of {repeat})",
        [
            "workers",
            "alerts",
            "median",
            "alerts/s",
            "speed-up vs 1 worker",
            "duplicates",
            "left behind",
            "CPU per alert",
            "cores busy",
            "target",
        ],
        table,
        align="lrrrrrrrrl",
    )
    results.append(_failing(target, alerts, repeat))
    results += _wake(target, 100 if quick else 300)
    return results


def _failing(target: str, alerts: int, repeat: int) -> Result:
    runs = [deliver_failing(target, 4, alerts) for _ in range(repeat)]
    seconds = statistics.median(o.seconds for o in runs)
    extra = {
        "workers": 4,
        "threads": False,
        "runs": repeat,
        "fail_rate": FAIL_RATE,
        "max_attempts": MAX_ATTEMPTS,
        "alerts_per_second": round(alerts / seconds, 1),
        "sent": sum(o.sent for o in runs),
        "dead_letters": sum(o.dead for o in runs),
        "expected_dead_letters": sum(o.expected_dead for o in runs),
        "sends": sum(o.sends for o in runs),
        "failed_sends": sum(o.failed_sends for o in runs),
        "retried": sum(o.retried for o in runs),
        "duplicates": sum(o.duplicates for o in runs),
        "left_behind": sum(o.left_behind for o in runs),
        # delivery_faults (bench/summary.py) adds these: here, alerts with a wrong end
        "not_sent": sum(o.wrong_end for o in runs),
        "cpu_ms_per_alert": round(statistics.median(o.cpu for o in runs) / alerts * 1000, 3),
    }
    clean = extra["duplicates"] == 0 and extra["left_behind"] == 0 and extra["not_sent"] == 0
    clean = clean and extra["dead_letters"] == extra["expected_dead_letters"]
    print_markdown(
        f"{SECTION}, channel failing {FAIL_RATE:.0%} of sends ({alerts:,} alerts, 4 worker "
        f"processes, at most {MAX_ATTEMPTS} attempts, totals of {repeat} runs)",
        [
            "alerts/s (median)",
            "sent once",
            "dead letters (expected)",
            "sends (failed)",
            "alerts retried",
            "duplicates",
            "left behind",
            "wrong end",
            "target",
        ],
        [
            [
                f"{extra['alerts_per_second']:,.0f}",
                f"{extra['sent']:,}",
                f"{extra['dead_letters']:,} ({extra['expected_dead_letters']:,})",
                f"{extra['sends']:,} ({extra['failed_sends']:,})",
                f"{extra['retried']:,}",
                str(extra["duplicates"]),
                str(extra["left_behind"]),
                str(extra["not_sent"]),
                "0, 0, 0, dead as expected: met" if clean else "MISSED",
            ]
        ],
        align="rrrrrrrrl",
    )
    return Result(SECTION, FAILING, seconds, alerts, BASELINE, extra)


def _wake(target: str, alerts: int) -> list[Result]:
    results, table = [], []
    for name, notified in ((NOTIFIED, True), (POLLED, False)):
        wake = wake_latencies(target, alerts, notified=notified)
        extra = {
            "p50_ms": round(_p(wake.latencies, 50), 2),
            "p99_ms": round(_p(wake.latencies, 99), 2),
            "max_ms": round(max(wake.latencies) * 1000, 2),
            "poll_seconds": POLL,
            "duplicates": wake.duplicates,
            "left_behind": wake.left_behind,
            "not_sent": wake.left_behind,
        }
        met = ""
        if notified:
            met = f"p99 ≤ {WAKE_P99_TARGET_MS:.0f} ms: " + (
                "met" if extra["p99_ms"] <= WAKE_P99_TARGET_MS else "MISSED"
            )
        results.append(Result(SECTION, name, extra["p50_ms"] / 1000, alerts, POLLED, extra))
        table.append(
            [
                name,
                f"{alerts:,}",
                f"{extra['p50_ms']:,.1f} ms",
                f"{extra['p99_ms']:,.1f} ms",
                f"{extra['max_ms']:,.1f} ms",
                str(wake.duplicates),
                str(wake.left_behind),
                met,
            ]
        )
    print_markdown(
        f"{SECTION}: from an alert's commit to a worker's claim (one worker, alerts 20 to 80 ms "
        "apart)",
        ["worker waits by", "alerts", "p50", "p99", "max", "duplicates", "left behind", "target"],
        table,
        align="lrrrrrrl",
    )
    return results
