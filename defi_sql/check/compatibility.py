"""A rolling deploy: the new queries on the schema one migration back (new code
before the migration), and the queries as git had them before the newest
migration on the new schema (old code after it). Both are warnings."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import psycopg

from defi_sql.check.queries import prepares
from defi_sql.check.report import Problem, Report, location
from defi_sql.errors import DefiSqlError
from defi_sql.paths import display_path
from defi_sql.statements import Statement, load_statements
from defi_sql.translate import message_of

__all__ = ["new_code_before", "old_code_after", "unknown_migrations"]


def new_code_before(
    conn: psycopg.Connection[Any], statements: dict[str, Statement], forward: Path
) -> list[tuple[str, Problem]]:
    """(query name, warning) for each query that fails on the schema before
    ``forward``, unless its doc says ``deploy after: <forward>``; and for each
    that says so but runs there (the line is stale)."""
    problems: list[tuple[str, Problem]] = []
    failing = set()
    for stmt, exc in prepares(conn, statements):
        failing.add(stmt.name)
        if stmt.deploy_after != forward.stem:
            problems.append(
                _warning(
                    stmt,
                    f"{stmt.name} fails on the schema before {forward.stem} (new code "
                    f"before the migration): {message_of(exc)}; deploy it after "
                    f"migrating, and say so: `-- deploy after: {forward.stem}`",
                )
            )
    for stmt in statements.values():
        if stmt.deploy_after == forward.stem and stmt.name not in failing:
            problems.append(
                _warning(
                    stmt,
                    f"{stmt.name} says `deploy after: {forward.stem}` but runs on the "
                    "schema before it; drop the line.",
                )
            )
    return problems


def _warning(stmt: Statement, message: str) -> tuple[str, Problem]:
    return stmt.name, Problem(location(stmt), "warning", "compatibility", message)


def unknown_migrations(
    report: Report, statements: dict[str, Statement], forwards: list[Path]
) -> None:
    """An error for each query whose ``deploy after:`` names no migration."""
    known = {forward.stem for forward in forwards}
    for stmt in statements.values():
        if stmt.deploy_after is not None and stmt.deploy_after not in known:
            newest = f" (the newest is {forwards[-1].stem})" if forwards else ""
            report.error(
                location(stmt),
                "compatibility",
                f"{stmt.name} says `deploy after: {stmt.deploy_after}`, which is no "
                f"migration{newest}; name one by its file name without .sql.",
            )


def old_code_after(
    report: Report, conn: psycopg.Connection[Any], sql_dir: Path, forwards: list[Path]
) -> None:
    """The queries from before the newest migration, prepared on the new schema."""
    if len(forwards) < 2:
        return
    old = _queries_before(sql_dir, forwards[-1])
    if old is None:
        return
    revision, folder = old
    try:
        statements = load_statements(folder)
        for stmt, exc in prepares(conn, statements):
            report.warning(
                f"{display_path(sql_dir / 'queries' / stmt.path.name)}:{stmt.line}",
                "compatibility",
                f"{stmt.name} as of {revision} (old code after {forwards[-1].stem}) fails on "
                f"the new schema: {message_of(exc)}",
            )
    except DefiSqlError:
        return
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _git(*args: str, cwd: Path) -> str | None:
    try:
        done = subprocess.run(
            ["git", *args], cwd=cwd, capture_output=True, text=True, check=False, timeout=30
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout if done.returncode == 0 else None


def _queries_before(sql_dir: Path, newest: Path) -> tuple[str, Path] | None:
    """(revision, folder) of sql/queries in the commit before ``newest`` was added."""
    top = _git("rev-parse", "--show-toplevel", cwd=sql_dir)
    if top is None:
        return None
    root = Path(top.strip())
    try:
        queries = (sql_dir / "queries").resolve().relative_to(root)
        migration = newest.resolve().relative_to(root)
    except ValueError:
        return None
    added = (
        _git("log", "--diff-filter=A", "--format=%H", "-1", "--", str(migration), cwd=root) or ""
    ).strip()
    revision = f"{added}^" if added else "HEAD"
    names = _git("ls-tree", "--name-only", f"{revision}:{queries}", cwd=root)
    if not names:
        return None
    folder = Path(tempfile.mkdtemp(prefix="defi-sql-old-queries-"))
    for name in names.split():
        if name.endswith(".sql"):
            text = _git("show", f"{revision}:{queries}/{name}", cwd=root)
            if text is not None:
                (folder / name).write_text(text, encoding="utf-8")
    short = (_git("rev-parse", "--short", revision, cwd=root) or revision).strip()
    return short, folder
