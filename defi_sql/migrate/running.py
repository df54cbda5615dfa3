"""Running one migration: its statements and its bookkeeping in one transaction
(or, for ``-- transactional: false``, recorded once every index it built is
valid), each from the migrator's own session settings."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import psycopg
from psycopg.pq import TransactionStatus

from defi_sql._aiosql import internal_queries
from defi_sql.errors import MigrationFailed
from defi_sql.migrate.bookkeeping import invalid_indexes, record
from defi_sql.migrate.failures import (
    Direction,
    describe_failure,
    first_word,
    invalid_left,
    invalid_named,
)
from defi_sql.migrate.files import MigrationFile, Statement, rollback_statements
from defi_sql.paths import display_path

__all__ = ["reset_session", "run_migration"]


def reset_session(conn: psycopg.Connection[Any]) -> None:
    """Undo what a migration changed in the session (``SET``, ``ROLE``...)."""
    if not conn.broken:
        internal_queries().reset_session(conn)


def run_migration(
    conn: psycopg.Connection[Any],
    migration: MigrationFile,
    direction: Direction,
    batch: int | None,
    *,
    search_path: str,
    lock_timeout: str,
) -> None:
    """Apply (or roll back) ``migration`` and record it, or raise what it left."""
    queries = internal_queries()
    path = migration.path if direction == "apply" else migration.rollback_path
    statements = migration.statements if direction == "apply" else rollback_statements(migration)
    reset_session(conn)
    invalid_before = {i.qualified for i in invalid_indexes(conn)}
    if not migration.transactional:
        _refuse_invalid_leftover(conn, path, statements)
    objects_before = {tuple(r) for r in queries.schemas_and_extensions(conn)}
    current: Statement | None = None
    committing = False
    try:
        if migration.transactional:
            with conn.transaction():
                xid = queries.transaction_id(conn)
                for current in statements:
                    conn.execute(current.text)
                current = None
                _check_intact(conn, migration, path, xid)
                queries.pin_session(
                    conn,
                    search_path=search_path,
                    lock_timeout=lock_timeout,
                )
                record(conn, migration, direction, batch, objects_before)
                committing = True
        else:
            for current in statements:
                conn.execute(current.text)
            current = None
            reset_session(conn)
            _check_built(conn, path, statements)
            with conn.transaction():
                record(conn, migration, direction, batch, objects_before)
                committing = True
    except psycopg.Error as exc:
        reset_session(conn)
        raise describe_failure(
            migration,
            direction,
            path,
            exc,
            current,
            lost=conn.broken,
            committing=committing,
            invalid_before=invalid_before,
            invalid_now=[] if conn.broken else invalid_indexes(conn),
            lock_timeout=lock_timeout,
        ) from None
    finally:
        reset_session(conn)


def _check_intact(
    conn: psycopg.Connection[Any], migration: MigrationFile, path: Path, xid: str
) -> None:
    """Refuse to record a migration whose statements ended the transaction it runs in."""
    if (
        conn.info.transaction_status == TransactionStatus.INTRANS
        and internal_queries().transaction_id(conn) == xid
    ):
        return
    raise MigrationFailed(
        f"{display_path(path)}: {migration.id} ended the transaction it runs in (a "
        "COMMIT or ROLLBACK among its statements), so it is not recorded as applied, and "
        "what ran before that may stay committed; compare the database with the file, "
        "remove the statement, and run the command again.",
        path=str(path),
        line=None,
        sqlstate=None,
    )


def _refuse_invalid_leftover(
    conn: psycopg.Connection[Any], path: Path, statements: Sequence[Statement]
) -> None:
    """A build over an INVALID index of the same name (left by a failed run) would
    fail with "already exists", or, with IF NOT EXISTS, be skipped and recorded."""
    builds = [s for s in statements if first_word(s) in ("CREATE", "REINDEX")]
    left = invalid_named(builds, invalid_indexes(conn))
    if left:
        raise invalid_left(path, builds[0].line, left[0], "left by an earlier failed build")


def _check_built(
    conn: psycopg.Connection[Any], path: Path, statements: Sequence[Statement]
) -> None:
    """A non-transactional migration is recorded only when no index it names is INVALID."""
    left = invalid_named(statements, invalid_indexes(conn))
    if left:
        line = statements[0].line if statements else 1
        raise invalid_left(path, line, left[0], "after it ran (IF NOT EXISTS kept a failed build?)")
