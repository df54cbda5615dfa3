"""maintenance (migration 0046, `defi-sql maintain`): partitions of positions
made ahead, contiguous, once however many run at once; snapshots that waited
in the default partition move into theirs; signals expired, events archived."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import psycopg
import pytest

from defi_sql import sync
from defi_sql.errors import InvalidInput
from defi_sql.models import NewEvent, NewPosition, Partition

from .conftest import cli
from .helpers import at_once, wallet


def ranges(conn: psycopg.Connection[Any]) -> list[Partition]:
    return [p for p in sync.maintenance.partitions(conn) if not p.is_default]


def assert_contiguous(parts: list[Partition]) -> None:
    assert parts[0].range_start is None  # the legacy partition: everything before its bound
    for before, after in itertools.pairwise(parts):
        assert before.range_end == after.range_start


def test_partitions_are_made_ahead_contiguous_and_once(db: psycopg.Connection[Any]) -> None:
    [legacy] = ranges(db)
    assert legacy.partition_name == "positions_legacy"
    assert legacy.range_end is not None
    until = legacy.range_end + timedelta(days=70)
    ahead = until - datetime.now(UTC)
    made = sync.maintenance.make_partitions(db, ahead=ahead)
    assert made[0].range_start == legacy.range_end
    assert made[-1].range_start <= until < made[-1].range_end  # the last covers until
    assert all(m.range_start.day == 1 and m.range_start.hour == 0 for m in made)  # UTC months
    assert all(m.moved == 0 for m in made)
    assert made[0].partition_name == f"positions_{legacy.range_end:%Y_%m}"
    parts = ranges(db)
    assert_contiguous(parts)
    assert sync.maintenance.make_partitions(db, ahead=ahead) == []  # idempotent
    assert ranges(db) == parts


def test_two_runs_at_once_make_each_partition_once(db_url: str) -> None:
    made: list[str] = []

    def run(_: int) -> None:
        with psycopg.connect(db_url, autocommit=True) as conn:
            made.extend(
                m.partition_name
                for m in sync.maintenance.make_partitions(
                    conn, ahead=timedelta(days=400), width="week"
                )
            )

    assert at_once(3, run) == []
    assert len(made) == len(set(made)) > 40  # about 50 weeks, each made by one run
    with psycopg.connect(db_url, autocommit=True) as conn:
        parts = ranges(conn)
        assert_contiguous(parts)
        assert all(p.range_end - p.range_start == timedelta(days=7) for p in parts[1:])  # type: ignore[operator]


def test_snapshots_waiting_in_the_default_partition_move_into_theirs(
    db: psycopg.Connection[Any],
) -> None:
    user = sync.users.create(db, wallet_address=wallet(1)).id
    [legacy] = ranges(db)
    assert legacy.range_end is not None
    far = legacy.range_end + timedelta(days=45)  # beyond every partition: the default's
    sync.positions.ingest(
        db,
        [
            NewPosition(
                user_id=user,
                wallet_address=wallet(1),
                protocol="aave-v3",
                health_factor=Decimal("1.01"),
                snapshot_at=far + timedelta(minutes=i),
            )
            for i in range(3)
        ],
    )
    before = db.execute("SELECT * FROM positions ORDER BY id").fetchall()
    latest = db.execute("SELECT * FROM positions_latest").fetchall()
    waiting = sync.maintenance.waiting(db)
    assert (waiting.snapshots, waiting.earliest) == (3, far)
    made = sync.maintenance.make_partitions(db, ahead=far + timedelta(days=1) - datetime.now(UTC))
    assert [m.moved for m in made] == [0, 3]
    assert sync.maintenance.waiting(db).snapshots == 0
    where = db.execute("SELECT DISTINCT tableoid::regclass::text FROM positions").fetchall()
    assert where == [(f"partitions.{made[1].partition_name}",)]
    # the same snapshots, and the read model untouched by the move
    assert db.execute("SELECT * FROM positions ORDER BY id").fetchall() == before
    assert db.execute("SELECT * FROM positions_latest").fetchall() == latest


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"width": "year"}, "width must be one of month, week, day; not 'year'."),
        ({"ahead": timedelta(0)}, "ahead must be above zero"),
        ({"ahead": 90}, "ahead must be a"),
    ],
)
def test_bad_arguments_are_refused_and_nothing_is_made(
    db: psycopg.Connection[Any], kwargs: dict[str, Any], message: str
) -> None:
    before = ranges(db)
    with pytest.raises(InvalidInput) as caught:
        sync.maintenance.make_partitions(db, **kwargs)
    assert str(caught.value).startswith(message)
    assert ranges(db) == before


def test_run_does_every_step(db: psycopg.Connection[Any]) -> None:
    user = sync.users.create(db, wallet_address=wallet(2)).id
    sync.signals.create(
        db,
        type="depeg",
        asset="USDC",
        severity="high",
        expires_at=datetime.now(UTC) + timedelta(milliseconds=1),
    )
    sync.events.append(
        db,
        stream_type="user",
        stream_id=user,
        expected_version=0,
        events=[NewEvent(event_type="UserCreated", payload={})],
    )
    db.execute("SELECT pg_sleep(0.01)")
    report = sync.maintenance.run(db, archive_events_after=timedelta(milliseconds=5))
    assert report.signals_expired == 1
    assert report.events_archived == 1
    assert report.partitions_made
    assert report.waiting.snapshots == 0
    again = sync.maintenance.run(db, archive_events_after=timedelta(milliseconds=5))
    assert (again.partitions_made, again.signals_expired, again.events_archived) == ([], 0, 0)


def test_the_command_says_what_it_did(db_url: str, clean_env: Any) -> None:
    done = cli("maintain", "--ahead", "120", env={"DATABASE_URL": db_url})
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("database: ")
    assert lines[1].startswith("made partitions.positions_")
    assert any(line.startswith("positions is partitioned until ") for line in lines)
    assert "expired 0 overdue signal(s)" in lines
    again = cli("maintain", "--ahead", "120", "--keep-events", env={"DATABASE_URL": db_url})
    assert again.returncode == 0
    assert not any(line.startswith("made ") for line in again.stdout.splitlines())
    assert not any(line.startswith("archived ") for line in again.stdout.splitlines())
    bad = cli("maintain", "--ahead", "0", env={"DATABASE_URL": db_url})
    assert bad.returncode == 2
    assert "argument --ahead: expected a whole number of days from 1 to 36500, not '0'" in (
        bad.stderr
    )
    assert "Traceback" not in bad.stderr
