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

from defi_sql.check.catalog import Fingerprint, diff, fingerprint
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
            assert diff(before, _fingerprint(empty_db_url)) == [], f"{forward.name} rollback"
            assert migrator.migrate() == [forward.stem]
            assert diff(applied, _fingerprint(empty_db_url)) == [], f"{forward.name} re-apply"
        before = applied


def test_rolling_back_everything_leaves_an_empty_schema(empty_db_url: str) -> None:
    with Migrator(empty_db_url) as migrator:
        migrator.migrate()
        migrator.rollback(everything=True)
    assert _fingerprint(empty_db_url) == ()


def test_fingerprint_sees_a_forgotten_index(empty_db_url: str) -> None:
    """The proof can fail: an index created by hand shows up in the diff."""
    with Migrator(empty_db_url) as migrator:
        migrator.migrate()
    before = _fingerprint(empty_db_url)
    with psycopg.connect(empty_db_url, autocommit=True) as conn:
        conn.execute("CREATE INDEX stray_idx ON signals (asset)")
        conn.execute("COMMENT ON COLUMN users.preferences IS 'changed'")
    changes = diff(before, _fingerprint(empty_db_url))
    assert any(line.startswith("+ index stray_idx: CREATE INDEX stray_idx") for line in changes)
    assert any(line.startswith("- column users.preferences:") for line in changes)
    assert any("comment=changed" in line for line in changes)
