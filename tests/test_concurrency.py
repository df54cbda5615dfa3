"""Concurrent and killed `migrate` runs: each migration applied once, no stale lock."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest

from defi_sql.errors import MigrationLocked
from defi_sql.migrate import LOCK_KEY, Migrator

from .conftest import FIXTURES, REPO
from .helpers import MIGRATION_IDS, session_running

ALL = MIGRATION_IDS


def spawn(url: str, *args: str, sql_dir: Path | None = None) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DB_", "DATABASE_URL"))}
    env["DATABASE_URL"] = url
    if sql_dir is not None:
        env["DEFI_SQL_SQL_DIR"] = str(sql_dir)
    return subprocess.Popen(
        [sys.executable, "-m", "defi_sql", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=REPO,
    )


def bookkeeping(url: str) -> tuple[int, int, int, int]:
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "SELECT (SELECT count(*) FROM _yoyo_migration),"
            "       (SELECT count(*) FROM _defi_sql_migration),"
            "       (SELECT count(*) FROM _yoyo_log WHERE operation = 'apply'),"
            "       (SELECT count(*) FROM yoyo_lock)"
        ).fetchone()
    assert row is not None
    return row


def test_two_migrate_runs_at_once_apply_each_migration_once(empty_db_url: str) -> None:
    runs = [spawn(empty_db_url, "migrate") for _ in range(2)]
    outputs = [run.communicate(timeout=120) for run in runs]
    assert [run.returncode for run in runs] == [0, 0], outputs
    last_lines = sorted(out.splitlines()[-1] for out, _ in outputs)
    assert last_lines == [f"batch applied: {len(ALL)} migration(s)", "nothing to migrate"]
    assert bookkeeping(empty_db_url) == (len(ALL), len(ALL), len(ALL), 0)


def test_a_killed_migrate_leaves_a_consistent_database_and_no_lock(empty_db_url: str) -> None:
    slow = FIXTURES / "slow"
    victim = spawn(empty_db_url, "migrate", sql_dir=slow)
    with psycopg.connect(empty_db_url, autocommit=True) as conn:
        session_running(conn, "pg_sleep(3)", "the slow migration never started")
        os.kill(victim.pid, signal.SIGKILL)
        victim.communicate(timeout=10)  # reaps it and closes its pipes
        assert victim.returncode == -signal.SIGKILL
        # committed: 0001; not committed: 0002, which was killed mid-transaction
        assert conn.execute("SELECT to_regclass('first_table') IS NOT NULL").fetchone() == (True,)

    started = time.monotonic()
    rerun = spawn(empty_db_url, "migrate", sql_dir=slow)
    out, err = rerun.communicate(timeout=120)
    assert rerun.returncode == 0, err
    assert out.splitlines()[1].startswith("applied 0002.create-slow (")
    assert out.splitlines()[-1] == "batch applied: 1 migration(s)"
    assert time.monotonic() - started < 30  # not the 60 s lock timeout: the lock died with the run
    assert bookkeeping(empty_db_url) == (2, 2, 2, 0)


def test_a_held_lock_times_out_with_the_holders_pid(empty_db_url: str) -> None:
    with psycopg.connect(empty_db_url, autocommit=True) as holder:
        holder.execute("SELECT pg_advisory_lock(%s)", (LOCK_KEY,))
        pid = holder.info.backend_pid
        with pytest.raises(MigrationLocked) as caught, Migrator(empty_db_url, lock_timeout=0.3):
            pass
    assert str(caught.value) == (
        f"another migration run (server pid {pid}) has held the lock for 0.3s; wait for it to "
        f"finish, or end it with SELECT pg_terminate_backend({pid})."
    )
    with Migrator(empty_db_url, lock_timeout=0.3) as m:  # released with its session
        assert m.pending() == ALL
