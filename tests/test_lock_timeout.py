"""The migrator's lock_timeout: a migration waits for a lock at most DEFI_SQL_LOCK_TIMEOUT
(5s by default), then fails and changes nothing, instead of queueing every query behind it."""

from __future__ import annotations

import time
from pathlib import Path

import psycopg
import pytest
from psycopg.conninfo import make_conninfo

from defi_sql.check.catalog import fingerprint
from defi_sql.errors import ConfigError, MigrationFailed
from defi_sql.migrate import Migrator, session_lock_timeout

from .helpers import MIGRATION_IDS

LAST = MIGRATION_IDS[-1]
NEXT = f"{int(LAST[:4]) + 1:04d}.add-users-nickname"
BLOCKED = f"""\
-- Needs an ACCESS EXCLUSIVE lock on users, which the test holds a conflicting lock on.
-- depends: {LAST}

CREATE TABLE nicknames (nickname text PRIMARY KEY);

ALTER TABLE users ADD COLUMN nickname text;
"""


def show(url: str, setting: str) -> str:
    with Migrator(url) as m:
        row = m.connection.execute(f"SHOW {setting}").fetchone()
    assert row is not None
    return str(row[0])


def test_migrations_run_with_a_lock_timeout_of_5s_by_default(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DEFI_SQL_LOCK_TIMEOUT", raising=False)
    assert show(db_url, "lock_timeout") == "5s"
    monkeypatch.setenv("DEFI_SQL_LOCK_TIMEOUT", "250ms")
    assert show(db_url, "lock_timeout") == "250ms"


def test_options_of_the_url_are_kept(db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DEFI_SQL_LOCK_TIMEOUT", raising=False)
    url = make_conninfo(db_url, options="-c statement_timeout=7s")
    assert (show(url, "statement_timeout"), show(url, "lock_timeout")) == ("7s", "5s")


@pytest.mark.parametrize(
    ("value", "setting"),
    [
        pytest.param("5s", "5s", id="seconds"),
        pytest.param("500ms", "500ms", id="milliseconds"),
        pytest.param("2 min", "2min", id="spaced-minutes"),
        pytest.param("1500", "1500", id="bare-milliseconds"),
        pytest.param("0", "0", id="wait-forever"),
        pytest.param("", "5s", id="empty-is-unset"),
    ],
)
def test_lock_timeout_values(monkeypatch: pytest.MonkeyPatch, value: str, setting: str) -> None:
    monkeypatch.setenv("DEFI_SQL_LOCK_TIMEOUT", value)
    assert session_lock_timeout() == setting


@pytest.mark.parametrize(
    "value",
    [
        pytest.param("soon", id="word"),
        pytest.param("-1s", id="negative"),
        pytest.param("5 seconds", id="unknown-unit"),
        pytest.param("5s; DROP TABLE users", id="injection"),
    ],
)
def test_lock_timeout_values_bad(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("DEFI_SQL_LOCK_TIMEOUT", value)
    with pytest.raises(ConfigError) as caught:
        Migrator("postgresql:///unused")
    assert str(caught.value) == (
        f"DEFI_SQL_LOCK_TIMEOUT={value!r} is not a duration; write it as PostgreSQL does, "
        "e.g. 5s, 500ms or 2min (0 waits forever)."
    )


def test_a_migration_blocked_by_another_transaction_fails_after_the_timeout(
    db_url: str, migrations_copy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DEFI_SQL_LOCK_TIMEOUT", "200ms")
    migration = migrations_copy / f"{NEXT}.sql"
    migration.write_text(BLOCKED, encoding="utf-8")
    (migrations_copy / f"{NEXT}.rollback.sql").write_text(
        "ALTER TABLE users DROP COLUMN nickname;\n\nDROP TABLE nicknames;\n", encoding="utf-8"
    )
    with psycopg.connect(db_url, autocommit=True) as holder, psycopg.connect(db_url) as reader:
        before = fingerprint(holder)
        reader.execute("SELECT count(*) FROM users")  # an open transaction: ACCESS SHARE on users
        started = time.monotonic()
        with Migrator(db_url, directory=migrations_copy) as m:
            with pytest.raises(MigrationFailed) as caught:
                m.migrate()
            waited = time.monotonic() - started
            status = {s.id: s.label for s in m.status()}
        reader.rollback()
        assert fingerprint(holder) == before  # CREATE TABLE nicknames was undone with it
    assert str(caught.value) == (
        f"{migration}:6: canceling statement due to lock timeout (SQLSTATE 55P03); nothing of "
        f"{NEXT} was applied and the database stays at the last good "
        "migration; another session held a lock it needs for longer than lock_timeout "
        "(200ms); run the command again once that session is done, or raise "
        "DEFI_SQL_LOCK_TIMEOUT."
    )
    assert (caught.value.path, caught.value.line) == (str(migration), 6)
    assert waited < 4, "the migration waited for the lock instead of giving up after 200ms"
    assert status[NEXT] == "pending"
    assert status[LAST] == "applied"
