"""Load and concurrency: many real connections writing at once to a real server.

Two scenarios, each with the sync API on threads and the async API on one event
loop (``asyncio.gather`` over as many ``AsyncConnection``\\s):

* 8 writers bulk-ingest position snapshots in rounds; each writer has one batch
  refused in the middle of the run (the database refuses an unknown user, or
  the client-side check refuses a bad wallet half-way through the COPY). Every
  committed row must be there exactly once, nothing else.
* 8 writers append to one event stream with expected versions, retrying on
  :class:`ConcurrencyConflict`. Rounds make the contention certain: everyone
  reads the version, waits for everyone else, then appends, so every round has
  exactly one winner and every other active writer loses.

Two more tests force each way of losing an append: the stream moved on before
the append read it ("stale"); the append raced a not-yet-committed winner on the
unique index ("raced"), whether that winner then commits or rolls back; and two
transactions appending to two streams in opposite orders deadlock.

Nothing here asserts anything about time: barriers only make the writers
overlap; their timeouts and the one polling deadline only turn a hang into a
failure. Each test prints one summary line of its counts.
"""

from __future__ import annotations

import asyncio
import re
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

import psycopg
import pytest
from msgspec.structs import replace

from defi_sql import aio, sync
from defi_sql.errors import ConcurrencyConflict, InvalidInput, NotFound
from defi_sql.models import NewEvent, NewPosition

from .conftest import Server
from .helpers import wallet

WRITERS = 8
HANG_GUARD = 60  # seconds a barrier or a poll may wait before the test fails as hung
T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def run_threads(count: int, target: Callable[[int], Any]) -> list[Any]:
    """``target(0) ... target(count - 1)`` on as many threads; their results, or the first error."""
    with ThreadPoolExecutor(max_workers=count) as pool:
        futures = [pool.submit(target, number) for number in range(count)]
        return [future.result() for future in futures]


# -- 1. concurrent bulk ingest ------------------------------------------------------

BATCHES = 8  # per writer, in as many rounds
ROWS = 200  # per batch
UNKNOWN_USER = "the position's user does not exist (positions_user_id_fkey)"
BAD_WALLET = "0xnot-a-wallet"


def refused_batch(writer: int) -> int:
    """The one batch of ``writer`` that is refused: never the first or last round, and
    every round in between has writers that commit beside the ones refused."""
    return 1 + writer % (BATCHES - 2)


def row_key(writer: int, batch: int, row: int) -> tuple[int, int, int]:
    return (writer, batch, row)


def expected_user(users: list[UUID], writer: int, row: int) -> UUID:
    return users[(writer + row) % len(users)]  # every writer writes for every user


def expected_snapshot_at(writer: int, batch: int, row: int) -> datetime:
    return T0 + timedelta(seconds=(writer * BATCHES + batch) * ROWS + row)


def make_batch(users: list[UUID], writer: int, batch: int) -> list[NewPosition]:
    """``ROWS`` snapshots, each marked in its metadata with (writer, batch, row)."""
    rows = [
        NewPosition(
            user_id=expected_user(users, writer, row),
            wallet_address=wallet(1000 + writer),
            protocol="aave-v3",
            chain_id=1 + batch,
            health_factor=Decimal(f"1.{row:04d}"),
            metadata={"w": writer, "b": batch, "i": row},
            snapshot_at=expected_snapshot_at(writer, batch, row),
        )
        for row in range(ROWS)
    ]
    if batch == refused_batch(writer):
        middle = ROWS // 2
        if writer % 2 == 0:  # refused by the database (foreign key), after the whole COPY
            rows[middle] = replace(rows[middle], user_id=uuid4())
        else:  # refused by the client-side check, half-way through the COPY
            rows[middle] = replace(rows[middle], wallet_address=BAD_WALLET)
    return rows


@dataclass
class IngestLedger:
    """What each writer saw: batches committed, batches refused (and how)."""

    committed: set[tuple[int, int]] = field(default_factory=set)
    refused: dict[tuple[int, int], BaseException] = field(default_factory=dict)
    in_flight: int = 0
    max_in_flight: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> None:
        with self.lock:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)

    def end(self, writer: int, batch: int, outcome: int | BaseException) -> None:
        with self.lock:
            self.in_flight -= 1
            if isinstance(outcome, BaseException):
                self.refused[(writer, batch)] = outcome
            else:
                assert outcome == ROWS, (writer, batch, outcome)
                self.committed.add((writer, batch))


def create_users(db_url: str) -> list[UUID]:
    with psycopg.connect(db_url, autocommit=True) as conn:
        return [sync.users.create(conn, wallet_address=wallet(n)).id for n in range(WRITERS)]


def check_ingest(db_url: str, users: list[UUID], ledger: IngestLedger, label: str) -> None:
    """Read every row back with plain SQL and hold it against the ledger."""
    with psycopg.connect(db_url, autocommit=True) as conn:
        stored = conn.execute(
            "SELECT (metadata->>'w')::int, (metadata->>'b')::int, (metadata->>'i')::int,"
            "       user_id, snapshot_at, wallet_address, chain_id"
            "  FROM positions"
        ).fetchall()
    seen = Counter(row_key(w, b, i) for w, b, i, *_ in stored)
    expected = {row_key(w, b, i) for w, b in ledger.committed for i in range(ROWS)}
    duplicates = sum(n - 1 for n in seen.values() if n > 1)
    missing = expected - seen.keys()
    extra = seen.keys() - expected
    leaked = {(w, b) for w, b, _ in seen} & ledger.refused.keys()
    wrong = [
        row
        for row in stored
        if row[0] is None
        or row[3] != expected_user(users, row[0], row[2])
        or row[4] != expected_snapshot_at(row[0], row[1], row[2])
        or row[5] != wallet(1000 + row[0])
        or row[6] != 1 + row[1]
    ]
    print(
        f"\n[load] ingest {label}: writers={WRITERS} batches_committed={len(ledger.committed)}"
        f" batches_refused={len(ledger.refused)} rows_committed={len(expected)}"
        f" rows_read_back={len(stored)} duplicates={duplicates} missing={len(missing)}"
        f" extra={len(extra)} refused_rows_leaked={len(leaked)} wrong_content={len(wrong)}"
        f" max_ingests_in_flight={ledger.max_in_flight}"
    )

    # each writer: every batch but its refused one committed; the refused one refused as expected
    assert ledger.committed == {
        (w, b) for w in range(WRITERS) for b in range(BATCHES) if b != refused_batch(w)
    }
    assert ledger.refused.keys() == {(w, refused_batch(w)) for w in range(WRITERS)}
    for (w, _), exc in ledger.refused.items():
        if w % 2 == 0:
            assert type(exc) is NotFound, repr(exc)
            assert str(exc) == UNKNOWN_USER
        else:
            assert type(exc) is InvalidInput, repr(exc)
            assert BAD_WALLET in str(exc)

    assert duplicates == 0
    assert not missing, sorted(missing)[:10]
    assert not extra, sorted(extra)[:10]
    assert not leaked, leaked  # all or nothing: a refused batch left no row at all
    assert not wrong, wrong[:5]
    assert len(stored) == len(expected) == (WRITERS * (BATCHES - 1)) * ROWS


def test_8_concurrent_writers_ingesting_snapshots_sync(server: Server, db_url: str) -> None:
    users = create_users(db_url)
    batches = {(w, b): make_batch(users, w, b) for w in range(WRITERS) for b in range(BATCHES)}
    ledger = IngestLedger()
    barrier = threading.Barrier(WRITERS, timeout=HANG_GUARD)

    def writer(number: int) -> None:
        try:
            with psycopg.connect(db_url, autocommit=True) as conn:
                for batch in range(BATCHES):
                    barrier.wait()  # every round starts with all writers at once
                    ledger.start()
                    try:
                        outcome: int | BaseException = sync.positions.ingest(
                            conn, batches[(number, batch)]
                        )
                    except (NotFound, InvalidInput) as exc:
                        outcome = exc
                    ledger.end(number, batch, outcome)
        except BaseException:
            barrier.abort()  # let the others fail at once instead of waiting
            raise

    run_threads(WRITERS, writer)
    check_ingest(db_url, users, ledger, f"sync/{server.name}")


def test_8_concurrent_writers_ingesting_snapshots_async(server: Server, db_url: str) -> None:
    users = create_users(db_url)
    batches = {(w, b): make_batch(users, w, b) for w in range(WRITERS) for b in range(BATCHES)}
    ledger = IngestLedger()

    async def main() -> None:
        barrier = asyncio.Barrier(WRITERS)

        async def writer(number: int) -> None:
            try:
                async with await psycopg.AsyncConnection.connect(db_url, autocommit=True) as conn:
                    for batch in range(BATCHES):
                        await asyncio.wait_for(barrier.wait(), HANG_GUARD)
                        ledger.start()
                        try:
                            outcome: int | BaseException = await aio.positions.ingest(
                                conn, batches[(number, batch)]
                            )
                        except (NotFound, InvalidInput) as exc:
                            outcome = exc
                        ledger.end(number, batch, outcome)
            except BaseException:
                await barrier.abort()
                raise

        await asyncio.gather(*(writer(number) for number in range(WRITERS)))

    asyncio.run(main())
    check_ingest(db_url, users, ledger, f"async/{server.name}")


# -- 2. one event stream, expected versions, retries --------------------------------

EVENTS_EACH = 12
TOTAL_EVENTS = WRITERS * EVENTS_EACH
RACED = "event_store_stream_id_version_key"  # lost on the unique index to an open winner


def stale_message(stream: UUID) -> re.Pattern[str]:
    """The stream had moved on before the append looked (no row inserted)."""
    return re.compile(rf"stream {stream} is at version \d+, not \d+; reload it and retry\.")


def conflict_kind(exc: object, stream: UUID) -> str:
    """``raced`` or ``stale`` for the two ways a ConcurrencyConflict is expected; else what.

    (``isinstance``: a subclass such as TransientConflict still tells the caller to retry.)
    """
    if not isinstance(exc, ConcurrencyConflict):
        return f"not a ConcurrencyConflict: {exc!r}"
    if exc.constraint == RACED:
        return "raced"
    if exc.constraint is None and stale_message(stream).fullmatch(str(exc)):
        return "stale"
    return f"unexpected ConcurrencyConflict: {exc!r} (constraint {exc.constraint})"


def event_of(writer: int, n: int, ids: dict[tuple[int, int], UUID]) -> NewEvent:
    # the same event_id on every retry, as a careful client would send it
    return NewEvent(event_type="Added", payload={"w": writer, "n": n}, event_id=ids[(writer, n)])


@dataclass
class StreamLedger:
    """One entry per writer per round: the version it read, and what its append did."""

    stream: UUID = field(default_factory=uuid4)
    ids: dict[tuple[int, int], UUID] = field(
        default_factory=lambda: {
            (w, n): uuid4() for w in range(WRITERS) for n in range(EVENTS_EACH)
        }
    )
    appended: list[int] = field(default_factory=lambda: [0] * WRITERS)
    # (round, writer, version read, "won" / conflict kind / None when done)
    log: list[tuple[int, int, int, str | None]] = field(default_factory=list)
    returned: dict[int, list[Any]] = field(default_factory=dict)  # writer -> Events it got back
    lock: threading.Lock = field(default_factory=threading.Lock)

    def finished(self) -> bool:
        with self.lock:
            return sum(self.appended) == TOTAL_EVENTS

    def record(
        self, round_: int, writer: int, read: int, outcome: str | None, events: list[Any]
    ) -> None:
        with self.lock:
            self.log.append((round_, writer, read, outcome))
            if outcome == "won":
                self.appended[writer] += 1
                self.returned.setdefault(writer, []).extend(events)


def check_stream(db_url: str, ledger: StreamLedger, label: str) -> None:
    stream = ledger.stream
    with psycopg.connect(db_url, autocommit=True) as conn:
        stored = conn.execute(
            "SELECT version, event_id, (payload->>'w')::int, (payload->>'n')::int"
            "  FROM event_store WHERE stream_id = %s ORDER BY version",
            (stream,),
        ).fetchall()
        others = conn.execute(
            "SELECT count(*) FROM event_store WHERE stream_id <> %s", (stream,)
        ).fetchone()
        current = sync.events.version(conn, stream)
    versions = [row[0] for row in stored]
    attempts = [entry for entry in ledger.log if entry[3] is not None]
    wins = [entry for entry in attempts if entry[3] == "won"]
    losses = [entry for entry in attempts if entry[3] != "won"]
    kinds = Counter(entry[3] for entry in losses)
    rounds = sorted({entry[0] for entry in ledger.log})
    duplicate_ids = len(stored) - len({row[1] for row in stored})
    print(
        f"\n[load] events {label}: writers={WRITERS} events_each={EVENTS_EACH}"
        f" appended={len(wins)} read_back={len(stored)} stream_version={current}"
        f" rounds={len(rounds)} attempts={len(attempts)} conflicts={len(losses)}"
        f" (stale={kinds['stale']} raced={kinds['raced']})"
        f" duplicates={duplicate_ids} gaps={TOTAL_EVENTS - len(set(versions))}"
    )

    # every loss was a ConcurrencyConflict of one of the two expected kinds
    assert set(kinds) <= {"stale", "raced"}, kinds
    # the stream: versions 1..total, contiguous, one event each, nothing else written
    assert versions == list(range(1, TOTAL_EVENTS + 1))
    assert current == TOTAL_EVENTS
    assert others == (0,)
    assert duplicate_ids == 0
    assert {row[1]: (row[2], row[3]) for row in stored} == {
        event_id: key for key, event_id in ledger.ids.items()
    }  # each writer's events, all present, exactly once, under their own event_id
    # each writer got all its events in, and got back what was stored
    assert ledger.appended == [EVENTS_EACH] * WRITERS
    by_id = {row[1]: row[0] for row in stored}
    for writer, events in ledger.returned.items():
        assert [e.payload for e in events] == [{"w": writer, "n": n} for n in range(EVENTS_EACH)]
        assert all(by_id[e.event_id] == e.version for e in events)
    # rounds: everyone read the same version, exactly one append won, every other active lost
    assert len(rounds) == TOTAL_EVENTS
    for round_ in rounds:
        entries = [entry for entry in ledger.log if entry[0] == round_]
        assert len(entries) == WRITERS
        assert {entry[2] for entry in entries} == {round_}
        assert [entry[3] for entry in entries].count("won") == 1, entries
    assert len(losses) == len(attempts) - TOTAL_EVENTS
    # every writer is active in each round until it has won EVENTS_EACH of them: the first
    # EVENTS_EACH rounds have all WRITERS active, hence at least this many losers
    assert len(losses) >= (WRITERS - 1) * EVENTS_EACH


def test_8_writers_appending_to_one_stream_with_expected_versions_sync(
    server: Server, db_url: str
) -> None:
    ledger = StreamLedger()
    stream = ledger.stream
    barrier = threading.Barrier(WRITERS, timeout=HANG_GUARD)

    def writer(number: int) -> None:
        try:
            with psycopg.connect(db_url, autocommit=True) as conn:
                round_ = 0
                while True:
                    barrier.wait()  # no append runs between here and the next wait
                    if ledger.finished():
                        return
                    current = sync.events.version(conn, stream)
                    barrier.wait()  # everyone has read the same version: now all append
                    n = ledger.appended[number]
                    outcome: str | None = None
                    events: list[Any] = []
                    if n < EVENTS_EACH:
                        try:
                            events = sync.events.append(
                                conn,
                                stream_type="position",
                                stream_id=stream,
                                expected_version=current,
                                events=[event_of(number, n, ledger.ids)],
                            )
                            outcome = "won"
                        except ConcurrencyConflict as exc:
                            outcome = conflict_kind(exc, stream)
                    ledger.record(round_, number, current, outcome, events)
                    round_ += 1
        except BaseException:
            barrier.abort()
            raise

    run_threads(WRITERS, writer)
    check_stream(db_url, ledger, f"sync/{server.name}")


def test_8_writers_appending_to_one_stream_with_expected_versions_async(
    server: Server, db_url: str
) -> None:
    ledger = StreamLedger()
    stream = ledger.stream

    async def main() -> None:
        barrier = asyncio.Barrier(WRITERS)

        async def writer(number: int) -> None:
            try:
                async with await psycopg.AsyncConnection.connect(db_url, autocommit=True) as conn:
                    round_ = 0
                    while True:
                        await asyncio.wait_for(barrier.wait(), HANG_GUARD)
                        if ledger.finished():
                            return
                        current = await aio.events.version(conn, stream)
                        await asyncio.wait_for(barrier.wait(), HANG_GUARD)
                        n = ledger.appended[number]
                        outcome: str | None = None
                        events: list[Any] = []
                        if n < EVENTS_EACH:
                            try:
                                events = await aio.events.append(
                                    conn,
                                    stream_type="position",
                                    stream_id=stream,
                                    expected_version=current,
                                    events=[event_of(number, n, ledger.ids)],
                                )
                                outcome = "won"
                            except ConcurrencyConflict as exc:
                                outcome = conflict_kind(exc, stream)
                        ledger.record(round_, number, current, outcome, events)
                        round_ += 1
            except BaseException:
                await barrier.abort()
                raise

        await asyncio.gather(*(writer(number) for number in range(WRITERS)))

    asyncio.run(main())
    check_stream(db_url, ledger, f"async/{server.name}")


# -- 3. both ways of losing, forced -------------------------------------------------

FOLLOWERS = WRITERS - 1


def blocked_by(conn: psycopg.Connection[Any], pid: int) -> int:
    row = conn.execute(
        "SELECT count(*) FROM pg_stat_activity"
        " WHERE datname = current_database() AND %s = ANY(pg_blocking_pids(pid))",
        (pid,),
    ).fetchone()
    assert row is not None
    return int(row[0])


class RolledBack(Exception):
    """Raised inside the leader's transaction to roll its append back."""


@pytest.mark.parametrize("leader_ends", ["commit", "rollback"])
def test_losing_on_the_index_and_losing_to_a_moved_stream_are_both_concurrency_conflicts(
    server: Server, db: psycopg.Connection[Any], db_url: str, leader_ends: str
) -> None:
    """A leader appends version 1 in an open transaction; 7 followers append version 1
    too and wait on it (the unique index). Commit: all 7 lose ("raced"), a latecomer at
    version 0 loses because the stream moved on ("stale"). Rollback: one follower wins,
    the other 6 lose to it. Then every loser reloads, retries and gets in."""
    stream = uuid4()
    outcomes: dict[int, object] = {}

    def follower(number: int) -> None:
        with psycopg.connect(db_url, autocommit=True) as conn:
            try:
                outcomes[number] = sync.events.append(
                    conn,
                    stream_type="position",
                    stream_id=stream,
                    expected_version=0,
                    events=[NewEvent(event_type="Follower", payload={"f": number})],
                )
            except Exception as exc:  # judged below: must be a ConcurrencyConflict
                outcomes[number] = exc

    with psycopg.connect(db_url, autocommit=True) as leader:
        leader_pid = leader.info.backend_pid
        pool = ThreadPoolExecutor(max_workers=FOLLOWERS)
        futures: list[Any] = []
        try:
            with sync.transaction(leader):
                sync.events.append(
                    leader,
                    stream_type="position",
                    stream_id=stream,
                    expected_version=0,
                    events=[NewEvent(event_type="Leader", payload={})],
                )
                futures = [pool.submit(follower, number) for number in range(FOLLOWERS)]
                deadline = time.monotonic() + HANG_GUARD  # a hang guard, not a timing check
                while blocked_by(db, leader_pid) < FOLLOWERS:
                    assert time.monotonic() < deadline, "the followers never waited on the leader"
                    time.sleep(0.01)
                if leader_ends == "rollback":
                    raise RolledBack
        except RolledBack:
            pass
        finally:
            results = [future.result() for future in futures]
            pool.shutdown()
        assert results == [None] * FOLLOWERS

        kinds = Counter(
            "won" if isinstance(outcome, list) else conflict_kind(outcome, stream)
            for outcome in outcomes.values()
        )
        late: object = None
        if leader_ends == "commit":
            assert kinds == {"raced": FOLLOWERS}, outcomes
            with pytest.raises(ConcurrencyConflict) as caught:  # a latecomer with version 0
                sync.events.append(
                    leader,
                    stream_type="position",
                    stream_id=stream,
                    expected_version=0,
                    events=[NewEvent(event_type="Late", payload={})],
                )
            late = conflict_kind(caught.value, stream)
            assert late == "stale", caught.value
        else:
            assert kinds == {"won": 1, "raced": FOLLOWERS - 1}, outcomes

        # every loser reloads the version and retries until it gets in
        retries = 0
        for number, outcome in sorted(outcomes.items()):
            while not isinstance(outcome, list):
                retries += 1
                outcome = sync.events.append(
                    leader,
                    stream_type="position",
                    stream_id=stream,
                    expected_version=sync.events.version(leader, stream),
                    events=[NewEvent(event_type="Follower", payload={"f": number})],
                )
            outcomes[number] = outcome
        stored = db.execute(
            "SELECT version, event_type, payload FROM event_store WHERE stream_id = %s"
            " ORDER BY version",
            (stream,),
        ).fetchall()

    print(
        f"\n[load] forced conflicts {leader_ends}/{server.name}: followers={FOLLOWERS}"
        f" raced={kinds['raced']} stale={1 if late == 'stale' else 0} won_first={kinds['won']}"
        f" retries={retries} stored={len(stored)}"
    )
    leader_rows = 1 if leader_ends == "commit" else 0
    assert [row[0] for row in stored] == list(range(1, FOLLOWERS + leader_rows + 1))
    assert sorted(row[2]["f"] for row in stored if row[1] == "Follower") == list(range(FOLLOWERS))
    assert [row[1] for row in stored].count("Leader") == leader_rows
    assert retries == FOLLOWERS - (1 - leader_rows)


def test_crossed_appends_in_two_transactions_end_in_one_concurrency_conflict(
    server: Server, db_url: str
) -> None:
    """Two writers, each appending to streams X and Y in one transaction of its own, in
    opposite orders: a deadlock. The victim must see a ConcurrencyConflict (a third way of
    losing, besides "stale" and "raced"), the other writer must get in, and the victim's
    rerun of the whole transaction too (once the survivor is done, so that the rerun cannot
    cross the survivor again)."""
    streams = [uuid4(), uuid4()]
    barrier = threading.Barrier(2, timeout=HANG_GUARD)
    survivor_done = threading.Event()
    outcomes: dict[int, list[object]] = {0: [], 1: []}

    def append_both(conn: psycopg.Connection[Any], number: int, middle: Callable[[], Any]) -> None:
        with sync.transaction(conn):
            for step, stream in enumerate(streams if number == 0 else streams[::-1]):
                if step == 1:
                    middle()
                sync.events.append(
                    conn,
                    stream_type="position",
                    stream_id=stream,
                    expected_version=sync.events.version(conn, stream),
                    events=[NewEvent(event_type="Crossed", payload={"w": number})],
                )

    def writer(number: int) -> None:
        with psycopg.connect(db_url, autocommit=True) as conn:  # deadlock_timeout: 1 s
            try:
                append_both(conn, number, barrier.wait)  # both hold their first stream
            except ConcurrencyConflict as exc:
                outcomes[number].append(exc)
                assert survivor_done.wait(HANG_GUARD), "the survivor never finished"
                append_both(conn, number, lambda: None)  # reload and rerun it all
            outcomes[number].append("won")
            survivor_done.set()

    run_threads(2, writer)
    victims = [n for n, seen in outcomes.items() if seen != ["won"]]
    with psycopg.connect(db_url, autocommit=True) as conn:
        stored = conn.execute(
            "SELECT stream_id, version, (payload->>'w')::int FROM event_store"
            " ORDER BY stream_id, version"
        ).fetchall()
    print(
        f"\n[load] crossed appends {server.name}: writers=2 deadlock_victims={len(victims)}"
        f" conflicts={sum(len(s) - 1 for s in outcomes.values())} stored={len(stored)}"
        f" victim_saw={[type(e).__name__ for e in outcomes[victims[0]][:-1]] if victims else []}"
    )
    assert len(victims) == 1, outcomes
    [deadlocked, done] = outcomes[victims[0]]
    # ConcurrencyConflict or a subclass of it (TransientConflict: rerun the transaction)
    assert isinstance(deadlocked, ConcurrencyConflict), repr(deadlocked)
    assert str(deadlocked) == "deadlock detected; retry the operation"
    assert done == "won"
    assert sorted((s, v) for s, v, _ in stored) == sorted((s, v) for s in streams for v in (1, 2))
    for stream in streams:  # the survivor's event first, then the victim's rerun
        assert [w for s, _, w in stored if s == stream] == [1 - victims[0], victims[0]]
