"""events: the event store, sync and async, on a real migrated database."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

import psycopg
import pytest

from defi_sql import sync
from defi_sql.errors import ConcurrencyConflict, Conflict, InvalidInput
from defi_sql.models import Checkpoint, Event, NewEvent

from .conftest import Api
from .helpers import count_rows, wait_for_lock_waiters

PAYLOAD: dict[str, object] = {
    "asset": "ETH",
    "amount": "1.5",
    "count": 3,
    "ratio": 0.25,
    "open": True,
    "closedAt": None,
    "tags": ["a", "b"],
    "nested": {"legs": [1, {"side": "long"}]},
}
GOOD = NewEvent(event_type="Noted", payload={"n": 1})
T0 = datetime(2024, 1, 1, tzinfo=UTC)


# -- helpers ---------------------------------------------------------------------


def count_events(db: psycopg.Connection[Any], table: str = "event_store") -> int:
    return count_rows(db, table)


def db_clock(db: psycopg.Connection[Any]) -> datetime:
    row = db.execute("SELECT clock_timestamp()").fetchone()
    assert row is not None
    return row[0]  # type: ignore[no-any-return]


def append(api: Api, stream_id: UUID, expected: int, *events: NewEvent) -> list[Event]:
    result: list[Event] = api.events.append(
        stream_type="position", stream_id=stream_id, expected_version=expected, events=list(events)
    )
    return result


def event(n: int, **kwargs: Any) -> NewEvent:
    return NewEvent(event_type=f"Step{n}", payload={"n": n}, **kwargs)


def insert_recorded_at(
    db: psycopg.Connection[Any], stream_id: UUID, version: int, recorded_at: datetime
) -> None:
    """An event recorded in the past (recorded_at defaults to now(), so by SQL)."""
    db.execute(
        "INSERT INTO event_store (stream_type, stream_id, version, event_type, payload,"
        " occurred_at, recorded_at) VALUES ('position', %s, %s, 'Old', %s::jsonb, %s, %s)",
        (stream_id, version, f'{{"v": {version}}}', recorded_at, recorded_at),
    )


STORED_COLUMNS = (
    "position, event_id, stream_type, stream_id, version, event_type, payload::text,"
    " metadata::text, occurred_at, recorded_at, transaction_id::text, owner_id"
)


def stored(db: psycopg.Connection[Any], table: str) -> list[tuple[Any, ...]]:
    assert table in ("event_store", "event_store_archive")
    sql = f"SELECT {STORED_COLUMNS} FROM {table} ORDER BY position"  # noqa: S608 - fixed names
    return db.execute(sql).fetchall()


# -- append ----------------------------------------------------------------------


def test_append_one(api: Api, db: psycopg.Connection[Any]) -> None:
    stream = uuid4()
    before = db_clock(db)
    appended = append(api, stream, 0, NewEvent(event_type="PositionOpened", payload=PAYLOAD))
    after = db_clock(db)
    assert len(appended) == 1
    [one] = appended
    assert isinstance(one, Event)
    assert (one.stream_type, one.stream_id, one.version) == ("position", stream, 1)
    assert (one.event_type, one.payload, one.metadata) == ("PositionOpened", PAYLOAD, {})
    assert isinstance(one.event_id, UUID)
    assert before <= one.recorded_at <= after
    assert one.occurred_at == one.recorded_at  # occurred_at defaults to the append's now()
    assert api.events.read_stream(stream) == [one]
    assert api.events.version(stream) == 1
    assert db.execute(
        "SELECT payload = %s::jsonb, metadata::text FROM event_store",
        (
            '{"asset": "ETH", "amount": "1.5", "count": 3, "ratio": 0.25, "open": true,'
            ' "closedAt": null, "tags": ["a", "b"], "nested": {"legs": [1, {"side": "long"}]}}',
        ),
    ).fetchall() == [(True, "{}")]


def test_append_several_then_more(api: Api, db: psycopg.Connection[Any]) -> None:
    stream = uuid4()
    occurred = datetime(2024, 5, 1, 12, 0, 0, 123456, tzinfo=timezone(timedelta(hours=2)))
    given = uuid4()
    metadata: dict[str, object] = {"actor": "bot", "correlationId": "c-1", "attempt": 2}
    first = append(
        api,
        stream,
        0,
        event(1, metadata=metadata, event_id=given, occurred_at=occurred),
        event(2),
        event(3),
    )
    assert [e.version for e in first] == [1, 2, 3]
    assert first[0].position < first[1].position < first[2].position
    assert [e.event_type for e in first] == ["Step1", "Step2", "Step3"]
    assert [e.payload for e in first] == [{"n": 1}, {"n": 2}, {"n": 3}]
    assert [e.metadata for e in first] == [metadata, {}, {}]
    assert first[0].event_id == given
    assert len({e.event_id for e in first}) == 3
    assert first[0].occurred_at == occurred  # the explicit value is kept
    assert first[1].occurred_at == first[1].recorded_at
    assert len({e.recorded_at for e in first}) == 1  # one transaction
    assert {e.stream_id for e in first} == {stream}

    more = append(api, stream, 3, event(4), event(5))
    assert [e.version for e in more] == [4, 5]
    assert first[-1].position < more[0].position < more[1].position
    assert api.events.read_stream(stream) == first + more
    assert api.events.version(stream) == 5
    assert count_events(db) == 5


def test_append_nothing_is_a_no_op(api: Api, db: psycopg.Connection[Any]) -> None:
    stream = uuid4()
    assert append(api, stream, 0) == []
    assert count_events(db) == 0


@pytest.mark.parametrize(
    ("existing", "expected"),
    [
        pytest.param(2, 1, id="stale-by-one"),
        pytest.param(2, 0, id="stale-from-start"),
        pytest.param(2, 3, id="gap-of-one"),
        pytest.param(2, 5, id="gap-far-ahead"),
        pytest.param(0, 1, id="empty-stream-expected-1"),
    ],
)
def test_append_at_the_wrong_version_is_a_concurrency_conflict(
    api: Api, db: psycopg.Connection[Any], existing: int, expected: int
) -> None:
    stream = uuid4()
    before = append(api, stream, 0, *(event(n) for n in range(1, existing + 1)))
    with pytest.raises(ConcurrencyConflict) as caught:
        append(api, stream, expected, event(10), event(11))
    assert str(caught.value) == (
        f"stream {stream} is at version {existing}, not {expected}; reload it and retry."
    )
    assert api.events.read_stream(stream) == before
    assert count_events(db) == existing


def test_resending_the_same_events_returns_them_and_appends_nothing(
    api: Api, db: psycopg.Connection[Any]
) -> None:
    stream = uuid4()
    batch = (event(1, event_id=uuid4()), event(2, event_id=uuid4()))
    first = append(api, stream, 0, *batch)
    assert append(api, stream, 0, *batch) == first
    assert count_events(db) == 2
    later = append(api, stream, 2, event(3))
    assert append(api, stream, 0, *batch) == first  # still a replay once the stream moved on
    assert api.events.read_stream(stream) == first + later
    assert count_events(db) == 3


def test_resending_an_event_at_another_version_is_a_conflict(
    api: Api, db: psycopg.Connection[Any]
) -> None:
    stream = uuid4()
    sent = event(1, event_id=uuid4())
    append(api, stream, 0, sent, event(2))
    with pytest.raises(Conflict) as caught:
        append(api, stream, 1, sent)
    assert type(caught.value) is Conflict  # the event exists: retrying cannot help
    assert str(caught.value) == (
        f"event {sent.event_id} was already appended to stream {stream} as version 1; "
        "give a new event a new event_id."
    )
    assert count_events(db) == 2


def test_reusing_an_event_id_on_another_stream_is_a_conflict(
    api: Api, db: psycopg.Connection[Any]
) -> None:
    shared = uuid4()
    stream, other = uuid4(), uuid4()
    append(api, stream, 0, event(1, event_id=shared))
    with pytest.raises(Conflict) as caught:
        append(api, other, 0, event(1, event_id=shared))
    assert type(caught.value) is Conflict  # not a ConcurrencyConflict: retrying cannot help
    assert caught.value.constraint == "event_store_event_id_key"
    assert str(caught.value) == (
        f"event {shared} was already appended to stream {stream} as version 1; "
        "give a new event a new event_id."
    )
    assert api.events.version(other) == 0
    assert count_events(db) == 1


def test_the_same_event_id_twice_in_one_append_writes_nothing(
    api: Api, db: psycopg.Connection[Any]
) -> None:
    stream, twice = uuid4(), uuid4()
    with pytest.raises(Conflict) as caught:
        append(api, stream, 0, event(1, event_id=twice), event(2, event_id=twice))
    assert caught.value.constraint == "event_store_event_id_key"
    assert count_events(db) == 0


def test_append_is_all_or_nothing_when_the_database_refuses_a_later_event(
    api: Api, db: psycopg.Connection[Any]
) -> None:
    """The first event is inserted before PostgreSQL refuses the second (its event_id is taken)."""
    taken = uuid4()
    elsewhere, stream = uuid4(), uuid4()
    append(api, elsewhere, 0, event(1, event_id=taken))
    with pytest.raises(Conflict) as caught:
        append(api, stream, 0, event(1), event(2, event_id=taken))
    assert caught.value.constraint == "event_store_event_id_key"
    assert count_events(db) == 1
    assert api.events.version(stream) == 0
    [retried] = append(api, stream, 0, event(1))  # the connection is still usable
    assert retried.version == 1
    assert [e.stream_id for e in api.events.read_all_after()] == [elsewhere, stream]


def _bad_append_cases() -> list[Any]:
    naive = datetime(2024, 1, 1, 12, 0)  # naive on purpose
    cases: list[tuple[str, dict[str, Any], str]] = [
        (
            "expected-negative",
            {"expected_version": -1},
            "expected_version must be 0 or more, not -1.",
        ),
        (
            "expected-bool",
            {"expected_version": True},
            "expected_version must be an integer, not bool.",
        ),
        (
            "expected-string",
            {"expected_version": "1"},
            "expected_version must be an integer, not str.",
        ),
        (
            "expected-float",
            {"expected_version": 1.0},
            "expected_version must be an integer, not float.",
        ),
        ("stream-type-empty", {"stream_type": ""}, "stream_type must not be empty."),
        (
            "stream-id-string",
            {"stream_id": "s-1"},
            "stream_id must be a UUID (from uuid import UUID), not str.",
        ),
        (
            "event-type-empty",
            {"events": [GOOD, NewEvent(event_type="", payload={})]},
            "event_type must not be empty.",
        ),
        (
            "event-type-int",
            {"events": [GOOD, NewEvent(event_type=7, payload={})]},  # type: ignore[arg-type]
            "event_type must be a string, not int.",
        ),
        (
            "payload-list",
            {"events": [GOOD, NewEvent(event_type="A", payload=[1, 2])]},  # type: ignore[arg-type]
            "payload must be a dict, not list.",
        ),
        (
            "payload-int-keys",
            {"events": [GOOD, NewEvent(event_type="A", payload={1: "x"})]},  # type: ignore[dict-item]
            "payload has a key that is not a string: 1.",
        ),
        (
            "metadata-none",
            {"events": [GOOD, NewEvent(event_type="A", payload={}, metadata=None)]},  # type: ignore[arg-type]
            "metadata must be a dict, not NoneType.",
        ),
        (
            "payload-nested-int-key",
            {"events": [GOOD, NewEvent(event_type="A", payload={"legs": [{2: "x"}]})]},
            "payload.legs[0] has a key that is not a string: 2.",
        ),
        (
            "payload-nan",
            {"events": [GOOD, NewEvent(event_type="A", payload={"ratio": float("nan")})]},
            "payload.ratio is nan, which JSON cannot hold.",
        ),
        (
            "payload-nul",
            {"events": [GOOD, NewEvent(event_type="A", payload={"note": "a\x00b"})]},
            "payload.note contains a NUL byte, which PostgreSQL cannot store.",
        ),
        (
            "payload-not-json",
            {"events": [GOOD, NewEvent(event_type="A", payload={"at": object()})]},
            "payload.at holds a object, which is not JSON.",
        ),
        (
            "metadata-infinite-decimal",
            {
                "events": [
                    GOOD,
                    NewEvent(event_type="A", payload={}, metadata={"x": Decimal("-Infinity")}),
                ]
            },
            "metadata.x is -Infinity, which JSON cannot hold.",
        ),
        (
            "not-a-new-event",
            {"events": [GOOD, {"event_type": "A", "payload": {}}]},
            "an event must be a NewEvent (from defi_sql.models import NewEvent; fields: "
            "event_type, payload, metadata, event_id, occurred_at), not dict.",
        ),
        (
            "occurred-at-naive",
            {"events": [GOOD, NewEvent(event_type="A", payload={}, occurred_at=naive)]},
            "occurred_at must be timezone-aware (e.g. datetime.now(UTC)), not naive.",
        ),
        (
            "event-id-string",
            {"events": [GOOD, NewEvent(event_type="A", payload={}, event_id="e-1")]},  # type: ignore[arg-type]
            "event_id must be a UUID (from uuid import UUID), not str.",
        ),
    ]
    return [pytest.param(kwargs, message, id=name) for name, kwargs, message in cases]


@pytest.mark.parametrize(("override", "message"), _bad_append_cases())
def test_append_bad(
    api: Api, db: psycopg.Connection[Any], override: dict[str, Any], message: str
) -> None:
    stream = uuid4()
    existing = append(api, stream, 0, event(1))
    kwargs: dict[str, Any] = {
        "stream_type": "position",
        "stream_id": stream,
        "expected_version": 1,
        "events": [GOOD],
    }
    kwargs.update(override)
    with pytest.raises(InvalidInput) as caught:
        api.events.append(**kwargs)
    assert str(caught.value) == message
    assert count_events(db) == 1
    assert api.events.read_stream(stream) == existing


# -- reading -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("after_version", "versions"),
    [
        pytest.param(None, [1, 2, 3, 4, 5], id="default-from-start"),
        pytest.param(0, [1, 2, 3, 4, 5], id="after-0"),
        pytest.param(2, [3, 4, 5], id="after-2"),
        pytest.param(4, [5], id="after-4"),
        pytest.param(5, [], id="after-last"),
        pytest.param(9, [], id="after-beyond"),
    ],
)
def test_read_stream_after_version(
    api: Api, after_version: int | None, versions: list[int]
) -> None:
    stream, other = uuid4(), uuid4()
    for n in range(1, 6):  # interleaved with another stream's events
        append(api, stream, n - 1, event(n))
        append(api, other, n - 1, event(n))
    if after_version is None:
        read = api.events.read_stream(stream)
    else:
        read = api.events.read_stream(stream, after_version=after_version)
    assert [e.version for e in read] == versions
    assert {e.stream_id for e in read} <= {stream}
    assert [e.payload for e in read] == [{"n": v} for v in versions]


def test_read_stream_and_version_of_an_unknown_stream(api: Api) -> None:
    unknown = uuid4()
    assert api.events.read_stream(unknown) == []
    assert api.events.version(unknown) == 0


@pytest.mark.parametrize("limit", [1, 2, 3, 6, 100])
def test_read_all_after_pages_across_streams_in_commit_order(api: Api, limit: int) -> None:
    a, b = uuid4(), uuid4()
    written = [
        *append(api, a, 0, event(1)),
        *append(api, b, 0, event(1)),
        *append(api, a, 1, event(2)),
        *append(api, b, 1, event(2), event(3)),
        *append(api, a, 2, event(3)),
    ]
    assert [(e.stream_id, e.version) for e in written] == [
        (a, 1), (b, 1), (a, 2), (b, 2), (b, 3), (a, 3)
    ]  # fmt: skip
    assert api.events.read_all_after() == written  # one transaction after another
    pages: list[list[Event]] = []
    after = Checkpoint()
    while page := api.events.read_all_after(after, limit=limit):
        assert len(page) <= limit
        pages.append(page)
        after = Checkpoint.of(page[-1])
        assert len(pages) <= len(written)
    assert [e for page in pages for e in page] == written
    assert [len(page) for page in pages[:-1]] == [limit] * (len(pages) - 1)
    assert api.events.read_all_after(Checkpoint.of(written[2]), limit=2) == written[3:5]
    assert api.events.read_all_after(Checkpoint.of(written[-1])) == []


@pytest.mark.parametrize(
    ("call", "message"),
    [
        pytest.param(
            lambda api: api.events.read_all_after(limit=0),
            "limit must be between 1 and 2147483647, not 0.",
            id="limit-zero",
        ),
        pytest.param(
            lambda api: api.events.read_all_after(limit=-5),
            "limit must be between 1 and 2147483647, not -5.",
            id="limit-negative",
        ),
        pytest.param(
            lambda api: api.events.read_all_after(limit=True),
            "limit must be an integer, not bool.",
            id="limit-bool",
        ),
        pytest.param(
            lambda api: api.events.read_all_after("0"),
            "after must be an events.Checkpoint or None, not str.",
            id="after-string",
        ),
        pytest.param(
            lambda api: api.events.read_all_after(Checkpoint(transaction_id=0, position=-1)),
            "after.position must be 0 or more, not -1.",
            id="position-negative",
        ),
        pytest.param(
            lambda api: api.events.read_stream(uuid4(), after_version=-1),
            "after_version must be 0 or more, not -1.",
            id="after-version-negative",
        ),
        pytest.param(
            lambda api: api.events.read_stream(uuid4(), after_version=None),
            "after_version must be an integer, not NoneType.",
            id="after-version-none",
        ),
        pytest.param(
            lambda api: api.events.read_stream("s-1"),
            "stream_id must be a UUID (from uuid import UUID), not str.",
            id="read-stream-id-string",
        ),
        pytest.param(
            lambda api: api.events.version("s-1"),
            "stream_id must be a UUID (from uuid import UUID), not str.",
            id="version-stream-id-string",
        ),
    ],
)
def test_read_bad_arguments(api: Api, call: Callable[[Api], object], message: str) -> None:
    append(api, uuid4(), 0, event(1))
    with pytest.raises(InvalidInput) as caught:
        call(api)
    assert str(caught.value) == message


# -- archive -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cutoff", "moved"),
    [
        pytest.param(T0 - timedelta(days=1), 0, id="before-everything"),
        pytest.param(T0, 0, id="equal-to-oldest-is-kept"),
        pytest.param(T0 + timedelta(microseconds=1), 1, id="just-after-oldest"),
        pytest.param(T0 + timedelta(days=1), 1, id="equal-to-second-is-kept"),
        pytest.param(T0 + timedelta(days=1, hours=12), 2, id="between"),
        pytest.param(T0 + timedelta(days=3), 3, id="after-every-old-event"),
    ],
)
def test_archive_moves_events_recorded_before_the_cutoff(
    api: Api, db: psycopg.Connection[Any], cutoff: datetime, moved: int
) -> None:
    old, recent = uuid4(), uuid4()
    for version, days in ((1, 0), (2, 1), (3, 2)):
        insert_recorded_at(db, old, version, T0 + timedelta(days=days))
    [newest] = append(api, old, 3, event(4))
    append(api, recent, 0, event(1))
    before = stored(db, "event_store")

    assert api.events.archive(cutoff) == moved

    after = stored(db, "event_store")
    archived = db.execute(
        f"SELECT {STORED_COLUMNS}, archived_at FROM event_store_archive ORDER BY position"  # noqa: S608
    ).fetchall()
    assert after == before[moved:]
    assert [row[:-1] for row in archived] == before[:moved]  # same values, same positions
    assert all(row[-1] is not None for row in archived)
    assert api.events.version(old) == 4  # the newest event is still in the store
    # a replay of the stream reads the archive too: the same events, before and after
    assert [e.version for e in api.events.read_stream(old)] == [1, 2, 3, 4]
    assert api.events.archive(cutoff) == 0  # idempotent
    assert append(api, old, 4, event(5))[0].version == 5
    assert newest.position < api.events.read_stream(old, after_version=4)[0].position


def test_archive_with_a_recent_cutoff_moves_everything_older(
    api: Api, db: psycopg.Connection[Any]
) -> None:
    stream = uuid4()
    insert_recorded_at(db, stream, 1, datetime.now(UTC) - timedelta(days=30))
    insert_recorded_at(db, stream, 2, datetime.now(UTC) - timedelta(days=2))
    append(api, stream, 2, event(3))
    assert api.events.archive(datetime.now(UTC) - timedelta(days=1)) == 2
    assert (count_events(db), count_events(db, "event_store_archive")) == (1, 2)


@pytest.mark.parametrize(
    ("before", "message"),
    [
        pytest.param(
            datetime(2030, 1, 1),  # naive on purpose
            "before must be timezone-aware (e.g. datetime.now(UTC)), not naive.",
            id="naive",
        ),
        pytest.param(
            "2030-01-01",
            "before must be a datetime (from datetime import datetime), not str.",
            id="string",
        ),
        pytest.param(
            None,
            "before must be a datetime (from datetime import datetime), not NoneType.",
            id="none",
        ),
    ],
)
def test_archive_bad_cutoff(
    api: Api, db: psycopg.Connection[Any], before: object, message: str
) -> None:
    insert_recorded_at(db, uuid4(), 1, T0)
    with pytest.raises(InvalidInput) as caught:
        api.events.archive(before)
    assert str(caught.value) == message
    assert (count_events(db), count_events(db, "event_store_archive")) == (1, 0)


# -- concurrency -------------------------------------------------------------------

WRITERS = 8
EVENTS_EACH = 5
MAX_ATTEMPTS = 500


def test_concurrent_writers_with_retries_get_contiguous_versions(db_url: str) -> None:
    stream = uuid4()
    barrier = threading.Barrier(WRITERS, timeout=30)
    conflicts: list[str] = []
    lock = threading.Lock()
    deadline = time.monotonic() + 90

    def writer(number: int) -> list[Event]:
        mine: list[Event] = []
        with psycopg.connect(db_url, autocommit=True) as conn:
            barrier.wait()
            for n in range(EVENTS_EACH):
                new = NewEvent(event_type="Added", payload={"writer": number, "n": n})
                for _ in range(MAX_ATTEMPTS):
                    assert time.monotonic() < deadline, "the writers took too long"
                    current = sync.events.version(conn, stream)
                    try:
                        mine += sync.events.append(
                            conn,
                            stream_type="position",
                            stream_id=stream,
                            expected_version=current,
                            events=[new],
                        )
                        break
                    except ConcurrencyConflict as exc:
                        with lock:
                            conflicts.append(str(exc))
                else:
                    raise AssertionError(f"writer {number} gave up after {MAX_ATTEMPTS} attempts")
        return mine

    with ThreadPoolExecutor(max_workers=WRITERS) as pool:
        futures = [pool.submit(writer, number) for number in range(WRITERS)]
        results = [future.result(timeout=120) for future in futures]

    with psycopg.connect(db_url, autocommit=True) as conn:
        events = sync.events.read_stream(conn, stream)
        assert sync.events.version(conn, stream) == WRITERS * EVENTS_EACH
    assert [e.version for e in events] == list(range(1, WRITERS * EVENTS_EACH + 1))
    assert len({e.event_id for e in events}) == len(events)
    assert sorted((e.payload["writer"], e.payload["n"]) for e in events) == [
        (w, n) for w in range(WRITERS) for n in range(EVENTS_EACH)
    ]
    for number, mine in enumerate(results):  # each writer got back what it wrote
        assert [e.payload for e in mine] == [{"writer": number, "n": n} for n in range(EVENTS_EACH)]
        assert [e.version for e in mine] == sorted(e.version for e in mine)
    assert sorted(e.event_id for mine in results for e in mine) == sorted(
        e.event_id for e in events
    )
    assert conflicts, "8 writers on one stream never conflicted"
    stale = re.compile(rf"stream {stream} is at version \d+, not \d+; reload it and retry\.")
    raced = (
        "another writer appended this version of the stream first; reload the stream and retry"
        " (event_store_stream_id_version_key)"
    )
    assert all(stale.fullmatch(m) or m == raced for m in conflicts), set(conflicts)


def test_a_resend_that_overlaps_the_original_append_is_still_harmless(
    db: psycopg.Connection[Any], db_url: str
) -> None:
    """A client retries (same event_id, same expected_version) while its first try has not
    committed yet: the retry must end with the original event, not a hard Conflict."""
    stream = uuid4()
    sent = [NewEvent(event_type="Deposited", payload={"amount": "5"}, event_id=uuid4())]
    outcome: list[object] = []

    def resend() -> None:
        with psycopg.connect(db_url, autocommit=True, options="-c lock_timeout=30s") as conn:
            try:
                outcome.append(
                    sync.events.append(
                        conn,
                        stream_type="position",
                        stream_id=stream,
                        expected_version=0,
                        events=sent,
                    )
                )
            except Exception as exc:  # judged below
                outcome.append(exc)

    with psycopg.connect(db_url, autocommit=True) as first:
        with sync.transaction(first):
            original = sync.events.append(
                first, stream_type="position", stream_id=stream, expected_version=0, events=sent
            )
            retry = threading.Thread(target=resend, daemon=True)
            retry.start()
            wait_for_lock_waiters(db, 1, "the retry never waited on the first append")
        retry.join(timeout=60)
        assert not retry.is_alive()
        [result] = outcome
        if isinstance(result, ConcurrencyConflict):  # acceptable too: a retry then replays
            result = sync.events.append(
                first, stream_type="position", stream_id=stream, expected_version=0, events=sent
            )
        assert result == original, result
    assert count_events(db) == 1
