"""The row maker never builds a struct that lies about its types.

msgspec checks types when it decodes, not when a struct is constructed, and
psycopg hands the row maker whatever the query returned. So a NULL for a field
typed ``str``, a text outside a ``Literal`` and a naive ``timestamp`` for an
aware ``datetime`` would all be built into a struct without a word, the way
SQLx would refuse them at decode with ``UnexpectedNull`` or a type mismatch.
The maker checks them instead, and says which query, row and column, and how
to fix it; batch reads set such a row aside like any other unreadable row.

Each case is a real query on a real server: ad-hoc structs read raw SQL through
:func:`~defi_sql.rows.struct_row`, and the project's own reads meet rows
written around (or before) the rules that keep them readable.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, Literal
from uuid import UUID

import msgspec
import psycopg
import pytest

from defi_sql import statements
from defi_sql.aio import _execute as aio_execute
from defi_sql.errors import UnreadableRow
from defi_sql.rows import Batch, struct_row, use_raw_json
from defi_sql.statements import load_statements
from defi_sql.sync import _execute as sync_execute

from .conftest import Api
from .helpers import wallet


class Reading(msgspec.Struct, kw_only=True, frozen=True):
    """A row with one field of each kind the maker checks."""

    id: int
    label: str
    note: str | None
    level: Literal["low", "high"]
    maybe_level: Literal["low", "high"] | None
    at: datetime
    naive_at: Annotated[datetime, msgspec.Meta(tz=False)]
    maybe_at: datetime | None
    tags: list[str]
    loose_tags: list[str | None]
    levels: list[Literal["low", "high"]] | None
    doc: dict[str, object]
    maybe_doc: dict[str, object] | None
    anything: Any


#: A row that fits: every column, by name, as the SELECT list writes it.
FITS = {
    "id": "7",
    "label": "'x'",
    "note": "NULL::text",
    "level": "'low'",
    "maybe_level": "NULL::text",
    "at": "timestamptz '2026-01-02 03:04:05+00'",
    "naive_at": "timestamp '2026-01-02 03:04:05'",
    "maybe_at": "NULL::timestamptz",
    "tags": "ARRAY['a']",
    "loose_tags": "ARRAY['a', NULL]",
    "levels": "NULL::text[]",
    "doc": "'{}'::jsonb",
    "maybe_doc": "NULL::jsonb",
    "anything": "NULL::text",
}


def select(**changed: str) -> str:
    columns = {**FITS, **changed}
    return "SELECT " + ", ".join(f"{sql} AS {name}" for name, sql in columns.items())


def read(db: psycopg.Connection[Any], sql: str, *, lenient: bool = False) -> list[Any]:
    with db.cursor(row_factory=struct_row(Reading, lenient=lenient, query="readings")) as cur:
        use_raw_json(cur.adapters)
        cur.execute(sql.encode())
        return cur.fetchall()


FITTING = [
    ("as-written", {}, ("label", "x")),
    ("optional-null", {"note": "NULL"}, ("note", None)),
    ("optional-literal-null", {"maybe_level": "NULL"}, ("maybe_level", None)),
    ("optional-literal", {"maybe_level": "'high'"}, ("maybe_level", "high")),
    ("optional-timestamp-null", {"maybe_at": "NULL"}, ("maybe_at", None)),
    ("aware-timestamp", {"maybe_at": "timestamptz '2026-01-02 03:04:05+00'"},
     ("maybe_at", datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC))),
    ("naive-for-tz-false", {}, ("naive_at", datetime(2026, 1, 2, 3, 4, 5))),
    ("empty-list", {"tags": "ARRAY[]::text[]"}, ("tags", [])),
    ("null-in-optional-items", {}, ("loose_tags", ["a", None])),
    ("literal-items", {"levels": "ARRAY['low', 'high']"}, ("levels", ["low", "high"])),
    ("json-null-optional", {"maybe_doc": "NULL"}, ("maybe_doc", None)),
    ("any-null", {"anything": "NULL"}, ("anything", None)),
]  # fmt: skip

ROW = "Reading row 7 cannot be read into Reading (query readings)"
NOT_FITTING = [
    ("null", {"label": "NULL::text"}, "label",
     f"{ROW}: column label is NULL but the field is `str`; declare it `str | None`, or make "
     "the query return a value there (a NOT NULL column, an inner join, coalesce())."),
    ("null-literal", {"level": "NULL::text"}, "level",
     f"{ROW}: column level is NULL but the field is `Literal['low', 'high']`; declare it "
     "`Literal['low', 'high'] | None`, or make the query return a value there (a NOT NULL "
     "column, an inner join, coalesce())."),
    ("null-timestamp", {"at": "NULL::timestamptz"}, "at",
     f"{ROW}: column at is NULL but the field is `datetime`; declare it `datetime | None`, "
     "or make the query return a value there (a NOT NULL column, an inner join, coalesce())."),
    ("null-json", {"doc": "NULL::jsonb"}, "doc",
     f"{ROW}: column doc is NULL but the field is `dict[str, object]`; declare it "
     "`dict[str, object] | None`, or make the query return a value there (a NOT NULL "
     "column, an inner join, coalesce())."),
    ("outside-literal", {"level": "'urgent'"}, "level",
     f"{ROW}: column level is 'urgent', not one of the field's 'low', 'high'; add it to the "
     "field's Literal, or keep the query from returning it (a CHECK on the column, a CASE "
     "in the query)."),
    ("outside-optional-literal", {"maybe_level": "'High'"}, "maybe_level",
     f"{ROW}: column maybe_level is 'High', not one of the field's 'low', 'high'; add it to "
     "the field's Literal, or keep the query from returning it (a CHECK on the column, a "
     "CASE in the query)."),
    ("array-for-literal", {"level": "ARRAY['low']"}, "level",
     f"{ROW}: column level is ['low'], not one of the field's 'low', 'high'; add it to the "
     "field's Literal, or keep the query from returning it (a CHECK on the column, a CASE "
     "in the query)."),
    ("naive-for-aware", {"at": "timestamp '2026-01-02 03:04:05'"}, "at",
     f"{ROW}: column at is a timestamp without time zone (2026-01-02 03:04:05) but the "
     "field wants an aware datetime; select it as timestamptz (e.g. at AT TIME ZONE 'UTC'), "
     "or declare the field Annotated[datetime, Meta(tz=False)]."),
    ("naive-for-optional-aware", {"maybe_at": "timestamp '2026-01-02 03:04:05'"}, "maybe_at",
     f"{ROW}: column maybe_at is a timestamp without time zone (2026-01-02 03:04:05) but the "
     "field wants an aware datetime; select it as timestamptz (e.g. maybe_at AT TIME ZONE "
     "'UTC'), or declare the field Annotated[datetime, Meta(tz=False)]."),
    ("aware-for-naive", {"naive_at": "timestamptz '2026-01-02 03:04:05+00'"}, "naive_at",
     f"{ROW}: column naive_at is a timestamp with time zone (2026-01-02 03:04:05+00:00) but "
     "the field wants a naive datetime (Meta(tz=False)); cast it to timestamp, or drop "
     "tz=False from the field."),
    ("null-item", {"tags": "ARRAY['a', NULL]"}, "tags",
     f"{ROW}: column tags holds a NULL item but the field is `list[str]`; declare the items "
     "optional, or leave the NULLs out (array_remove(..., NULL), a FILTER (WHERE ... IS NOT "
     "NULL) on the aggregate)."),
    ("array-agg-over-nothing", {"tags": "(SELECT array_agg(x) FROM (VALUES (NULL::text)) v(x))"},
     "tags",
     f"{ROW}: column tags holds a NULL item but the field is `list[str]`; declare the items "
     "optional, or leave the NULLs out (array_remove(..., NULL), a FILTER (WHERE ... IS NOT "
     "NULL) on the aggregate)."),
    ("item-outside-literal", {"levels": "ARRAY['low', 'urgent']"}, "levels",
     f"{ROW}: column levels holds 'urgent', which the field's `list[Literal['low', 'high']] "
     "| None` does not allow; add it to the Literal, or keep the query from returning it."),
]  # fmt: skip


@pytest.mark.parametrize(("changed", "expected"), [c[1:] for c in FITTING],
                         ids=[c[0] for c in FITTING])  # fmt: skip
def test_a_row_that_fits_is_read(
    shared_db: psycopg.Connection[Any], changed: dict[str, str], expected: tuple[str, Any]
) -> None:
    (row,) = read(shared_db, select(**changed))
    assert isinstance(row, Reading)
    field, value = expected
    assert getattr(row, field) == value


@pytest.mark.parametrize(("changed", "field", "message"), [c[1:] for c in NOT_FITTING],
                         ids=[c[0] for c in NOT_FITTING])  # fmt: skip
def test_a_column_its_field_forbids_is_a_typed_error(
    shared_db: psycopg.Connection[Any], changed: dict[str, str], field: str, message: str
) -> None:
    with pytest.raises(UnreadableRow) as caught:
        read(shared_db, select(**changed))
    assert str(caught.value) == message
    assert (caught.value.table, caught.value.row_id, caught.value.field) == ("Reading", 7, field)


def test_a_row_without_an_id_is_named_by_its_struct(shared_db: psycopg.Connection[Any]) -> None:
    class Count(msgspec.Struct, frozen=True):
        status: str
        total: int

    sql = b"SELECT status, count(*) AS total FROM (VALUES ('a')) v(status) GROUP BY ROLLUP(status)"
    with (
        shared_db.cursor(row_factory=struct_row(Count)) as cur,
        pytest.raises(UnreadableRow) as caught,
    ):
        cur.execute(sql).fetchall()
    assert str(caught.value) == (
        "a Count row cannot be read into Count: column status is NULL but the field is `str`; "
        "declare it `str | None`, or make the query return a value there (a NOT NULL column, "
        "an inner join, coalesce())."
    )
    assert (caught.value.table, caught.value.row_id, caught.value.field) == (
        "Count",
        None,
        "status",
    )


def test_a_batch_sets_a_row_with_a_forbidden_column_aside(
    shared_db: psycopg.Connection[Any],
) -> None:
    good = [select(id="1"), select(id="3")]
    bad = [select(id="2", label="NULL::text"), select(id="4", level="'urgent'"),
           select(id="5", tags="ARRAY['a', NULL]")]  # fmt: skip
    batch = Batch(read(shared_db, " UNION ALL ".join([*good, *bad]) + " ORDER BY id", lenient=True))
    assert [row.id for row in batch] == [1, 3]
    assert [(e.row_id, e.field) for e in batch.unreadable] == [
        (2, "label"),
        (4, "level"),
        (5, "tags"),
    ]


# -- the project's own reads meet rows written around the rules -----------------------


def insert(db: psycopg.Connection[Any], sql: str, *params: Any) -> UUID:
    row = db.execute(sql.encode(), params).fetchone()
    assert row is not None
    return UUID(str(row[0]))


def user_with_position(
    db: psycopg.Connection[Any], n: int, protocol: str | None
) -> tuple[UUID, UUID]:
    user_id = insert(db, "INSERT INTO users (wallet_address) VALUES (%s) RETURNING id", wallet(n))
    return user_id, insert(
        db,
        "INSERT INTO positions (user_id, wallet_address, protocol, health_factor)"
        " VALUES (%s, %s, %s, 1.1) RETURNING id",
        user_id,
        wallet(n),
        protocol,
    )


def test_a_null_stored_before_not_null_is_an_error_naming_the_query_and_row(
    api: Api, db: psycopg.Connection[Any]
) -> None:
    """A column made NOT NULL ``NOT VALID`` (PostgreSQL 18) still holds its old NULLs."""
    db.execute(b"ALTER TABLE positions ALTER COLUMN protocol DROP NOT NULL")
    user_id, bad = user_with_position(db, 1, None)
    _, good = user_with_position(db, 2, "aave")
    with pytest.raises(UnreadableRow) as caught:
        api.positions.list_for_user(user_id)
    assert str(caught.value) == (
        f"positions row {bad} cannot be read into Position (query positions_list_for_user): column "
        "protocol is NULL but the field is `str`; declare it `str | None`, or make the query "
        "return a value there (a NOT NULL column, an inner join, coalesce())."
    )
    assert (caught.value.table, caught.value.row_id, caught.value.field) == (
        "positions", bad, "protocol"
    )  # fmt: skip
    batch = api.positions.latest_per_user()
    assert [p.id for p in batch] == [good]
    assert [(e.table, e.row_id, e.field) for e in batch.unreadable] == [
        ("positions", bad, "protocol")
    ]


def test_a_value_outside_the_literal_stored_around_the_check_is_an_error(
    api: Api, db: psycopg.Connection[Any]
) -> None:
    db.execute(b"ALTER TABLE signals DROP CONSTRAINT signals_severity_check")
    signal_id = insert(
        db, "INSERT INTO signals (type, asset, severity) VALUES ('depeg', 'USDC', 'urgent')"
        " RETURNING id"
    )  # fmt: skip
    with pytest.raises(UnreadableRow) as caught:
        api.signals.get(signal_id)
    assert str(caught.value) == (
        f"signals row {signal_id} cannot be read into Signal (query signals_get): column "
        "severity is 'urgent', not one of the field's 'low', 'medium', 'high', 'critical'; add "
        "it to the field's Literal, or keep the query from returning it (a CHECK on the "
        "column, a CASE in the query)."
    )


# -- a value a facade needs: one integer, never int(None) ----------------------------

SCALARS = """\
-- name: forty_two()$
-- returns: int
SELECT 42 AS answer;

-- name: max_of_nothing()$
-- returns: int
SELECT max(x) AS total FROM (VALUES (1)) v(x) WHERE false;

-- name: no_row()$
-- returns: int
SELECT 1 AS one WHERE false;

-- name: text_number()$
-- returns: int
SELECT '42' AS answer;
"""
SCALAR_ERRORS = [
    ("max_of_nothing", "total",
     "query max_of_nothing (scalars.sql:5) returned NULL in column total where its caller "
     "needs an integer; make the query return one (an aggregate without GROUP BY, coalesce(), "
     "a cast to bigint), or make the caller accept None."),
    ("no_row", "one",
     "query no_row (scalars.sql:9) returned no row where its caller needs an integer; make the "
     "query return one (an aggregate without GROUP BY, coalesce(), a cast to bigint), or make "
     "the caller accept None."),
    ("text_number", "answer",
     "query text_number (scalars.sql:13) returned '42' in column answer where its caller needs "
     "an integer; make the query return one (an aggregate without GROUP BY, coalesce(), a cast "
     "to bigint), or make the caller accept None."),
]  # fmt: skip


@pytest.fixture
def scalar_queries(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "scalars.sql").write_text(SCALARS, encoding="utf-8")
    monkeypatch.setattr(statements, "_project_statements", lambda: load_statements(tmp_path))


@pytest.mark.parametrize("kind", ["sync", "async"])
@pytest.mark.usefixtures("scalar_queries")
def test_fetch_int_reads_an_integer(db_url: str, kind: str) -> None:
    assert fetch_int(db_url, kind, "forty_two") == 42


@pytest.mark.parametrize("kind", ["sync", "async"])
@pytest.mark.parametrize(("name", "column", "message"), SCALAR_ERRORS,
                         ids=[c[0] for c in SCALAR_ERRORS])  # fmt: skip
@pytest.mark.usefixtures("scalar_queries")
def test_fetch_int_without_an_integer_is_a_typed_error(
    db_url: str, kind: str, name: str, column: str, message: str
) -> None:
    with pytest.raises(UnreadableRow) as caught:
        fetch_int(db_url, kind, name)
    assert str(caught.value) == message
    assert (caught.value.table, caught.value.row_id, caught.value.field) == (name, None, column)


def fetch_int(url: str, kind: str, name: str) -> int:
    if kind == "sync":
        with psycopg.connect(url, autocommit=True) as conn:
            return sync_execute.fetch_int(conn, name, {})

    async def run() -> int:
        async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
            return await aio_execute.fetch_int(conn, name, {})

    return asyncio.run(run())
