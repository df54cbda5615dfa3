"""positions_latest, the read model of migrations 0038-0039: always the newest
snapshot of each (user, protocol, chain), whoever writes and however.

The oracle is the definition itself, run on positions: DISTINCT ON the key,
newest snapshot_at, then write_seq DESC NULLS LAST, then id DESC. Every test
writes in a way the triggers must follow (COPY, late and out-of-order
snapshots, ties, psql UPDATEs and DELETEs, deleted users, TRUNCATE, two
writers at once, a populated table migrated) and compares the whole read model
with it.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

import psycopg
import pytest

from defi_sql import sync
from defi_sql.migrate.migrator import Migrator
from defi_sql.models import NewPosition

from .helpers import MIGRATION_IDS, at_once, wallet

COLUMNS = (
    "user_id, protocol, chain_id, id, wallet_address, health_factor, collateral, debt, "
    "metadata, snapshot_at, created_at, updated_at, write_seq"
)
REFERENCE = f"""
    SELECT DISTINCT ON (user_id, protocol, chain_id) {COLUMNS}
      FROM positions
     ORDER BY user_id, protocol, chain_id, snapshot_at DESC, write_seq DESC NULLS LAST, id DESC
"""  # noqa: S608 - a constant column list
MODEL = f"SELECT {COLUMNS} FROM positions_latest ORDER BY user_id, protocol, chain_id"  # noqa: S608
T0 = datetime(2026, 1, 1, tzinfo=UTC)
#: the migration before the read model
BEFORE = MIGRATION_IDS[MIGRATION_IDS.index("0038.create-table-positions-latest") - 1]


def assert_model_is_reference(conn: psycopg.Connection[Any]) -> int:
    """The read model equals its definition over positions; how many keys it holds."""
    expected = conn.execute(REFERENCE).fetchall()
    actual = conn.execute(MODEL).fetchall()
    assert actual == expected
    return len(actual)


def users(conn: psycopg.Connection[Any], count: int, first: int = 1) -> list[UUID]:
    rows = conn.execute(
        "INSERT INTO users (wallet_address) SELECT '0x' || lpad(to_hex(n), 40, '0') "
        "FROM generate_series(%s::int, %s::int) AS n ORDER BY n RETURNING id",
        (first, first + count - 1),
    ).fetchall()
    return [row[0] for row in rows]


def snap(
    user_id: UUID,
    minutes: int,
    hf: str | None = "1.5",
    *,
    protocol: str = "aave-v3",
    chain_id: int = 1,
) -> NewPosition:
    return NewPosition(
        user_id=user_id,
        wallet_address=wallet(7),
        protocol=protocol,
        chain_id=chain_id,
        health_factor=None if hf is None else Decimal(hf),
        snapshot_at=T0 + timedelta(minutes=minutes),
    )


def health(conn: psycopg.Connection[Any], user_id: UUID, protocol: str = "aave-v3") -> Any:
    row = conn.execute(
        "SELECT health_factor FROM positions_latest "
        "WHERE user_id = %s AND protocol = %s AND chain_id = 1",
        (user_id, protocol),
    ).fetchone()
    return None if row is None else row[0]


def test_copy_keeps_the_newest_of_each_key(db: psycopg.Connection[Any]) -> None:
    a, b = users(db, 2)
    written = sync.positions.ingest(
        db,
        [
            snap(a, 10, "1.1"),
            snap(a, 30, "1.3"),  # the newest of (a, aave, 1), in the middle of the COPY
            snap(a, 20, "1.2"),
            snap(a, 5, "2.0", protocol="compound-v3"),
            snap(a, 5, "2.1", chain_id=10),
            snap(b, 1, None),
        ],
    )
    assert written == 6
    assert assert_model_is_reference(db) == 4
    assert health(db, a) == Decimal("1.3")


def test_a_late_older_snapshot_never_replaces_a_newer_one(db: psycopg.Connection[Any]) -> None:
    [a] = users(db, 1)
    sync.positions.ingest(db, [snap(a, 30, "1.3")])
    sync.positions.ingest(db, [snap(a, 10, "0.9"), snap(a, 29, "0.8")])  # late, both older
    assert health(db, a) == Decimal("1.3")
    sync.positions.create(db, snap(a, 31, "1.4"))
    assert health(db, a) == Decimal("1.4")
    assert_model_is_reference(db)


def test_equal_times_the_last_written_wins_then_rows_from_before_write_seq(
    db: psycopg.Connection[Any],
) -> None:
    [a] = users(db, 1)
    sync.positions.ingest(db, [snap(a, 10, "1.1"), snap(a, 10, "1.2")])
    assert health(db, a) == Decimal("1.2")  # same snapshot_at: written last
    sync.positions.create(db, snap(a, 10, "1.0"))
    assert health(db, a) == Decimal("1.0")
    # a row as if written before 0023 (write_seq NULL) at the same time loses to both
    db.execute(
        "INSERT INTO positions (user_id, wallet_address, protocol, snapshot_at, health_factor, "
        "write_seq) VALUES (%s, %s, 'aave-v3', %s, 9, NULL)",
        (a, wallet(7), T0 + timedelta(minutes=10)),
    )
    assert health(db, a) == Decimal("1.0")
    assert_model_is_reference(db)


def test_psql_updates_and_deletes_are_followed(db: psycopg.Connection[Any]) -> None:
    a, b = users(db, 2)
    sync.positions.ingest(
        db, [snap(a, m, f"1.{m}") for m in range(1, 6)] + [snap(b, 1, "3.0"), snap(b, 2, "3.1")]
    )
    # the newest snapshot corrected in place
    db.execute(
        "UPDATE positions SET health_factor = 0.5 WHERE user_id = %s AND health_factor = 1.5", (a,)
    )
    assert health(db, a) == Decimal("0.5")
    # an older one moved to the front, another moved to another protocol
    db.execute(
        "UPDATE positions SET snapshot_at = snapshot_at + interval '1 hour' "
        "WHERE user_id = %s AND health_factor = 1.2",
        (a,),
    )
    assert health(db, a) == Decimal("1.2")
    db.execute(
        "UPDATE positions SET protocol = 'morpho' WHERE user_id = %s AND health_factor = 1.2", (a,)
    )
    assert health(db, a) == Decimal("0.5")
    assert health(db, a, "morpho") == Decimal("1.2")
    assert_model_is_reference(db)
    # deleting the newest falls back to the one before; deleting all removes the key
    db.execute("DELETE FROM positions WHERE user_id = %s AND health_factor = 0.5", (a,))
    assert health(db, a) == Decimal("1.4")
    db.execute("DELETE FROM positions WHERE user_id = %s AND protocol = 'morpho'", (a,))
    assert health(db, a, "morpho") is None
    assert_model_is_reference(db)
    # a deleted user takes theirs along; TRUNCATE empties it
    db.execute("DELETE FROM users WHERE id = %s", (b,))
    assert assert_model_is_reference(db) == 1
    db.execute("TRUNCATE positions")
    assert assert_model_is_reference(db) == 0
    sync.positions.ingest(db, [snap(a, 1, "1.0")])
    db.execute("TRUNCATE users CASCADE")  # positions and positions_latest with it
    assert assert_model_is_reference(db) == 0


def test_a_rolled_back_write_leaves_it_as_it_was(db: psycopg.Connection[Any]) -> None:
    [a] = users(db, 1)
    sync.positions.ingest(db, [snap(a, 1, "1.0")])
    before = db.execute(MODEL).fetchall()
    with pytest.raises(RuntimeError), sync.transaction(db):
        sync.positions.ingest(db, [snap(a, 2, "0.1")])
        assert health(db, a) == Decimal("0.1")  # inside: the writer sees its own
        raise RuntimeError("abort")
    assert db.execute(MODEL).fetchall() == before


def shuffled_history(people: list[UUID], seed: int) -> list[NewPosition]:
    """12 snapshots per (user, protocol) at distinct times, shuffled: the newest
    of a key does not depend on the order they are written in."""
    rng = random.Random(seed)
    history = [
        snap(user, minute, f"{rng.randint(1, 300) / 100}", protocol=protocol)
        for user in people
        for protocol in ("aave-v3", "compound-v3")
        for minute in rng.sample(range(1, 1000), 12)
    ]
    rng.shuffle(history)
    return history


def test_single_statement_writers_at_once_never_deadlock(db_url: str) -> None:
    """Four autocommit writers, COPY batches and single inserts of the same keys in
    any order: each statement locks its keys in key order, so none waits in a
    cycle, and the model is the newest of all, never a late one."""
    with psycopg.connect(db_url, autocommit=True) as conn:
        history = shuffled_history(users(conn, 20), seed=7)

    def write(i: int) -> None:
        share = history[i::4]
        with psycopg.connect(db_url, autocommit=True) as conn:
            for at in range(0, len(share), 7):
                chunk = share[at : at + 7]
                if at % 2:
                    sync.positions.ingest(conn, chunk)
                else:
                    for one in chunk:
                        sync.positions.create(conn, one)

    assert at_once(4, write) == []
    with psycopg.connect(db_url, autocommit=True) as conn:
        assert assert_model_is_reference(conn) == 40


def test_transactions_of_many_statements_at_once_are_retried_to_the_same_end(
    db_url: str,
) -> None:
    """Transactions that write the same keys in several statements, in different
    orders, can deadlock on the model's rows; the server aborts one
    (TransientConflict) and run_transaction runs it again."""
    with psycopg.connect(db_url, autocommit=True) as conn:
        history = shuffled_history(users(conn, 10), seed=11)

    with sync.open_pool(db_url, max_size=3) as pool:

        def write(i: int) -> None:
            share = history[i::3]
            for at in range(0, len(share), 8):
                chunk = share[at : at + 8]

                def work(conn: psycopg.Connection[Any], chunk: list[NewPosition] = chunk) -> None:
                    for one in chunk:
                        sync.positions.create(conn, one)

                sync.run_transaction(pool, work, attempts=20, max_delay=0.2)

        assert at_once(3, write) == []
    with psycopg.connect(db_url, autocommit=True) as conn:
        assert assert_model_is_reference(conn) == 20


def test_at_risk_follows_a_threshold_change_at_once(db: psycopg.Connection[Any]) -> None:
    a, b = users(db, 2)
    sync.positions.ingest(db, [snap(a, 1, "1.4"), snap(b, 1, "1.6")])
    assert [p.user_id for p in sync.positions.at_risk(db)] == [a]  # default 1.5
    db.execute(
        'UPDATE users SET preferences = \'{"alertThresholds": {"healthFactor": "1.7"}}\' '
        "WHERE id = %s",
        (b,),
    )
    at_risk = sync.positions.at_risk(db)
    assert [(p.user_id, p.alert_threshold) for p in at_risk] == [
        (a, Decimal("1.5")),
        (b, Decimal("1.7")),
    ]
    db.execute("UPDATE users SET preferences = '{}' WHERE id = %s", (b,))
    assert [p.user_id for p in sync.positions.at_risk(db)] == [a]


def test_the_migration_fills_it_from_a_populated_table(db_url: str) -> None:
    """0038-0039 on a database whose positions were written without them: late,
    tied and pre-0023 rows included; rolled back and applied again."""
    with psycopg.connect(db_url, autocommit=True) as conn:
        people = users(conn, 30)
        with Migrator(db_url) as m:
            m.rollback(to=BEFORE)
        assert conn.execute("SELECT to_regclass('positions_latest')").fetchone() == (None,)
        rng = random.Random(11)
        rows = [
            snap(user, rng.randint(1, 50), f"{rng.randint(1, 300) / 100}", protocol=protocol)
            for user in people
            for protocol in ("aave-v3", "compound-v3", "morpho")
            for _ in range(rng.randint(0, 6))
        ]
        sync.positions.ingest(conn, rows)
        conn.execute("UPDATE positions SET write_seq = NULL WHERE health_factor > 2.5")
        with Migrator(db_url) as m:
            assert m.migrate()[:2] == [
                "0038.create-table-positions-latest",
                "0039.copy-latest-positions",
            ]
        assert assert_model_is_reference(conn) > 60
        with Migrator(db_url) as m:
            m.rollback(to=BEFORE)
            m.migrate()
        assert assert_model_is_reference(conn) > 60
