"""The round-trip proof: every migration's rollback restores the catalog exactly.

For each migration N of the real chain: fingerprint the catalog at N-1, apply
N, roll N back and compare, then apply N again and compare with the first
apply. The fingerprint covers columns, types, defaults, constraints, indexes,
triggers, functions, types, views, sequences, policies, privileges and comments.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import psycopg
import pytest

from defi_sql.check.catalog import Fingerprint, changes, fingerprint
from defi_sql.migrate import Migrator
from defi_sql.migrate.files import forward_paths, rollback_path
from defi_sql.paths import migrations_dir


def _fingerprint(url: str) -> Fingerprint:
    with psycopg.connect(url) as conn:
        return fingerprint(conn)


def test_every_migration_round_trips(empty_db_url: str, tmp_path: Path) -> None:
    chain = tmp_path / "migrations"
    chain.mkdir()
    before = _fingerprint(empty_db_url)
    assert before == ()
    for forward in forward_paths(migrations_dir()):
        shutil.copy(forward, chain)
        shutil.copy(rollback_path(forward), chain)
        with Migrator(empty_db_url, directory=chain) as migrator:
            assert migrator.migrate() == [forward.stem]
            applied = _fingerprint(empty_db_url)
            assert applied != before, f"{forward.name} changed nothing in the catalog"
            assert migrator.rollback() == [forward.stem]
            assert changes(before, _fingerprint(empty_db_url)) == [], f"{forward.name} rollback"
            assert migrator.migrate() == [forward.stem]
            assert changes(applied, _fingerprint(empty_db_url)) == [], f"{forward.name} re-apply"
        before = applied


def test_rolling_back_everything_leaves_an_empty_schema(empty_db_url: str) -> None:
    with Migrator(empty_db_url) as migrator:
        migrator.migrate()
        migrator.rollback(everything=True)
    assert _fingerprint(empty_db_url) == ()


def test_fingerprint_sees_a_forgotten_index(empty_db_url: str) -> None:
    """The proof can fail: an index created by hand shows up in the changes."""
    with Migrator(empty_db_url) as migrator:
        migrator.migrate()
    before = _fingerprint(empty_db_url)
    with psycopg.connect(empty_db_url, autocommit=True) as conn:
        conn.execute("CREATE INDEX stray_idx ON signals (asset)")
        conn.execute("COMMENT ON COLUMN users.preferences IS 'changed'")
    after = _fingerprint(empty_db_url)
    old = {(k, n): d for k, n, d in before}[("column", "users.preferences")]
    new = {(k, n): d for k, n, d in after}[("column", "users.preferences")]
    assert "comment=changed" in new
    assert changes(before, after) == [
        f"column users.preferences differs: {old} became {new}",
        "index stray_idx is left over (CREATE INDEX stray_idx ON public.signals USING btree "
        "(asset))",
    ]


_A = ("column", "t.a", "integer NOT NULL")
_B = ("column", "t.b", "text")
_I = ("index", "t_a_idx", "CREATE INDEX t_a_idx ON public.t USING btree (a)")

#: (before, after, the phrases of changes with its default words): the one
#: comparison of two fingerprints, read by the round-trip check, drift and this file
CHANGES = {
    "same": ((_A, _B), (_B, _A), []),
    "empty": ((), (), []),
    "missing": ((_A, _B), (_A,), ["column t.b is missing (text)"]),
    "left over": ((_A,), (_A, _I), [f"index t_a_idx is left over ({_I[2]})"]),
    "differs": (
        (_A,),
        (("column", "t.a", "bigint NOT NULL"),),
        ["column t.a differs: integer NOT NULL became bigint NOT NULL"],
    ),
    "sorted by kind and name": (
        (_I, _B),
        (_A,),
        [
            "column t.a is left over (integer NOT NULL)",
            "column t.b is missing (text)",
            f"index t_a_idx is missing ({_I[2]})",
        ],
    ),
}


@pytest.mark.parametrize(("before", "after", "expected"), CHANGES.values(), ids=list(CHANGES))
def test_changes(before: Fingerprint, after: Fingerprint, expected: list[str]) -> None:
    assert changes(before, after) == expected


def test_changes_in_the_caller_s_words() -> None:
    """drift's words: the same comparison, phrased for a live database."""
    found = changes(
        (_A, _B),
        (("column", "t.a", "{braces} kept"), _I),
        "is missing from the database",
        "exists only in the database",
        "{kind} {name} differs: the migrations give {old}; the database has {new}",
    )
    assert found == [
        "column t.a differs: the migrations give integer NOT NULL; the database has {braces} kept",
        "column t.b is missing from the database (text)",
        f"index t_a_idx exists only in the database ({_I[2]})",
    ]
