"""``sql/schema.sql``: the whole migrated schema in one reviewable, deterministic file.

dbmate's habit: after the migrations change, ``make schema`` migrates a scratch
database on the embedded PostgreSQL 18, dumps its schema with that version's
``pg_dump`` (always the same one, so the output does not depend on the
machine) and strips what varies between runs: version lines, session ``SET``s
and the random ``\\restrict`` key. A test fails while the committed file
differs from what the migrations produce.
"""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from defi_sql.connection import client_arguments, connect
from defi_sql.dev import embedded
from defi_sql.errors import DefiSqlError, first_line
from defi_sql.migrate import Migrator

__all__ = [
    "DUMP_VERSION",
    "dump_schema",
    "migrated_scratch_database",
    "normalise",
    "scratch_database",
]

#: The PostgreSQL (server and pg_dump) that sql/schema.sql is written with.
DUMP_VERSION = 18
_BOOKKEEPING = ("_yoyo_*", "yoyo_lock", "_defi_sql_*")
#: partitions are operational state (defi-sql maintain makes and retires them,
#: with bounds that depend on the date): the schema holds their parents only
_OPERATIONAL = ("partitions.*",)
_NOISE = ("\\restrict ", "\\unrestrict ", "-- Dumped from ", "-- Dumped by ", "SET ")


def normalise(text: str) -> str:
    """pg_dump output without what varies between runs and machines."""
    lines = [
        line
        for line in text.splitlines()
        if not line.startswith(_NOISE)
        and not line.startswith("SELECT pg_catalog.set_config('search_path'")
    ]
    out: list[str] = []
    for line in lines:
        if line == "" and out and out[-1] == "":
            continue
        out.append(line)
    return "\n".join(out).strip() + "\n"


def dump_schema(conninfo: str) -> str:
    """The normalised schema-only dump of the database (bookkeeping tables left out)."""
    client_conninfo, env = client_arguments(conninfo)
    pg_dump = embedded.psql_path(DUMP_VERSION).with_name("pg_dump")
    command = [str(pg_dump), "--schema-only", "--no-owner"]
    for pattern in (*_BOOKKEEPING, *_OPERATIONAL):
        command += ["--exclude-table", pattern]
    result = subprocess.run(
        [*command, client_conninfo],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    if result.returncode != 0:
        said = first_line(result.stderr, last=True, otherwise="no message")
        raise DefiSqlError(f"pg_dump failed (exit status {result.returncode}): {said}")
    return normalise(result.stdout)


@contextmanager
def scratch_database(admin_conninfo: str) -> Iterator[str]:
    """A new empty database on the server of ``admin_conninfo``, dropped afterwards."""
    name = f"defi_sql_scratch_{uuid.uuid4().hex[:10]}"
    with connect(admin_conninfo, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    params = conninfo_to_dict(admin_conninfo)
    params["dbname"] = name
    try:
        yield make_conninfo("", **params)
    finally:
        with connect(admin_conninfo, autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


@contextmanager
def migrated_scratch_database(admin_conninfo: str) -> Iterator[str]:
    """A fresh database migrated from sql/migrations, dropped afterwards."""
    with scratch_database(admin_conninfo) as url:
        with Migrator(url) as migrator:
            migrator.migrate()
        yield url
