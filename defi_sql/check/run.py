"""``defi-sql check``: prove every migration and named query against a live schema.

On a scratch database (created on a server you name, the embedded one by
default) the migrations are applied one at a time. Each is rolled back and
applied again, and the catalog fingerprint must come back exactly
(round-trip). Before the last one, every named query is prepared against the
schema one step back (a rolling deploy runs new code on the old schema), and
the queries as they were before the last migration are prepared against the
new one (old code on the new schema), both as warnings. On the migrated schema
each query is prepared and described by the server, its generic plan read, and:

* it must prepare (unknown table or column, wrong parameters, type errors);
* each role it declares must be allowed to run it (``-- role: defi_app`` in
  its doc lines, or in the comment opening its file; ``owner`` is the role
  that ran the migrations, and the one used when nothing is declared): it is
  planned after ``SET LOCAL ROLE`` in a transaction rolled back at once, since
  the executor's privilege checks run in ``EXPLAIN``, not in ``PREPARE``;
* its columns must fit the struct its doc declares (``-- returns: User``):
  names, types, the values a ``Literal`` can meet and nullability
  (:mod:`defi_sql.check.shapes`, :mod:`defi_sql.check.outputs`, :mod:`defi_sql.check.plan`);
* its operator must fit its result: ``^``/``$`` at most one row, ``$`` one
  column, ``!`` no ``RETURNING`` (a ``void`` result is none), and no literal
  ``%`` psycopg would mangle.

A ``#`` script cannot be prepared as one statement: its statements are run one
by one in a transaction rolled back at the end (a ``COPY ... FROM STDIN`` is
started and abandoned), as the owner and then as each role it declares, and
the first that fails is reported at its line.

Then the database must hold every JSON document to its struct's ``Literal``
values (:mod:`defi_sql.check.contract`).

With ``database``, a live database is compared with what the migrations
produce at its level (drift). Every problem is reported, each with its file
and line; errors fail the check, warnings do not.
"""

from __future__ import annotations

import importlib
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import msgspec
import psycopg
from psycopg import sql

from defi_sql._aiosql import internal_queries
from defi_sql.check.catalog import Fingerprint, fingerprint
from defi_sql.check.contract import check_documents
from defi_sql.check.describe import Description, describe, to_numbered
from defi_sql.check.outputs import json_kind, output_expressions, text_values
from defi_sql.check.plan import CatalogFacts, Plan
from defi_sql.check.shapes import SCALARS, ResultColumn, compare_scalar, compare_struct
from defi_sql.config import mask_conninfo
from defi_sql.connection import connect
from defi_sql.dev.dump import scratch_database
from defi_sql.dev.structs import check_choices
from defi_sql.errors import ConfigError, DefiSqlError
from defi_sql.migrate.files import forward_paths, rollback_path
from defi_sql.migrate.migrator import Migrator
from defi_sql.paths import display_path
from defi_sql.statements import Statement, load_statements
from defi_sql.translate import message_of

__all__ = ["Problem", "Report", "run_check"]

Severity = Literal["error", "warning"]
_LITERAL_PERCENT = re.compile(r"%(?!\(\w+\)s|%)")
_ONE_ROW = {"SELECT_ONE": "^", "SELECT_VALUE": "$"}
_NO_ROWS = {"INSERT_UPDATE_DELETE": "!", "INSERT_UPDATE_DELETE_MANY": "*!"}
_VOID = 2278  # pg_type oid of void: `SELECT pg_notify(...)` returns nothing to keep
#: ``role: defi_app, defi_worker`` in a query's doc lines, or in its file's opening comment
_ROLE = re.compile(r"^role:\s*(.+?)\s*$", re.MULTILINE)
_FILE_ROLE = re.compile(r"^--\s*role:\s*(.+?)\s*$", re.MULTILINE)
_FIRST_NAME = re.compile(r"^--\s*name\s*:", re.MULTILINE)
#: the role that applied the migrations (the schema's owner), as a declared role
OWNER = "owner"
_COPY = re.compile(r"\s*COPY\b.*\b(?P<direction>FROM\s+STDIN|TO\s+STDOUT)\b", re.I | re.DOTALL)
_DOLLAR_QUOTE = re.compile(r"\$(?:[A-Za-z_]\w*)?\$")
_LEADING = re.compile(r"(?:\s+|--[^\n]*(?:\n|$)|/\*.*?\*/)*", re.DOTALL)
_DOMAIN_CHOICES = re.compile(
    r"CHECK \(\((?:VALUE|\(VALUE\)::[\w ]+) = (?:ANY \(ARRAY\[.*\]\)|'(?:[^']|'')*'::[\w ]+)\)\)"
)


@dataclass(frozen=True)
class Problem:
    """One finding: where (``file:line`` or a database), how bad, which check, what."""

    where: str
    severity: Severity
    check: str
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.severity}: [{self.check}] {self.message}"


@dataclass
class Report:
    """Everything ``check`` found, and what it looked at."""

    problems: list[Problem] = field(default_factory=list)
    migrations: int = 0
    queries: int = 0

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "warning"]

    def error(self, where: str, check: str, message: str) -> None:
        """Record a problem that fails the check."""
        self.problems.append(Problem(where, "error", check, message))

    def warning(self, where: str, check: str, message: str) -> None:
        """Record a problem worth reading that does not fail the check."""
        self.problems.append(Problem(where, "warning", check, message))


def _where(stmt: Statement, line: int | None = None) -> str:
    return f"{display_path(stmt.path)}:{line or stmt.line}"


def _first_line(exc: psycopg.Error) -> str:
    return message_of(exc)


def _error_line(stmt: Statement, exc: psycopg.Error) -> int:
    """The file line of the error position the server reports, else the query's line."""
    position = exc.diag.statement_position
    if not position:
        return stmt.line
    numbered, _names = to_numbered(stmt.sql)
    return stmt.body_line + numbered.count("\n", 0, int(position) - 1)


# -- catalog facts -------------------------------------------------------------


class _Catalog:
    """Cached catalog look-ups on one connection."""

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self.conn = conn
        self._queries = internal_queries()
        self._cache: dict[tuple[Any, ...], Any] = {}
        self.plan_facts = CatalogFacts(conn)

    def _get(self, key: tuple[Any, ...], fetch: Any) -> Any:
        if key not in self._cache:
            self._cache[key] = fetch()
        return self._cache[key]

    def column(
        self, table_oid: int, attnum: int
    ) -> tuple[bool, tuple[str, ...] | None, str | None]:
        def fetch() -> tuple[bool, tuple[str, ...] | None, str | None]:
            row = self._queries.column_facts(self.conn, table_oid=table_oid, attnum=attnum)
            if row is None:
                return False, None, None
            not_null, _table, _column, choices, json_kind = row
            values = check_choices(choices or "")
            return bool(not_null), values or None, json_kind

        return self._get(("col", table_oid, attnum), fetch)  # type: ignore[no-any-return]

    def type(self, oid: int) -> tuple[str, str | None]:
        def fetch() -> tuple[str, str | None]:
            row = self._queries.type_facts(self.conn, type_oid=oid)
            if row is None:
                return f"oid {oid}", None
            name, category, element = row
            if category == "A" and element:
                return str(name), self.type(int(element))[0]
            return str(name), None

        return self._get(("type", oid), fetch)  # type: ignore[no-any-return]

    def column_type(self, table_oid: int, attnum: int) -> int | None:
        """The declared type of a table column: a domain's own oid, not its base's."""
        q = self._queries
        return self._get(  # type: ignore[no-any-return]
            ("coltype", table_oid, attnum),
            lambda: q.column_type(self.conn, table_oid=table_oid, attnum=attnum),
        )

    def values(self, oid: int) -> tuple[tuple[str, ...] | None, str, bool]:
        """(the values, what holds them, enum?) of a type: an enum's labels, else the
        values its domains' ``CHECK (VALUE IN (...))`` allow (all of them, if several)."""

        def fetch() -> tuple[tuple[str, ...] | None, str, bool]:
            row = self._queries.type_values(self.conn, type_oid=oid)
            domains, checks, enum_name, labels = row or (None, None, None, None)
            allowed: tuple[str, ...] | None = None
            source = ""
            if enum_name is not None:
                allowed, source = tuple(labels or ()), f"its enum type {enum_name}"
            for entry in checks or ():
                domain, definition = entry.split("|", 1)
                if _DOMAIN_CHOICES.fullmatch(definition):
                    values = check_choices(definition)
                    allowed = (
                        values if allowed is None else tuple(v for v in allowed if v in values)
                    )
                    outer = (domains or [domain])[0]
                    source = f"its domain {outer}" + (f" (a {domain})" if domain != outer else "")
            return allowed, source, enum_name is not None

        return self._get(("values", oid), fetch)  # type: ignore[no-any-return]


# -- the checks ----------------------------------------------------------------


def _plan(
    conn: psycopg.Connection[Any], stmt: Statement, catalog: _Catalog, parameters: tuple[int, ...]
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


def _prepare(conn: psycopg.Connection[Any], stmt: Statement) -> Description:
    with conn.transaction():
        return describe(conn, stmt)


def _columns(
    stmt: Statement, description: Description, plan: Plan | None, catalog: _Catalog
) -> list[ResultColumn]:
    columns = []
    for index, column in enumerate(description.columns):
        type_name, element = catalog.type(column.type_oid)
        choices: tuple[str, ...] | None = None
        kind = None
        facts: dict[str, Any] = {}
        never_null = column.name in stmt.not_null or (plan is not None and plan.never_null(index))
        type_oid = column.type_oid
        if column.table_oid:
            # its attnotnull is not enough (an outer join, ROLLUP, RETURNING old.col,
            # NOT VALID): never_null is the plan's (defi_sql.check.plan)
            _not_null, choices, kind = catalog.column(column.table_oid, column.table_column)
            type_oid = catalog.column_type(column.table_oid, column.table_column) or type_oid
        elif plan is not None and (exprs := output_expressions(plan.root, index)):
            found = [text_values(e) for e in exprs]
            if all(v is not None for v in found):
                choices = tuple(dict.fromkeys(v for vs in found if vs is not None for v in vs))
                facts["choices_from"] = "its expression"
            kinds = {json_kind(e) for e in exprs} - {"null"}
            if len(kinds) == 1 and None not in kinds:
                kind = kinds.pop()
                facts["json_from"] = "its expression"
        values, source, facts["enum"] = catalog.values(type_oid)
        if values is not None and choices is None:
            choices, facts["choices_from"], facts["exact"] = values, source, True
        columns.append(
            ResultColumn(column.name, type_name, element, never_null, choices, kind, **facts)
        )
    return columns


def _check_query(
    report: Report,
    conn: psycopg.Connection[Any],
    stmt: Statement,
    models: Any,
    catalog: _Catalog,
) -> bool:
    """Report the query's problems; False when it does not even prepare."""
    where = _where(stmt)
    if _LITERAL_PERCENT.search(stmt.sql):
        report.error(
            where,
            "operator",
            f"{stmt.name}: a literal % is read by psycopg as a placeholder; write %% or use "
            "strpos()/starts_with()/mod() instead.",
        )
        return True
    try:
        description = _prepare(conn, stmt)
    except psycopg.Error as exc:
        report.error(
            _where(stmt, _error_line(stmt, exc)),
            "prepare",
            f"{stmt.name}: {_first_line(exc)}",
        )
        return False
    if len(description.parameters) != len(stmt.parameters):
        report.error(
            where,
            "prepare",
            f"{stmt.name}: declares {len(stmt.parameters)} parameters but the SQL uses "
            f"{len(description.parameters)}; make the name line list exactly the :names used.",
        )
    _check_roles(report, conn, stmt)
    explained = _plan(conn, stmt, catalog, description.parameters)
    if isinstance(explained, str):  # one error that says why, not a guess per column
        report.error(
            where,
            "plan",
            f"{stmt.name}: EXPLAIN (GENERIC_PLAN) failed: {explained}; check cannot judge "
            "its rows and NULLs until the server can plan it.",
        )
        return True
    plan: Plan | None = explained
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
        return True
    target = stmt.returns
    if target is None:
        report.error(
            where,
            "shape",
            f"{stmt.name}: returns rows but declares no struct; add `-- returns: Struct` "
            "to its doc lines.",
        )
        return True
    columns = _columns(stmt, description, plan, catalog)
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
            return True
        problems = compare_struct(cls, columns)
        if plan is not None:
            problems += plan.element_problems(cls, [c.name for c in columns])
    for note in plan.notes if plan is not None else []:
        if _settled(note, stmt, cls if target and target[:1].isupper() else None):
            continue
        report.warning(where, "plan", f"{stmt.name}: {note}; it counts as nullable.")
    for problem in problems:
        report.error(where, "shape", f"{stmt.name} -> {target}: {problem}")
    return True


# -- roles and scripts ---------------------------------------------------------


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


def _check_roles(report: Report, conn: psycopg.Connection[Any], stmt: Statement) -> None:
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
        _where(stmt),
        "role",
        f"{stmt.name}: cannot run it as {role}: {_first_line(exc)}; declare a role the "
        "migrations create (`-- role: name`), or `owner`.",
    )


def _report_role(report: Report, stmt: Statement, role: str, exc: psycopg.Error, line: int) -> None:
    report.error(
        _where(stmt, line),
        "role",
        f"{stmt.name}: {role} may not run it: {_first_line(exc)}; grant it in a migration, "
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


def _check_script(report: Report, conn: psycopg.Connection[Any], stmt: Statement) -> None:
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
            report.error(_where(stmt, line), "prepare", f"{stmt.name}: {_first_line(error)}")
            return
        _report_role(report, stmt, role, error, line)


def _settled(note: str, stmt: Statement, cls: Any) -> bool:
    """Whether a plan note about an unread column changes nothing: the query vouches
    for the column, or its struct field takes None anyway."""
    found = re.search(r"column (?:\S+\.)?(\w+) comes from no scan", note)
    if found is None:
        return False
    column = found.group(1)
    if column in stmt.not_null:
        return True
    fields = getattr(cls, "__annotations__", {}) if isinstance(cls, type) else {}
    hint = str(fields.get(column, ""))
    return "None" in hint


def _in_file_order(statements: dict[str, Statement]) -> list[Statement]:
    return sorted(statements.values(), key=lambda s: (s.path, s.line))


def _prepares(
    conn: psycopg.Connection[Any], statements: dict[str, Statement]
) -> Iterator[tuple[Statement, psycopg.Error]]:
    for stmt in _in_file_order(statements):
        if stmt.operation == "SCRIPT":
            continue
        try:
            _prepare(conn, stmt)
        except psycopg.Error as exc:
            yield stmt, exc


def _changes(
    before: Fingerprint,
    after: Fingerprint,
    missing: str = "is missing",
    extra: str = "is left over",
    differs: str = "{kind} {name} differs: {old} became {new}",
) -> list[str]:
    """How ``after`` differs from ``before``, one phrase per object."""
    old = {(k, n): d for k, n, d in before}
    new = {(k, n): d for k, n, d in after}
    lines = []
    for key in sorted(old.keys() | new.keys()):
        kind, name = key
        if key not in new:
            lines.append(f"{kind} {name} {missing} ({old[key]})")
        elif key not in old:
            lines.append(f"{kind} {name} {extra} ({new[key]})")
        elif old[key] != new[key]:
            lines.append(differs.format(kind=kind, name=name, old=old[key], new=new[key]))
    return lines


# -- orchestration -------------------------------------------------------------


@contextmanager
def _chain() -> Iterator[Path]:
    folder = Path(tempfile.mkdtemp(prefix="defi-sql-check-"))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _load_models(module: str) -> Any:
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ConfigError(
            f"cannot import the models module {module!r} ({exc}); pass --models."
        ) from None


def run_check(
    admin_conninfo: str,
    *,
    sql_dir: Path,
    models: str = "defi_sql.models",
    database: str | None = None,
) -> Report:
    """Check ``sql_dir`` (``migrations/`` and ``queries/``) on a scratch database
    created through ``admin_conninfo``; with ``database``, also its drift."""
    report = Report()
    module = _load_models(models)
    try:
        statements = load_statements(sql_dir / "queries")
    except DefiSqlError as exc:
        report.error(display_path(sql_dir / "queries"), "queries", str(exc))
        return report
    report.queries = len(statements)
    forwards = forward_paths(sql_dir / "migrations")
    report.migrations = len(forwards)
    levels: dict[str, Fingerprint] = {}
    one_back: list[tuple[str, Problem]] = []
    with scratch_database(admin_conninfo) as url, _chain() as chain:
        with connect(url, autocommit=True) as conn:
            before: Fingerprint = ()
            for index, forward in enumerate(forwards):
                rollback = rollback_path(forward)
                if index == len(forwards) - 1 and index > 0:
                    one_back = [
                        (
                            stmt.name,
                            Problem(
                                _where(stmt),
                                "warning",
                                "compatibility",
                                f"{stmt.name} fails on the schema before {forward.stem} (new code "
                                f"before the migration): {_first_line(exc)}",
                            ),
                        )
                        for stmt, exc in _prepares(conn, statements)
                    ]
                shutil.copy(forward, chain)
                if rollback.is_file():
                    shutil.copy(rollback, chain)
                if not _round_trip(report, url, chain, forward, before, conn):
                    return report
                before = fingerprint(conn)
                levels[forward.stem] = before
            catalog = _Catalog(conn)
            if conn.info.server_version < 160000:
                report.error(
                    display_path(sql_dir / "queries"),
                    "plan",
                    "check reads each query's generic plan (EXPLAIN GENERIC_PLAN, PostgreSQL 16 "
                    f"or newer) and this server is {conn.info.server_version // 10000}: run it "
                    "on PostgreSQL 16 or newer (the embedded server, without --server).",
                )
                return report
            checked = len(report.problems)
            broken = set()
            for stmt in _in_file_order(statements):
                if stmt.operation == "SCRIPT":
                    _check_script(report, conn, stmt)
                elif not _check_query(report, conn, stmt, module, catalog):
                    broken.add(stmt.name)
            report.problems[checked:checked] = [p for n, p in one_back if n not in broken]
            _old_code(report, conn, sql_dir, forwards)
            check_documents(report, conn, module)
        if database is not None:
            _drift(report, database, [f.stem for f in forwards], levels)
    return report


def _round_trip(
    report: Report,
    url: str,
    chain: Path,
    forward: Path,
    before: Fingerprint,
    conn: psycopg.Connection[Any],
) -> bool:
    """Apply, roll back, apply again; False when the chain cannot go on.

    When the rollback does not restore the schema, the database is rebuilt from
    scratch up to this migration so that the rest of the chain is still checked.
    """
    rollback = rollback_path(forward)
    try:
        with Migrator(url, directory=chain) as migrator:
            migrator.migrate()
            applied = fingerprint(conn)
            if not rollback.is_file():
                report.error(
                    f"{display_path(forward)}:1",
                    "round-trip",
                    f"{forward.name} has no rollback {rollback.name}; write one.",
                )
                return True
            migrator.rollback(steps=1)
            changes = _changes(before, fingerprint(conn))
            for change in changes:
                report.error(
                    f"{display_path(rollback)}:1",
                    "round-trip",
                    f"after rolling back {forward.stem}, {change}",
                )
            if changes:
                migrator.drop_everything()
                migrator.migrate()
                return True
            migrator.migrate()
            for change in _changes(applied, fingerprint(conn)):
                report.error(
                    f"{display_path(forward)}:1",
                    "round-trip",
                    f"applied again after its rollback, {change}",
                )
    except DefiSqlError as exc:
        message = str(exc).replace(str(chain), display_path(forward.parent))
        report.error(f"{display_path(forward)}:1", "migrate", message)
        return False
    return True


def _old_code(
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
        for stmt, exc in _prepares(conn, statements):
            report.warning(
                f"{display_path(sql_dir / 'queries' / stmt.path.name)}:{stmt.line}",
                "compatibility",
                f"{stmt.name} as of {revision} (old code after {forwards[-1].stem}) fails on "
                f"the new schema: {_first_line(exc)}",
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


def _drift(report: Report, database: str, ids: list[str], levels: dict[str, Fingerprint]) -> None:
    where = mask_conninfo(database)
    with connect(database, autocommit=True) as live:
        try:
            with live.transaction():
                applied = [mid for (mid,) in internal_queries().applied_migrations(live)]
        except psycopg.errors.UndefinedTable:
            applied = []
        actual = fingerprint(live)
    known = [mid for mid in ids if mid in applied]
    unknown = [mid for mid in applied if mid not in ids]
    if unknown:
        report.error(
            where,
            "drift",
            f"the database has migrations this tree lacks: {', '.join(unknown)}",
        )
    level = known[-1] if known else None
    pending = ids[ids.index(level) + 1 :] if level else ids
    if pending:
        report.warning(
            where,
            "drift",
            f"{len(pending)} migration(s) pending ({', '.join(pending)}); compared with the "
            f"schema at {level or 'no migration'}",
        )
    expected = levels.get(level, ()) if level else ()
    changes = _changes(
        expected,
        actual,
        "is missing from the database",
        "exists only in the database",
        "{kind} {name} differs: the migrations give {old}; the database has {new}",
    )
    for change in changes:
        report.error(where, "drift", f"compared with the migrations, {change}")
