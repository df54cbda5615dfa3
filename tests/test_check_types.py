"""`defi-sql check` is sound or loud about types, roles and scripts (issue 18:
false negatives 7-11, 13, 15 and 20, false positive 12, and the roles a query
runs as): each query of tests/fixtures/check/soundness_types gets exactly its
report, the same on every PostgreSQL version, and each bad case really goes
wrong on a real database."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql

from defi_sql.check import run_check
from defi_sql.check.outputs import json_kind, text_values
from defi_sql.migrate import Migrator
from defi_sql.paths import sql_root
from defi_sql.rows import use_raw_json

from .conftest import FIXTURES, REPO, Server

TREE = FIXTURES / "check" / "soundness_types"
MODELS = "tests.fixtures.check.soundness_types.models"
Q = "tests/fixtures/check/soundness_types/queries/"
REPORT = [
    f"{Q}json.sql:3: error: [shape] aggregate_into_dict -> GadgetLabels: column labels is "
    "jsonb but GadgetLabels.labels is dict[str, Any]; its expression makes it a JSON "
    "array, use a list.",
    f"{Q}json.sql:8: error: [shape] object_into_list -> GadgetDoc: column doc is jsonb but "
    "GadgetDoc.doc is list[Any]; its expression makes it a JSON object, use a struct or "
    "dict.",
    f"{Q}json.sql:18: error: [shape] documents_array -> TaggedGadget: column tags is "
    "jsonb[] but TaggedGadget.tags is list[dict[str, Any]]; the elements of a jsonb[] "
    "arrive as JSON text, not decoded: select to_jsonb(tags) (one JSON array) into a "
    "list, or make it list[str].",
    f"{Q}roles.sql:9: error: [role] app_reads_secrets: gadget_app may not run it: "
    "permission denied for table gadget_secrets; grant it in a migration, or declare the "
    "role that runs it (`-- role: name` in its doc lines).",
    f"{Q}roles.sql:20: error: [role] both_read_secrets: gadget_app may not run it: "
    "permission denied for table gadget_secrets; grant it in a migration, or declare the "
    "role that runs it (`-- role: name` in its doc lines).",
    f"{Q}roles.sql:26: error: [role] unknown_role: cannot run it as gadget_nobody: role "
    '"gadget_nobody" does not exist; declare a role the migrations create (`-- role: '
    "name`), or `owner`.",
    f"{Q}roles.sql:36: error: [role] app_writes_secrets: gadget_app may not run it: "
    "permission denied for table gadget_secrets; grant it in a migration, or declare the "
    "role that runs it (`-- role: name` in its doc lines).",
    f'{Q}scripts.sql:13: error: [prepare] seed_gadgets: column "colour" of relation '
    '"gadgets" does not exist',
    f'{Q}scripts.sql:18: error: [prepare] copy_gadgets: column "sise" of relation '
    '"gadgets" does not exist',
    f"{Q}types.sql:3: error: [shape] naive_into_aware -> AwareGadget: column made_at is "
    "timestamp but AwareGadget.made_at is Annotated[datetime, Meta(tz=True)]; a timestamp "
    "without time zone arrives naive (no tzinfo): make the column timestamptz, or the "
    "field Annotated[datetime, Meta(tz=False)] if naive is meant.",
    f"{Q}types.sql:8: error: [shape] naive_into_datetime -> PlainGadget: column made_at is "
    "timestamp but PlainGadget.made_at is datetime; a timestamp without time zone arrives "
    "naive (no tzinfo): make the column timestamptz, or the field Annotated[datetime, "
    "Meta(tz=False)] if naive is meant.",
    f"{Q}types.sql:13: error: [shape] aware_into_naive -> NaiveSeenGadget: column seen_at "
    "is timestamptz but NaiveSeenGadget.seen_at is Annotated[datetime, Meta(tz=False)]; a "
    "timestamptz arrives aware: make the field datetime, or select the column AT TIME "
    "ZONE 'UTC' if naive is meant.",
    f"{Q}types.sql:23: error: [shape] free_text_into_literal -> LabelledGadget: column "
    "label is text but LabelledGadget.label is Literal['a', 'b']; nothing holds the "
    "column to the Literal's values (no CHECK, enum or domain, or a computed value check "
    "cannot read): add a CHECK (col IN (...)) in a migration, or make the field str.",
    f"{Q}types.sql:28: error: [shape] case_outside_literal -> SizedGadget: column size is "
    "text but SizedGadget.size is Literal['big', 'small'] | None; its expression can "
    "produce 'huge', add them to the Literal.",
    f"{Q}types.sql:33: error: [shape] case_with_free_branch -> SizedGadget: column size is "
    "text but SizedGadget.size is Literal['big', 'small'] | None; nothing holds the "
    "column to the Literal's values (no CHECK, enum or domain, or a computed value check "
    "cannot read): add a CHECK (col IN (...)) in a migration, or make the field str.",
    f"{Q}types.sql:43: error: [shape] enum_narrower_literal -> TwoShadeGadget: column "
    "shade is shade but TwoShadeGadget.shade is Literal['green', 'red']; its enum type "
    "shade also allows 'blue', add them to the Literal.",
    f"{Q}types.sql:48: error: [shape] enum_wider_literal -> FourShadeGadget: column shade "
    "is shade but FourShadeGadget.shade is Literal['blue', 'green', 'pink', 'red']; its "
    "enum type shade has no 'pink', drop them from the Literal (or add them to the type "
    "in a migration).",
    f"{Q}types.sql:58: error: [shape] domain_narrower_literal -> SmallGadget: column size "
    "is text but SmallGadget.size is Literal['small']; its domain size_word also allows "
    "'large', add them to the Literal.",
    f"{Q}types.sql:63: error: [shape] domain_of_domain_wider_literal -> PetGadget: column "
    "pet is text but PetGadget.pet is Literal['large', 'medium', 'small']; its domain "
    "pet_size (a size_word) has no 'medium', drop them from the Literal (or add them to "
    "the type in a migration).",
    f"{Q}types.sql:73: error: [shape] unknown_types -> ExoticGadget: column span is "
    "int4range but ExoticGadget.span is str | None; check does not know the type "
    "int4range, so it cannot tell whether the field takes it: cast the column to a type "
    "it knows (span::text).",
    f"{Q}types.sql:73: error: [shape] unknown_types -> ExoticGadget: column addr is inet "
    "but ExoticGadget.addr is str | None; check does not know the type inet, so it cannot "
    "tell whether the field takes it: cast the column to a type it knows (addr::text).",
    f"{Q}types.sql:73: error: [shape] unknown_types -> ExoticGadget: column pair is record "
    "but ExoticGadget.pair is str | None; check does not know the type record, so it "
    "cannot tell whether the field takes it: cast the column to a type it knows "
    "(pair::text).",
    f"{Q}types.sql:73: error: [shape] unknown_types -> ExoticGadget: column addrs is "
    "inet[] but ExoticGadget.addrs is list[str] | None; check does not know the type "
    "inet[], so it cannot tell whether the field takes it: cast the column to a type it "
    "knows (addrs::text).",
]


@pytest.fixture(autouse=True)
def _at_repo(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)  # reports name files relative to the working directory


def test_every_case_is_reported_exactly(server: Server) -> None:
    report = run_check(server.admin, sql_dir=TREE, models=MODELS)
    assert [str(p) for p in report.problems] == REPORT


# -- what a computed column can hold, read from the plan's text ------------------

TEXT_VALUES = [
    ("'sent'::text", ("sent",)),
    ("NULL::text", ()),
    ("CASE WHEN (id > 10) THEN 'big'::text ELSE 'huge'::text END", ("big", "huge")),
    ("CASE g.kind WHEN 'a'::text THEN 'b'::text END", ("b",)),
    ("CASE WHEN (x = 'END'::text) THEN 'p''q'::text ELSE NULL::text END", ("p'q",)),
    ("CASE WHEN a THEN CASE WHEN b THEN 'x'::text END ELSE 'y'::text END", ("x", "y")),
    ("COALESCE(NULL::text, 'z'::text)", ("z",)),
    ("('a'::character varying)::text", ("a",)),
]
TEXT_VALUES_UNKNOWN = [
    "label",
    "CASE WHEN (id > 10) THEN 'big'::text ELSE label END",
    "COALESCE(label, 'z'::text)",
    "lower('A'::text)",
    "('a'::text || 'b'::text)",
]


@pytest.mark.parametrize(("expr", "values"), TEXT_VALUES, ids=[e for e, _v in TEXT_VALUES])
def test_text_values(expr: str, values: tuple[str, ...]) -> None:
    assert text_values(expr) == values


@pytest.mark.parametrize("expr", TEXT_VALUES_UNKNOWN)
def test_text_values_unknown(expr: str) -> None:
    assert text_values(expr) is None


JSON_KINDS = [
    ("jsonb_agg(g.label)", "array"),
    ("jsonb_agg(x) FILTER (WHERE (x IS NOT NULL))", "array"),
    ("COALESCE(jsonb_agg(g.label ORDER BY g.id), '[]'::jsonb)", "array"),
    ("jsonb_build_object('label', g.label)", "object"),
    ("json_object_agg(k, v)", "object"),
    ("'{\"a\": 1}'::jsonb", "object"),
    ("CASE WHEN x THEN '[]'::jsonb END", "array"),
]
JSON_KINDS_UNKNOWN = [
    "g.doc",
    "(jsonb_agg(x) -> 0)",
    "COALESCE(jsonb_agg(x), '{}'::jsonb)",
    "to_jsonb(g.label)",
]


@pytest.mark.parametrize(("expr", "kind"), JSON_KINDS, ids=[e for e, _k in JSON_KINDS])
def test_json_kind(expr: str, kind: str) -> None:
    assert json_kind(expr) == kind


@pytest.mark.parametrize("expr", JSON_KINDS_UNKNOWN)
def test_json_kind_unknown(expr: str) -> None:
    assert json_kind(expr) is None


# -- the bad cases, on a real database -------------------------------------------


@pytest.fixture
def gadgets(empty_db_url: str) -> Iterator[psycopg.Connection[Any]]:
    """The fixture tree migrated, one gadget stored the way any writer may store it."""
    with Migrator(empty_db_url, directory=TREE / "migrations") as migrator:
        migrator.migrate()
    with psycopg.connect(empty_db_url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO gadgets (label, made_at, seen_at, shade, size, pet, tags) "
            "VALUES ('zzz', now(), now(), 'blue', 'large', 'large', ARRAY['{\"a\": 1}'::jsonb])"
        )
        yield conn


def _one(conn: psycopg.Connection[Any], query: str) -> Any:
    row = conn.execute(query).fetchone()
    assert row is not None
    return row[0]


def test_the_bad_cases_go_wrong_on_a_real_database(gadgets: psycopg.Connection[Any]) -> None:
    conn = gadgets
    assert _one(conn, "SELECT made_at FROM gadgets").tzinfo is None  # 7: naive
    assert _one(conn, "SELECT seen_at FROM gadgets").tzinfo is not None  # 7: aware
    assert _one(conn, "SELECT label FROM gadgets") == "zzz"  # 8: outside any Literal
    huge = "SELECT CASE WHEN id > 10 THEN 'big' ELSE 'huge' END FROM gadgets"
    assert _one(conn, huge) == "huge"  # 9
    assert _one(conn, "SELECT shade FROM gadgets") == "blue"  # 10
    assert _one(conn, "SELECT size FROM gadgets") == "large"  # 11
    assert _one(conn, "SELECT pet FROM gadgets") == "large"  # 11, through two domains
    with pytest.raises(psycopg.errors.CheckViolation):
        conn.execute(
            "INSERT INTO gadgets (label, made_at, seen_at, shade, size, pet) "
            "VALUES ('x', now(), now(), 'red', 'small', 'medium')"
        )
    assert _one(conn, "SELECT coalesce(jsonb_agg(label), '[]') FROM gadgets") == ["zzz"]  # 13
    assert _one(conn, "SELECT jsonb_build_object('label', label) FROM gadgets") == {"label": "zzz"}
    with conn.cursor() as cur:  # 15: what the row maker's cursors see
        use_raw_json(cur.adapters)
        tags = cur.execute("SELECT tags FROM gadgets").fetchone()
    assert tags is not None and tags[0] == ['{"a": 1}']
    with pytest.raises(psycopg.errors.UndefinedColumn):  # 20
        conn.execute(
            "INSERT INTO gadgets (label, made_at, seen_at, shade, size, pet, colour) "
            "VALUES ('b', now(), now(), 'red', 'small', 'small', 'x')"
        )
    assert conn.execute("SELECT pg_notify('gadgets', 'x')").fetchone() == ("",)  # 12: void


def test_a_role_may_not_run_what_check_reports(gadgets: psycopg.Connection[Any]) -> None:
    conn = gadgets
    with pytest.raises(psycopg.errors.InsufficientPrivilege), conn.transaction():
        conn.execute(sql.SQL("SET LOCAL ROLE {}").format(sql.Identifier("gadget_app")))
        conn.execute("SELECT gadget_id, secret FROM gadget_secrets")
    with conn.transaction(force_rollback=True):
        conn.execute(sql.SQL("SET LOCAL ROLE {}").format(sql.Identifier("gadget_worker")))
        assert conn.execute("SELECT gadget_id, secret FROM gadget_secrets").fetchall() == []


def test_the_real_tree_names_a_query_its_role_may_not_run(server: Server, tmp_path: Path) -> None:
    """Declared for defi_app, the subscriptions' queries are refused: only defi_worker
    (and the owner) may touch event_subscriptions (migration 0031)."""
    tree = tmp_path / "sql"
    shutil.copytree(sql_root(), tree)
    queries = tree / "queries" / "subscriptions.sql"
    queries.write_text(
        queries.read_text().replace("-- role: defi_worker\n", "-- role: defi_app\n", 1)
    )
    report = run_check(server.admin, sql_dir=tree)
    refused = [p for p in report.problems if p.check == "role"]
    assert [p.message.split(":")[0] for p in refused] == [
        "subscriptions_create",
        "subscriptions_get",
        "subscriptions_lock",
        "subscriptions_list_all",
        "subscriptions_advance",
        "subscriptions_reset",
        "subscriptions_delete",
    ]
    assert all(
        p.message.split(": ", 1)[1].startswith(
            "defi_app may not run it: permission denied for table event_subscriptions; "
        )
        for p in refused
    )
    assert [p for p in report.problems if p.check != "role"] == []
