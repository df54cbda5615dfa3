"""Hostile input to the CLI: one line on stderr, exit 1, no traceback, nothing changed.

Argparse's own usage errors exit 2 with its usage text. Cases already covered
elsewhere are not repeated: ``postgres//nope`` and an unreachable server
(host and port named, password masked), ``new 'Bad Name'``, ``fresh`` in
production and a failing migration's file and line are in test_cli.py; a wrong
scheme, an unknown URL option and a bad ``DB_PORT`` in test_config.py.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql

from defi_sql.check.catalog import Fingerprint, fingerprint
from defi_sql.cli import main
from defi_sql.errors import first_line
from defi_sql.paths import migrations_dir

from .conftest import Server, cli
from .helpers import MIGRATION_IDS

UNREACHABLE = {"PGHOST": "127.0.0.1", "PGPORT": "1"}  # libpq's defaults, for `postgres://`
ADVICE = "check that the server is running and that DATABASE_URL (or DB_*) is right."
LAST = MIGRATION_IDS[-1]


def assert_one_line(result: subprocess.CompletedProcess[str], message: str) -> None:
    """Exit 1, ``message`` as the only line on stderr, no traceback, no password."""
    assert "Traceback" not in result.stdout + result.stderr
    assert result.stderr == message + "\n"
    assert result.returncode == 1
    assert "secret" not in result.stdout + result.stderr


# -- malformed settings: no database involved ---------------------------------


@pytest.mark.parametrize(
    ("url", "message"),
    [
        pytest.param(
            "postgres://",
            "cannot connect to postgresql:///: connection to server at "
            f'"127.0.0.1", port 1 failed: Connection refused; {ADVICE}',
            id="scheme-only-uses-libpq-defaults",
        ),
        pytest.param(
            "postgresql://user:secret@host:notaport/db",
            "DATABASE_URL (environment) has a port that is not a number; use e.g. :5432.",
            id="port-not-a-number",
        ),
        pytest.param(
            "random text, not a URL",
            "DATABASE_URL (environment) does not start with postgresql://; "
            "write it as postgresql://user:password@host:5432/database.",
            id="random-text",
        ),
        pytest.param(
            "postgresql://u:se%00cret@127.0.0.1:1/d",
            "DATABASE_URL (environment) is not a valid PostgreSQL URL; write it as "
            "postgresql://user:password@host:5432/database (percent-encode special "
            "characters in the password).",
            id="percent-encoded-nul",
        ),
        pytest.param(
            "postgresql://u:secret@[::1/d",
            "DATABASE_URL (environment) is not a valid PostgreSQL URL; write it as "
            "postgresql://user:password@host:5432/database (percent-encode special "
            "characters in the password).",
            id="unclosed-ipv6-bracket",
        ),
        pytest.param(
            "postgresql://u:secret@127.0.0.1:99999/d",
            "cannot connect to postgresql://u:***@127.0.0.1:99999/d: connection is bad: "
            f'invalid port number: "99999"; {ADVICE}',
            id="port-out-of-range",
        ),
        pytest.param(
            "postgresql://u:secret@127.0.0.1:1/d?sslmode=bogus",
            "cannot connect to postgresql://u:***@127.0.0.1:1/d: connection is bad: "
            f'invalid sslmode value: "bogus"; {ADVICE}',
            id="bad-option-value",
        ),
        pytest.param(
            "host=127.0.0.1 port=1 user=u password=secret dbname=d",
            "cannot connect to postgresql://u:***@127.0.0.1:1/d: connection to server at "
            f'"127.0.0.1", port 1 failed: Connection refused; {ADVICE}',
            id="keyword-form-unreachable",
        ),
    ],
)
def test_malformed_database_url(url: str, message: str) -> None:
    result = cli("status", env={"DATABASE_URL": url, **UNREACHABLE})
    assert_one_line(result, "defi-sql: error: " + message)
    assert result.stdout == ""


def test_a_nul_byte_cannot_come_from_the_environment() -> None:
    with pytest.raises(ValueError, match="embedded null byte"):
        cli("status", env={"DATABASE_URL": "postgresql://u@h/d\x00x"})


@pytest.mark.parametrize(
    ("dotenv", "message"),
    [
        pytest.param(
            "DATABASE_URL=postgresql://u@127.0.0.1:1/d\x00other\n",
            "DATABASE_URL (.env) contains a NUL byte; remove it.",
            id="url",
        ),
        pytest.param(
            "DB_HOST=127.0.0.1\nDB_PORT=1\nDB_PASSWORD=sec\x00ret\n",
            "DB_PASSWORD (DB_* variables (.env)) contains a NUL byte; remove it.",
            id="db-password",
        ),
    ],
)
def test_a_nul_byte_in_dotenv_is_refused(
    dotenv: str, message: str, clean_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """libpq would cut the value at the NUL and silently use another database."""
    (clean_env / ".env").write_text(dotenv)
    assert main(["status"]) == 1
    out, err = capsys.readouterr()
    assert (out, err) == ("", f"defi-sql: error: {message}\n")


@pytest.mark.parametrize(
    ("args", "last_line"),
    [
        pytest.param(
            ["seed", "--users", "many"],
            "defi-sql seed: error: argument --users: invalid int value: 'many'",
            id="not-an-int",
        ),
        pytest.param(
            ["rollback", "--steps", "1", "--all"],
            "defi-sql rollback: error: argument --all: not allowed with argument --steps",
            id="exclusive-options",
        ),
        pytest.param(
            ["rollback", "--to"],
            "defi-sql rollback: error: argument --to: expected one argument",
            id="missing-value",
        ),
        pytest.param(
            ["struct"],
            "defi-sql struct: error: the following arguments are required: table",
            id="missing-argument",
        ),
        pytest.param(
            ["db", "drop"],
            # the list of choices is quoted or not depending on the Python version
            "defi-sql db: error: argument action: invalid choice: 'drop' (choose from ",
            id="bad-choice",
        ),
    ],
)
def test_usage_errors_exit_2(args: list[str], last_line: str) -> None:
    result = cli(*args, env={"DATABASE_URL": "postgresql://u:secret@127.0.0.1:1/d"})
    assert "Traceback" not in result.stdout + result.stderr
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert lines[0].startswith("usage: defi-sql ")
    assert lines[-1].startswith(last_line)
    assert lines[-1] == last_line or last_line.endswith("(choose from ")


# -- on a real database: the error, and the database exactly as it was ---------


def state(url: str) -> tuple[Fingerprint, dict[str, int]]:
    """The schema's fingerprint and the row count of every table (bookkeeping too)."""
    with psycopg.connect(url, autocommit=True) as conn:
        tables = [
            str(name)
            for (name,) in conn.execute(
                "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
                " WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p')"
                " ORDER BY c.relname"
            )
        ]
        counts: dict[str, int] = {}
        for table in tables:
            query = sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table))
            row = conn.execute(query).fetchone()
            assert row is not None
            counts[table] = int(row[0])
        return fingerprint(conn), counts


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param(
            ["rollback", "--to", "0099.create-nothing"],
            "there is no migration '0099.create-nothing' in sql/migrations; "
            "`defi-sql status` lists them.",
            id="rollback-to-unknown-id",
        ),
        pytest.param(
            ["rollback", "--to", "x'; DROP TABLE users; --"],
            'there is no migration "x\'; DROP TABLE users; --" in sql/migrations; '
            "`defi-sql status` lists them.",
            id="rollback-to-injection",
        ),
        pytest.param(
            ["rollback", "--steps", "-1"],
            "--steps must be 1 or more, not -1.",
            id="rollback-negative-steps",
        ),
        pytest.param(
            ["repair", LAST, "0099.no-such-migration"],
            "there is no migration '0099.no-such-migration'; `defi-sql status` lists them.",
            id="repair-unknown-id",
        ),
        pytest.param(
            ["seed", "--users", "-1"], "--users must be 1 or more, not -1.", id="seed-negative"
        ),
        pytest.param(
            ["seed", "--users", "3", "--snapshots", "0"],
            "--snapshots must be 1 or more, not 0.",
            id="seed-no-snapshots",
        ),
        pytest.param(
            ["struct", "no_such_table"],
            "there is no table 'no_such_table' in the current schema; `defi-sql status` "
            "shows whether its migration is applied.",
            id="struct-unknown-table",
        ),
        pytest.param(
            ["struct", "users; DROP TABLE users"],
            "there is no table 'users; DROP TABLE users' in the current schema; "
            "`defi-sql status` shows whether its migration is applied.",
            id="struct-injection",
        ),
    ],
)
def test_refused_commands_change_nothing(db_url: str, args: list[str], message: str) -> None:
    before = state(db_url)
    result = cli(*args, env={"DATABASE_URL": db_url})
    assert_one_line(result, "defi-sql: error: " + message)
    assert state(db_url) == before


@pytest.mark.parametrize(
    ("body", "line", "reason"),
    [
        pytest.param(
            "CREATE TABLLE oops (id int);\n",
            4,
            'syntax error at or near "TABLLE" (SQLSTATE 42601)',
            id="first-statement",
        ),
        pytest.param(
            "CREATE TABLE applied_then_undone (id int);\n\n"
            "ALTER TABLE users\n    ADD COLUMN nickname text,\n    ADD COLUMN ;\n",
            8,  # the line of the offending token, not of the statement's start
            'syntax error at or near ";" (SQLSTATE 42601)',
            id="after-a-good-statement",
        ),
    ],
)
def test_migration_with_a_syntax_error_changes_nothing(
    db_url: str, tmp_path: Path, body: str, line: int, reason: str
) -> None:
    shutil.copytree(migrations_dir(), tmp_path / "migrations")
    mid = f"{int(LAST[:4]) + 1:04d}.add-oops"
    broken = tmp_path / "migrations" / f"{mid}.sql"
    broken.write_text(f"-- {mid}: a typo.\n-- depends: {LAST}\n\n{body}")
    broken.with_suffix(".rollback.sql").write_text("-- nothing\n")
    env = {"DATABASE_URL": db_url, "DEFI_SQL_SQL_DIR": str(tmp_path)}
    before, status = state(db_url), cli("status", env=env).stdout

    result = cli("migrate", env=env)

    assert_one_line(
        result,
        f"defi-sql: error: {broken}:{line}: {reason}; nothing of {mid} was applied and the "
        "database stays at the last good migration; fix the file and run the command again.",
    )
    assert state(db_url) == before
    assert cli("status", env=env).stdout == status


def test_check_with_a_missing_models_module(server: Server) -> None:
    def databases() -> set[Any]:
        with psycopg.connect(server.admin, autocommit=True) as conn:
            return {row[0] for row in conn.execute("SELECT datname FROM pg_database")}

    before = databases()
    result = cli("check", "--server", server.admin, "--models", "no.such.module")
    assert_one_line(
        result,
        "defi-sql: error: cannot import the models module 'no.such.module' "
        "(No module named 'no'); pass --models.",
    )
    assert result.stdout == ""
    assert databases() == before


@pytest.mark.parametrize(
    ("text", "last", "expected"),
    [
        ("", False, "no message"),  # a tool that died silently: no IndexError
        ("\n  \n", True, "no message"),
        ("pg_dump: error: one\npg_dump: detail: two\n", True, "pg_dump: detail: two"),
        ("\nERROR:  first\nDETAIL:  second", False, "ERROR:  first"),
    ],
)
def test_first_line_of_a_message_never_fails(text: str, last: bool, expected: str) -> None:
    assert first_line(text, last=last) == expected
