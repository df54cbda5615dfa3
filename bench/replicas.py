"""Read replicas (#12): read throughput with the primary alone and with the primary
plus one replica, through the router, in one run on one machine.

**What one machine can show.** The primary, its replica and the client threads
run on the same cores (``os.cpu_count()``, printed; 2 on the machine the
figures below come from). A replica adds no core here: every query it serves
takes CPU from the primary's machine, as the primary would have, plus its
replay of the primary's WAL, plus the router's question of how far it has
replayed. So "primary + 1 replica" cannot scale as two machines would; near 1x
or below is the expected, honest result. What a replica buys on one machine is
isolation (a slow report or a tick cannot hold the primary's locks, buffers or
connections), not throughput. No target: the issue sets none, the section
reports.

**Data.** A database of its own on the bench's throwaway server,
``seed --users 5000 --snapshots 20`` (1,000 with ``--quick``), analysed. Then
one replica of that server, made by the project's own machinery
(:func:`defi_sql.dev.replicas.start`: ``pg_basebackup`` of the whole server,
a hot standby on a unix socket, no replay delay), caught up (a router read
with the token of a write waits until the replica has replayed the seed), and
stopped and removed at the end, on failure too. The replica is a copy of the
whole server: this section runs first, before the others fill it.

**Clients.** ``CLIENTS`` = 4 threads in this process, each with its own router
session and its own quarter of the users, each running its workload's
operation back to back for a window of fixed time. Four: on 2 cores, two
servers and a client process already compete; 4 requests in flight keep both
cores busy through each one's round trips, and more only queue (p99 up, ops/s
flat). The threads share one interpreter (the sync API, whose I/O releases the
GIL): the client's own CPU is measured and shown, since it is a third consumer
of the same cores.

**Workloads** (each operation is one call of ``op`` timed as a whole):

* per-request reads: a user's page, one ``session.read()`` lending with
  ``users.get``, ``positions.latest`` and ``positions.history`` over the day
  up to the user's latest snapshot (20 snapshots), for a random user;
* every-tick reads: one ``session.read()`` with ``positions.at_risk`` over
  every user (``intents.due`` is not ``replica: ok``: a due intent is
  triggered at once, on the primary's newest snapshot; docs/scale-out.md);
* read-your-writes: a user's new snapshot (``positions.create`` in
  ``session.write()``), then ``positions.latest`` of that user in
  ``session.read()``, with the token of the write: the read waits for the
  replica to replay it (1 ms, doubling up to 20 ms), then, after the router's
  default ``max_wait`` of 0.1 s, reads from the primary. Each read is checked
  to return the snapshot just written (a stale read is printed loudly).

**Configurations**, all open for the whole section, each a router with pools
of ``CLIENTS`` connections (opened before any window):

* (a) the primary alone: ``open_router(primary, [])``, every read on the
  primary with no question asked (what an app without replicas runs);
* (b) the primary + 1 replica: ``open_router(primary, [replica])``, every read
  asks the replica's position on the connection it lends;
* (c) for the two read-only workloads, a reference: the replica alone, a
  router over it with no replica (reads straight on it, no position asked):
  (b) against (c) is the router's question, (c) against (a) the replica's
  server against the primary's.

In (a) the replica still runs: idle for reads, it replays the writes of the
read-your-writes mix, which the "replica" CPU column shows.

**Rounds.** After one warm-up window per configuration, ``ROUNDS`` rounds; in
each, every configuration runs one window, in an order that rotates from round
to round, so a burst of the machine's other work hits them alike. ops/s is one
window's operations over its wall time; "vs primary alone" is (b)/(a) (and
(c)/(a)) within the same round, the median of the rounds' ratios and their
range. p50 and p99 are over every operation of every round. "cores busy" is
CPU seconds over wall time (Linux ``/proc``): this client process, the
primary's processes (postmaster and every child: backends, WAL sender...),
the replica's (backends, WAL receiver, the startup process that replays), and
everything else the machine ran meanwhile ("others": other people's runs).
"""

from __future__ import annotations

import gc
import os
import random
import shutil
import statistics
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import psycopg
from psycopg.conninfo import conninfo_to_dict

from bench.common import Result, bench_sql, database_name, print_markdown, sibling_database
from defi_sql import sync as db
from defi_sql.dev import embedded, replicas
from defi_sql.dev.seed import seed_users
from defi_sql.errors import TransientConflict
from defi_sql.models import NewPosition, Position
from defi_sql.sync.router import Router, Session

SECTION = "read replicas (#12)"
#: concurrent client threads (see the module's doc for why 4)
CLIENTS = 4
USERS, QUICK_USERS = 5_000, 1_000
SNAPSHOTS = 20
#: timed rounds, and each window's length in seconds (a warm-up window is shorter)
ROUNDS, QUICK_ROUNDS = 5, 2
WINDOW, QUICK_WINDOW = 4.0, 1.5
WARM_UP, QUICK_WARM_UP = 1.0, 0.5
#: the replica's name (its folder under the throwaway server's root)
REPLICA = "bench"
HISTORY_RANGE = timedelta(days=1)


# --- clients and their operations ---------------------------------------------------------


@dataclass
class Client:
    """One client thread: its session, its users, and what it measured."""

    session: Session
    holdings: Sequence[Position]  #: its users' latest snapshots
    primary_host: str
    rng: random.Random
    latencies: list[float] = field(default_factory=list)
    write_latencies: list[float] = field(default_factory=list)
    read_latencies: list[float] = field(default_factory=list)
    reads: int = 0
    on_primary: int = 0
    stale: int = 0
    conflicts: int = 0

    @contextmanager
    def read(self) -> Iterator[psycopg.Connection[Any]]:
        """``session.read()``, counting the reads the primary served."""
        with self.session.read() as conn:
            self.reads += 1
            self.on_primary += conn.info.host == self.primary_host
            yield conn


def _page(c: Client) -> None:
    """A user's page: the user, the latest snapshot, the day of history up to it."""
    h = c.rng.choice(c.holdings)
    until = h.snapshot_at + timedelta(minutes=1)
    with c.read() as conn:
        db.users.get(conn, h.user_id)
        db.positions.latest(conn, h.user_id)
        db.positions.history(conn, h.user_id, until - HISTORY_RANGE, until)


def _tick(c: Client) -> None:
    """A risk worker's tick: every user's at-risk positions."""
    with c.read() as conn:
        db.positions.at_risk(conn)


def _write_then_read(c: Client) -> None:
    """A user's position refreshed (a new snapshot), then read back with the token."""
    h = c.rng.choice(c.holdings)
    started = time.perf_counter()
    with c.session.write() as conn:
        written = db.positions.create(
            conn,
            NewPosition(
                user_id=h.user_id,
                wallet_address=h.wallet_address,
                protocol=h.protocol,
                chain_id=h.chain_id,
                health_factor=h.health_factor,
                collateral=h.collateral,
                debt=h.debt,
                metadata=h.metadata,
            ),
        )
    wrote = time.perf_counter()
    with c.read() as conn:
        latest = db.positions.latest(conn, h.user_id)
    c.write_latencies.append(wrote - started)
    c.read_latencies.append(time.perf_counter() - wrote)
    c.stale += latest is None or latest.id != written.id


@dataclass(frozen=True)
class Config:
    key: str  #: stable, for bench/summary.py
    label: str


PRIMARY = Config("primary", "(a) primary alone")
ROUTED = Config("routed", "(b) primary + 1 replica, router")
DIRECT = Config("direct", "(c) replica alone, no router (reference)")


@dataclass(frozen=True)
class Workload:
    key: str  #: stable, for bench/summary.py
    label: str
    op: Callable[[Client], None]
    configs: tuple[Config, ...]


WORKLOADS = (
    Workload(
        "per_request",
        "per-request reads (users.get, positions.latest, positions.history of a day)",
        _page,
        (PRIMARY, ROUTED, DIRECT),
    ),
    Workload(
        "every_tick",
        "every-tick reads (positions.at_risk)",
        _tick,
        (PRIMARY, ROUTED, DIRECT),
    ),
    Workload(
        "read_your_writes",
        "read-your-writes (positions.create, then positions.latest with the token)",
        _write_then_read,
        (PRIMARY, ROUTED),
    ),
)


# --- CPU of each party ------------------------------------------------------------------

_TICK = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Cpu:
    """CPU seconds used so far: this process, each server's processes, the machine."""

    client: float
    primary: float
    replica: float
    machine: float

    def cores(self, since: Cpu, seconds: float) -> dict[str, float]:
        """Cores busy on average between ``since`` and now, by party."""
        used = {
            "client": self.client - since.client,
            "primary": self.primary - since.primary,
            "replica": self.replica - since.replica,
        }
        used["others"] = max(0.0, self.machine - since.machine - sum(used.values()))
        return {party: value / seconds for party, value in used.items()}


def _trees(*pids: int) -> list[float]:
    """CPU seconds of each of ``pids`` and its child processes (a server's backends,
    WAL sender or receiver, startup process), from /proc; 0 where it cannot be read."""
    totals = [0.0] * len(pids)
    try:
        entries = [e.name for e in os.scandir("/proc") if e.name.isdigit()]
    except OSError:
        return totals
    for name in entries:
        try:
            with open(f"/proc/{name}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue  # ended meanwhile
        for i, pid in enumerate(pids):
            if int(name) == pid or int(fields[1]) == pid:  # fields[1]: the parent's pid
                totals[i] += (int(fields[11]) + int(fields[12])) / _TICK  # utime + stime
    return totals


def _machine() -> float:
    """CPU seconds every core of the machine has been busy (/proc/stat), or 0."""
    try:
        with open("/proc/stat") as stat:
            user, nice, system, _idle, _iowait, irq, softirq, steal = map(
                int, stat.readline().split()[1:9]
            )
    except (OSError, ValueError):
        return 0.0
    return (user + nice + system + irq + softirq + steal) / _TICK


def _cpu(primary_pid: int, replica_pid: int) -> Cpu:
    primary, replica = _trees(primary_pid, replica_pid)
    return Cpu(time.process_time(), primary, replica, _machine())


# --- windows and rounds -------------------------------------------------------------------


@dataclass
class Window:
    """One configuration's run of a workload for a fixed time."""

    ops: int
    seconds: float
    cores: dict[str, float]
    clients: list[Client]

    @property
    def ops_per_second(self) -> float:
        return self.ops / self.seconds


@dataclass(frozen=True)
class Servers:
    primary_host: str
    primary_pid: int
    replica_pid: int


def _loop(
    client: Client, op: Callable[[Client], None], start: threading.Barrier, span: float
) -> None:
    start.wait(timeout=60)
    end = time.perf_counter() + span
    while (started := time.perf_counter()) < end:
        try:
            op(client)
        except TransientConflict:  # a replica's query cancelled for the WAL it replays
            client.conflicts += 1
            continue
        client.latencies.append(time.perf_counter() - started)


def _window(
    router: Router, servers: Servers, holdings: Sequence[Position], workload: Workload, span: float
) -> Window:
    clients = [
        Client(router.session(), holdings[i::CLIENTS], servers.primary_host, random.Random(i))
        for i in range(CLIENTS)
    ]
    start = threading.Barrier(CLIENTS + 1)
    gc.collect()
    with ThreadPoolExecutor(max_workers=CLIENTS) as pool:
        running = [pool.submit(_loop, c, workload.op, start, span) for c in clients]
        before = _cpu(servers.primary_pid, servers.replica_pid)
        start.wait(timeout=60)
        started = time.perf_counter()
        for each in running:
            each.result()
        seconds = time.perf_counter() - started
    after = _cpu(servers.primary_pid, servers.replica_pid)
    ops = sum(len(c.latencies) for c in clients)
    return Window(ops, seconds, after.cores(before, seconds), clients)


def _rounds(
    routers: dict[str, Router],
    servers: Servers,
    holdings: Sequence[Position],
    workload: Workload,
    quick: bool,
) -> dict[str, list[Window]]:
    """Every configuration's timed windows, after a warm-up, in rotating order."""
    warm_up, span = (QUICK_WARM_UP, QUICK_WINDOW) if quick else (WARM_UP, WINDOW)
    configs = workload.configs
    for config in configs:
        _window(routers[config.key], servers, holdings, workload, warm_up)
    windows: dict[str, list[Window]] = {config.key: [] for config in configs}
    for number in range(QUICK_ROUNDS if quick else ROUNDS):
        turn = number % len(configs)
        for config in configs[turn:] + configs[:turn]:
            window = _window(routers[config.key], servers, holdings, workload, span)
            windows[config.key].append(window)
        print(
            f"{SECTION}: {workload.key}, round {number + 1}: "
            + ", ".join(f"{k} {w[-1].ops_per_second:,.0f} ops/s" for k, w in windows.items()),
            flush=True,
        )
    return windows


# --- the section ----------------------------------------------------------------------------


def _embedded(url: str) -> tuple[Path, int]:
    """The root folder and version of the embedded server at ``url`` (the bench's own)."""
    with psycopg.connect(url) as conn:
        row = conn.execute(bench_sql("replicas_server")).fetchone()
    assert row is not None
    data_dir, version = Path(row[0]), int(row[1])
    root = data_dir.parent
    if embedded.status(version, root=root).data_dir != data_dir:
        raise RuntimeError(
            f"{SECTION}: the server at {url} is not an embedded server in {root}; the section "
            "makes its replica with defi_sql.dev.replicas, run it with python -m bench."
        )
    return root, version


@contextmanager
def _replica(url: str, root: Path, version: int) -> Iterator[tuple[str, int]]:
    """A replica of ``url``'s server, the embedded one of ``root`` and ``version`` (a
    conninfo for ``url``'s database on it, and the replica's pid), stopped and removed
    afterwards, on failure too."""
    try:
        started = time.perf_counter()
        conninfo = replicas.start(
            REPLICA, version=version, root=root, database=database_name(url), delay_ms=0
        )
        [state] = [s for s in replicas.status(version, root) if s.name == REPLICA]
        assert state.pid is not None
        print(
            f"{SECTION}: replica cloned and started in {time.perf_counter() - started:.1f} s "
            f"({state.data_dir})",
            flush=True,
        )
        yield conninfo, state.pid
    finally:
        try:
            replicas.stop(REPLICA, version=version, root=root)
        finally:
            shutil.rmtree(replicas.replica_dir(REPLICA, version, root), ignore_errors=True)


def _caught_up(primary: str, replica: str, primary_host: str) -> None:
    """Wait until the replica has replayed everything the primary holds now: a read with
    the token of a write, the router waiting up to a minute for the replica."""
    with db.open_router(primary, [replica], max_wait=60.0, max_size=1) as router:
        session = router.session()
        with session.write():
            pass
        with session.read() as conn:
            if conn.info.host == primary_host:
                raise RuntimeError(f"{SECTION}: the replica did not catch up within a minute")


def run(url: str, *, quick: bool = False) -> list[Result]:
    started = time.perf_counter()
    cores = os.cpu_count() or 1
    users = QUICK_USERS if quick else USERS
    data = sibling_database(url, f"{database_name(url)}_replicas", fresh=True)
    with psycopg.connect(data, autocommit=True) as conn:
        seeded = time.perf_counter()
        seed_users(conn, users, snapshots=SNAPSHOTS, chunk=1000)
        conn.execute("VACUUM ANALYZE")
        seconds = time.perf_counter() - seeded
        holdings = list(db.positions.latest_per_user(conn))
        at_risk = len(db.positions.at_risk(conn))
    print(
        f"\n{SECTION}: {users:,} users of {SNAPSHOTS} snapshots seeded in {seconds:.1f} s "
        f"(a tick: {at_risk:,} positions at risk); {cores} cores, "
        "shared by the primary, the "
        f"replica and the {CLIENTS} client threads; load average before: "
        + ", ".join(f"{load:.2f}" for load in os.getloadavg()),
        flush=True,
    )
    primary_host = str(conninfo_to_dict(data)["host"])
    root, version = _embedded(data)
    primary_pid = embedded.status(version, root=root).pid
    assert primary_pid is not None
    figures: dict[str, dict[str, list[Window]]] = {}
    with _replica(data, root, version) as (replica, replica_pid):
        _caught_up(data, replica, primary_host)
        servers = Servers(primary_host, primary_pid, replica_pid)
        sizes = {"min_size": CLIENTS, "max_size": CLIENTS}
        with (
            db.open_router(data, [], **sizes) as alone,
            db.open_router(data, [replica], **sizes) as routed,
            db.open_router(replica, [], **sizes) as direct,
        ):
            routers = {PRIMARY.key: alone, ROUTED.key: routed, DIRECT.key: direct}
            for workload in WORKLOADS:  # the writes last: the reads see the seed only
                figures[workload.key] = _rounds(routers, servers, holdings, workload, quick)
    results = _report(figures, cores, quick)
    print(f"\n{SECTION}: {time.perf_counter() - started:.0f} s in all")
    return results


# --- figures ---------------------------------------------------------------------------------


def _percentile(values: Sequence[float], q: int) -> float:
    """The ``q``-th percentile of ``values`` (inclusive method)."""
    if len(values) < 2:
        return values[0] if values else 0.0
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def result(workload: Workload, config: Config, windows: list[Window], base: list[Window]) -> Result:
    """One configuration's figures on one workload; ``base``: (a)'s windows of the same
    rounds, for the ratios."""
    rates = [w.ops_per_second for w in windows]
    ratios = [w.ops_per_second / b.ops_per_second for w, b in zip(windows, base, strict=True)]
    clients = [c for w in windows for c in w.clients]
    latencies = [s for c in clients for s in c.latencies]
    reads = sum(c.reads for c in clients)
    extra: dict[str, Any] = {
        "workload": workload.key,
        "config": config.key,
        "clients": CLIENTS,
        "cores": os.cpu_count(),
        "rounds": len(windows),
        "ops_per_s": statistics.median(rates),
        "ops_per_s_low": min(rates),
        "ops_per_s_high": max(rates),
        "vs_primary": statistics.median(ratios),
        "vs_primary_low": min(ratios),
        "vs_primary_high": max(ratios),
        "p50_ms": _percentile(latencies, 50) * 1000,
        "p99_ms": _percentile(latencies, 99) * 1000,
        "reads": reads,
        "reads_on_primary": sum(c.on_primary for c in clients),
        "reads_on_primary_percent": 100 * sum(c.on_primary for c in clients) / max(reads, 1),
        "stale": sum(c.stale for c in clients),
        "conflicts": sum(c.conflicts for c in clients),
    }
    for party in ("client", "primary", "replica", "others"):
        extra[f"{party}_cores"] = statistics.median(w.cores[party] for w in windows)
    writes = [s for c in clients for s in c.write_latencies]
    if writes:
        after = [s for c in clients for s in c.read_latencies]
        base_after = [s for w in base for c in w.clients for s in c.read_latencies]
        extra |= {
            "write_p50_ms": _percentile(writes, 50) * 1000,
            "write_p99_ms": _percentile(writes, 99) * 1000,
            "read_p50_ms": _percentile(after, 50) * 1000,
            "read_p99_ms": _percentile(after, 99) * 1000,
            "read_p50_vs_primary": _percentile(after, 50) / _percentile(base_after, 50),
        }
    return Result(
        SECTION,
        f"{workload.label}: {config.label}",
        sum(w.seconds for w in windows),
        sum(w.ops for w in windows),
        f"{workload.label}: {PRIMARY.label}",
        extra,
    )


def _ms(value: float) -> str:
    return f"{value:,.2f}" if value < 10 else f"{value:,.0f}"


def _report(figures: dict[str, dict[str, list[Window]]], cores: int, quick: bool) -> list[Result]:
    results = []
    rows = []
    ryw = []
    for workload in WORKLOADS:
        windows = figures[workload.key]
        for config in workload.configs:
            r = result(workload, config, windows[config.key], windows[PRIMARY.key])
            results.append(r)
            e = r.extra
            if e["stale"]:
                print(f"\n!!! {SECTION}: {r.name}: {e['stale']:,} STALE reads\n", flush=True)
            rows.append(
                [
                    workload.label if config is PRIMARY else "",
                    config.label,
                    f"{e['ops_per_s']:,.0f} ({e['ops_per_s_low']:,.0f}-{e['ops_per_s_high']:,.0f})",
                    ""
                    if config is PRIMARY
                    else f"{e['vs_primary']:.2f}x ({e['vs_primary_low']:.2f}-"
                    f"{e['vs_primary_high']:.2f})",
                    f"{_ms(e['p50_ms'])} / {_ms(e['p99_ms'])} ms",
                    " / ".join(
                        f"{e[f'{p}_cores']:.2f}" for p in ("client", "primary", "replica", "others")
                    ),
                    f"{e['reads_on_primary']:,} of {e['reads']:,}",
                ]
            )
            if "read_p50_ms" in e:
                ryw.append(
                    [
                        config.label,
                        f"{_ms(e['write_p50_ms'])} / {_ms(e['write_p99_ms'])} ms",
                        f"{_ms(e['read_p50_ms'])} / {_ms(e['read_p99_ms'])} ms",
                        f"{e['reads_on_primary']:,} of {e['reads']:,}",
                        f"{e['stale']:,}",
                        f"{e['conflicts']:,}",
                    ]
                )
    rounds = QUICK_ROUNDS if quick else ROUNDS
    window = QUICK_WINDOW if quick else WINDOW
    print_markdown(
        f"{SECTION}: {CLIENTS} client threads; the primary, the replica and the clients share "
        f"this machine's {cores} cores, so (b) cannot scale as two machines would; median "
        f"(range) of {rounds} alternated rounds of {window:g} s",
        [
            "workload",
            "configuration",
            "ops/s",
            "vs (a), same round",
            "p50 / p99",
            "cores busy: client / primary / replica / others",
            "reads served by the primary",
        ],
        rows,
        "llrrrrr",
    )
    print_markdown(
        f"{SECTION}: read-your-writes, each half of the cycle (the read waits for the replica "
        "to replay the write, at most 0.1 s, then reads from the primary)",
        ["configuration", "write p50 / p99", "read p50 / p99", "reads served by the primary",
         "stale reads", "reads cancelled by replay"],
        ryw,
        "lrrrrr",
    )  # fmt: skip
    return results
