"""sql/schema.sql and docs/schema.md are exactly what the migrations produce
(`make schema` rewrites both)."""

from __future__ import annotations

import psycopg
import pytest

from defi_sql.dev.docs import schema_markdown
from defi_sql.dev.dump import DUMP_VERSION, dump_schema, migrated_scratch_database, normalise

from .conftest import REPO, Server


@pytest.mark.parametrize("server", [f"pg{DUMP_VERSION}"], indirect=True)
def test_committed_schema_is_current(server: Server) -> None:
    with migrated_scratch_database(server.admin) as url:
        produced = dump_schema(url)
    committed = (REPO / "sql" / "schema.sql").read_text(encoding="utf-8")
    assert produced == committed, "sql/schema.sql is stale: run `make schema`"
    for noise in ("\\restrict", "Dumped from", "Dumped by", "SET statement_timeout"):
        assert noise not in committed
    assert "CREATE TABLE public.users (" in committed
    assert "_yoyo" not in committed and "_defi_sql_migration" not in committed


def test_normalise_drops_run_specific_lines() -> None:
    raw = (
        "--\n-- PostgreSQL database dump\n--\n\n\\restrict abc123\n\n"
        "-- Dumped from database version 18.4\n-- Dumped by pg_dump version 18.4\n\n"
        "SET lock_timeout = 0;\nSELECT pg_catalog.set_config('search_path', '', false);\n\n\n"
        "CREATE TABLE public.t (id integer);\n\n\\unrestrict abc123\n"
    )
    assert normalise(raw) == (
        "--\n-- PostgreSQL database dump\n--\n\nCREATE TABLE public.t (id integer);\n"
    )


@pytest.mark.parametrize("server", [f"pg{DUMP_VERSION}"], indirect=True)
def test_committed_docs_are_current(server: Server) -> None:
    with migrated_scratch_database(server.admin) as url, psycopg.connect(url) as conn:
        produced = schema_markdown(conn)
    committed = (REPO / "docs" / "schema.md").read_text(encoding="utf-8")
    assert produced == committed, "docs/schema.md is stale: run `make schema`"
    assert '    users ||--o{ positions : "user_id"' in committed  # the ER diagram
    assert '    signals |o--o{ alerts : "signal_id"' in committed  # optional parent
    for table in ("users", "positions", "signals", "alerts", "intents", "event_store"):
        assert f"\n## {table}\n" in committed
