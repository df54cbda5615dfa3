"""`defi-sql struct TABLE` writes a struct that compiles and agrees with models.py."""

from __future__ import annotations

import types
import typing
from typing import Any

import msgspec
import psycopg
import pytest
from psycopg import sql

from defi_sql import models
from defi_sql.check.pgtypes import PG_TYPES
from defi_sql.check.shapes import ResultColumn, compare_struct
from defi_sql.cli import main
from defi_sql.dev.structs import class_name, struct_source
from defi_sql.errors import NotFound

TABLES = {
    "users": models.User,
    "positions": models.Position,
    "signals": models.Signal,
    "alerts": models.Alert,
    "intents": models.Intent,
    "event_store": models.Event,
}


#: Columns a row struct leaves out on purpose: positions.write_seq only breaks ties
#: of snapshot_at in the queries' "latest" rule (migration 0023); it is no data.
#: users.alert_threshold is preferences' threshold again, generated for at_risk (0040);
#: intents.threshold is condition's value again, generated for due (0056).
INTERNAL = {
    "positions": ("write_seq",),
    "users": ("alert_threshold",),
    "intents": ("threshold",),
}


def fields_of(cls: type) -> dict[str, Any]:
    """The annotated fields of a struct, without class variables such as ``Row.table``."""
    hints = typing.get_type_hints(cls)
    return {k: v for k, v in hints.items() if typing.get_origin(v) is not typing.ClassVar}


def optional(annotation: Any) -> bool:
    return type(None) in typing.get_args(annotation)


@pytest.mark.parametrize(("table", "model"), TABLES.items(), ids=list(TABLES))
def test_generated_struct_matches_the_model(
    shared_db: psycopg.Connection[Any], table: str, model: type[msgspec.Struct]
) -> None:
    source = struct_source(shared_db, table)
    module = types.ModuleType(f"generated_{table}")
    exec(compile(source, f"<struct {table}>", "exec", dont_inherit=True), module.__dict__)
    generated = getattr(module, class_name(table))
    hints = {k: v for k, v in fields_of(generated).items() if k not in INTERNAL.get(table, ())}
    expected = fields_of(model)
    assert list(hints) == [f.name for f in msgspec.structs.fields(model)]
    for name, annotation in hints.items():
        assert optional(annotation) == optional(expected[name]), name


def test_enum_checks_become_literals(shared_db: psycopg.Connection[Any]) -> None:
    source = struct_source(shared_db, "alerts")
    assert '    channel: Literal["telegram", "email", "in_app"]\n' in source
    assert '    status: Literal["pending", "sent", "failed", "acknowledged"]\n' in source
    assert "    signal_id: UUID | None\n" in source
    assert source.startswith("from datetime import datetime\nfrom typing import Literal\n")


@pytest.mark.parametrize(
    ("table", "name"),
    [
        ("users", "User"),
        ("event_store", "EventStore"),
        ("policies", "Policy"),
        ("address", "Address"),
    ],
)
def test_class_name(table: str, name: str) -> None:
    assert class_name(table) == name


def test_unknown_table(shared_db: psycopg.Connection[Any]) -> None:
    with pytest.raises(NotFound, match=r"^there is no table 'nope' in the current schema; "):
        struct_source(shared_db, "nope")


def test_struct_command(
    db_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DATABASE_URL", db_url)
    assert main(["struct", "signals"]) == 0
    assert "class Signal(Row, kw_only=True, frozen=True):" in capsys.readouterr().out


def test_every_type_the_generator_writes_passes_check(empty_db_url: str) -> None:
    """The generator and check read one table (defi_sql/check/pgtypes.py): a column
    of each type it knows becomes a field check accepts for that column."""
    names = [t for t in PG_TYPES if t != "citext"]  # citext is an extension's type
    with psycopg.connect(empty_db_url, autocommit=True) as conn:
        columns = sql.SQL(", ").join(
            sql.SQL("{} {} NOT NULL").format(sql.Identifier(f"c_{t}"), sql.Identifier(t))
            for t in names
        )
        conn.execute(sql.SQL("CREATE TABLE every_types ({})").format(columns))
        source = struct_source(conn, "every_types")
    module = types.ModuleType("generated_every_types")
    exec(compile(source, "<struct every_types>", "exec", dont_inherit=True), module.__dict__)
    generated = module.EveryType
    result = [ResultColumn(f"c_{t}", t, None, never_null=True) for t in names]
    assert compare_struct(generated, result) == []
    assert "    c_oid: int\n" in source  # as check reads an oid, no longer `object  # oid`
    # naive, as check demands of a timestamp without time zone
    assert "    c_timestamp: Annotated[datetime, Meta(tz=False)]\n" in source


@pytest.mark.parametrize(
    ("pg", "hint"),
    [
        ("date", "date"),
        ("time", "time"),
        ("interval", "timedelta"),
        ("bytea", "bytes"),
        ("oid", "int"),
        ("timestamp", "Annotated[datetime, Meta(tz=False)]"),
        ("numeric", "Decimal"),
        ("text", "str"),
    ],
)
def test_check_names_the_type_the_generator_writes(pg: str, hint: str) -> None:
    """A field of the wrong type is told to use the generator's type (a date column
    used to get "use str", which check would refuse too)."""

    class Wrong(msgspec.Struct):
        value: list[int]

    column = ResultColumn("value", pg, None, never_null=True)
    assert compare_struct(Wrong, [column]) == [
        f"column value is {pg} but Wrong.value is list[int]; use {hint}."
    ]
