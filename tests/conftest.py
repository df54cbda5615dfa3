"""Real PostgreSQL for every test, never a mock.

By default each session starts embedded servers (PostgreSQL 16 and 18, from
``DEFI_SQL_TEST_PG_VERSIONS``) in a temporary folder; with
``TEST_DATABASE_URL`` it uses that server instead. On each server a template
database is migrated once by our own migration code, and every test that asks
for ``db_url`` gets a fresh clone of it (pytest-postgresql's janitor), dropped
afterwards. ``empty_db_url`` is a fresh database with no migrations.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from pytest_postgresql.janitor import DatabaseJanitor

from defi_sql.dev import embedded, replicas
from defi_sql.migrate import Migrator
from defi_sql.paths import migrations_dir

REPO = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"
TEMPLATE = "defi_sql_template"


@dataclass(frozen=True)
class Server:
    """A running server and a conninfo for its maintenance database; an embedded one
    also has its ``version`` and the ``root`` folder of its data (replicas go there too)."""

    name: str
    admin: str
    version: int | None = None
    root: Path | None = None

    def url(self, dbname: str) -> str:
        params = conninfo_to_dict(self.admin)
        params["dbname"] = dbname
        return make_conninfo("", **params)

    def janitor(self, dbname: str, template: str | None = None) -> DatabaseJanitor:
        params = conninfo_to_dict(self.admin)
        return DatabaseJanitor(
            user=str(params.get("user") or "postgres"),
            host=str(params.get("host") or "localhost"),
            port=str(params.get("port") or 5432),
            password=params.get("password"),
            dbname=dbname,
            template_dbname=template,
            maintenance_dbname=str(params.get("dbname") or "postgres"),
        )


def _server_params() -> list[str]:
    if os.environ.get("TEST_DATABASE_URL"):
        return ["external"]
    raw = os.environ.get("DEFI_SQL_TEST_PG_VERSIONS", "16,18")
    return [f"pg{v.strip()}" for v in raw.split(",") if v.strip()]


@pytest.fixture(scope="session", params=_server_params())
def server(request: pytest.FixtureRequest) -> Iterator[Server]:
    name: str = request.param
    if name == "external":
        yield Server(name, os.environ["TEST_DATABASE_URL"])
        return
    version = int(name.removeprefix("pg"))
    # not under pytest's basetemp, which a concurrent pytest run may rotate away
    root = Path(tempfile.mkdtemp(prefix=f"defi-sql-test-{name}-"))
    admin = embedded.start(version, database="postgres", root=root)
    yield Server(name, admin, version, root)
    replicas.stop(version=version, root=root)  # any a test left running
    embedded.stop(version, root=root)
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def template(server: Server) -> Iterator[str]:
    """A database migrated once per server by our own code; tests clone it."""
    janitor = server.janitor(f"{TEMPLATE}_{uuid.uuid4().hex[:8]}")
    janitor.init()
    with Migrator(server.url(janitor.dbname)) as migrator:
        migrator.migrate()
    yield janitor.dbname
    janitor.drop()


def _copy_settings(server: Server, template: str, clone: str) -> None:
    """The template's database settings (0053's) on its clone: CREATE DATABASE
    ... TEMPLATE copies none, and a migrated database has them."""
    with psycopg.connect(server.admin, autocommit=True) as conn:
        settings = conn.execute(
            "SELECT unnest(s.setconfig) FROM pg_db_role_setting AS s "
            "JOIN pg_database AS d ON d.oid = s.setdatabase "
            "WHERE d.datname = %s AND s.setrole = 0",
            (template,),
        ).fetchall()
        for (setting,) in settings:
            name, _, value = setting.partition("=")
            conn.execute(
                sql.SQL("ALTER DATABASE {} SET {} = {}").format(
                    sql.Identifier(clone), sql.Identifier(name), sql.Literal(value)
                )
            )


def _fresh_database(server: Server, template: str | None) -> Iterator[str]:
    janitor = server.janitor(f"test_{uuid.uuid4().hex[:12]}", template)
    janitor.init()
    if template is not None:
        _copy_settings(server, template, janitor.dbname)
    try:
        yield server.url(janitor.dbname)
    finally:
        janitor.drop()


@pytest.fixture
def db_url(server: Server, template: str) -> Iterator[str]:
    """A fresh clone of the migrated template."""
    yield from _fresh_database(server, template)


@pytest.fixture(scope="module")
def shared_db(server: Server, template: str) -> Iterator[psycopg.Connection[Any]]:
    """One migrated clone for a whole module of tests that change nothing."""
    for url in _fresh_database(server, template):
        with psycopg.connect(url, autocommit=True) as conn:
            yield conn


@pytest.fixture
def empty_db_url(server: Server) -> Iterator[str]:
    """A fresh database without any migration."""
    yield from _fresh_database(server, None)


@pytest.fixture
def db(db_url: str) -> Iterator[psycopg.Connection[Any]]:
    """An autocommit connection to a fresh migrated database."""
    with psycopg.connect(db_url, autocommit=True) as conn:
        yield conn


@pytest.fixture
def migrations_copy(tmp_path: Path) -> Path:
    """A writable copy of the real sql/migrations."""
    target = tmp_path / "migrations"
    shutil.copytree(migrations_dir(), target)
    return target


def cli(
    *args: str, env: dict[str, str] | None = None, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    """The CLI in a child process, the way a person runs it: no database settings
    inherited from this process, only those in ``env``."""
    child_env = {k: v for k, v in os.environ.items() if not k.startswith(("DB_", "DATABASE_URL"))}
    child_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "defi_sql", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=child_env,
        cwd=REPO,
        timeout=120,
        check=False,
    )


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No database settings from the environment or a .env; cwd is an empty folder."""
    for name in (
        "DATABASE_URL",
        "DB_HOST",
        "DB_PORT",
        "DB_USER",
        "DB_PASSWORD",
        "DB_DATABASE",
        "DEFI_SQL_ENV",
    ):
        monkeypatch.delenv(name, raising=False)
    workdir = tmp_path / "work"
    workdir.mkdir()
    monkeypatch.chdir(workdir)
    return workdir


class Api:
    """One query API (sync or async) bound to a connection, called synchronously.

    ``api.users.create(wallet_address=...)`` runs ``defi_sql.sync.users.create(conn, ...)``
    or ``defi_sql.aio.users.create(aconn, ...)`` to completion, so one test body
    proves both APIs.
    """

    def __init__(self, kind: str, package: Any, conn: Any, run: Any) -> None:
        self.kind = kind
        self.conn = conn
        self._package = package
        self._run = run

    def __getattr__(self, module: str) -> Any:
        functions = getattr(self._package, module)
        run, conn = self._run, self.conn

        class Bound:
            def __getattr__(self, name: str) -> Any:
                function = getattr(functions, name)
                return lambda *args, **kwargs: run(function(conn, *args, **kwargs))

        return Bound()


@pytest.fixture(params=["sync", "async"])
def api(request: pytest.FixtureRequest, db_url: str) -> Iterator[Api]:
    """The sync and the async API in turn, on an autocommit connection to ``db_url``."""
    from defi_sql import aio, sync

    if request.param == "sync":
        with psycopg.connect(db_url, autocommit=True) as conn:
            yield Api("sync", sync, conn, lambda result: result)
        return
    with asyncio.Runner() as runner:
        aconn = runner.run(psycopg.AsyncConnection.connect(db_url, autocommit=True))
        try:
            yield Api("async", aio, aconn, runner.run)
        finally:
            runner.run(aconn.close())
