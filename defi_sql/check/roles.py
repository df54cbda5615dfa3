"""Roles and scripts: each role a query declares (``-- role: defi_app``) must be
allowed to run it, and a ``#`` script is run statement by statement, as the owner
and then as each role, in a transaction rolled back at the end."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg import sql

from defi_sql.check.describe import to_numbered
from defi_sql.check.report import Report, location
from defi_sql.statements import Statement
from defi_sql.translate import message_of

__all__ = ["OWNER", "check_roles", "check_script", "roles"]

#: ``role: defi_app, defi_worker`` in a query's doc lines, or in its file's opening comment
_ROLE = re.compile(r"^role:\s*(.+?)\s*$", re.MULTILINE)
_FILE_ROLE = re.compile(r"^--\s*role:\s*(.+?)\s*$", re.MULTILINE)
_FIRST_NAME = re.compile(r"^--\s*name\s*:", re.MULTILINE)
#: the role that applied the migrations (the schema's owner), as a declared role
OWNER = "owner"
_COPY = re.compile(r"\s*COPY\b.*\b(?P<direction>FROM\s+STDIN|TO\s+STDOUT)\b", re.I | re.DOTALL)
_DOLLAR_QUOTE = re.compile(r"\$(?:[A-Za-z_]\w*)?\$")
_LEADING = re.compile(r"(?:\s+|--[^\n]*(?:\n|$)|/\*.*?\*/)*", re.DOTALL)


def roles(stmt: Statement) -> tuple[str, ...]:
    """The roles ``stmt`` runs as: its doc's ``role:`` line, else its file's opening
    ``-- role:`` line (before the first ``-- name:``), else none declared."""
    found = _ROLE.search(stmt.doc)
    if found is None:
        text = stmt.path.read_text(encoding="utf-8")
        first = _FIRST_NAME.search(text)
        found = _FILE_ROLE.search(text, 0, first.start() if first else len(text))
    if found is None:
        return ()
    return tuple(dict.fromkeys(r.strip() for r in found.group(1).split(",") if r.strip()))


class _NoRole(Exception):
    """``SET ROLE`` failed: the declared role is missing, or the checking role may not become it."""

    def __init__(self, error: psycopg.Error) -> None:
        super().__init__(str(error))
        self.error = error


@contextmanager
def _as(conn: psycopg.Connection[Any], role: str) -> Iterator[None]:
    """A transaction, rolled back at the end, whose statements run as ``role``."""
    with conn.transaction(force_rollback=True):
        if role != OWNER:
            try:
                with conn.transaction():
                    conn.execute(sql.SQL("SET LOCAL ROLE {}").format(sql.Identifier(role)))
            except psycopg.Error as exc:
                raise _NoRole(exc) from None
        yield


def check_roles(report: Report, conn: psycopg.Connection[Any], stmt: Statement) -> None:
    """Plan ``stmt`` as each role it declares: the executor's privilege checks (tables,
    columns, functions, COPY under row-level security) run at plan time in EXPLAIN."""
    numbered, _names = to_numbered(stmt.sql)
    for role in roles(stmt):
        try:
            with _as(conn, role):
                conn.execute("EXPLAIN (GENERIC_PLAN) " + numbered)
        except _NoRole as exc:
            _report_no_role(report, stmt, role, exc.error)
        except psycopg.Error as exc:
            _report_role(report, stmt, role, exc, stmt.line)


def _report_no_role(report: Report, stmt: Statement, role: str, exc: psycopg.Error) -> None:
    report.error(
        location(stmt),
        "role",
        f"{stmt.name}: cannot run it as {role}: {message_of(exc)}; declare a role the "
        "migrations create (`-- role: name`), or `owner`.",
    )


def _report_role(report: Report, stmt: Statement, role: str, exc: psycopg.Error, line: int) -> None:
    report.error(
        location(stmt, line),
        "role",
        f"{stmt.name}: {role} may not run it: {message_of(exc)}; grant it in a migration, "
        "or declare the role that runs it (`-- role: name` in its doc lines).",
    )


class _StopCopy(Exception):
    """Ends a checked ``COPY ... FROM STDIN`` before any row is sent."""


def _script_pieces(text: str) -> list[tuple[int, str]]:
    """The statements of a script, each from its first word, with that word's
    offset: split at ``;`` outside string literals, quoted names, comments and
    dollar quotes."""
    pieces, start, i = [], 0, 0
    while i < len(text):
        ch = text[i]
        if ch in "'\"":
            end = text.find(ch, i + 1)
            while end != -1 and text.startswith(ch, end + 1):
                end = text.find(ch, end + 2)
            i = len(text) if end == -1 else end + 1
            continue
        if text.startswith("--", i):
            end = text.find("\n", i)
            i = len(text) if end == -1 else end + 1
            continue
        if text.startswith("/*", i):
            end = text.find("*/", i + 2)
            i = len(text) if end == -1 else end + 2
            continue
        dollar = _DOLLAR_QUOTE.match(text, i)
        if dollar:
            end = text.find(dollar.group(), i + len(dollar.group()))
            i = len(text) if end == -1 else end + len(dollar.group())
            continue
        if ch == ";":
            pieces.append((start, text[start:i]))
            start = i + 1
        i += 1
    pieces.append((start, text[start:]))
    found = []
    for at, piece in pieces:
        lead = _LEADING.match(piece)
        skip = lead.end() if lead else 0
        if piece[skip:].strip():
            found.append((at + skip, piece[skip:]))
    return found


def _run_script(
    conn: psycopg.Connection[Any], stmt: Statement, role: str
) -> tuple[int, psycopg.Error] | None:
    """Run the script's statements as ``role`` in a transaction rolled back at the
    end (a ``COPY FROM STDIN`` is started, then abandoned); the first failure and
    its file line."""
    with _as(conn, role):
        for at, piece in _script_pieces(stmt.sql):
            copy = _COPY.match(piece)
            try:
                with conn.transaction(), conn.cursor() as cur:
                    if copy is None:
                        cur.execute(piece)
                    elif copy["direction"].upper().startswith("FROM"):
                        with cur.copy(piece):
                            raise _StopCopy  # the savepoint rolls the abandoned COPY back
                    else:
                        with cur.copy(piece):
                            pass
            except _StopCopy:
                continue
            except psycopg.Error as exc:
                line = stmt.body_line + stmt.sql.count("\n", 0, at)
                position = exc.diag.statement_position
                if position:
                    line += piece.count("\n", 0, int(position) - 1)
                return line, exc
    return None


def check_script(report: Report, conn: psycopg.Connection[Any], stmt: Statement) -> None:
    """A ``#`` script runs as the owner, then as each role it declares."""
    for role in (OWNER, *(r for r in roles(stmt) if r != OWNER)):
        try:
            failed = _run_script(conn, stmt, role)
        except _NoRole as refused:
            _report_no_role(report, stmt, role, refused.error)
            continue
        if failed is None:
            continue
        line, error = failed
        if role == OWNER:
            report.error(location(stmt, line), "prepare", f"{stmt.name}: {message_of(error)}")
            return
        _report_role(report, stmt, role, error, line)
