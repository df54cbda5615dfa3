"""Guards on the sql/ tree itself: names, rollbacks, comments, dependencies."""

from __future__ import annotations

import itertools
import re

import pytest
from yoyo import read_migrations

from defi_sql.paths import migrations_dir, sql_root

NAME = re.compile(r"^(\d{4})\.([a-z]+(?:-[a-z0-9]+)+)\.sql$")


def forward_files() -> list[str]:
    return sorted(
        p.name for p in migrations_dir().glob("*.sql") if not p.name.endswith(".rollback.sql")
    )


def test_sql_tree_is_the_checkouts() -> None:
    assert sql_root() == migrations_dir().parent
    assert (sql_root() / "queries").is_dir()


@pytest.mark.parametrize("name", forward_files())
def test_migration_is_named_nnnn_verb_object_and_has_a_rollback(name: str) -> None:
    assert NAME.match(name), f"{name} is not NNNN.verb-object.sql"
    rollback = migrations_dir() / name.replace(".sql", ".rollback.sql")
    assert rollback.is_file(), f"{name} has no {rollback.name}"
    assert rollback.read_text().strip(), f"{rollback.name} is empty"


@pytest.mark.parametrize("name", forward_files())
def test_migration_starts_with_a_comment_saying_why(name: str) -> None:
    first = (migrations_dir() / name).read_text().splitlines()[0]
    assert first.startswith("-- ") and len(first) > 20, f"{name} does not start with a why-comment"


def test_every_rollback_has_a_forward_file() -> None:
    forwards = set(forward_files())
    for path in migrations_dir().glob("*.rollback.sql"):
        assert path.name.replace(".rollback.sql", ".sql") in forwards, f"orphan {path.name}"


def test_numbers_are_unique_and_contiguous() -> None:
    numbers = [int(NAME.match(n).group(1)) for n in forward_files()]  # type: ignore[union-attr]
    assert numbers == list(range(1, len(numbers) + 1))


def test_each_migration_depends_on_the_one_before() -> None:
    migrations = list(read_migrations(str(migrations_dir())))
    for previous, current in itertools.pairwise(migrations):
        current.load()
        assert {m.id for m in current.depends} == {previous.id}, current.id
