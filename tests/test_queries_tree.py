"""Guards on sql/queries (and sql/seed) and on the generated sync API."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from defi_sql.errors import ConfigError
from defi_sql.paths import queries_dir, seed_dir
from defi_sql.statements import load_statements, statement
from tools.async_to_sync import SOURCE, TARGET, generate, prose

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


#: what only the async API says of itself: its statements, names and module
ASYNC_WORDING = re.compile(
    r"\basync (with|for|def)\b|\bawait\b|\bAsync[A-Z]\w*|\baclosing\b|\basyncio\b"
    r"|\bdefi_sql\.aio\.|\bimport aio\b|\bThe async\b"
)
#: "async" may name the twin: "an async twin", "the async API", "an async connection"
TWIN = re.compile(r"\b(?:an|the) async (?:twin|API|connection)\b|\bdefi_sql\.aio\b")


@pytest.mark.parametrize("name", sorted(p.name for p in TARGET.glob("*.py")))
def test_the_sync_api_speaks_of_itself_as_sync(name: str) -> None:
    text = (TARGET / name).read_text()
    code = text.replace("tools/async_to_sync.py", "")
    wrong = [m.group(0) for m in ASYNC_WORDING.finditer(code)]
    assert not wrong, f"defi_sql/sync/{name} says {wrong}: fix tools/async_to_sync.py"
    loose = [m.group(0) for m in re.finditer(r"\basync\b", TWIN.sub("", code))]
    assert not loose, f"defi_sql/sync/{name} mentions async outside naming its twin"


@pytest.mark.parametrize("name", sorted(p.name for p in SOURCE.glob("*.py")))
def test_the_sync_twin_keeps_every_comment(name: str) -> None:
    comments = [line.strip() for line in (SOURCE / name).read_text().splitlines() if "# " in line]
    text = (TARGET / name).read_text()
    lost = [c for c in comments if prose(c.partition("# ")[2]) not in text]
    assert not lost, f"defi_sql/sync/{name} lost the comments {lost}"


@pytest.mark.parametrize(
    ("async_text", "sync_text"),
    [
        ("``async with db.open_pool(url) as pool:``", "``with db.open_pool(url) as pool:``"),
        ("``await db.users.get(conn, id)``", "``db.users.get(conn, id)``"),
        (
            "The async query API: ``from defi_sql import aio as db``",
            "The sync query API: ``from defi_sql import sync as db``",
        ),
        ("one from an\n``AsyncConnectionPool``", "one from a\n``ConnectionPool``"),
        ("has a sync twin in ``defi_sql.sync``", "has an async twin in ``defi_sql.aio``"),
        ("use ``async with aclosing(...)``", "use ``with closing(...)``"),
    ],
)
def test_prose_is_rewritten_for_the_sync_api(async_text: str, sync_text: str) -> None:
    assert prose(async_text) == sync_text


def test_a_query_named_like_a_cursor_variant_is_still_loaded(tmp_path: Path) -> None:
    (tmp_path / "q.sql").write_text(
        "-- name: stream_cursor()\n-- Rows for a cursor.\nSELECT 1 AS one;\n\n"
        "-- name: plain()\n-- One row.\nSELECT 2 AS two;\n"
    )
    # aiosql adds plain_cursor and stream_cursor_cursor: those are not queries of ours
    assert sorted(load_statements(tmp_path)) == ["plain", "stream_cursor"]


def test_every_query_is_named_after_its_file_and_function() -> None:
    """``positions.history`` runs ``positions_history``: one grep finds both sides."""
    for stmt in load_statements(queries_dir(), seed_dir()).values():
        module = stmt.path.stem
        assert stmt.name.startswith(f"{module}_"), (
            f"{stmt.where}: query {stmt.name} should be named {module}_<function>"
        )


def test_the_seed_is_apart_from_the_api_s_queries() -> None:
    """``defi-sql seed`` runs sql/seed; the API loads sql/queries only."""
    seed = load_statements(seed_dir())
    assert sorted(seed) == ["seed_dev_data", "seed_generated_users"]
    assert not any(stmt.path.stem == "seed" for stmt in load_statements(queries_dir()).values())
    with pytest.raises(ConfigError, match=r"^no query named 'seed_dev_data' in .*queries; "):
        statement("seed_dev_data")


def test_internal_and_seed_sql_get_the_same_checks_as_the_api_s(tmp_path: Path) -> None:
    from defi_sql._aiosql import load_queries

    (tmp_path / "a.sql").write_text("-- name: one()\n-- The first.\nSELECT 1 AS one;\n")
    (tmp_path / "b.sql").write_text("-- name: one()\n-- The same name.\nSELECT 2 AS two;\n")
    with pytest.raises(ConfigError, match=r"query 'one' is defined twice, in .*a\.sql:1 and"):
        load_queries(tmp_path)


def test_each_file_is_parsed_once_for_checks_and_methods(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The methods that run the queries are the parsed queries check reads: each file
    goes through aiosql's parser once, and a subdirectory (never checked) adds none."""
    from aiosql.query_loader import QueryLoader

    from defi_sql._aiosql import load_queries

    (tmp_path / "a.sql").write_text("-- name: one()$\n-- The first.\nSELECT 1 AS one;\n")
    (tmp_path / "b.sql").write_text("-- name: two()\n-- The second.\nSELECT 2 AS two;\n")
    (tmp_path / "more").mkdir()
    (tmp_path / "more" / "c.sql").write_text("-- name: three()\n-- Unchecked.\nSELECT 3;\n")
    parsed: list[str] = []
    parse = QueryLoader.load_query_data_from_file

    def counted(self: QueryLoader, path: Path, *args: Any, **kwargs: Any) -> Any:
        parsed.append(Path(path).name)
        return parse(self, path, *args, **kwargs)

    monkeypatch.setattr(QueryLoader, "load_query_data_from_file", counted)
    queries = load_queries(tmp_path)
    assert parsed == ["a.sql", "b.sql"]
    assert load_queries(tmp_path) is queries
    assert parsed == ["a.sql", "b.sql"]
    assert queries.available_queries == ["one", "two", "two_cursor"]
    assert queries.one.sql == load_statements(tmp_path)["one"].sql  # check reads afresh
