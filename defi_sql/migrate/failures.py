"""What a migration's failure left, and the one sentence that says so.

A transactional migration that fails leaves nothing: the sentence says so and
what to do. A ``-- transactional: false`` one is a single statement that
PostgreSQL commits on its own; the only thing such a statement leaves when it
fails part-way is an INVALID index (``CREATE INDEX CONCURRENTLY``, ``DROP INDEX
CONCURRENTLY``, ``REINDEX ... CONCURRENTLY``), so the migrator looks for INVALID
indexes the statements name, before (a leftover a rerun would trip over, or
``IF NOT EXISTS`` would skip) and after (a failure names what it left, with
the statement that removes it; a success is recorded only when none is left).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import psycopg

from defi_sql.errors import MigrationFailed
from defi_sql.migrate.files import MigrationFile, Statement
from defi_sql.migrate.sqltext import scan
from defi_sql.paths import display_path
from defi_sql.translate import message_of

__all__ = ["Direction", "Index", "describe_failure", "first_word", "invalid_left", "invalid_named"]

Direction = Literal["apply", "rollback"]
_INDEX_LEFTOVER = re.compile(r"_cc(?:new|old)\d*$")


@dataclass(frozen=True)
class Index:
    """An INVALID index: schema-qualified, its name, its table's name."""

    qualified: str
    name: str
    table: str


def words(statement: Statement) -> set[str]:
    """The names a statement mentions (lower-cased bare words, quoted names as written),
    to tell which indexes it builds or drops."""
    found = {w.lower() for w in re.findall(r"[A-Za-z_][A-Za-z0-9_$]*", scan(statement.text)[0])}
    found |= {q.replace('""', '"') for q in re.findall(r'"((?:[^"]|"")+)"', statement.text)}
    return found


def first_word(statement: Statement) -> str:
    tokens = scan(statement.text)[0].split()
    return tokens[0].upper() if tokens else ""


def _named(index: Index, names: set[str]) -> bool:
    return index.name in names or _INDEX_LEFTOVER.sub("", index.name) in names


def invalid_named(statements: Sequence[Statement], invalid: list[Index]) -> list[Index]:
    """The INVALID indexes that ``statements`` name (a ``_ccnew``/``_ccold`` of REINDEX too)."""
    names: set[str] = set().union(*(words(s) for s in statements))
    return [i for i in invalid if _named(i, names)]


def invalid_left(path: Path, line: int, index: Index, why: str) -> MigrationFailed:
    return MigrationFailed(
        f"{display_path(path)}:{line}: the index {index.qualified} is INVALID, {why}, so "
        "nothing is recorded; remove it with "
        f"`DROP INDEX CONCURRENTLY IF EXISTS {index.qualified};` and run the command again.",
        path=str(path),
        line=line,
        sqlstate=None,
    )


def describe_failure(
    migration: MigrationFile,
    direction: Direction,
    path: Path,
    exc: psycopg.Error,
    statement: Statement | None,
    *,
    lost: bool,
    committing: bool,
    invalid_before: set[str],
    invalid_now: list[Index],
    lock_timeout: str,
) -> MigrationFailed:
    """The error of a migration that failed: file:line, SQLSTATE, what happened, what is
    left (never atomicity a non-transactional migration does not have), what to do next.

    ``lost``: the connection broke; ``committing``: it broke or failed while COMMIT ran;
    ``invalid_before``/``invalid_now``: INVALID indexes before it ran and now.
    """
    diag = exc.diag
    line = statement.line if statement else None
    position = diag.statement_position
    if statement is not None and position and position.isdigit():
        line = statement.start + statement.text.count("\n", 0, int(position) - 1)
    where = f"{display_path(path)}:{line}" if line else display_path(path)
    reason = message_of(exc)
    reason += f" (SQLSTATE {diag.sqlstate})" if diag.sqlstate else ""
    mid, done = migration.id, "applied" if direction == "apply" else "undone"
    again = "fix the file and run the command again"
    if diag.sqlstate == "55P03":  # lock_not_available
        again = (
            f"another session held a lock it needs for longer than lock_timeout "
            f"({lock_timeout}); run the command again once that session "
            "is done, or raise DEFI_SQL_LOCK_TIMEOUT"
        )
    if lost:
        if committing or not migration.transactional:
            outcome = (
                f"the connection was lost while {mid} was being "
                f"{'recorded' if committing else 'run'}, so whether it was {done} is "
                "unknown: `defi-sql status` tells; then run the command again"
            )
        else:
            outcome = (
                f"the connection was lost (ended by pg_terminate_backend, a restart or the "
                f"network), so nothing of {mid} was {done} and the database stays at the "
                "last good migration; run the command again"
            )
        message = f"{where}: {reason}; {outcome}."
    elif statement is None and migration.transactional:
        message = (
            f"{where}: recording {mid} failed: {reason}; nothing of it was {done} and the "
            "database stays at the last good migration; the bookkeeping tables "
            "(_yoyo_migration, _defi_sql_migration), not the file, refused: check their "
            "privileges and content, and run the command again."
        )
    elif migration.transactional:
        message = (
            f"{where}: {reason}; nothing of {mid} was {done} and the database stays at the "
            f"last good migration; {again}."
        )
    else:
        named = words(statement) if statement else set()
        left = [i for i in invalid_now if i.qualified not in invalid_before or _named(i, named)]
        if not left:
            message = (
                f"{where}: {reason}; {mid} is not transactional, but its statement failed "
                f"as a whole and left no INVALID index, so nothing of it was {done}; "
                f"{again}."
            )
        else:
            names = ", ".join(i.qualified for i in left)
            drops = " ".join(f"DROP INDEX CONCURRENTLY IF EXISTS {i.qualified};" for i in left)
            still = "pending" if direction == "apply" else "applied"
            keep = (
                f" (or keep {mid} applied and rebuild it: `REINDEX INDEX CONCURRENTLY "
                f"{left[0].qualified};`)"
                if direction == "rollback"
                else ""
            )
            message = (
                f"{where}: {reason}; {mid} is not transactional and left the INVALID index "
                f"{names} behind (no query uses it, every write still pays for it), and "
                f"{mid} stays {still}; remove it with `{drops}`{keep}, then {again}."
            )
    return MigrationFailed(message, path=str(path), line=line, sqlstate=diag.sqlstate)
