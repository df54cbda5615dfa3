"""positions partitioned by snapshot_at (migrations 0042-0045): converted in
place on a populated table without reading it under an ACCESS EXCLUSIVE lock,
every snapshot kept, rolled back and forth; a history range reads only its
partitions."""

from __future__ import annotations

import shutil
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
import pytest

from defi_sql import sync
from defi_sql.dev.partitions import by_month, month_start, partition_name
from defi_sql.migrate.migrator import Migrator
from defi_sql.models import NewPosition
from defi_sql.paths import migrations_dir
from defi_sql.statements import statement

from .helpers import MIGRATION_IDS, wallet

BEFORE = MIGRATION_IDS[MIGRATION_IDS.index("0042.add-positions-snapshot-at-bound") - 1]
SWITCH = "0045.partition-positions-by-snapshot-at"
ROWS = "SELECT id, snapshot_at, health_factor, write_seq FROM positions ORDER BY id, snapshot_at"


def partitions(conn: psycopg.Connection[Any]) -> dict[str, str]:
    """name -> bound of every partition of positions."""
    return dict(
        conn.execute(
            "SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) FROM pg_inherits AS i "
            "JOIN pg_class AS c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = 'positions'::regclass ORDER BY 1"
        ).fetchall()
    )


def seq_scans(conn: psycopg.Connection[Any], table: int) -> int:
    """Sequential scans of the table with oid ``table`` so far, as the statistics have them."""
    conn.execute("SELECT pg_stat_clear_snapshot()")
    row = conn.execute(
        "SELECT seq_scan FROM pg_stat_all_tables WHERE relid = %s", (table,)
    ).fetchone()
    assert row is not None
    return int(row[0])


def settled_seq_scans(conn: psycopg.Connection[Any], table: int, at_least: int) -> int:
    """The scan counter once other sessions' statistics have reached it (they
    are flushed within a second of a transaction's end)."""
    deadline = time.monotonic() + 5
    count = seq_scans(conn, table)
    while count < at_least and time.monotonic() < deadline:
        time.sleep(0.1)
        count = seq_scans(conn, table)
    return count


def history(conn: psycopg.Connection[Any], count: int) -> list[Any]:
    users = [
        row[0]
        for row in conn.execute(
            "INSERT INTO users (wallet_address) SELECT '0x' || lpad(to_hex(n), 40, '0') "
            "FROM generate_series(1, %s) AS n RETURNING id",
            (count,),
        )
    ]
    now = datetime.now(UTC)
    sync.positions.ingest(
        conn,
        [
            NewPosition(
                user_id=user,
                wallet_address=wallet(i),
                protocol="aave-v3",
                health_factor=Decimal(f"1.{day}"),
                snapshot_at=now - timedelta(days=day),
            )
            for i, user in enumerate(users)
            for day in range(40)
        ],
    )
    return users


def test_the_conversion_keeps_every_snapshot_and_reads_none_under_its_lock(db_url: str) -> None:
    with psycopg.connect(db_url, autocommit=True) as conn:
        with Migrator(db_url) as m:
            m.rollback(to=BEFORE)
        users = history(conn, 25)
        before = conn.execute(ROWS).fetchall()
        latest = conn.execute("SELECT * FROM positions_latest ORDER BY 1, 2, 3").fetchall()
        with Migrator(db_url) as m:
            applied = m.migrate()
        assert applied[:4] == MIGRATION_IDS[MIGRATION_IDS.index(BEFORE) + 1 :][:4]
        assert applied[3] == SWITCH
        # 0043 validated the bound with one scan; nothing after it read the table whole
        assert conn.execute(ROWS).fetchall() == before
        assert conn.execute("SELECT * FROM positions_latest ORDER BY 1, 2, 3").fetchall() == latest
        bounds = partitions(conn)
        assert set(bounds) == {"positions_legacy", "positions_default"}
        assert bounds["positions_default"] == "DEFAULT"
        assert bounds["positions_legacy"].startswith("FOR VALUES FROM (MINVALUE) TO ('")
        # writes go on through the parent: a late snapshot, a far one (default)
        sync.positions.ingest(
            conn,
            [
                NewPosition(
                    user_id=users[0],
                    wallet_address=wallet(0),
                    protocol="aave-v3",
                    health_factor=Decimal("0.9"),
                    snapshot_at=datetime(2099, 1, 1, tzinfo=UTC),
                )
            ],
        )
        row = conn.execute(
            "SELECT tableoid::regclass::text FROM positions WHERE snapshot_at = '2099-01-01Z'"
        ).fetchone()
        assert row == ("partitions.positions_default",)
        assert sync.positions.latest(conn, users[0]).health_factor == Decimal("0.9")
        # and back: one table again, the far snapshot kept, the bound moved past it
        after = conn.execute(ROWS).fetchall()
        with Migrator(db_url) as m:
            m.rollback(to=BEFORE)
        assert conn.execute("SELECT to_regnamespace('partitions')").fetchone() == (None,)
        assert conn.execute(ROWS).fetchall() == after
        with Migrator(db_url) as m:
            m.migrate()
        assert conn.execute(ROWS).fetchall() == after


def test_the_switch_reads_no_row_of_the_history(db_url: str, tmp_path: Path) -> None:
    """0045 attaches the old table without scanning it (its validated bound
    proves the partition's range): the table's sequential scan count, which
    0042 and 0043 each move (the newest snapshot_at, then VALIDATE), stays put."""
    upto_0044 = tmp_path / "migrations"
    upto_0044.mkdir()
    for path in migrations_dir().iterdir():
        if path.name < SWITCH:
            shutil.copy(path, upto_0044 / path.name)
    with psycopg.connect(db_url, autocommit=True) as conn:
        with Migrator(db_url) as m:
            m.rollback(to=BEFORE)
        history(conn, 5)
        table = conn.execute("SELECT 'positions'::regclass::oid").fetchone()
        assert table is not None
        start = settled_seq_scans(conn, table[0], 0)
        with Migrator(db_url, directory=upto_0044) as m:
            assert m.migrate()[-1] == "0044.create-index-positions-id-snapshot-at"
        validated = settled_seq_scans(conn, table[0], start + 2)
        assert validated >= start + 2  # the counter sees the scans that happen
        with Migrator(db_url) as m:
            assert SWITCH in m.migrate()
        conn.execute("SELECT pg_sleep(1.5)")  # every session's statistics flushed
        assert seq_scans(conn, table[0]) == validated
        assert conn.execute("SELECT %s::regclass::text", (table[0],)).fetchone() == (
            "partitions.positions_legacy",
        )


@pytest.mark.parametrize("days", [1, 10])
def test_a_history_range_reads_only_its_partitions(db: psycopg.Connection[Any], days: int) -> None:
    """With a partition per month, positions_history for a range inside one
    month plans a scan of that partition only (the others are pruned)."""
    db.execute(
        "CREATE TABLE partitions.positions_test_2030_01 PARTITION OF positions "
        "FOR VALUES FROM ('2030-01-01Z') TO ('2030-02-01Z')"
    )
    db.execute(
        "CREATE TABLE partitions.positions_test_2030_02 PARTITION OF positions "
        "FOR VALUES FROM ('2030-02-01Z') TO ('2030-03-01Z')"
    )
    since = datetime(2030, 1, 5, tzinfo=UTC)
    row = db.execute(
        "EXPLAIN (FORMAT JSON) SELECT * FROM positions WHERE user_id = gen_random_uuid() "
        "AND snapshot_at >= %s AND snapshot_at < %s",
        (since, since + timedelta(days=days)),
    ).fetchone()
    assert row is not None
    text = str(row[0])
    assert "positions_test_2030_01" in text
    assert "positions_test_2030_02" not in text
    assert "positions_legacy" not in text
    assert "positions_default" not in text


CONSTRAINT_EXCLUSION = "0053.set-constraint-exclusion-off"


def _new_session_setting(url: str) -> str:
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT current_setting('constraint_exclusion')").fetchone()
        assert row is not None
        return str(row[0])


def test_new_sessions_do_not_try_every_partitions_checks(db_url: str) -> None:
    """0053 turns constraint exclusion off for the database (partitions are
    pruned by their bounds), for every client's new sessions; its rollback
    gives the server's default back. (The test databases are clones of a
    migrated template, and conftest copies its settings, which CREATE
    DATABASE ... TEMPLATE does not.)"""
    before = MIGRATION_IDS[MIGRATION_IDS.index(CONSTRAINT_EXCLUSION) - 1]
    assert _new_session_setting(db_url) == "off"
    with Migrator(db_url) as m:
        m.rollback(to=before)
    assert _new_session_setting(db_url) == "partition"
    with Migrator(db_url) as m:
        assert m.migrate()[0] == CONSTRAINT_EXCLUSION
    assert _new_session_setting(db_url) == "off"


def test_a_wallets_recent_snapshots_are_read_from_the_newest_partitions_only(
    db: psycopg.Connection[Any],
) -> None:
    """positions.list_for_wallet's first statement, since a month back, plans
    the partitions from that month on (and the default one, which may hold
    any date), not the year before; its second, for the rest, the others."""
    now = datetime.now(UTC)
    since = now - timedelta(days=31)
    names = [
        partition_name(begin)
        for begin in by_month(db, now - timedelta(days=365), now + timedelta(days=60))
    ]
    recent = {name for name in names if name >= partition_name(month_start(since))}
    params = {"wallet_address": wallet(1), "protocol": "aave", "max_rows": 20}

    def planned(query: str, bound: dict[str, datetime]) -> set[str]:
        row = db.execute(
            "EXPLAIN (FORMAT JSON) " + statement(query).sql, {**params, **bound}
        ).fetchone()
        assert row is not None
        return {name for name in [*names, "positions_default"] if name in str(row[0])}

    assert planned(
        "positions_list_for_wallet_recent", {"since": since, "until": "infinity"}
    ) == recent | {"positions_default"}
    older = planned("positions_list_for_wallet_before", {"before": since})
    assert older == set(names) - recent | {partition_name(month_start(since)), "positions_default"}


def test_a_deep_wallets_recent_snapshots_keep_one_generic_plan(
    db: psycopg.Connection[Any],
) -> None:
    """With thousands of snapshots a wallet, PostgreSQL keeps one generic plan
    for positions_list_for_wallet_recent (its time bound is a parameter on
    both sides) instead of planning every call, as it did with a lower bound
    alone: the plan cache's own counts, after psycopg has prepared it."""
    now = datetime.now(UTC)
    owners = [sync.users.create(db, wallet_address=wallet(n)).id for n in range(4)]
    sync.positions.ingest(
        db,
        (
            NewPosition(
                user_id=owner,
                wallet_address=wallet(n),
                protocol="aave",
                health_factor=Decimal("2"),
                snapshot_at=now - timedelta(minutes=10 * k),
            )
            for n, owner in enumerate(owners)
            for k in range(2_500)
        ),
    )
    db.execute("ANALYZE positions")
    for call in range(15):
        found = sync.positions.list_for_wallet(db, wallet(call % 4), "aave", limit=20)
        assert len(found) == 20
    counts = db.execute(
        "SELECT generic_plans, custom_plans FROM pg_prepared_statements "
        "WHERE statement LIKE '%wallet_address = $1%' AND statement LIKE '%snapshot_at >= $3%'"
    ).fetchall()
    assert len(counts) == 1
    generic, custom = counts[0]
    assert generic >= 5 and custom == 5, counts
