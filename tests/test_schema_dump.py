"""sql/schema.sql is exactly what the migrations produce (`make schema` rewrites it)."""

from __future__ import annotations

import pytest

from defi_sql.dump import DUMP_VERSION, dump_schema, migrated_scratch_database, normalise

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
