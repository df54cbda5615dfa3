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

A query declared ``replica: ok`` must write nothing: no data-modifying
statement or CTE, no row lock, no call that writes (:mod:`defi_sql.check.replica`).
Every query is judged single- or multi-shard for the distribution of
docs/scale-out.md, into the report's shard section; an undeclared multi-shard
query is a warning (:mod:`defi_sql.check.shards`).

Then the database must hold every JSON document to its struct's ``Literal``
values (:mod:`defi_sql.check.contract`).

With ``database``, a live database is compared with what the migrations
produce at its level (drift). Every problem is reported, each with its file
and line; errors fail the check, warnings do not.
"""

from __future__ import annotations

import importlib
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from defi_sql.check.catalog import Fingerprint, fingerprint
from defi_sql.check.columns import Catalog
from defi_sql.check.compatibility import new_code_before, old_code_after, unknown_migrations
from defi_sql.check.contract import check_documents
from defi_sql.check.drift import drift
from defi_sql.check.queries import check_query, in_file_order
from defi_sql.check.replica import Functions, check_replica
from defi_sql.check.report import Problem, Report
from defi_sql.check.roles import check_script
from defi_sql.check.roundtrip import round_trip
from defi_sql.check.shards import ShardFacts, judge_shards
from defi_sql.connection import connect
from defi_sql.dev.dump import scratch_database
from defi_sql.errors import ConfigError, DefiSqlError
from defi_sql.migrate.files import forward_paths, rollback_path
from defi_sql.paths import display_path
from defi_sql.statements import load_statements

__all__ = ["Problem", "Report", "run_check"]


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
    """Check ``sql_dir`` (``migrations/``, ``queries/`` and ``seed/``) on a scratch
    database created through ``admin_conninfo``; with ``database``, also its drift."""
    report = Report()
    module = _load_models(models)
    try:
        statements = load_statements(sql_dir / "queries", sql_dir / "seed")
    except DefiSqlError as exc:
        report.error(display_path(sql_dir / "queries"), "queries", str(exc))
        return report
    report.queries = len(statements)
    forwards = forward_paths(sql_dir / "migrations")
    report.migrations = len(forwards)
    unknown_migrations(report, statements, forwards)
    levels: dict[str, Fingerprint] = {}
    one_back: list[tuple[str, Problem]] = []
    with scratch_database(admin_conninfo) as url, _chain() as chain:
        with connect(url, autocommit=True) as conn:
            before: Fingerprint = ()
            for index, forward in enumerate(forwards):
                rollback = rollback_path(forward)
                if index == len(forwards) - 1 and index > 0:
                    one_back = new_code_before(conn, statements, forward)
                shutil.copy(forward, chain)
                if rollback.is_file():
                    shutil.copy(rollback, chain)
                if not round_trip(report, url, chain, forward, before, conn):
                    return report
                before = fingerprint(conn)
                levels[forward.stem] = before
            catalog = Catalog(conn)
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
            functions, shard_facts = Functions(conn), ShardFacts(conn)
            for stmt in in_file_order(statements):
                if stmt.operation == "SCRIPT":
                    check_script(report, conn, stmt)
                    check_replica(report, functions, stmt, None)
                    continue
                found = check_query(report, conn, stmt, module, catalog)
                if not found.prepared:
                    broken.add(stmt.name)
                    continue
                if found.plan is not None:  # else the plan's error fails the check already
                    check_replica(report, functions, stmt, found.plan, found.parameters)
                    judge_shards(report, shard_facts, stmt, found.plan, found.parameters)
            report.problems[checked:checked] = [p for n, p in one_back if n not in broken]
            old_code_after(report, conn, sql_dir, forwards)
            check_documents(report, conn, module)
        if database is not None:
            drift(report, database, [f.stem for f in forwards], levels)
    return report
