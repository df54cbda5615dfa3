"""`defi-sql seed`: every table gets rows, and running it twice adds nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import psycopg
import pytest

from defi_sql.dev.seed import seed_dev, seed_users
from defi_sql.errors import ConfigError, DefiSqlError

TABLES = ("users", "positions", "signals", "alerts", "intents", "event_store")


def counts(conn: psycopg.Connection[Any]) -> dict[str, int]:
    result = {}
    for table in TABLES:
        row = conn.execute(f"SELECT count(*) FROM {table}").fetchone()  # noqa: S608 - fixed names
        assert row is not None
        result[table] = row[0]
    return result


def test_dev_seed_touches_every_table_and_is_idempotent(db: psycopg.Connection[Any]) -> None:
    seed_dev(db)
    first = counts(db)
    assert first == {
        "users": 2,
        "positions": 4,
        "signals": 3,
        "alerts": 2,
        "intents": 1,
        "event_store": 3,
    }
    seed_dev(db)
    assert counts(db) == first


def test_generated_users_are_realistic_and_idempotent(db: psycopg.Connection[Any]) -> None:
    progress: list[tuple[int, int]] = []
    added = seed_users(db, 25, snapshots=4, chunk=10, progress=lambda d, t: progress.append((d, t)))
    assert added == 25
    assert progress == [(10, 25), (20, 25), (25, 25)]
    first = counts(db)
    assert first == {
        "users": 25,
        "positions": 100,
        "signals": 2,
        "alerts": 25,
        "intents": 8,
        "event_store": 50,
    }
    assert seed_users(db, 25, snapshots=4) == 0
    assert counts(db) == first
    assert seed_users(db, 30, snapshots=4) == 5  # extends the same sequence of users
    row = db.execute(
        "SELECT count(DISTINCT protocol), count(*) FILTER (WHERE health_factor IS NULL),"
        "       bool_and(jsonb_array_length(debt) = 0) FILTER (WHERE health_factor IS NULL),"
        "       min(snapshot_at) < max(snapshot_at) - interval '10 minutes'"
        "  FROM positions"
    ).fetchone()
    assert row == (4, 12, True, True)


@pytest.mark.parametrize(("users", "snapshots"), [(0, 5), (-1, 5), (5, 0)])
def test_generated_users_bad(db: psycopg.Connection[Any], users: int, snapshots: int) -> None:
    with pytest.raises(DefiSqlError, match=r"^--(users|snapshots) must be 1 or more, not -?\d+\.$"):
        seed_users(db, users, snapshots=snapshots)
    assert counts(db)["users"] == 0


def test_a_tree_without_the_seed_says_where_to_put_it(
    db: psycopg.Connection[Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A project's sql/ tree from before the seed moved out of queries/."""
    (tmp_path / "migrations").mkdir()
    (tmp_path / "queries").mkdir()
    monkeypatch.setenv("DEFI_SQL_SQL_DIR", str(tmp_path))
    with pytest.raises(ConfigError) as caught:
        seed_dev(db)
    assert str(caught.value) == (
        f"no query named 'seed_dev_data' in {tmp_path / 'seed'}; define it in a .sql file "
        "there (defi-sql's own seed is sql/seed/seed.sql, moved from sql/queries/)."
    )
    assert counts(db)["users"] == 0
