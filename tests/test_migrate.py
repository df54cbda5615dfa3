"""migrate / rollback / status / repair on a real database: batches, atomicity, checksums."""

from __future__ import annotations

import shutil
from pathlib import Path

import psycopg
import pytest

from defi_sql.check.catalog import fingerprint
from defi_sql.errors import EditedMigration, MigrationError, MigrationFailed, UnknownMigration
from defi_sql.migrate import Migrator, checksum, create_migration
from defi_sql.paths import migrations_dir

from .conftest import FIXTURES
from .helpers import MIGRATION_IDS

ALL = MIGRATION_IDS


def first_migrations(tmp_path: Path, count: int) -> Path:
    target = tmp_path / f"first-{count}"
    target.mkdir()
    for mid in ALL[:count]:
        shutil.copy(migrations_dir() / f"{mid}.sql", target)
        shutil.copy(migrations_dir() / f"{mid}.rollback.sql", target)
    return target


def states(url: str, directory: Path | None = None) -> dict[str, tuple[str, int | None]]:
    with Migrator(url, directory=directory) as m:
        return {s.id: (s.label, s.batch) for s in m.status()}


def test_migrate_applies_everything_as_one_batch(empty_db_url: str) -> None:
    with Migrator(empty_db_url) as m:
        assert m.pending() == ALL
        assert m.migrate() == ALL
        assert m.migrate() == []
    assert states(empty_db_url) == {mid: ("applied", 1) for mid in ALL}


def test_rollback_undoes_the_last_batch_only(empty_db_url: str, tmp_path: Path) -> None:
    with Migrator(empty_db_url, directory=first_migrations(tmp_path, 3)) as m:
        m.migrate()
    with Migrator(empty_db_url) as m:
        assert m.migrate() == ALL[3:]
    assert {mid: batch for mid, (_, batch) in states(empty_db_url).items()} == {
        **{mid: 1 for mid in ALL[:3]},
        **{mid: 2 for mid in ALL[3:]},
    }
    with Migrator(empty_db_url) as m:
        assert m.rollback() == list(reversed(ALL[3:]))
        assert m.pending() == ALL[3:]
        assert m.rollback() == list(reversed(ALL[:3]))
        assert m.rollback() == []


def test_rollback_steps_to_and_all(empty_db_url: str) -> None:
    with Migrator(empty_db_url) as m:
        m.migrate()
        assert m.rollback(steps=2) == [ALL[-1], ALL[-2]]
        m.migrate()
        assert m.rollback(to=ALL[2]) == list(reversed(ALL[3:]))
        assert m.pending() == ALL[3:]
        assert m.rollback(everything=True) == list(reversed(ALL[:3]))
        assert m.pending() == ALL


def test_rollback_refuses_bad_targets_and_changes_nothing(empty_db_url: str) -> None:
    with Migrator(empty_db_url) as m:
        m.migrate()
        with pytest.raises(UnknownMigration, match=r"there is no migration '0099.nope' in "):
            m.rollback(to="0099.nope")
        with pytest.raises(MigrationError, match=r"--steps must be 1 or more, not 0\."):
            m.rollback(steps=0)
        m.rollback(steps=1)
        with pytest.raises(
            MigrationError, match=rf"^{ALL[-1]} is not applied, so there is nothing"
        ):
            m.rollback(to=ALL[-1])
        assert m.pending() == [ALL[-1]]


def test_dry_run_prints_sql_and_runs_nothing(empty_db_url: str) -> None:
    with Migrator(empty_db_url) as m:
        assert m.migrate(dry_run=True) == ALL
        plan = m.plan("apply", ALL[:2])
        assert m.pending() == ALL
    assert plan.startswith(f"-- apply {ALL[0]} (")
    assert "CREATE FUNCTION set_updated_at()" in plan
    assert "CREATE TABLE users (" in plan
    with psycopg.connect(empty_db_url) as conn:
        assert fingerprint(conn) == ()


def test_a_failing_migration_leaves_the_database_at_the_last_good_one(
    empty_db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(FIXTURES.parent.parent)  # paths in messages are relative to the cwd
    with Migrator(empty_db_url, directory=FIXTURES / "broken" / "migrations") as m:
        with pytest.raises(MigrationFailed) as caught:
            m.migrate()
        status = {s.id: s.label for s in m.status()}
    error = caught.value
    assert str(error) == (
        "tests/fixtures/broken/migrations/0002.add-broken-column.sql:8: "
        'column "nmae" of relation "things" does not exist (SQLSTATE 42703); nothing of '
        "0002.add-broken-column was applied and the database stays at the last good "
        "migration; fix the file and run the command again."
    )
    assert error.line == 8
    assert error.sqlstate == "42703"
    assert status == {
        "0001.create-things": "applied",
        "0002.add-broken-column": "pending",
        "0003.create-other-things": "pending",
    }
    with psycopg.connect(empty_db_url) as conn:
        columns = conn.execute(
            "SELECT attname FROM pg_attribute WHERE attrelid = 'things'::regclass AND attnum > 0"
        ).fetchall()
        assert columns == [("id",)]  # the ALTER TABLE of 0002 was rolled back with it
        assert conn.execute("SELECT to_regclass('other_things')").fetchone() == (None,)


def test_an_edited_migration_is_flagged_and_blocks_migrate(
    empty_db_url: str, migrations_copy: Path
) -> None:
    with Migrator(empty_db_url, directory=migrations_copy) as m:
        m.migrate(dry_run=False)
    edited = migrations_copy / f"{ALL[1]}.sql"
    edited.write_text(edited.read_text() + "\n-- a harmless edit is still an edit\n")
    new_forward, _ = create_migration("add-users-nickname", migrations_copy)
    new_forward.write_text(
        new_forward.read_text() + "ALTER TABLE users ADD COLUMN nickname text;\n"
    )
    with Migrator(empty_db_url, directory=migrations_copy) as m:
        assert {s.id: s.label for s in m.status()}[ALL[1]] == "edited"
        with pytest.raises(EditedMigration) as caught:
            m.migrate()
        assert caught.value.migration_ids == [ALL[1]]
        assert str(caught.value).startswith(
            f"applied migration {ALL[1]} changed on disk since it was applied; restore the file"
        )
        assert f"defi-sql repair {ALL[1]}" in str(caught.value)
        assert m.pending() == [new_forward.stem]  # nothing was applied
        assert m.repair([]) == [ALL[1]]
        assert m.migrate() == [new_forward.stem]


def test_line_endings_do_not_count_as_an_edit(empty_db_url: str, migrations_copy: Path) -> None:
    with Migrator(empty_db_url, directory=migrations_copy) as m:
        m.migrate()
    path = migrations_copy / f"{ALL[0]}.sql"
    before = checksum(path)
    path.write_bytes(path.read_bytes().replace(b"\n", b"\r\n"))
    assert checksum(path) == before
    with Migrator(empty_db_url, directory=migrations_copy) as m:
        assert not any(s.edited for s in m.status())


def test_repair_rejects_an_unknown_id(empty_db_url: str) -> None:
    with Migrator(empty_db_url) as m, pytest.raises(UnknownMigration, match=r"'0042\.nope'"):
        m.repair(["0042.nope"])


def test_drop_everything_removes_hand_made_objects_too(db_url: str) -> None:
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("CREATE TABLE scratch (id int)")
        conn.execute("CREATE TYPE mood AS ENUM ('ok')")
        conn.execute("CREATE VIEW scratch_view AS SELECT id FROM scratch")
    with Migrator(db_url) as m:
        m.drop_everything()
        assert m.pending() == ALL
        with psycopg.connect(db_url) as conn:
            # every object; the database's settings stay (see drop_everything)
            assert [kind for kind, _, _ in fingerprint(conn)] == ["setting"]
            tables = conn.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() ORDER BY 1"
            ).fetchall()
            # only the bookkeeping (yoyo's and ours) is there, made anew and empty
            assert [t for (t,) in tables] == [
                "_defi_sql_created",
                "_defi_sql_migration",
                "_yoyo_log",
                "_yoyo_migration",
                "_yoyo_version",
                "yoyo_lock",
            ]
        assert m.migrate() == ALL


def test_create_migration_numbers_and_templates(tmp_path: Path) -> None:
    forward, rollback = create_migration("add-users-email", tmp_path)
    assert forward.name == "0001.add-users-email.sql"
    assert "-- depends" not in forward.read_text()
    second, _ = create_migration("create-index-alerts-type", tmp_path)
    assert second.name == "0002.create-index-alerts-type.sql"
    assert "-- depends: 0001.add-users-email\n" in second.read_text()
    assert rollback.name == "0001.add-users-email.rollback.sql"
    for bad in ("Users", "email", "add users", "add_users", "1-add-users", "add-users-"):
        with pytest.raises(MigrationError, match="is not verb-object in lower-case kebab case"):
            create_migration(bad, tmp_path)
