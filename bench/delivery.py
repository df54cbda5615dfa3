"""Delivery throughput: workers claiming and marking pending alerts concurrently.

Each worker is a process with its own connection that loops through the
public API until a claim comes back empty::

    batch = db.alerts.claim(conn, limit=BATCH)   # a lease: FOR UPDATE SKIP LOCKED, committed
    db.alerts.mark_sent_many(conn, batch)        # one statement, each with its claim_token

The same four workers as threads of one process are measured too: psycopg
releases the GIL while it waits on the server, but building each result row
holds it, so threads show how far one Python process goes.

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
import statistics
import threading
import time
import traceback
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

import psycopg

import defi_sql.sync as db
from bench.common import Result, database_name, print_markdown, sibling_database
from defi_sql.seed import seed_users

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


@dataclass
class Worker:
    claimed: list[UUID] = field(default_factory=list)
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


def _child(url: str, go: Any, out: Any) -> None:
    """A worker process: connect, say so, wait for the signal, work, send back what it did."""
    try:
        with psycopg.connect(url, autocommit=True) as conn:
            out.put(("ready", None))
            out.put(("done", work(conn, go)))
    except BaseException:
        out.put(("failed", traceback.format_exc()))


def _in_processes(url: str, workers: int) -> tuple[float, list[Worker]]:
    # fresh interpreters (forked from a clean server process), not copies of this
    # one, whose heap after the other sections would slow their collector
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["bench.delivery"])
    go, out = context.Event(), context.Queue()
    children = [context.Process(target=_child, args=(url, go, out)) for _ in range(workers)]
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
    return results
