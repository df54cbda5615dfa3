"""Every query prepares against the migrated schema, and the API decodes each
query into the struct its SQL declares (``-- returns:``), which is the struct
`defi-sql check` compares its columns with (read off the API's source)."""

from __future__ import annotations

import ast
from typing import Any

import msgspec
import psycopg
import pytest

from defi_sql import models
from defi_sql.check.describe import describe
from defi_sql.paths import queries_dir
from defi_sql.statements import load_statements
from tools.async_to_sync import SOURCE

STATEMENTS = load_statements(queries_dir())
ROW_CALLS = ("fetch_one", "fetch_all", "write_one", "stream")


def decoded_into() -> dict[str, set[str]]:
    """query name -> struct names, from calls like fetch_all(conn, "name", params, Struct)."""
    found: dict[str, set[str]] = {}
    for path in SOURCE.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id in ROW_CALLS
                and len(node.args) >= 4
                and isinstance(node.args[1], ast.Constant)
                and isinstance(node.args[3], ast.Name)
            ):
                found.setdefault(str(node.args[1].value), set()).add(node.args[3].id)
    return found


DECODED = decoded_into()


def test_the_api_decodes_every_row_returning_query() -> None:
    assert DECODED, "no decoding calls found in defi_sql/aio"
    assert set(DECODED) <= set(STATEMENTS), set(DECODED) - set(STATEMENTS)


@pytest.mark.parametrize("name", sorted(DECODED))
def test_the_api_decodes_into_the_declared_struct(name: str) -> None:
    assert DECODED[name] == {STATEMENTS[name].returns}, f"{STATEMENTS[name].where}"


@pytest.mark.parametrize(
    "name", sorted(n for n, s in STATEMENTS.items() if s.operation != "SCRIPT")
)
def test_query_prepares_against_the_schema(shared_db: psycopg.Connection[Any], name: str) -> None:
    description = describe(shared_db, STATEMENTS[name])
    assert len(description.parameters) == len(STATEMENTS[name].parameters)


@pytest.mark.parametrize(
    ("name", "struct"), sorted((n, s) for n, structs in DECODED.items() for s in structs)
)
def test_columns_match_the_struct(
    shared_db: psycopg.Connection[Any], name: str, struct: str
) -> None:
    cls = getattr(models, struct)
    fields = [f.name for f in msgspec.structs.fields(cls)]
    columns = [c.name for c in describe(shared_db, STATEMENTS[name]).columns]
    assert sorted(columns) == sorted(fields), f"{name} -> {struct}"
    assert len(columns) == len(set(columns)), f"{name} returns a column twice"
