"""Small helpers shared by the tests (the package's own are used where it has one)."""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg import sql

from defi_sql.migrate.files import forward_paths
from defi_sql.paths import migrations_dir

#: the project's migration ids, in the order they apply
MIGRATION_IDS = [p.stem for p in forward_paths(migrations_dir())]

#: the tables the tests count rows of
TABLES = frozenset(
    {"users", "positions", "signals", "alerts", "intents", "event_store", "event_store_archive"}
)


def wallet(n: int) -> str:
    """The wallet address of test user ``n``: 0x and 40 hex digits."""
    return f"0x{n:040x}"


def count_rows(db: psycopg.Connection[Any], table: str) -> int:
    """How many rows ``table`` (one of :data:`TABLES`) holds."""
    assert table in TABLES, table
    row = db.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table))).fetchone()
    assert row is not None
    return int(row[0])
