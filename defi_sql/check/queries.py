"""The checks of one named query: it prepares, its declared roles may run it, its
operator fits its rows, its columns fit the struct it declares."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

import msgspec
import psycopg

from defi_sql.check.columns import Catalog, result_columns
from defi_sql.check.describe import Description, describe, to_numbered
from defi_sql.check.plan import Plan, PlanNote
from defi_sql.check.report import Report, error_line, location
from defi_sql.check.roles import check_roles
from defi_sql.check.shapes import SCALARS, compare_scalar, compare_struct
from defi_sql.statements import Statement
from defi_sql.translate import message_of

__all__ = ["Checked", "check_query", "in_file_order", "prepare", "prepares"]

_LITERAL_PERCENT = re.compile(r"%(?!\(\w+\)s|%)")
_ONE_ROW = {"SELECT_ONE": "^", "SELECT_VALUE": "$"}
_NO_ROWS = {"INSERT_UPDATE_DELETE": "!", "INSERT_UPDATE_DELETE_MANY": "*!"}
_VOID = 2278  # pg_type oid of void: `SELECT pg_notify(...)` returns nothing to keep


def _plan(
    conn: psycopg.Connection[Any], stmt: Statement, catalog: Catalog, parameters: tuple[int, ...]
) -> Plan | str:
    """The query's generic plan, or why the server could not make it."""
    numbered, _names = to_numbered(stmt.sql)
    try:
        with conn.transaction():
            row = conn.execute(
                "EXPLAIN (GENERIC_PLAN, VERBOSE, FORMAT JSON) " + numbered
            ).fetchone()
    except psycopg.Error as exc:
        return message_of(exc)
    assert row is not None
    return Plan(row[0], catalog.plan_facts, numbered, parameters)


@dataclass(frozen=True)
class Checked:
    """What checking one query left for the checks after it: whether it prepared,
    its parameter types and its generic plan (None when the server could not plan it)."""

    prepared: bool
    parameters: tuple[int, ...] = ()
    plan: Plan | None = None


def prepare(conn: psycopg.Connection[Any], stmt: Statement) -> Description:
    """Prepare and describe ``stmt`` (psycopg.Error when it does not prepare)."""
    with conn.transaction():
        return describe(conn, stmt)


def check_query(
    report: Report,
    conn: psycopg.Connection[Any],
    stmt: Statement,
    models: Any,
    catalog: Catalog,
) -> Checked:
    """Report the query's problems; what it found for the checks after it."""
    where = location(stmt)
    if _LITERAL_PERCENT.search(stmt.sql):
        report.error(
            where,
            "operator",
            f"{stmt.name}: a literal % is read by psycopg as a placeholder; write %% or use "
            "strpos()/starts_with()/mod() instead.",
        )
        return Checked(prepared=True)
    try:
        description = prepare(conn, stmt)
    except psycopg.Error as exc:
        report.error(
            location(stmt, error_line(stmt, exc)),
            "prepare",
            f"{stmt.name}: {message_of(exc)}",
        )
        return Checked(prepared=False)
    if len(description.parameters) != len(stmt.parameters):
        report.error(
            where,
            "prepare",
            f"{stmt.name}: declares {len(stmt.parameters)} parameters but the SQL uses "
            f"{len(description.parameters)}; make the name line list exactly the :names used.",
        )
    check_roles(report, conn, stmt)
    explained = _plan(conn, stmt, catalog, description.parameters)
    if isinstance(explained, str):  # one error that says why, not a guess per column
        report.error(
            where,
            "plan",
            f"{stmt.name}: EXPLAIN (GENERIC_PLAN) failed: {explained}; check cannot judge "
            "its rows and NULLs until the server can plan it.",
        )
        return Checked(prepared=True, parameters=description.parameters)
    plan: Plan | None = explained
    checked = Checked(prepared=True, parameters=description.parameters, plan=explained)
    width = len(description.columns)
    op = _ONE_ROW.get(stmt.operation)
    vouched = stmt.rows_vouched
    if op and not vouched and (plan is None or not plan.at_most_one_row(stmt.sql)):
        report.error(
            where,
            "operator",
            f"{stmt.name}: `{op}` keeps one row but the query can return many; filter on a "
            "unique key, add LIMIT 1, or drop the operator to get every row.",
        )
    elif (
        op == "$"
        and not stmt.optional
        and vouched != "one"
        and (plan is None or not plan.exactly_one_row())
    ):
        report.error(
            where,
            "operator",
            f"{stmt.name}: `$` may find no row and then returns None, not "
            f"{stmt.returns or 'a value'}; declare `-- returns: {stmt.returns or 'T'} | None`, "
            "or make it return exactly one row (an aggregate without GROUP BY, VALUES, "
            "INSERT ... RETURNING).",
        )
    for problem in plan.problems if plan is not None else []:
        report.error(where, "plan", f"{stmt.name}: {problem}")
    if stmt.operation == "SELECT_VALUE" and width != 1:
        report.error(
            where,
            "operator",
            f"{stmt.name}: `$` returns one value but the query returns {width} columns; "
            "select one column or use `^`.",
        )
    if (
        stmt.operation in _NO_ROWS
        and width
        and any(c.type_oid != _VOID for c in description.columns)
    ):
        report.error(
            where,
            "operator",
            f"{stmt.name}: `{_NO_ROWS[stmt.operation]}` throws away what RETURNING "
            "returns; use `^` for one row or no operator for every row.",
        )
    if not width or stmt.operation in _NO_ROWS:
        return checked
    target = stmt.returns
    if target is None:
        report.error(
            where,
            "shape",
            f"{stmt.name}: returns rows but declares no struct; add `-- returns: Struct` "
            "to its doc lines.",
        )
        return checked
    columns = result_columns(stmt, description, plan, catalog)
    if stmt.optional and op == "$":  # `returns: T | None`: its None is declared
        columns = [replace(c, never_null=True) for c in columns]
    if stmt.operation == "SELECT_VALUE" and target in SCALARS:
        problems = compare_scalar(target, columns[0]) if width == 1 else []
    else:
        cls = getattr(models, target, None)
        if not (isinstance(cls, type) and issubclass(cls, msgspec.Struct)):
            report.error(
                where,
                "shape",
                f"{stmt.name}: declares `returns: {target}` but {models.__name__} has no "
                f"struct {target}; name a msgspec struct of that module.",
            )
            return checked
        problems = compare_struct(cls, columns)
        if plan is not None:
            problems += plan.element_problems(cls, [c.name for c in columns])
    declared_none = stmt.optional and op == "$"  # `returns: T | None`: NULL is expected
    for note in plan.notes if plan is not None else []:
        if declared_none or _settled(note, stmt, cls if target and target[:1].isupper() else None):
            continue
        report.warning(where, "plan", f"{stmt.name}: {note.message}; it counts as nullable.")
    for problem in problems:
        report.error(where, "shape", f"{stmt.name} -> {target}: {problem}")
    return checked


def _settled(note: PlanNote, stmt: Statement, cls: Any) -> bool:
    """Whether a note that a column comes from no scan, or from one the plan reader
    does not read, changes nothing: the query vouches for the column, or its
    struct field takes None anyway."""
    column = note.column
    if note.kind not in ("no scan", "unread scan") or column is None:
        return False
    if column in stmt.not_null:
        return True
    fields = getattr(cls, "__annotations__", {}) if isinstance(cls, type) else {}
    hint = str(fields.get(column, ""))
    return "None" in hint


def in_file_order(statements: dict[str, Statement]) -> list[Statement]:
    return sorted(statements.values(), key=lambda s: (s.path, s.line))


def prepares(
    conn: psycopg.Connection[Any], statements: dict[str, Statement]
) -> Iterator[tuple[Statement, psycopg.Error]]:
    for stmt in in_file_order(statements):
        if stmt.operation == "SCRIPT":
            continue
        try:
            prepare(conn, stmt)
        except psycopg.Error as exc:
            yield stmt, exc
