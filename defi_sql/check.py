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
* its columns must fit the struct its doc declares (``-- returns: User``):
  names, types and nullability (:mod:`defi_sql.shapes`, :mod:`defi_sql.plan`);
* its operator must fit its result: ``^``/``$`` at most one row, ``$`` one
  column, ``!`` no ``RETURNING``, and no literal ``%`` psycopg would mangle.

Then the database must hold every JSON document to its struct's ``Literal``
values (:mod:`defi_sql.contract`).

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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import msgspec
import psycopg

from defi_sql._aiosql import internal_queries
from defi_sql.catalog import Fingerprint, fingerprint
from defi_sql.config import mask_conninfo
from defi_sql.connection import connect
from defi_sql.contract import check_documents
from defi_sql.describe import Description, describe, to_numbered
from defi_sql.dump import scratch_database
from defi_sql.errors import ConfigError, DefiSqlError
from defi_sql.migrations import Migrator
from defi_sql.plan import Plan
from defi_sql.shapes import SCALARS, ResultColumn, compare_scalar, compare_struct
from defi_sql.statements import Statement, load_statements
from defi_sql.structs import check_choices

__all__ = ["Problem", "Report", "run_check"]

Severity = Literal["error", "warning"]
_LITERAL_PERCENT = re.compile(r"%(?!\(\w+\)s|%)")
_ONE_ROW = {"SELECT_ONE": "^", "SELECT_VALUE": "$"}
_NO_ROWS = {"INSERT_UPDATE_DELETE": "!", "INSERT_UPDATE_DELETE_MANY": "*!"}


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

    def add(self, where: str, severity: Severity, check: str, message: str) -> None:
        self.problems.append(Problem(where, severity, check, message))


def _display(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _where(stmt: Statement, line: int | None = None) -> str:
    return f"{_display(stmt.path)}:{line or stmt.line}"


def _first_line(exc: psycopg.Error) -> str:
    return exc.diag.message_primary or str(exc).strip().splitlines()[0]


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

    def _get(self, key: tuple[Any, ...], fetch: Any) -> Any:
        if key not in self._cache:
            self._cache[key] = fetch()
        return self._cache[key]

    def not_null(self, schema: str, table: str, column: str) -> bool | None:
        q = self._queries
        return self._get(  # type: ignore[no-any-return]
            ("nn", schema, table, column),
            lambda: q.column_not_null(
                self.conn, schema_name=schema, table_name=table, column_name=column
            ),
        )

    def unique_keys(self, schema: str, table: str) -> list[frozenset[str]]:
        q = self._queries
        return self._get(  # type: ignore[no-any-return]
            ("uk", schema, table),
            lambda: [
                frozenset(cols)
                for (cols,) in q.unique_keys(self.conn, schema_name=schema, table_name=table)
            ],
        )

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


# -- the checks ----------------------------------------------------------------


def _plan(conn: psycopg.Connection[Any], stmt: Statement, catalog: _Catalog) -> Plan | None:
    numbered, _names = to_numbered(stmt.sql)
    try:
        with conn.transaction():
            row = conn.execute(
                "EXPLAIN (GENERIC_PLAN, VERBOSE, FORMAT JSON) " + numbered
            ).fetchone()
    except psycopg.Error:
        return None
    assert row is not None
    return Plan(row[0], catalog.not_null, catalog.unique_keys)


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
        json_kind = None
        never_null = column.name in stmt.not_null or (plan is not None and plan.never_null(index))
        if column.table_oid:
            not_null, choices, json_kind = catalog.column(column.table_oid, column.table_column)
            outer = plan is None or plan.has_outer_join
            never_null = never_null or (not_null and not outer)
        columns.append(
            ResultColumn(column.name, type_name, element, never_null, choices, json_kind)
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
        report.add(
            where,
            "error",
            "operator",
            f"{stmt.name}: a literal % is read by psycopg as a placeholder; write %% or use "
            "strpos()/starts_with()/mod() instead.",
        )
        return True
    try:
        description = _prepare(conn, stmt)
    except psycopg.Error as exc:
        report.add(
            _where(stmt, _error_line(stmt, exc)),
            "error",
            "prepare",
            f"{stmt.name}: {_first_line(exc)}",
        )
        return False
    if len(description.parameters) != len(stmt.parameters):
        report.add(
            where,
            "error",
            "prepare",
            f"{stmt.name}: declares {len(stmt.parameters)} parameters but the SQL uses "
            f"{len(description.parameters)}; make the name line list exactly the :names used.",
        )
    plan = _plan(conn, stmt, catalog)
    width = len(description.columns)
    op = _ONE_ROW.get(stmt.operation)
    if op and (plan is None or not plan.at_most_one_row(stmt.sql)):
        report.add(
            where,
            "error",
            "operator",
            f"{stmt.name}: `{op}` keeps one row but the query can return many; filter on a "
            "unique key, add LIMIT 1, or drop the operator to get every row.",
        )
    if stmt.operation == "SELECT_VALUE" and width != 1:
        report.add(
            where,
            "error",
            "operator",
            f"{stmt.name}: `$` returns one value but the query returns {width} columns; "
            "select one column or use `^`.",
        )
    if stmt.operation in _NO_ROWS and width:
        report.add(
            where,
            "error",
            "operator",
            f"{stmt.name}: `{_NO_ROWS[stmt.operation]}` throws away what RETURNING "
            "returns; use `^` for one row or no operator for every row.",
        )
    if not width or stmt.operation in _NO_ROWS:
        return True
    target = stmt.returns
    if target is None:
        report.add(
            where,
            "error",
            "shape",
            f"{stmt.name}: returns rows but declares no struct; add `-- returns: Struct` "
            "to its doc lines.",
        )
        return True
    columns = _columns(stmt, description, plan, catalog)
    if stmt.operation == "SELECT_VALUE" and target in SCALARS:
        problems = compare_scalar(target, columns[0]) if width == 1 else []
    else:
        cls = getattr(models, target, None)
        if not (isinstance(cls, type) and issubclass(cls, msgspec.Struct)):
            report.add(
                where,
                "error",
                "shape",
                f"{stmt.name}: declares `returns: {target}` but {models.__name__} has no "
                f"struct {target}; name a msgspec struct of that module.",
            )
            return True
        problems = compare_struct(cls, columns)
    for problem in problems:
        report.add(where, "error", "shape", f"{stmt.name} -> {target}: {problem}")
    return True


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


def _forwards(directory: Path) -> list[Path]:
    return sorted(p for p in directory.glob("*.sql") if not p.name.endswith(".rollback.sql"))


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
        report.add(_display(sql_dir / "queries"), "error", "queries", str(exc))
        return report
    report.queries = len(statements)
    forwards = _forwards(sql_dir / "migrations")
    report.migrations = len(forwards)
    levels: dict[str, Fingerprint] = {}
    one_back: list[tuple[str, Problem]] = []
    with scratch_database(admin_conninfo) as url, _chain() as chain:
        with connect(url, autocommit=True) as conn:
            before: Fingerprint = ()
            for index, forward in enumerate(forwards):
                rollback = forward.with_suffix(".rollback.sql")
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
            checked = len(report.problems)
            broken = {
                stmt.name
                for stmt in _in_file_order(statements)
                if stmt.operation != "SCRIPT"
                and not _check_query(report, conn, stmt, module, catalog)
            }
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
    rollback = forward.with_suffix(".rollback.sql")
    try:
        with Migrator(url, directory=chain) as migrator:
            migrator.migrate()
            applied = fingerprint(conn)
            if not rollback.is_file():
                report.add(
                    f"{_display(forward)}:1",
                    "error",
                    "round-trip",
                    f"{forward.name} has no rollback {rollback.name}; write one.",
                )
                return True
            migrator.rollback(steps=1)
            changes = _changes(before, fingerprint(conn))
            for change in changes:
                report.add(
                    f"{_display(rollback)}:1",
                    "error",
                    "round-trip",
                    f"after rolling back {forward.stem}, {change}",
                )
            if changes:
                migrator.drop_everything()
                migrator.migrate()
                return True
            migrator.migrate()
            for change in _changes(applied, fingerprint(conn)):
                report.add(
                    f"{_display(forward)}:1",
                    "error",
                    "round-trip",
                    f"applied again after its rollback, {change}",
                )
    except DefiSqlError as exc:
        message = str(exc).replace(str(chain), _display(forward.parent))
        report.add(f"{_display(forward)}:1", "error", "migrate", message)
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
            report.add(
                f"{_display(sql_dir / 'queries' / stmt.path.name)}:{stmt.line}",
                "warning",
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
        report.add(
            where,
            "error",
            "drift",
            f"the database has migrations this tree lacks: {', '.join(unknown)}",
        )
    level = known[-1] if known else None
    pending = ids[ids.index(level) + 1 :] if level else ids
    if pending:
        report.add(
            where,
            "warning",
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
        report.add(where, "error", "drift", f"compared with the migrations, {change}")
