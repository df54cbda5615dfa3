"""The CLI protects operators and tells the truth (issue #9), in a child process on a
real server: destructive commands refused in production, passwords masked only where
they are credentials, no traceback into a closed pipe, and the small promises of
``seed``, ``check``/``lint`` and ``--version``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path
from urllib.parse import quote

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from defi_sql.cli import main
from defi_sql.paths import migrations_dir, queries_dir, seed_dir
from defi_sql.statements import load_statements

from .conftest import REPO, Server, cli
from .helpers import MIGRATION_IDS
from .test_cli_errors import state

ALL = MIGRATION_IDS
ADVICE = "check that the server is running and that DATABASE_URL (or DB_*) is right."
PRODUCTION = {"DEFI_SQL_ENV": "production"}


def applied(url: str) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT count(*) FROM _defi_sql_migration").fetchone()
    assert row is not None
    return int(row[0])


# -- 2. destructive commands in production ---------------------------------------

ROLLBACK_REFUSED = (
    "defi-sql: error: refusing to roll back migrations because DEFI_SQL_ENV=production; "
    "see what would run with --dry-run, and pass --force if you really mean to undo them "
    "on this database."
)
FRESH_REFUSED = (
    "defi-sql: error: refusing to drop every table because DEFI_SQL_ENV=production; "
    "pass --force if you really mean to wipe this database."
)
REPAIR_REFUSED = (
    "defi-sql: error: refusing to accept edited migrations because DEFI_SQL_ENV=production; "
    "restore the files or add a new migration instead, or pass --force if you really mean "
    "to record their new content on this database."
)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        # the last batch is everything: a plain rollback would drop every table
        pytest.param(["rollback"], ROLLBACK_REFUSED, id="rollback"),
        pytest.param(["rollback", "--all"], ROLLBACK_REFUSED, id="rollback-all"),
        pytest.param(["rollback", "--steps", "1"], ROLLBACK_REFUSED, id="rollback-steps"),
        pytest.param(["rollback", "--to", ALL[0]], ROLLBACK_REFUSED, id="rollback-to"),
        pytest.param(["fresh"], FRESH_REFUSED, id="fresh"),
        pytest.param(["fresh", "--seed"], FRESH_REFUSED, id="fresh-seed"),
        pytest.param(["repair"], REPAIR_REFUSED, id="repair"),
        pytest.param(["repair", ALL[-1]], REPAIR_REFUSED, id="repair-id"),
    ],
)
def test_destructive_commands_are_refused_in_production(
    db_url: str, args: list[str], message: str
) -> None:
    before = state(db_url)
    result = cli(*args, env={"DATABASE_URL": db_url, **PRODUCTION})
    assert (result.returncode, result.stdout, result.stderr) == (1, "", message + "\n")
    assert state(db_url) == before


def test_production_from_dotenv_is_refused_too(
    db_url: str,
    clean_env: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    (clean_env / ".env").write_text("DEFI_SQL_ENV=production\n")
    monkeypatch.setenv("DATABASE_URL", db_url)
    assert main(["rollback", "--all"]) == 1
    assert capsys.readouterr() == ("", ROLLBACK_REFUSED + "\n")
    assert applied(db_url) == len(ALL)


def test_a_dry_run_is_not_destructive(db_url: str) -> None:
    before = state(db_url)
    result = cli("rollback", "--all", "--dry-run", env={"DATABASE_URL": db_url, **PRODUCTION})
    assert result.returncode == 0, result.stderr
    assert f"\n-- rollback {ALL[-1]} (" in result.stdout
    assert state(db_url) == before


@pytest.mark.parametrize(
    ("args", "last_line", "left"),
    [
        pytest.param(["rollback", "--steps", "1", "--force"], "rolled back 1 migration(s)", -1),
        pytest.param(
            ["rollback", "--all", "--force"], f"rolled back {len(ALL)} migration(s)", -len(ALL)
        ),
        pytest.param(["repair", "--force"], "no edited migration to repair", 0),
        pytest.param(["fresh", "--force"], f"fresh: {len(ALL)} migration(s) applied", 0),
    ],
)
def test_force_runs_them_in_production(
    db_url: str, args: list[str], last_line: str, left: int
) -> None:
    result = cli(*args, env={"DATABASE_URL": db_url, **PRODUCTION})
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout.splitlines()[-1] == last_line
    assert applied(db_url) == len(ALL) + left


# -- 3. passwords masked where they are credentials, nowhere else -----------------

#: One letter, a word of libpq's messages, and characters a URL must percent-encode.
HOSTILE_PASSWORDS = ["e", "p", "connection", "failed", "127.0.0.1", "p@ss:w/rd%?#&='\" \\"]
REFUSED = 'connection to server at "127.0.0.1", port 1 failed: Connection refused; ' + ADVICE


@pytest.mark.parametrize("password", HOSTILE_PASSWORDS)
@pytest.mark.parametrize("form", ["url", "keywords", "db-variables"])
def test_a_hostile_password_is_masked_and_the_message_kept(password: str, form: str) -> None:
    if form == "url":
        env = {"DATABASE_URL": f"postgresql://app:{quote(password, safe='')}@127.0.0.1:1/defi"}
    elif form == "keywords":
        env = {
            "DATABASE_URL": make_conninfo(
                host="127.0.0.1", port=1, user="app", dbname="defi", password=password
            )
        }
    else:
        env = {
            "DB_HOST": "127.0.0.1",
            "DB_PORT": "1",
            "DB_USER": "app",
            "DB_DATABASE": "defi",
            "DB_PASSWORD": password,
        }
    result = cli("status", env=env)
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr == (
        f"defi-sql: error: cannot connect to postgresql://app:***@127.0.0.1:1/defi: {REFUSED}\n"
    )


@pytest.mark.parametrize("password", ["e", "socket", "p@ss:w/rd%"])
def test_a_server_error_keeps_its_words(server: Server, password: str) -> None:
    """The server's own message (a database that does not exist) reaches the operator
    whole, however much of it the password spells."""
    params = conninfo_to_dict(server.admin)
    url = make_conninfo(server.admin, dbname="no_such_database", password=password)
    socket = f"{params['host']}/.s.PGSQL.{params.get('port') or 5432}"
    result = cli("status", env={"DATABASE_URL": url})
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr == (
        f"defi-sql: error: cannot connect to postgresql://{params['user']}:***@/no_such_database"
        f'?host={params["host"]}: connection to server on socket "{socket}" failed: FATAL:  '
        f'database "no_such_database" does not exist; {ADVICE}\n'
    )
    if password == "p@ss:w/rd%":  # not a word of the message: it must not appear at all
        assert password not in result.stderr and quote(password, safe="") not in result.stderr


# -- 4. no traceback into a closed pipe -----------------------------------------------


def cli_into_closed_pipe(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """The CLI writing into a pipe whose reader has gone (``| head -1`` once head is done):
    every write to stdout fails with EPIPE."""
    read, write = os.pipe()
    os.close(read)
    child_env = {k: v for k, v in os.environ.items() if not k.startswith(("DB_", "DATABASE_URL"))}
    try:
        return subprocess.run(
            [sys.executable, "-m", "defi_sql", *args],
            stdout=write,
            stderr=subprocess.PIPE,
            text=True,
            env={**child_env, **env},
            cwd=REPO,
            timeout=120,
            check=False,
        )
    finally:
        os.close(write)


@pytest.mark.parametrize(
    "args",
    [
        pytest.param(["status"], id="status"),
        pytest.param(["migrate", "--dry-run"], id="migrate-dry-run"),
        pytest.param(["rollback", "--all", "--dry-run"], id="rollback-all-dry-run"),
        pytest.param(["struct", "users"], id="struct"),
        pytest.param(["--help"], id="help"),
    ],
)
def test_reading_commands_into_a_closed_pipe_exit_quietly(db_url: str, args: list[str]) -> None:
    before = state(db_url)
    result = cli_into_closed_pipe(*args, env={"DATABASE_URL": db_url})
    assert (result.returncode, result.stderr) == (0, "")
    assert state(db_url) == before


def test_a_migrate_whose_reader_left_still_finishes_its_work(empty_db_url: str) -> None:
    """Output nobody reads is dropped; the batch is applied whole, not cut short."""
    result = cli_into_closed_pipe("migrate", env={"DATABASE_URL": empty_db_url})
    assert (result.returncode, result.stderr) == (0, "")
    assert applied(empty_db_url) == len(ALL)


def test_head_of_a_long_dry_run(db_url: str) -> None:
    """The shell pipeline of the report: the whole rollback plan is far more than a pipe holds."""
    command = f"{sys.executable} -m defi_sql rollback --all --dry-run | head -1"
    result = subprocess.run(
        ["bash", "-c", f"set -o pipefail; {command}"],
        capture_output=True,
        text=True,
        env={**os.environ, "DATABASE_URL": db_url},
        cwd=REPO,
        timeout=120,
        check=False,
    )
    assert result.stdout.startswith("-- database: ")
    assert result.stdout.count("\n") == 1
    assert result.stderr == ""
    assert result.returncode == 0


# -- 9. seed, check/lint, --version -------------------------------------------------


def test_snapshots_without_users_is_refused(db_url: str) -> None:
    before = state(db_url)
    result = cli("seed", "--snapshots", "5", env={"DATABASE_URL": db_url})
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr == (
        "defi-sql: error: --snapshots is the number of snapshots per generated user; "
        "pass it with --users N (e.g. `defi-sql seed --users 100 --snapshots 5`).\n"
    )
    assert state(db_url) == before


def test_seed_prints_what_it_added(db_url: str) -> None:
    first = cli("seed", env={"DATABASE_URL": db_url})
    assert (first.returncode, first.stderr) == (0, "")
    assert first.stdout.splitlines()[1:] == [
        "seeded development data (rows added): users 2, positions 4, signals 3, alerts 2, "
        "intents 1, event_store 3"
    ]
    again = cli("seed", env={"DATABASE_URL": db_url})
    assert (again.returncode, again.stderr) == (0, "")
    assert again.stdout.splitlines()[1:] == [
        "seeded development data (rows added): users 0, positions 0, signals 0, alerts 0, "
        "intents 0, event_store 0"
    ]


def test_check_and_lint_print_success_on_stdout(server: Server) -> None:
    """The rule for both: one line per problem on stdout; the closing line on stdout
    when the command exits 0, on stderr when it exits 1 (tests/test_lint.py and
    tests/test_check.py hold the failing halves)."""
    files = len(list(migrations_dir().glob("*.sql")))
    lint = cli("lint")
    assert (lint.returncode, lint.stdout, lint.stderr) == (
        0,
        f"migrations: no problems ({files} files)\n",
        "",
    )
    check = cli("check", "--server", server.admin)
    queries = len(load_statements(queries_dir(), seed_dir()))
    assert (check.returncode, check.stdout, check.stderr) == (
        0,
        f"check: {len(ALL)} migrations and {queries} queries: no problems\n",
        "",
    )


def test_the_first_make_says_what_it_is_doing(tmp_path: Path) -> None:
    """Building the venv takes half a minute: make says so before it starts (here it
    stops right after, with no Python to build it with)."""
    venv = tmp_path / "venv"
    result = subprocess.run(
        ["make", "-s", f"VENV={venv}", "PYTHON=false", "migrate"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode != 0
    assert result.stderr.splitlines()[0] == (
        f"make: installing defi-sql and its tools into {venv} "
        "(first run or pyproject.toml changed; about 30 s)..."
    )
    assert not venv.exists()


def test_version() -> None:
    with (REPO / "pyproject.toml").open("rb") as file:
        version = tomllib.load(file)["project"]["version"]
    result = cli("--version")
    assert (result.returncode, result.stdout, result.stderr) == (0, f"defi-sql {version}\n", "")
