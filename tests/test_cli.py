"""The defi-sql command line on a real database: output, exit codes, one-line errors."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from defi_sql.cli import build_parser, main
from defi_sql.paths import migrations_dir

from .conftest import FIXTURES, cli
from .helpers import MIGRATION_IDS

ALL = MIGRATION_IDS
WIDTH = max(len(mid) for mid in ALL)  # status pads ids to the longest


@pytest.fixture
def use_db(monkeypatch: pytest.MonkeyPatch, clean_env: Path, empty_db_url: str) -> str:
    monkeypatch.setenv("DATABASE_URL", empty_db_url)
    return empty_db_url


def test_migrate_status_rollback(use_db: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["status", "--check"]) == 1
    out, err = capsys.readouterr()
    assert f"{ALL[0]:<{WIDTH}}  pending" in out
    assert out.splitlines()[-1] == f"0 applied, {len(ALL)} pending, 0 edited"
    assert (
        err.splitlines()[-1]
        == f"{len(ALL)} migration(s) pending and 0 edited; run `defi-sql migrate`."
    )

    assert main(["migrate"]) == 0
    out, err = capsys.readouterr()
    lines = out.splitlines()
    assert lines[0].startswith("database: postgresql://postgres@/test_")
    assert lines[0].endswith(" (DATABASE_URL (environment))")
    assert lines[1].startswith(f"applied {ALL[0]} (")
    assert lines[-1] == f"batch applied: {len(ALL)} migration(s)"
    assert err == ""

    assert main(["status", "--check"]) == 0
    out, _ = capsys.readouterr()
    assert f"{ALL[-1]:<{WIDTH}}  applied           1  " in out

    assert main(["rollback", "--steps", "1"]) == 0
    out, _ = capsys.readouterr()
    assert len(out.splitlines()) == 3
    assert out.splitlines()[1].startswith(f"rolled back {ALL[-1]} (")
    assert out.splitlines()[2] == "rolled back 1 migration(s)"
    assert main(["migrate"]) == 0
    assert main(["rollback", "--all"]) == 0
    out, _ = capsys.readouterr()
    assert out.splitlines()[-1] == f"rolled back {len(ALL)} migration(s)"


def test_dry_runs_print_sql_and_change_nothing(
    use_db: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["migrate", "--dry-run"]) == 0
    out, _ = capsys.readouterr()
    # paths are shown relative to the current directory when under it, else absolute
    assert out.startswith("-- database: postgresql://postgres@/test_")
    assert f"\n-- apply {ALL[0]} ({migrations_dir()}/{ALL[0]}.sql)\nCREATE FUNCTION" in out
    assert main(["status"]) == 0
    assert capsys.readouterr().out.splitlines()[-1].startswith("0 applied")
    assert main(["migrate"]) == 0
    capsys.readouterr()
    assert main(["rollback", "--dry-run"]) == 0
    out, _ = capsys.readouterr()
    assert (
        out.splitlines()[1] == f"-- rollback {ALL[-1]} ({migrations_dir()}/{ALL[-1]}.rollback.sql)"
    )
    assert main(["status", "--check"]) == 0


def test_fresh_is_refused_in_production_and_loses_nothing(
    use_db: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["migrate"]) == 0
    assert main(["seed"]) == 0
    monkeypatch.setenv("DEFI_SQL_ENV", "production")
    capsys.readouterr()
    assert main(["fresh"]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert err == (
        "defi-sql: error: refusing to drop every table because DEFI_SQL_ENV=production; "
        "pass --force if you really mean to wipe this database.\n"
    )
    with psycopg.connect(use_db) as conn:
        assert conn.execute("SELECT count(*) FROM users").fetchone() == (2,)
    assert main(["fresh", "--force"]) == 0
    with psycopg.connect(use_db) as conn:
        assert conn.execute("SELECT count(*) FROM users").fetchone() == (0,)


def test_fresh_with_seed(use_db: str, capsys: pytest.CaptureFixture[str]) -> None:
    with psycopg.connect(use_db, autocommit=True) as conn:
        conn.execute("CREATE TABLE leftover (id int)")
    assert main(["fresh", "--seed"]) == 0
    out, _ = capsys.readouterr()
    assert out.splitlines()[1] == "dropped every object of the schema"
    assert out.splitlines()[-2:] == [
        f"fresh: {len(ALL)} migration(s) applied",
        "seeded development data (rows added): users 2, positions 4, signals 3, alerts 2, "
        "intents 1, event_store 3",
    ]
    with psycopg.connect(use_db) as conn:
        assert conn.execute("SELECT to_regclass('leftover')").fetchone() == (None,)
        assert conn.execute("SELECT count(*) FROM positions").fetchone() == (4,)


def test_new_writes_next_numbered_files(
    monkeypatch: pytest.MonkeyPatch, migrations_copy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DEFI_SQL_SQL_DIR", str(migrations_copy.parent))
    assert main(["new", "add-users-email"]) == 0
    number = len(ALL) + 1
    forward = migrations_copy / f"{number:04d}.add-users-email.sql"
    assert capsys.readouterr().out.splitlines() == [
        f"created {forward}",
        f"created {forward.with_suffix('.rollback.sql')}",
    ]
    assert f"-- depends: {ALL[-1]}\n" in forward.read_text()


def test_every_command_has_help() -> None:
    parser = build_parser()
    subparsers = next(a for a in parser._actions if a.dest == "command")
    helps = {action.dest: action.help for action in subparsers._choices_actions}  # type: ignore[attr-defined]
    assert set(helps) == {
        "migrate",
        "rollback",
        "fresh",
        "status",
        "new",
        "seed",
        "maintain",
        "repair",
        "struct",
        "schema",
        "lint",
        "check",
        "db",
        "replica",
    }
    assert all(text and len(text) > 10 for text in helps.values())


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        pytest.param(
            ["status"],
            {"DATABASE_URL": "postgres//nope"},
            "defi-sql: error: DATABASE_URL (environment) does not start with postgresql://; "
            "write it as postgresql://user:password@host:5432/database.",
            id="malformed-database-url",
        ),
        pytest.param(
            ["migrate"],
            {"DATABASE_URL": "postgresql://app:T0pS3cret@127.0.0.1:1/defi"},
            "defi-sql: error: cannot connect to postgresql://app:***@127.0.0.1:1/defi: "
            'connection to server at "127.0.0.1", port 1 failed: Connection refused; check that '
            "the server is running and that DATABASE_URL (or DB_*) is right.",
            id="unreachable-server",
        ),
        pytest.param(
            ["fresh"],
            {"DEFI_SQL_ENV": "production", "DATABASE_URL": "postgresql://u@h/d"},
            "defi-sql: error: refusing to drop every table because DEFI_SQL_ENV=production; "
            "pass --force if you really mean to wipe this database.",
            id="fresh-in-production",
        ),
        pytest.param(
            ["new", "Bad Name"],
            {},
            "defi-sql: error: migration name 'Bad Name' is not verb-object in lower-case kebab "
            "case; use e.g. `add-users-email` or `create-index-alerts-type`.",
            id="bad-migration-name",
        ),
    ],
)
def test_errors_are_one_line_without_traceback(
    args: list[str], env: dict[str, str], message: str
) -> None:
    result = cli(*args, env=env)
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr == message + "\n"


def test_database_errors_name_file_and_line(empty_db_url: str) -> None:
    result = cli(
        "migrate", env={"DATABASE_URL": empty_db_url, "DEFI_SQL_SQL_DIR": str(FIXTURES / "broken")}
    )
    assert result.returncode == 1
    assert result.stderr == (
        "defi-sql: error: tests/fixtures/broken/migrations/0002.add-broken-column.sql:8: "
        'column "nmae" of relation "things" does not exist (SQLSTATE 42703); '
        "nothing of 0002.add-broken-column was applied and the database stays at the last "
        "good migration; fix the file and run the command again.\n"
    )
    assert result.stdout.splitlines()[1].startswith("applied 0001.create-things (")


def test_unknown_migration_id(db_url: str) -> None:
    result = cli("rollback", "--to", "0099.create-nothing", env={"DATABASE_URL": db_url})
    assert result.returncode == 1
    assert result.stderr.splitlines()[-1] == (
        "defi-sql: error: there is no migration '0099.create-nothing' in sql/migrations; "
        "`defi-sql status` lists them."
    )


def test_seed_generates_users_with_progress(
    use_db: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["migrate"]) == 0
    capsys.readouterr()
    assert main(["seed", "--users", "450", "--snapshots", "2"]) == 0
    out, err = capsys.readouterr()
    assert out.splitlines()[-1] == "seeded 450 new user(s) with 2 snapshot(s) each"
    assert err.splitlines() == [
        "seeding users: 200/450 (44%)",
        "seeding users: 400/450 (89%)",
        "seeding users: 450/450 (100%)",
    ]
    assert main(["seed", "--users", "450", "--snapshots", "2"]) == 0
    assert (
        capsys.readouterr().out.splitlines()[-1] == "seeded 0 new user(s) with 2 snapshot(s) each"
    )
    assert main(["seed", "--users", "0"]) == 1
    assert capsys.readouterr().err == "defi-sql: error: --users must be 1 or more, not 0.\n"


def test_repair_accepts_an_edited_migration(
    use_db: str,
    migrations_copy: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("DEFI_SQL_SQL_DIR", str(migrations_copy.parent))
    assert main(["migrate"]) == 0
    edited = migrations_copy / f"{ALL[0]}.sql"
    edited.write_text(edited.read_text() + "-- reworded\n")
    capsys.readouterr()
    assert main(["status", "--check"]) == 1
    out, _ = capsys.readouterr()
    assert f"{ALL[0]:<{WIDTH}}  edited " in out
    assert main(["migrate"]) == 1
    assert capsys.readouterr().err.startswith(
        f"defi-sql: error: applied migration {ALL[0]} changed on disk since it was applied;"
    )
    assert main(["repair"]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == f"accepted the current content of {ALL[0]}"
    assert main(["repair"]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "no edited migration to repair"
    assert main(["status", "--check"]) == 0
