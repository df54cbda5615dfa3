"""The event store after migration 0031: append rate, a subscriber's wake-up, catch-up.

Appends. Two databases on the same server, prefilled with the same generated
history: "before", migrated only up to 0030 (the migration files 0001-0030 and
their rollbacks copied to a folder of their own), and "after", migrated to the
newest (0031's transaction id, owner column and owner trigger, the NOTIFY
statement trigger, 0032's index, 0036's one notifier at a time). A pool of
writer processes, each with its own connection to each database, appends one
event per call to streams of its own
(eight per writer and variant: position, intent, user, wallet and alert
streams, payloads of a few hundred bytes) for a fixed time; events/s is every
writer's appends over the wall time. Variants:

* before, and after, through the same statement: ``append_event`` as it was
  before 0031 (commit 69c790d), run with psycopg directly, one statement in
  autocommit (the package's API selects the new columns, which "before" lacks);
* after, with the NOTIFY trigger disabled: a diagnostic that says how much of
  the difference is the notification (PostgreSQL serialises the commits of
  notifying transactions on one lock, held while the commit is flushed; since
  0036 only one of the transactions appending at once notifies);
* after, through ``events.append``, the public API (validation, a transaction
  and a savepoint around the statement, the row decoded into an ``Event``).

Each figure is the median of ``repeat`` rounds per variant and writer count;
the variants take turns in every round (in a rotating order) and each one's
ratio is to "before" of the same round, then the median of those ratios.
"CPU per event" adds the writers' and their server backends' CPU time (from
/proc: the server is local), "cores busy" is that CPU over the wall time: a
variant that keeps fewer cores busy for fewer events waits on a lock.

Wake-up latency. One subscriber thread follows a subscription with
``subscriptions.run(..., listener=...)`` (woken by the NOTIFY), or, for
comparison, polls and sleeps one second when nothing came. The main thread
appends one event at a time through ``events.append`` on its own connection,
20 to 50 ms apart; each event's latency is from its append returning (its
COMMIT done) to the handler receiving it, both on ``time.perf_counter`` in
one process.

Catch-up. A database of its own holds ``events`` generated events (in
transactions of ``HISTORY_CHUNK`` events, so that a catch-up crosses many
transaction ids; ten versions per stream, the streams interleaved). A
subscription reads them all from the start with ``poll(limit=BATCH)`` and a
handler that does nothing; the baseline is the typed read of 100,000
positions (``positions_iterate_all`` through ``fetch_all``, as in bench/reads.py) in
the same run. Rows differ in width: the table gives the average row size.
"""

from __future__ import annotations

import functools
import multiprocessing
import queue
import random
import statistics
import tempfile
import threading
import time
import traceback
import uuid
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple
from uuid import UUID

import aiosql
import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

import defi_sql.sync as db
from bench.common import (
    Result,
    count_positions,
    database_name,
    database_url,
    median_seconds,
    positions_database,
    print_markdown,
    sibling_database,
)
from bench.delivery import backend_cpu
from defi_sql.dev import embedded
from defi_sql.migrate import Migrator
from defi_sql.models import Checkpoint, Event, NewEvent, Position
from defi_sql.paths import migrations_dir
from defi_sql.rows import encode_json
from defi_sql.statements import statement
from defi_sql.sync import wakeup
from defi_sql.sync._execute import fetch_all

SECTION = "event store"
#: the last migration of the "before" database
BEFORE_0031 = 30
WRITERS = (1, 2, 8)
#: streams each writer appends to, per variant (round robin)
STREAMS_PER_WRITER = 8
STREAM_TYPES = ("position", "intent", "user", "wallet", "alert")
#: stream types whose streams belong to a user (the others are the service's)
OWNED = ("position", "user")
EVENT_KINDS = ("Created", "Updated", "Changed", "SnapshotTaken")
#: versions per stream in the generated history
EVENTS_PER_STREAM = 10
#: events per transaction of the generated history
HISTORY_CHUNK = 5_000
START_TIMEOUT = 120.0
#: the writers start this long after their command is sent
START_SLACK = 0.1
APPEND_TARGET = 0.7
#: catch-up: events per poll, and the typed read's rows
BATCH = 10_000
TYPED_ROWS = 100_000
CATCH_UP_TARGET = 0.5
LATENCY_P99_TARGET_MS = 50.0
POLL = 1.0
NOTIFIED = "new event to handler: subscriptions.run, woken by NOTIFY"
POLLED = "new event to handler: polling every 1 s, no listener"
CATCH_UP = "catch-up: every event through subscriptions.poll"
TYPED = "typed read of positions (fetch_all, as bench/reads.py)"


class Variant(NamedTuple):
    label: str
    database: str  # "before" or "after"
    api: bool  # events.append rather than the old statement
    notify: bool  # the NOTIFY trigger enabled ("after" only)


VARIANTS = (
    Variant("before: 0030, the old append statement", "before", False, True),
    Variant("after: newest, the same statement", "after", False, True),
    Variant("after, NOTIFY trigger disabled (diagnostic)", "after", False, False),
    Variant("after: events.append (public API)", "after", True, True),
)


def append_name(writers: int, variant: Variant) -> str:
    """A result's name (unique in a run: bench/summary.py finds figures by name)."""
    return f"event appends, {writers} writer{'s' if writers > 1 else ''}: {variant.label}"


#: append_event as sql/queries/events.sql had it before migration 0031 (commit 69c790d),
#: verbatim: it returns none of the columns the "before" database lacks
OLD_APPEND = """
-- name: append_event(event_id, stream_type, stream_id, expected_version, event_type, payload, metadata, occurred_at)^
INSERT INTO event_store (event_id, stream_type, stream_id, version, event_type, payload,
                         metadata, occurred_at)
SELECT :event_id, :stream_type, :stream_id, :expected_version + 1, :event_type, :payload,
       :metadata, coalesce(:occurred_at, now())
 WHERE greatest((SELECT coalesce(max(version), 0) FROM event_store
                   WHERE stream_id = :stream_id),
                 (SELECT coalesce(max(version), 0) FROM event_store_archive
                   WHERE stream_id = :stream_id)) = :expected_version
RETURNING position, event_id, stream_type, stream_id, version, event_type, payload,
          metadata, occurred_at, recorded_at;
"""  # noqa: E501 (the name line of a query file is one line)


@functools.cache
def old_append_sql() -> str:
    """OLD_APPEND as psycopg SQL, converted by aiosql as the package converts its queries."""
    return str(aiosql.from_str(OLD_APPEND, "psycopg").append_event.sql)


# Setup only (the bench's data, not a query of the package): events first..last of
# a generated history; event g is version g / streams + 1 of stream g mod streams,
# so the streams interleave. Payloads are shaped like the writers' (_document).
HISTORY = """
SELECT e.stream_type, md5('stream ' || e.n)::uuid AS stream_id, e.version,
       initcap(e.stream_type)
         || (ARRAY['Created', 'Updated', 'Changed', 'SnapshotTaken'])[1 + mod(e.version, 4)]
         AS event_type,
       jsonb_build_object(
           'walletAddress', '0x' || md5('wallet ' || e.n) || left(md5('more ' || e.n), 8),
           'protocol', (ARRAY['aave-v3', 'compound-v3', 'spark', 'morpho-blue'])[1 + mod(e.n, 4)],
           'chainId', (ARRAY[1, 10, 137, 8453, 42161])[1 + mod(e.n, 5)],
           'healthFactor', (1 + mod(e.g, 997) / 400.0)::numeric(12, 4)::text,
           'collateral', jsonb_build_array(jsonb_build_object(
               'symbol', 'WETH', 'address', '0xc02aaa39b223fe8d0a0e5c4f27ead9083c756cc2',
               'amount', (mod(e.g, 9973) / 100.0)::numeric(12, 2)::text)),
           'debt', jsonb_build_array(jsonb_build_object(
               'symbol', 'USDC', 'address', '0xa0b86991c6218b36c1d19d4a2e9eb0ce3606eb48',
               'amount', (mod(e.g, 7919) * 3.5)::numeric(12, 2)::text)),
           'sequence', e.g) AS payload,
       jsonb_build_object('correlationId', md5('correlation ' || e.g)::uuid,
                          'source', 'bench', 'schemaVersion', 2) AS metadata,
       CASE WHEN e.stream_type IN ('position', 'user') THEN md5('owner ' || e.n)::uuid END
         AS owner_id
  FROM (SELECT g, n, version,
               (ARRAY['position', 'intent', 'user', 'wallet', 'alert'])[1 + mod(n, 5)]
                 AS stream_type
          FROM (SELECT g, mod(g, %(streams)s) AS n, (g / %(streams)s + 1)::integer AS version
                  FROM generate_series(%(first)s::bigint, %(last)s::bigint) AS g) AS i) AS e
"""
HISTORY_COLUMNS = ("stream_type", "stream_id", "version", "event_type", "payload", "metadata")


def insert_history(*, owners: bool) -> sql.Composed:
    """HISTORY into event_store: with owners for the newest schema, without for 0030's."""
    columns = [*HISTORY_COLUMNS, *(["owner_id"] if owners else [])]
    names = sql.SQL(", ").join(map(sql.Identifier, columns))
    insert = sql.SQL("INSERT INTO event_store ({names}) SELECT {names} FROM ({history}) AS h")
    return insert.format(names=names, history=sql.SQL(HISTORY))


DISABLE_NOTIFY = "ALTER TABLE event_store DISABLE TRIGGER event_store_notify"
ENABLE_NOTIFY = "ALTER TABLE event_store ENABLE TRIGGER event_store_notify"
#: the newest event (setup, with no writer running: nothing can commit behind it)
LAST_EVENT = """
SELECT transaction_id::text::bigint, position FROM event_store
 ORDER BY transaction_id DESC, position DESC LIMIT 1
"""
ROW_BYTES = "SELECT avg(pg_column_size(t.*))::float8 FROM {} AS t"


def _document(n: int, g: int) -> tuple[dict[str, object], dict[str, object]]:
    """Payload and metadata of a writer's event: the shape of HISTORY's."""
    digest = uuid.uuid5(uuid.NAMESPACE_OID, f"wallet {n}").hex
    payload: dict[str, object] = {
        "walletAddress": f"0x{digest}{digest[:8]}",
        "protocol": ("aave-v3", "compound-v3", "spark", "morpho-blue")[n % 4],
        "chainId": (1, 10, 137, 8453, 42161)[n % 5],
        "healthFactor": f"{1 + (g % 997) / 400:.4f}",
        "collateral": [
            {
                "symbol": "WETH",
                "address": "0xc02aaa39b223fe8d0a0e5c4f27ead9083c756cc2",
                "amount": f"{(g % 9973) / 100:.2f}",
            }
        ],
        "debt": [
            {
                "symbol": "USDC",
                "address": "0xa0b86991c6218b36c1d19d4a2e9eb0ce3606eb48",
                "amount": f"{(g % 7919) * 3.5:.2f}",
            }
        ],
        "sequence": g,
    }
    metadata: dict[str, object] = {
        "correlationId": str(uuid.uuid4()),
        "source": "bench",
        "schemaVersion": 2,
    }
    return payload, metadata


@dataclass
class Stream:
    stream_type: str
    stream_id: UUID
    owner_id: UUID | None
    version: int = 0

    @classmethod
    def new(cls, number: int) -> Stream:
        kind = STREAM_TYPES[number % len(STREAM_TYPES)]
        return cls(kind, uuid.uuid4(), uuid.uuid4() if kind in OWNED else None)

    def next_event(self, g: int) -> NewEvent:
        payload, metadata = _document(self.stream_id.int % 1000, g)
        kind = EVENT_KINDS[(self.version + 1) % len(EVENT_KINDS)]
        return NewEvent(
            event_type=f"{self.stream_type.title()}{kind}", payload=payload, metadata=metadata
        )


# -- appends ------------------------------------------------------------------


@dataclass
class Round:
    """What one writer did in one round."""

    appended: int
    finished: float  # time.perf_counter() (system-wide) after its last append
    client_cpu: float  # CPU seconds of the writer process
    server_cpu: float  # CPU seconds of its server backend


def _append(conn: psycopg.Connection[Any], stream: Stream, event: NewEvent, api: bool) -> None:
    if api:
        db.events.append(
            conn,
            stream_type=stream.stream_type,
            stream_id=stream.stream_id,
            expected_version=stream.version,
            events=[event],
            owner_id=stream.owner_id,
        )
    else:
        params = {
            "event_id": uuid.uuid4(),
            "stream_type": stream.stream_type,
            "stream_id": stream.stream_id,
            "expected_version": stream.version,
            "event_type": event.event_type,
            "payload": Jsonb(event.payload, dumps=encode_json),
            "metadata": Jsonb(event.metadata, dumps=encode_json),
            "occurred_at": None,
        }
        if conn.execute(old_append_sql(), params).fetchone() is None:
            raise RuntimeError(f"stream {stream.stream_id} moved on: it has one writer only")
    stream.version += 1


def _writer(urls: dict[str, str], commands: Any, out: Any) -> None:
    """A writer process: one connection per database; per command (a variant's index,
    start and stop on time.perf_counter), append until the stop, then report."""
    conns: dict[str, psycopg.Connection[Any]] = {}
    try:
        conns.update((where, psycopg.connect(url, autocommit=True)) for where, url in urls.items())
        out.put(("ready", None))
        streams: dict[int, list[Stream]] = {}
        while (command := commands.get()) is not None:
            index, start_at, stop_at = command
            variant = VARIANTS[index]
            conn = conns[variant.database]
            mine = streams.setdefault(index, [Stream.new(i) for i in range(STREAMS_PER_WRITER)])
            time.sleep(max(0.0, start_at - time.perf_counter()))
            client, server = time.process_time(), backend_cpu(conn)
            appended = 0
            while time.perf_counter() < stop_at:
                stream = mine[appended % len(mine)]
                _append(conn, stream, stream.next_event(appended), variant.api)
                appended += 1
            finished = time.perf_counter()
            client = time.process_time() - client
            out.put(("done", Round(appended, finished, client, backend_cpu(conn) - server)))
    except BaseException:
        out.put(("failed", traceback.format_exc()))
    finally:
        for conn in conns.values():
            conn.close()


class Writers:
    """A pool of writer processes, started once for every round of the section."""

    def __init__(self, urls: dict[str, str], count: int) -> None:
        # fresh interpreters (forked from a clean server process), as bench/delivery.py
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(["bench.events"])
        self.out: Any = context.Queue()
        self.commands: list[Any] = [context.Queue() for _ in range(count)]
        self.children = [
            context.Process(target=_writer, args=(urls, commands, self.out))
            for commands in self.commands
        ]
        for child in self.children:
            child.start()

    def _collect(self, count: int) -> list[Any]:
        got: list[Any] = []
        deadline = time.perf_counter() + START_TIMEOUT
        while len(got) < count:
            try:
                kind, value = self.out.get(timeout=1)
            except queue.Empty:
                if any(child.exitcode not in (None, 0) for child in self.children):
                    raise RuntimeError("an event writer died before it reported") from None
                if time.perf_counter() > deadline:
                    raise TimeoutError("the event writers did not report in time") from None
                continue
            if kind == "failed":
                raise RuntimeError(f"an event writer failed:\n{value}")
            got.append(value)
        return got

    def ready(self) -> None:
        self._collect(len(self.children))

    def run_round(self, index: int, count: int, seconds: float) -> Sample:
        """``count`` writers append as variant ``index`` for ``seconds``; what they did."""
        start_at = time.perf_counter() + START_SLACK
        for commands in self.commands[:count]:
            commands.put((index, start_at, start_at + seconds))
        rounds: list[Round] = self._collect(count)
        elapsed = max(r.finished for r in rounds) - start_at
        return Sample(
            sum(r.appended for r in rounds),
            elapsed,
            sum(r.client_cpu for r in rounds),
            sum(r.server_cpu for r in rounds),
        )

    def close(self) -> None:
        for commands in self.commands:
            commands.put(None)
        for child in self.children:
            child.join(timeout=30)
            if child.is_alive():
                child.kill()


@contextmanager
def writers(urls: dict[str, str], count: int) -> Iterator[Writers]:
    pool = Writers(urls, count)
    try:
        pool.ready()
        yield pool
    finally:
        pool.close()


class Sample(NamedTuple):
    appended: int
    seconds: float
    client_cpu: float
    server_cpu: float

    @property
    def cpu(self) -> float:
        return self.client_cpu + self.server_cpu

    @property
    def rate(self) -> float:
        return self.appended / self.seconds


def _round(pool: Writers, admin: psycopg.Connection[Any], index: int, n: int, s: float) -> Sample:
    """One round of variant ``index`` with ``n`` writers for ``s`` seconds."""
    if VARIANTS[index].notify:
        return pool.run_round(index, n, s)
    admin.execute(DISABLE_NOTIFY)
    try:
        return pool.run_round(index, n, s)
    finally:
        admin.execute(ENABLE_NOTIFY)


def appends(before: str, after: str, *, seconds: float, repeat: int) -> list[Result]:
    samples: dict[tuple[int, int], list[Sample]] = defaultdict(list)
    with (
        writers({"before": before, "after": after}, max(WRITERS)) as pool,
        psycopg.connect(after, autocommit=True) as admin,
    ):
        for index in range(len(VARIANTS)):  # warm-up: connections, prepared statements
            _round(pool, admin, index, max(WRITERS), min(seconds, 0.3))
        for turn in range(repeat):
            for n in WRITERS:
                for step in range(len(VARIANTS)):
                    index = (step + turn) % len(VARIANTS)
                    samples[(n, index)].append(_round(pool, admin, index, n, seconds))
    results, table = [], []
    for n in WRITERS:
        for index, variant in enumerate(VARIANTS):
            runs = samples[(n, index)]
            ratios = [s.rate / b.rate for s, b in zip(runs, samples[(n, 0)], strict=True)]
            middle = sorted(runs, key=lambda s: s.rate)[len(runs) // 2]
            extra: dict[str, Any] = {
                "writers": n,
                "runs": repeat,
                "round_seconds": seconds,
                "events_per_second": round(middle.rate, 1),
                "vs_before": round(statistics.median(ratios), 3),
                "rates": [round(s.rate, 1) for s in runs],
                "cpu_ms_per_event": round(
                    statistics.median(s.cpu / s.appended for s in runs) * 1e3, 3
                ),
                "cores_busy": round(statistics.median(s.cpu / s.seconds for s in runs), 2),
                # where the CPU goes: the writers (Python, psycopg) and their backends
                "client_cpu_ms_per_event": round(
                    statistics.median(s.client_cpu / s.appended for s in runs) * 1e3, 3
                ),
                "server_cpu_ms_per_event": round(
                    statistics.median(s.server_cpu / s.appended for s in runs) * 1e3, 3
                ),
            }
            name = append_name(n, variant)
            baseline = append_name(n, VARIANTS[0])
            results.append(Result(SECTION, name, middle.seconds, middle.appended, baseline, extra))
            target = ""
            if index == 1:
                met = extra["vs_before"] >= APPEND_TARGET
                target = f"≥ {APPEND_TARGET:g}x: {'met' if met else 'MISSED'}"
            table.append(
                [
                    str(n),
                    variant.label,
                    f"{extra['events_per_second']:,.0f}",
                    f"{extra['vs_before']:.2f}x",
                    f"{extra['cpu_ms_per_event']:.2f} ms",
                    f"{extra['cores_busy']:.1f}",
                    target,
                ]
            )
    print_markdown(
        f"{SECTION}: appends of one event per call, before and after migration 0031 "
        f"(median of {repeat} rounds of {seconds:g} s)",
        ["writers", "variant", "events/s", "vs before", "CPU per event", "cores busy", "target"],
        table,
        align="rlrrrrl",
    )
    return results


# -- wake-up latency ------------------------------------------------------------


@dataclass
class Lag:
    latencies: list[float]  # seconds from an append's return to the handler
    events: int
    duplicates: int  # events handed to the handler more than once
    missed: int  # events appended, never handed over


def _ignore(conn: psycopg.Connection[Any], events: list[Event]) -> None:
    """A handler that does nothing (catch-up measures the reading)."""


def lag(url: str, count: int, *, notified: bool) -> Lag:
    """A subscriber thread follows a new subscription from the newest event while this
    thread appends ``count`` events one at a time, 20 to 50 ms apart."""
    name = f"bench latency, {'notify' if notified else 'poll'}"
    with psycopg.connect(url, autocommit=True) as conn:
        newest = conn.execute(LAST_EVENT).fetchone()
        db.subscriptions.subscribe(conn, name)
        if newest is not None:
            db.subscriptions.reset(
                conn, name, Checkpoint(transaction_id=newest[0], position=newest[1])
            )
    seen: dict[UUID, float] = {}
    handled = 0
    stop, ready = threading.Event(), threading.Event()
    failure: list[BaseException] = []

    def handler(conn: psycopg.Connection[Any], events: list[Event]) -> None:
        nonlocal handled
        now = time.perf_counter()
        for event in events:
            seen.setdefault(event.event_id, now)
        handled += len(events)

    def subscriber() -> None:
        try:
            with (
                psycopg.connect(url, autocommit=True) as conn,
                psycopg.connect(url, autocommit=True) as listener,
            ):
                wakeup.listen(listener, [wakeup.EVENTS])  # before the first poll
                ready.set()
                if notified:
                    db.subscriptions.run(
                        conn, name, handler, listener=listener, poll_interval=POLL, stop=stop.is_set
                    )
                    return
                while not stop.is_set():
                    if not db.subscriptions.poll(conn, name, handler):
                        stop.wait(POLL)
        except BaseException as exc:  # reported by the main thread
            failure.append(exc)
            ready.set()

    thread = threading.Thread(target=subscriber)
    thread.start()
    committed: dict[UUID, float] = {}
    pace = random.Random(31)  # the same arrivals in every run
    streams = [Stream.new(i) for i in range(STREAMS_PER_WRITER)]
    try:
        if not ready.wait(timeout=START_TIMEOUT):
            raise TimeoutError("the subscriber never started")
        with psycopg.connect(url, autocommit=True) as conn:
            for number in range(count):
                time.sleep(pace.uniform(0.02, 0.05))
                stream = streams[number % len(streams)]
                (event,) = db.events.append(
                    conn,
                    stream_type=stream.stream_type,
                    stream_id=stream.stream_id,
                    expected_version=stream.version,
                    events=[stream.next_event(number)],
                    owner_id=stream.owner_id,
                )
                committed[event.event_id] = time.perf_counter()  # autocommit: COMMIT returned
                stream.version += 1
        deadline = time.perf_counter() + 3 * POLL
        while len(seen) < len(committed) and time.perf_counter() < deadline:
            time.sleep(0.01)
    finally:
        stop.set()
        thread.join(timeout=3 * POLL + 10)
    if failure:
        raise RuntimeError("the subscriber failed") from failure[0]
    return Lag(
        latencies=[seen[i] - committed[i] for i in committed if i in seen],
        events=count,
        duplicates=handled - len(seen),
        missed=sum(1 for i in committed if i not in seen),
    )


def _percentile_ms(values: list[float], percent: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[percent - 1] * 1000


def latencies(url: str, events: int) -> list[Result]:
    results, table = [], []
    for name, notified in ((NOTIFIED, True), (POLLED, False)):
        got = lag(url, events, notified=notified)
        extra: dict[str, Any] = {
            "p50_ms": round(_percentile_ms(got.latencies, 50), 2),
            "p99_ms": round(_percentile_ms(got.latencies, 99), 2),
            "max_ms": round(max(got.latencies) * 1000, 2),
            "events": events,
            "poll_seconds": POLL,
            "duplicates": got.duplicates,
            "missed": got.missed,
        }
        target = ""
        if notified:
            met = extra["p99_ms"] <= LATENCY_P99_TARGET_MS
            target = f"p99 ≤ {LATENCY_P99_TARGET_MS:g} ms: {'met' if met else 'MISSED'}"
        results.append(Result(SECTION, name, extra["p50_ms"] / 1000, events, POLLED, extra))
        table.append(
            [
                name.removeprefix("new event to handler: "),
                f"{events:,}",
                f"{extra['p50_ms']:,.1f} ms",
                f"{extra['p99_ms']:,.1f} ms",
                f"{extra['max_ms']:,.1f} ms",
                str(got.missed),
                str(got.duplicates),
                target,
            ]
        )
    print_markdown(
        f"{SECTION}: from an append's COMMIT to the subscriber's handler (one event at a time, "
        "20 to 50 ms apart)",
        ["subscriber", "events", "p50", "p99", "max", "missed", "duplicates", "target"],
        table,
        align="lrrrrrrl",
    )
    return results


# -- catch-up -------------------------------------------------------------------


def load_history(url: str, events: int, insert: sql.Composed) -> float:
    """Generate ``events`` events in transactions of HISTORY_CHUNK; the seconds it took."""
    started = time.perf_counter()
    streams = max(1, events // EVENTS_PER_STREAM)
    with psycopg.connect(url, autocommit=True) as conn:
        # no triggers while generating (about 40% faster): the rows come out as the
        # owner trigger would leave them (transaction_id's default is the same
        # pg_current_xact_id(), and every event of a stream has its first one's owner)
        conn.execute("SET session_replication_role = replica")
        for first in range(0, events, HISTORY_CHUNK):
            last = min(first + HISTORY_CHUNK, events) - 1
            conn.execute(insert, {"first": first, "last": last, "streams": streams})
        conn.execute("VACUUM ANALYZE event_store")
    return time.perf_counter() - started


def _row_bytes(conn: psycopg.Connection[Any], table: str) -> float:
    row = conn.execute(sql.SQL(ROW_BYTES).format(sql.Identifier(table))).fetchone()
    return float(row[0]) if row and row[0] is not None else 0.0


def _read_plan(conn: psycopg.Connection[Any]) -> str:
    """The nodes of read_all_after's plan for the first batch, outermost first: a Sort
    means each batch sorts every event after the checkpoint (the whole store at first)."""
    params = {"after_transaction_id": 0, "after_position": 0, "stream_types": None}
    query = "EXPLAIN (FORMAT JSON) " + statement("events_read_all_after").sql
    row = conn.execute(query, {**params, "max_rows": BATCH}).fetchone()
    nodes, todo = [], [row[0][0]["Plan"]] if row else []
    while todo:
        node = todo.pop(0)
        nodes.append(node["Node Type"])
        todo += node.get("Plans", [])
    return ", ".join(nodes)


def catch_up(url: str, events: int, repeat: int) -> list[Result]:
    target = sibling_database(url, f"{database_name(url)}_events_catch_up", fresh=True)
    loaded = load_history(target, events, insert_history(owners=True))
    print(f"{events:,} events generated in {loaded:.1f} s")
    name = "bench catch-up"
    conn = psycopg.connect(target, autocommit=True)
    positions_url = positions_database(url, TYPED_ROWS)
    typed_rows = count_positions(positions_url)
    positions = psycopg.connect(positions_url, autocommit=True)

    def through_subscription() -> int:
        db.subscriptions.reset(conn, name)
        total = 0
        while got := db.subscriptions.poll(conn, name, _ignore, limit=BATCH):
            total += got
        return total

    try:
        db.subscriptions.subscribe(conn, name)
        plan = _read_plan(conn)
        db.subscriptions.poll(conn, name, _ignore, limit=BATCH)  # warm-up: one batch
        times = []
        for _ in range(repeat):
            started = time.perf_counter()
            total = through_subscription()
            times.append(time.perf_counter() - started)
            if total != events:
                raise RuntimeError(f"the catch-up read {total:,} events of {events:,}")
        timed = {CATCH_UP: statistics.median(times)}
        timed[TYPED] = median_seconds(
            lambda: fetch_all(positions, "positions_iterate_all", {}, Position), 3
        )
        sizes = {
            CATCH_UP: _row_bytes(conn, "event_store"),
            TYPED: _row_bytes(positions, "positions"),
        }
    finally:
        conn.close()
        positions.close()
    rows = {CATCH_UP: events, TYPED: typed_rows}
    base = typed_rows / timed[TYPED]
    results, table = [], []
    for variant in (CATCH_UP, TYPED):
        rate = rows[variant] / timed[variant]
        extra: dict[str, Any] = {
            "rows_per_second": round(rate, 1),
            "vs_typed_reads": round(rate / base, 3),
            "row_bytes": round(sizes[variant], 1),
            "batch": BATCH if variant != TYPED else rows[variant],
            "runs": repeat if variant != TYPED else 3,
        }
        if variant == CATCH_UP:
            extra["generated_seconds"] = round(loaded, 1)
            extra["plan"] = plan
        results.append(Result(SECTION, variant, timed[variant], rows[variant], TYPED, extra))
        target = ""
        if variant == CATCH_UP:
            met = extra["vs_typed_reads"] >= CATCH_UP_TARGET
            target = f"≥ {CATCH_UP_TARGET:g}x: {'met' if met else 'MISSED'}"
        table.append(
            [
                variant,
                f"{rows[variant]:,}",
                f"{timed[variant] * 1000:,.0f} ms",
                f"{rate:,.0f}",
                f"{extra['vs_typed_reads']:.2f}x",
                f"{sizes[variant]:,.0f} B",
                target,
            ]
        )
    print(f"read_all_after's plan for the first batch: {plan}")
    print_markdown(
        f"{SECTION}: catch-up from the start, {BATCH:,} events per poll, against typed reads",
        ["read", "rows", "median", "rows/s", "vs typed reads", "row size", "target"],
        table,
        align="lrrrrrl",
    )
    return results


# -- the section -----------------------------------------------------------------


def database_before_0031(url: str) -> str:
    """A fresh database on ``url``'s server migrated up to 0030 only."""
    name = f"{database_name(url)}_events_0030"
    admin = database_url(url, "postgres")
    with psycopg.connect(admin, autocommit=True) as conn:
        drop = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)")
        conn.execute(drop.format(sql.Identifier(name)))
    embedded.create_database(admin, name)
    target = database_url(url, name)
    with tempfile.TemporaryDirectory(prefix="defi-sql-0030-") as folder:
        for path in migrations_dir().glob("*.sql"):
            if int(path.name[:4]) <= BEFORE_0031:
                Path(folder, path.name).write_bytes(path.read_bytes())
        with Migrator(target, directory=Path(folder)) as migrator:
            migrator.migrate()
    return target


def run(url: str, *, quick: bool = False) -> list[Result]:
    history = 20_000 if quick else 100_000
    before = database_before_0031(url)
    after = sibling_database(url, f"{database_name(url)}_events", fresh=True)
    load_history(before, history, insert_history(owners=False))
    load_history(after, history, insert_history(owners=True))
    results = appends(before, after, seconds=0.5 if quick else 1.5, repeat=3)
    results += latencies(after, 100 if quick else 300)
    results += catch_up(url, 100_000 if quick else 1_000_000, 3 if quick else 1)
    return results
