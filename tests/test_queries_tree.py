"""Guards on sql/queries and on the generated sync API."""

from __future__ import annotations

import pytest

from defi_sql._async_to_sync import SOURCE, TARGET, generate
from defi_sql.errors import ConfigError
from defi_sql.paths import queries_dir
from defi_sql.statements import load_statements

from .conftest import FIXTURES


def test_query_names_are_unique_across_files() -> None:
    statements = load_statements(queries_dir())
    assert statements, "no named queries found"
    for stmt in statements.values():
        assert stmt.doc, f"{stmt.where}: query {stmt.name} has no doc line"


def test_a_duplicate_query_name_is_an_error() -> None:
    with pytest.raises(ConfigError) as caught:
        load_statements(FIXTURES / "duplicate_queries")
    assert str(caught.value) == (
        "query 'get_thing' is defined twice, in a.sql:1 and b.sql:3; rename one of them."
    )


@pytest.mark.parametrize("name", sorted(p.name for p in SOURCE.glob("*.py")))
def test_sync_api_is_generated_from_the_async_one(name: str) -> None:
    generated = TARGET / name
    assert generated.is_file(), f"defi_sql/sync/{name} is missing: run `make sync`"
    assert generated.read_text() == generate(SOURCE / name), (
        f"defi_sql/sync/{name} is stale: run `make sync`"
    )


def test_no_stray_sync_module() -> None:
    assert {p.name for p in TARGET.glob("*.py")} == {p.name for p in SOURCE.glob("*.py")}
