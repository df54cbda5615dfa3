"""Development and benchmark data (``defi-sql seed``).

The SQL is in ``sql/seed/seed.sql``, apart from the API's queries
(``sql/queries``): the API never loads it, and ``check`` proves it as it proves
them. Both seeds are idempotent: running them again adds nothing. Generated
users are inserted in chunks, each in its own transaction, so an interrupted
run keeps what it finished and a re-run completes it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import psycopg

from defi_sql._aiosql import seed_queries
from defi_sql.errors import ConfigError, DefiSqlError
from defi_sql.paths import seed_dir

__all__ = ["DEFAULT_SNAPSHOTS", "Progress", "seed_dev", "seed_users"]

#: Position snapshots per generated user unless told otherwise.
DEFAULT_SNAPSHOTS = 50
_INSERT_INTO = re.compile(r"^\s*INSERT\s+INTO\s+(\w+)", re.IGNORECASE | re.MULTILINE)

#: Called with (users done, users in total) after each chunk.
Progress = Callable[[int, int], None]


def _seed_query(name: str) -> Any:
    """The seed's query ``name``, from ``sql/seed``."""
    folder = seed_dir()
    if folder.is_dir() and hasattr(queries := seed_queries(), name):
        return getattr(queries, name)
    raise ConfigError(
        f"no query named {name!r} in {folder}; define it in a .sql file there "
        "(defi-sql's own seed is sql/seed/seed.sql, moved from sql/queries/)."
    )


def seed_dev(conn: psycopg.Connection[Any]) -> dict[str, int]:
    """The small hand-written dataset that exercises every table; return the rows each
    table gained (0 everywhere when it was all there already)."""
    script: str = _seed_query("seed_dev_data").sql
    added: dict[str, int] = {}
    with conn.transaction(), conn.cursor() as cur:
        cur.execute(script)
        # one result per statement, in order: each INSERT's row count, under its table
        tables = iter(_INSERT_INTO.findall(script))
        while True:
            if (cur.statusmessage or "").startswith("INSERT"):
                table = next(tables)
                added[table] = added.get(table, 0) + cur.rowcount
            if not cur.nextset():
                break
    return added


def seed_users(
    conn: psycopg.Connection[Any],
    users: int,
    *,
    snapshots: int = DEFAULT_SNAPSHOTS,
    chunk: int = 200,
    progress: Progress | None = None,
) -> int:
    """Generate ``users`` users with ``snapshots`` snapshots each; return how many were new."""
    if users < 1:
        raise DefiSqlError(f"--users must be 1 or more, not {users}.")
    if snapshots < 1:
        raise DefiSqlError(f"--snapshots must be 1 or more, not {snapshots}.")
    added = 0
    for first in range(1, users + 1, chunk):
        count = min(chunk, users + 1 - first)
        with conn.transaction():
            added += int(
                _seed_query("seed_generated_users")(
                    conn, first=first, count=count, snapshots=snapshots
                )
            )
        if progress is not None:
            progress(first + count - 1, users)
    return added
