"""The migrator holds its promises against any file and any operator (issue #13, #9.1).

Each test builds a small migration tree in a temporary folder (or a copy of the
real one), runs the CLI in a child process (or the Migrator) on a real server,
and asserts the whole message and what the database holds afterwards.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from defi_sql.check.catalog import fingerprint
from defi_sql.dev.lint import lint_migrations, manifest_path
from defi_sql.errors import MigrationError, MigrationFailed
from defi_sql.migrate import LOCK_KEY, Migrator, create_migration

from .conftest import REPO, cli
from .helpers import session_running
from .test_concurrency import spawn

SQUAWK = REPO / "sql" / ".squawk.toml"
ONE = "0001.create-things"
TWO = "0002.create-others"
THREE = "0003.create-thirds"


def tree(root: Path, files: dict[str, str]) -> Path:
    """A sql tree ``root`` whose migrations/ holds ``files`` (name without .sql: text)."""
    folder = root / "migrations"
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / f"{name}.sql").write_text(text, encoding="utf-8")
    return root


def chain(root: Path, *extra: tuple[str, str, str]) -> Path:
    """Three good migrations (things, others, thirds), plus ``extra`` (id, forward, rollback)."""
    files = {
        ONE: f"-- {ONE}: things.\n\nCREATE TABLE things (id int PRIMARY KEY);\n",
        f"{ONE}.rollback": "-- undo\nDROP TABLE things;\n",
        TWO: f"-- {TWO}: others.\n-- depends: {ONE}\n\nCREATE TABLE others (id int);\n",
        f"{TWO}.rollback": "-- undo\nDROP TABLE others;\n",
        THREE: f"-- {THREE}: thirds.\n-- depends: {TWO}\n\nCREATE TABLE thirds (id int);\n",
        f"{THREE}.rollback": "-- undo\nDROP TABLE thirds;\n",
    }
    for mid, forward, rollback in extra:
        files[mid] = forward
        files[f"{mid}.rollback"] = rollback
    return tree(root, files)


def run(url: str, sql_dir: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return cli(*args, env={"DATABASE_URL": url, "DEFI_SQL_SQL_DIR": str(sql_dir), **env})


def one_line(result: subprocess.CompletedProcess[str], message: str) -> None:
    assert "Traceback" not in result.stdout + result.stderr, result.stderr
    assert result.stderr == f"defi-sql: error: {message}\n"
    assert result.returncode == 1


def tables(url: str) -> list[str]:
    """Every table of every user schema, qualified."""
    with psycopg.connect(url) as conn:
        return [
            f"{s}.{t}"
            for s, t in conn.execute(
                "SELECT schemaname, tablename FROM pg_tables"
                " WHERE schemaname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1, 2"
            )
        ]


def applied(url: str) -> list[str]:
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT migration_id FROM _yoyo_migration ORDER BY 1").fetchall()
    return [str(mid) for (mid,) in rows]


def states(url: str, sql_dir: Path) -> dict[str, str]:
    with Migrator(url, directory=sql_dir / "migrations") as m:
        return {s.id: s.label for s in m.status()}


# -- malformed files: refused whole, before anything runs, one line naming the file -------


@pytest.mark.parametrize("command", [["migrate"], ["migrate", "--dry-run"], ["status"]])
def test_a_dependency_cycle_is_refused(
    empty_db_url: str, tmp_path: Path, command: list[str]
) -> None:
    root = chain(tmp_path)
    two = root / "migrations" / f"{TWO}.sql"
    two.write_text(two.read_text().replace(f"-- depends: {ONE}", f"-- depends: {THREE}"))
    result = run(empty_db_url, root, *command)
    one_line(
        result,
        f"{two}:2: {TWO} -> {THREE} -> {TWO}: these migrations depend on each other in a "
        "circle, so none can run first; a migration depends only on earlier ones: fix their "
        "`-- depends:` lines.",
    )
    assert tables(empty_db_url) == []


@pytest.mark.parametrize(
    ("directive", "shown"),
    [
        pytest.param("-- transactional: no", "no", id="no"),
        pytest.param("-- transactional: false ", "false ", id="trailing-space"),
        pytest.param("-- transactional:", "", id="empty"),
    ],
)
@pytest.mark.parametrize("command", ["migrate", "status"])
def test_a_bad_transactional_directive_is_refused(
    empty_db_url: str, tmp_path: Path, directive: str, shown: str, command: str
) -> None:
    root = chain(tmp_path)
    two = root / "migrations" / f"{TWO}.sql"
    two.write_text(two.read_text().replace("-- depends:", f"{directive}\n-- depends:"))
    hint = " (mind the space around it)" if shown == "false " else ""
    one_line(
        run(empty_db_url, root, command),
        f"{two}:2: `-- transactional: {shown}` is neither true nor false{hint}; write "
        "`-- transactional: false`, or leave the line out for a migration that runs in one "
        "transaction.",
    )
    assert tables(empty_db_url) == []


@pytest.mark.parametrize(
    "stray",
    ["0002.create-others.undo.sql", "0002.create-others.rolback.sql", "notes.sql", "0004.py"],
)
def test_a_file_that_is_not_a_migration_is_refused(
    empty_db_url: str, tmp_path: Path, stray: str
) -> None:
    root = chain(tmp_path)
    (root / "migrations" / stray).write_text("DROP TABLE others;\n")
    one_line(
        run(empty_db_url, root, "migrate"),
        f"{root / 'migrations' / stray}:1: {stray} is neither a migration "
        "(NNNN.verb-object.sql) nor a rollback (NNNN.verb-object.rollback.sql), yet yoyo would "
        f"run it as a migration; rename it, or move it out of {root / 'migrations'}.",
    )
    assert tables(empty_db_url) == []


def test_a_rollback_without_its_migration_is_refused(empty_db_url: str, tmp_path: Path) -> None:
    root = chain(tmp_path)
    orphan = root / "migrations" / "0004.create-fourths.rollback.sql"
    orphan.write_text("DROP TABLE fourths;\n")
    one_line(
        run(empty_db_url, root, "migrate"),
        f"{orphan}:1: 0004.create-fourths.rollback.sql has no migration "
        "0004.create-fourths.sql to undo; rename it to match its migration, or delete it.",
    )


def test_an_empty_migration_is_refused(empty_db_url: str, tmp_path: Path) -> None:
    empty = ("0004.create-fourths", f"-- nothing yet\n-- depends: {THREE}\n\n", "DROP TABLE x;\n")
    root = chain(tmp_path, empty)
    path = root / "migrations" / "0004.create-fourths.sql"
    one_line(
        run(empty_db_url, root, "migrate"),
        f"{path}:1: 0004.create-fourths.sql holds no SQL statement, only comments, yet it would "
        "be recorded as applied; write its statements, or delete it with its rollback.",
    )
    assert tables(empty_db_url) == []


def test_an_empty_rollback_is_refused_and_undoes_nothing(empty_db_url: str, tmp_path: Path) -> None:
    root = chain(tmp_path)
    rollback = root / "migrations" / f"{THREE}.rollback.sql"
    rollback.write_text("-- Undo: TODO\n")
    assert run(empty_db_url, root, "migrate").returncode == 0
    one_line(
        run(empty_db_url, root, "rollback"),
        f"{rollback}:1: {THREE}.rollback.sql holds no SQL statement, so rolling back {THREE} "
        "would change nothing and forget it; write the statements that undo it.",
    )
    assert "public.thirds" in tables(empty_db_url)
    assert applied(empty_db_url) == [ONE, TWO, THREE]


def test_two_pending_migrations_sharing_a_number_are_refused(
    empty_db_url: str, tmp_path: Path
) -> None:
    branch = ("0003.create-branch", f"-- branch\n-- depends: {TWO}\n\nCREATE TABLE b (id int);\n")
    root = chain(tmp_path, (*branch, "DROP TABLE b;\n"))
    one_line(
        run(empty_db_url, root, "migrate"),
        f"{root / 'migrations' / THREE}.sql:1: 0003.create-branch.sql and {THREE}.sql share "
        "the number 0003 (two branches merged?); give the one no database has applied yet "
        "the next free number, 0004 (`git mv` it and its rollback), and make it depend on "
        "the newest migration.",
    )
    assert tables(empty_db_url) == []


def test_a_late_migration_numbered_before_applied_ones(empty_db_url: str, tmp_path: Path) -> None:
    root = tree(
        tmp_path,
        {
            "0001.create-a": "-- a\nCREATE TABLE a (id int);\n",
            "0001.create-a.rollback": "DROP TABLE a;\n",
            "0005.create-e": "-- e\n-- depends: 0001.create-a\nCREATE TABLE e (id int);\n",
            "0005.create-e.rollback": "DROP TABLE e;\n",
        },
    )
    assert run(empty_db_url, root, "migrate").returncode == 0
    late = root / "migrations" / "0003.create-c.sql"
    late.write_text("-- c, merged late\n-- depends: 0001.create-a\nCREATE TABLE c (id int);\n")
    late.with_name("0003.create-c.rollback.sql").write_text("DROP TABLE c;\n")
    one_line(
        run(empty_db_url, root, "migrate"),
        f"{late}:1: 0003.create-c is numbered before 0005.create-e, which this database has "
        "applied already, so it would run here after it but before it in a new database; give "
        "it the next free number, 0006 (`git mv` it and its rollback), depending on the newest "
        "migration.",
    )
    assert "public.c" not in tables(empty_db_url)


# -- transaction control: refused before anything runs -----------------------------


def test_a_commit_inside_a_migration_is_refused_before_anything_runs(
    empty_db_url: str, tmp_path: Path
) -> None:
    body = (
        f"-- half of it would stay\n-- depends: {THREE}\n\n"
        "CREATE TABLE kept (id int);\n\nCOMMIT;\n\nCREATE TABLE kept (id int);\n"
    )
    root = chain(tmp_path, ("0004.create-kept", body, "DROP TABLE kept;\n"))
    path = root / "migrations" / "0004.create-kept.sql"
    one_line(
        run(empty_db_url, root, "migrate"),
        f"{path}:6: COMMIT commits the statements before it on their own, whatever happens "
        "after; remove it: each migration runs in one transaction of its own, recorded as "
        "applied in that same transaction (a statement that cannot run in a transaction goes "
        "alone in a `-- transactional: false` migration).",
    )
    assert tables(empty_db_url) == []  # not even 0001: the set is refused as a whole


@pytest.mark.parametrize(
    ("body", "line", "word", "why"),
    [
        pytest.param(
            "BEGIN;\nCREATE TABLE ghost (id int);\nROLLBACK;\n",
            4,
            "BEGIN",
            "opens a transaction inside the one the migration already runs in",
            id="psql-test-file",  # and its ROLLBACK, the second of two problems
        ),
        pytest.param(
            "CREATE TABLE ghost (id int);\n/* done */ rollback ;\n",
            5,
            "ROLLBACK",
            "silently undoes the statements before it, and the migration would still be "
            "recorded as applied",
            id="ending-in-rollback",
        ),
        pytest.param(
            "CREATE TABLE ghost (id int);\nSAVEPOINT s;\n",
            5,
            "SAVEPOINT",
            "splits the transaction the migration runs in",
            id="savepoint",
        ),
    ],
)
def test_transaction_control_is_refused(
    empty_db_url: str, tmp_path: Path, body: str, line: int, word: str, why: str
) -> None:
    root = chain(tmp_path, ("0004.create-ghost", f"-- g\n-- depends: {THREE}\n\n{body}", "-- x\n"))
    path = root / "migrations" / "0004.create-ghost.sql"
    more = " (1 more problem(s): `defi-sql lint` lists them)" if word == "BEGIN" else ""
    one_line(
        run(empty_db_url, root, "migrate"),
        f"{path}:{line}: {word} {why}; remove it: each migration runs in one transaction of "
        "its own, recorded as applied in that same transaction (a statement that cannot run "
        f"in a transaction goes alone in a `-- transactional: false` migration){more}.",
    )
    assert applied_or_none(empty_db_url) == []


def applied_or_none(url: str) -> list[str]:
    with psycopg.connect(url) as conn:
        exists = conn.execute("SELECT to_regclass('_yoyo_migration') IS NOT NULL").fetchone()
    return applied(url) if exists and exists[0] else []


def test_words_in_strings_comments_and_bodies_are_not_transaction_control(
    empty_db_url: str, tmp_path: Path
) -> None:
    body = (
        "-- COMMIT; in a comment\n"
        "CREATE FUNCTION f() RETURNS text LANGUAGE plpgsql\n"
        "AS $$ BEGIN RETURN 'ROLLBACK;'; END $$;\n"
        "COMMENT ON FUNCTION f() IS 'BEGIN; COMMIT;';\n"
    )
    root = chain(
        tmp_path, ("0004.create-f", f"-- f\n-- depends: {THREE}\n\n{body}", "DROP FUNCTION f();\n")
    )
    result = run(empty_db_url, root, "migrate")
    assert result.returncode == 0, result.stderr


# -- session state: each migration starts from the migrator's own ---------------------


def test_a_migrations_settings_do_not_reach_the_next_one(empty_db_url: str, tmp_path: Path) -> None:
    leak = (
        "0004.set-everything",
        f"-- sets\n-- depends: {THREE}\n\nCREATE SCHEMA other;\n\n"
        "SET search_path TO other, public;\n\n"
        "SET lock_timeout = 0;\n\nSET statement_timeout = '1h';\n\nCREATE TABLE here (id int);\n",
        "DROP TABLE other.here;\n\nDROP SCHEMA other;\n",
    )
    seen = (
        "0005.create-seen",
        "-- records what it runs with\n-- depends: 0004.set-everything\n\n"
        "CREATE TABLE seen AS SELECT current_setting('search_path') AS search_path,"
        " current_setting('lock_timeout') AS lock_timeout,"
        " current_setting('statement_timeout') AS statement_timeout;\n",
        "DROP TABLE seen;\n",
    )
    root = chain(tmp_path, leak, seen)
    result = run(empty_db_url, root, "migrate", DEFI_SQL_LOCK_TIMEOUT="750ms")
    assert result.returncode == 0, result.stderr
    with psycopg.connect(empty_db_url) as conn:
        assert conn.execute("SELECT * FROM public.seen").fetchall() == [
            ('"$user", public', "750ms", "0")
        ]
        assert conn.execute("SELECT to_regclass('other.here') IS NOT NULL").fetchone() == (True,)
    assert applied(empty_db_url) == [ONE, TWO, THREE, "0004.set-everything", "0005.create-seen"]
    # the bookkeeping stayed in public, and status reads it
    status = run(empty_db_url, root, "status")
    assert status.returncode == 0, status.stderr
    assert status.stdout.splitlines()[-1] == "5 applied, 0 pending, 0 edited"
    # and back: the rollback of 0004 runs after 0005's, from the same clean session
    assert run(empty_db_url, root, "rollback", "--all").returncode == 0
    assert tables(empty_db_url) == [
        "public._defi_sql_created",
        "public._defi_sql_migration",
        "public._yoyo_log",
        "public._yoyo_migration",
        "public._yoyo_version",
        "public.yoyo_lock",
    ]


# -- CONCURRENTLY: recorded only when valid; what is left is named --------------------

INDEX = (
    "0004.create-index-things-id",
    f"-- an index\n-- depends: {THREE}\n-- transactional: false\n\n"
    "CREATE INDEX CONCURRENTLY things_id_idx ON things (id);\n",
    "-- undo\n-- transactional: false\n\nDROP INDEX CONCURRENTLY IF EXISTS things_id_idx;\n",
)


def test_a_concurrent_index_build_that_times_out_names_the_invalid_index(
    empty_db_url: str, tmp_path: Path
) -> None:
    root = chain(tmp_path, INDEX)
    path = root / "migrations" / f"{INDEX[0]}.sql"
    with Migrator(empty_db_url, directory=root / "migrations") as m:
        m.migrate()
        m.rollback(steps=1)  # 0004 pending, things there
    env = {"DEFI_SQL_LOCK_TIMEOUT": "200ms"}
    with psycopg.connect(empty_db_url) as writer:
        writer.execute("INSERT INTO things VALUES (1)")  # an open transaction the build waits for
        result = run(empty_db_url, root, "migrate", **env)
    one_line(
        result,
        f"{path}:5: canceling statement due to lock timeout (SQLSTATE 55P03); {INDEX[0]} is not "
        "transactional and left the INVALID index public.things_id_idx behind (no query uses "
        f"it, every write still pays for it), and {INDEX[0]} stays pending; remove it with "
        "`DROP INDEX CONCURRENTLY IF EXISTS public.things_id_idx;`, then another session held "
        "a lock it needs for longer than lock_timeout (200ms); run the command again once "
        "that session is done, or raise DEFI_SQL_LOCK_TIMEOUT.",
    )
    assert states(empty_db_url, root)[INDEX[0]] == "pending"
    # the rerun does not trip over it: it is named again, before anything runs
    one_line(
        run(empty_db_url, root, "migrate", **env),
        f"{path}:5: the index public.things_id_idx is INVALID, left by an earlier failed build, "
        "so nothing is recorded; remove it with "
        "`DROP INDEX CONCURRENTLY IF EXISTS public.things_id_idx;` and run the command again.",
    )
    with psycopg.connect(empty_db_url, autocommit=True) as conn:
        conn.execute("DROP INDEX CONCURRENTLY IF EXISTS public.things_id_idx")
    assert run(empty_db_url, root, "migrate", **env).returncode == 0
    assert states(empty_db_url, root)[INDEX[0]] == "applied"


def test_if_not_exists_over_an_invalid_index_is_not_recorded(
    empty_db_url: str, tmp_path: Path
) -> None:
    unique = (
        "0004.create-index-things-id",
        f"-- an index\n-- depends: {THREE}\n-- transactional: false\n\n"
        "CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS things_id_idx ON things (id);\n",
        INDEX[2],
    )
    root = chain(tmp_path, unique)
    with Migrator(empty_db_url, directory=root / "migrations") as m:
        m.migrate()
        m.rollback(steps=1)
    with psycopg.connect(empty_db_url, autocommit=True) as conn:
        conn.execute("INSERT INTO things VALUES (1)")
        with psycopg.connect(empty_db_url) as writer:
            writer.execute("INSERT INTO things VALUES (2)")
            result = run(empty_db_url, root, "migrate", DEFI_SQL_LOCK_TIMEOUT="200ms")
        assert result.returncode == 1
        assert "left the INVALID index public.things_id_idx" in result.stderr
        result = run(empty_db_url, root, "migrate")
        assert "the index public.things_id_idx is INVALID" in result.stderr
        assert result.returncode == 1
        valid = conn.execute(
            "SELECT indisvalid FROM pg_index WHERE indexrelid = 'things_id_idx'::regclass"
        ).fetchone()
        assert valid == (False,)
    assert states(empty_db_url, root)[unique[0]] == "pending"


def test_a_concurrent_drop_that_times_out_leaves_the_migration_applied_and_says_so(
    empty_db_url: str, tmp_path: Path
) -> None:
    root = chain(tmp_path, INDEX)
    rollback = root / "migrations" / f"{INDEX[0]}.rollback.sql"
    assert run(empty_db_url, root, "migrate").returncode == 0
    with psycopg.connect(empty_db_url) as writer:
        writer.execute("INSERT INTO things VALUES (1)")
        result = run(empty_db_url, root, "rollback", DEFI_SQL_LOCK_TIMEOUT="200ms")
    one_line(
        result,
        f"{rollback}:4: canceling statement due to lock timeout (SQLSTATE 55P03); {INDEX[0]} is "
        "not transactional and left the INVALID index public.things_id_idx behind (no query "
        f"uses it, every write still pays for it), and {INDEX[0]} stays applied; remove it "
        "with `DROP INDEX CONCURRENTLY IF EXISTS public.things_id_idx;` (or keep "
        f"{INDEX[0]} applied and rebuild it: `REINDEX INDEX CONCURRENTLY "
        "public.things_id_idx;`), then another session held a lock it needs for longer than "
        "lock_timeout (200ms); run the command again once that session is done, or raise "
        "DEFI_SQL_LOCK_TIMEOUT.",
    )
    status = run(empty_db_url, root, "status", "--check")
    assert f"{INDEX[0]}  invalid " in status.stdout
    assert status.returncode == 1
    assert run(empty_db_url, root, "rollback").returncode == 0  # finishes the drop
    assert states(empty_db_url, root)[INDEX[0]] == "pending"


# -- the lock lives on the connection that does the work ------------------------------


def slow_tree(root: Path, seconds: int) -> Path:
    return chain(
        root,
        (
            "0004.create-slow",
            f"-- slow\n-- depends: {THREE}\n\nCREATE TABLE slow (id int);\n\n"
            f"SELECT pg_sleep({seconds});\n",
            "DROP TABLE slow;\n",
        ),
    )


def sleeper(conn: psycopg.Connection[Any], seconds: int) -> int:
    """The pid of the session running the slow migration, once it runs."""
    return session_running(conn, f"pg_sleep({seconds})", "the slow migration never started")


def holder(conn: psycopg.Connection[Any]) -> int | None:
    row = conn.execute(
        "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted"
        " AND ((classid::bigint << 32) | objid::bigint) = %s",
        (LOCK_KEY,),
    ).fetchone()
    return None if row is None else int(row[0])


def test_the_lock_is_held_by_the_session_doing_the_work(empty_db_url: str, tmp_path: Path) -> None:
    root = slow_tree(tmp_path, 30)
    victim = spawn(empty_db_url, "migrate", sql_dir=root)
    with psycopg.connect(empty_db_url, autocommit=True) as conn:
        pid = sleeper(conn, 30)
        assert holder(conn) == pid  # the pid a lock-wait error names is the working one
        conn.execute("SELECT pg_terminate_backend(%s, 5000)", (pid,))
        _out, err = victim.communicate(timeout=30)
        assert holder(conn) is None  # the work and the lock ended together
    assert victim.returncode == 1
    path = root / "migrations" / "0004.create-slow.sql"
    assert err == (
        f"defi-sql: error: {path}:6: terminating connection due to administrator command "
        "(SQLSTATE 57P01); the connection was lost (ended by pg_terminate_backend, a restart "
        "or the network), so nothing of 0004.create-slow was applied and the database stays "
        "at the last good migration; run the command again.\n"
    )
    assert applied(empty_db_url) == [ONE, TWO, THREE]
    assert "public.slow" not in tables(empty_db_url)


def test_a_killed_client_takes_its_session_and_lock_with_it(
    empty_db_url: str, tmp_path: Path
) -> None:
    root = slow_tree(tmp_path, 30)
    victim = spawn(empty_db_url, "migrate", sql_dir=root)
    with psycopg.connect(empty_db_url, autocommit=True) as conn:
        pid = sleeper(conn, 30)
        os.kill(victim.pid, signal.SIGKILL)
        victim.communicate(timeout=10)
        killed = time.monotonic()
        alive = "SELECT 1 FROM pg_stat_activity WHERE pid = %s"
        while conn.execute(alive, (pid,)).fetchone():
            if holder(conn) is None:  # released as the session ends, never while it works on
                ending = time.monotonic()
                while conn.execute(alive, (pid,)).fetchone():
                    assert time.monotonic() - ending < 2, "the lock was released mid-work"
                    time.sleep(0.01)
                break
            assert time.monotonic() - killed < 10, "the session outlived its client"
            time.sleep(0.05)
        assert holder(conn) is None
    rerun = run(empty_db_url, root, "migrate")
    assert rerun.returncode == 0, rerun.stderr
    assert applied(empty_db_url) == [ONE, TWO, THREE, "0004.create-slow"]


# -- fresh: only what is its own ---------------------------------------------------


def test_fresh_refuses_while_other_schemas_depend_on_this_one(db_url: str) -> None:
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("CREATE SCHEMA reporting")
        conn.execute("CREATE VIEW reporting.active_users AS SELECT id FROM public.users")
        conn.execute(
            "CREATE TABLE reporting.notes (id int, user_id uuid REFERENCES public.users (id))"
        )
        before = fingerprint(conn)
    result = cli("fresh", env={"DATABASE_URL": db_url})
    one_line(
        result,
        "fresh would also drop what other schemas build on this one: foreign key "
        "notes_user_id_fkey on reporting.notes (on public.users, public.users_pkey); view "
        "reporting.active_users (on public.users); nothing was dropped: drop or move those "
        "objects first, or run fresh on a database of its own.",
    )
    with psycopg.connect(db_url) as conn:
        assert fingerprint(conn) == before
        assert conn.execute("SELECT to_regclass('reporting.active_users')").fetchone() is not None


def test_fresh_keeps_the_typescript_apps_migration_tables(db_url: str) -> None:
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("CREATE TABLE adonis_schema (id serial PRIMARY KEY, name text, batch int)")
        conn.execute("INSERT INTO adonis_schema (name, batch) VALUES ('create_users', 1)")
        conn.execute("CREATE TABLE adonis_schema_versions (version int)")
    result = cli("fresh", env={"DATABASE_URL": db_url})
    assert result.returncode == 0, result.stderr
    with psycopg.connect(db_url) as conn:
        assert conn.execute("SELECT name FROM adonis_schema").fetchall() == [("create_users",)]
        assert conn.execute(
            "SELECT to_regclass('adonis_schema_versions') IS NOT NULL"
        ).fetchone() == (True,)


def test_fresh_rebuilds_schemas_and_extensions_the_migrations_created(
    empty_db_url: str, tmp_path: Path
) -> None:
    own = (
        "0004.create-schema-vectors",
        f"-- its own schema and an extension\n-- depends: {THREE}\n\n"
        "CREATE SCHEMA vectors;\n\nCREATE EXTENSION vector SCHEMA vectors;\n\n"
        "CREATE TABLE vectors.items (id int PRIMARY KEY, embedding vectors.vector(3));\n",
        "DROP TABLE vectors.items;\n\nDROP EXTENSION vector;\n\nDROP SCHEMA vectors;\n",
    )
    root = chain(tmp_path, own)
    assert run(empty_db_url, root, "migrate").returncode == 0
    with psycopg.connect(empty_db_url, autocommit=True) as conn:
        conn.execute("INSERT INTO vectors.items VALUES (1, '[1,2,3]')")
        conn.execute("INSERT INTO things VALUES (1)")
    result = run(empty_db_url, root, "fresh")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == "fresh: 4 migration(s) applied"
    with psycopg.connect(empty_db_url) as conn:
        assert conn.execute("SELECT count(*) FROM vectors.items").fetchone() == (0,)
        assert conn.execute("SELECT count(*) FROM things").fetchone() == (0,)


# -- read-only commands write nothing -----------------------------------------------


@pytest.mark.parametrize(
    "command", [["status"], ["migrate", "--dry-run"], ["rollback", "--dry-run"]]
)
def test_read_only_commands_create_nothing(empty_db_url: str, command: list[str]) -> None:
    result = cli(*command, env={"DATABASE_URL": empty_db_url})
    assert result.returncode == 0, result.stderr
    assert tables(empty_db_url) == []


def test_status_in_a_read_only_session(db_url: str, empty_db_url: str) -> None:
    for url in (db_url, empty_db_url):
        read_only = make_conninfo(url, options="-c default_transaction_read_only=on")
        result = cli("status", "--check", env={"DATABASE_URL": read_only})
        assert "Traceback" not in result.stderr
        assert result.stderr == ("" if url == db_url else result.stderr)
        assert result.returncode == (0 if url == db_url else 1), result.stderr


def test_status_as_a_role_without_create(empty_db_url: str) -> None:
    params = conninfo_to_dict(empty_db_url)
    with psycopg.connect(empty_db_url, autocommit=True) as conn:
        conn.execute("DROP ROLE IF EXISTS defi_sql_reader")
        conn.execute("CREATE ROLE defi_sql_reader LOGIN")
        conn.execute("REVOKE CREATE ON SCHEMA public FROM PUBLIC")
    try:
        url = make_conninfo(empty_db_url, user="defi_sql_reader")
        result = cli("status", env={"DATABASE_URL": url})
        assert result.returncode == 0, result.stderr
        assert result.stdout.splitlines()[-1].startswith("0 applied, ")
        assert tables(empty_db_url) == []
    finally:
        with psycopg.connect(empty_db_url, autocommit=True) as conn:
            conn.execute("DROP OWNED BY defi_sql_reader")
            conn.execute("DROP ROLE defi_sql_reader")
    assert params


# -- yoyo's own CLI on the same database ----------------------------------------------


def yoyo(url: str, sql_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    params = conninfo_to_dict(url)
    database = (
        f"postgresql+psycopg://{params.get('user', 'postgres')}@/{params['dbname']}"
        f"?host={params['host']}" + (f"&port={params['port']}" if params.get("port") else "")
    )
    result = subprocess.run(
        [
            str(Path(sys.executable).parent / "yoyo"),
            *args,
            "--batch",
            "--no-config-file",
            "--database",
            database,
            str(sql_dir / "migrations"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def test_migrations_applied_by_yoyo_are_rolled_back_newest_first(
    empty_db_url: str, tmp_path: Path
) -> None:
    root = chain(tmp_path)
    with Migrator(empty_db_url, directory=root / "migrations") as m:
        m.migrate()
        m.rollback(steps=1)
    yoyo(empty_db_url, root, "apply")  # 0003, outside defi-sql
    status = run(empty_db_url, root, "status").stdout.splitlines()
    assert status[-2].split()[:3] == [THREE, "applied", "-"]
    with Migrator(empty_db_url, directory=root / "migrations") as m:
        assert m.rollback(steps=1, dry_run=True) == [THREE]
        assert m.rollback(dry_run=True) == [THREE]  # a batch of its own
        assert m.rollback() == [THREE]
        assert m.rollback() == [TWO, ONE]


def test_migrate_after_yoyo_rolled_one_back(empty_db_url: str, tmp_path: Path) -> None:
    root = chain(tmp_path)
    assert run(empty_db_url, root, "migrate").returncode == 0
    yoyo(empty_db_url, root, "rollback", "--revision", THREE)
    status = run(empty_db_url, root, "status").stdout.splitlines()
    assert status[-2].split() == [THREE, "pending", "-", "-"]
    result = run(empty_db_url, root, "migrate")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == "batch applied: 1 migration(s)"
    assert states(empty_db_url, root) == {ONE: "applied", TWO: "applied", THREE: "applied"}


# -- an applied migration whose file is missing (#9.1) ----------------------------------


def test_an_applied_migration_without_its_file_stops_rollback_migrate_and_check(
    empty_db_url: str, tmp_path: Path
) -> None:
    root = chain(tmp_path)
    folder = root / "migrations"
    assert run(empty_db_url, root, "migrate").returncode == 0
    (folder / f"{THREE}.sql").unlink()  # a branch switch
    (folder / f"{THREE}.rollback.sql").unlink()
    status = run(empty_db_url, root, "status", "--check")
    assert status.stdout.splitlines()[-2].split()[:2] == [THREE, "file"]
    assert status.stdout.splitlines()[-1] == "3 applied, 0 pending, 0 edited, 1 file missing"
    assert status.returncode == 1
    refusal = (
        f"{THREE} is applied but its file {folder}/{THREE}.sql is missing (a branch switch?), "
        "so it cannot be rolled back, and rolling back past it would leave it applied; restore "
        f"its files (e.g. `git checkout <the branch that has it> -- {folder}/{THREE}.sql "
        f"{folder}/{THREE}.rollback.sql`) and run the command again, or undo only what came "
        f"after it with `--to {THREE}`."
    )
    one_line(run(empty_db_url, root, "rollback"), refusal)
    one_line(run(empty_db_url, root, "rollback", "--steps", "1"), refusal)
    one_line(
        run(empty_db_url, root, "migrate"),
        f"applied migration {THREE} has no file in {folder} (a branch switch?), so nothing can "
        f"safely run around it; restore its files (e.g. `git checkout <the branch that has "
        f"it> -- {folder}/{THREE}.sql {folder}/{THREE}.rollback.sql`), or roll it back on "
        "that branch first.",
    )
    assert applied(empty_db_url) == [ONE, TWO, THREE]
    assert "public.others" in tables(empty_db_url)


# -- decisions --------------------------------------------------------------------


def test_steps_beyond_what_is_applied_are_refused(empty_db_url: str, tmp_path: Path) -> None:
    root = chain(tmp_path)
    assert run(empty_db_url, root, "migrate").returncode == 0
    one_line(
        run(empty_db_url, root, "rollback", "--steps", "4"),
        "--steps 4 is more than the 3 applied migration(s); pass --steps 3, or --all to undo "
        "every one.",
    )
    assert applied(empty_db_url) == [ONE, TWO, THREE]


def test_repair_of_a_pending_migration_is_refused(empty_db_url: str, tmp_path: Path) -> None:
    root = chain(tmp_path)
    one_line(
        run(empty_db_url, root, "repair", TWO),
        f"{TWO} is not applied, so there is no recorded content to repair; `defi-sql migrate` "
        "applies it.",
    )


def test_bookkeeping_dropped_by_hand(empty_db_url: str, tmp_path: Path) -> None:
    root = chain(tmp_path)
    assert run(empty_db_url, root, "migrate").returncode == 0
    with psycopg.connect(empty_db_url, autocommit=True) as conn:
        conn.execute("DROP TABLE _defi_sql_migration")
    # yoyo's record stands: applied, without batches (as if applied by yoyo)
    assert states(empty_db_url, root) == {ONE: "applied", TWO: "applied", THREE: "applied"}
    assert run(empty_db_url, root, "migrate").stdout.splitlines()[-1] == "nothing to migrate"
    with Migrator(empty_db_url, directory=root / "migrations") as m:
        assert m.rollback(steps=1) == [THREE]
        assert m.migrate() == [THREE]
    with psycopg.connect(empty_db_url, autocommit=True) as conn:
        conn.execute("DROP TABLE _yoyo_migration")
    one_line(
        run(empty_db_url, root, "migrate"),
        "_yoyo_migration, the record of applied migrations, is missing while "
        "_defi_sql_migration records 1: it was dropped by hand; restore it from a backup (or "
        "with `yoyo mark`), since without it every migration would run again.",
    )
    assert "public.things" in tables(empty_db_url)


def test_a_migration_failing_mid_way_with_errors_still_names_file_and_line(
    empty_db_url: str, tmp_path: Path
) -> None:
    body = f"-- b\n-- depends: {THREE}\n\nCREATE TABLE b (id int);\n\nINSERT INTO b VALUES ('x');\n"
    root = chain(tmp_path, ("0004.create-b", body, "DROP TABLE b;\n"))
    result = run(empty_db_url, root, "migrate")
    path = root / "migrations" / "0004.create-b.sql"
    one_line(
        result,
        f'{path}:6: invalid input syntax for type integer: "x" (SQLSTATE 22P02); nothing of '
        "0004.create-b was applied and the database stays at the last good migration; fix the "
        "file and run the command again.",
    )
    assert applied(empty_db_url) == [ONE, TWO, THREE]
    with pytest.raises(MigrationFailed), Migrator(empty_db_url, directory=root / "migrations") as m:
        m.migrate()


# -- `new` and lint (#9.8) ------------------------------------------------------------


def test_lint_refuses_the_untouched_template(migrations_copy: Path) -> None:
    forward, rollback = create_migration("add-users-email", migrations_copy)
    found = {
        (f.path.name, f.rule)
        for f in lint_migrations(
            migrations_copy, manifest_path(migrations_copy.parent), squawk_config=SQUAWK
        )
    }
    assert found == {
        (forward.name, "template-placeholder"),
        (forward.name, "empty-migration"),
        (rollback.name, "empty-migration"),
    }
    from defi_sql.migrate.files import read_migration_set

    with pytest.raises(MigrationError, match=r"holds no SQL statement, only comments"):
        read_migration_set(migrations_copy)


def test_the_readme_example_migration_passes_lint(migrations_copy: Path) -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## Migrations\n") :]
    forward_text, rollback_text = re.findall(r"```sql\n(.*?)```", section, re.DOTALL)[:2]
    last = sorted(p.stem for p in migrations_copy.glob("*.sql") if ".rollback" not in p.name)[-1]
    mid = f"{int(last[:4]) + 1:04d}.add-users-email"

    def current(text: str) -> str:  # the README's numbers, moved to the tree's next one
        text = re.sub(r"\d{4}\.add-users-email", mid, text)
        return re.sub(r"-- depends: \S+", f"-- depends: {last}", text)

    (migrations_copy / f"{mid}.sql").write_text(current(forward_text), encoding="utf-8")
    (migrations_copy / f"{mid}.rollback.sql").write_text(current(rollback_text), encoding="utf-8")
    found = lint_migrations(
        migrations_copy, migrations_copy.parent / "none.sum", squawk_config=SQUAWK
    )
    assert [str(f) for f in found if mid in f.path.name] == []


def test_a_file_edited_while_its_batch_runs_is_recorded_as_what_ran(
    empty_db_url: str, tmp_path: Path
) -> None:
    """The bookkeeping records the checksum of the text that ran, not of the file as it is
    when the record is written: edited mid-batch, the migration shows as edited."""
    sql_dir = chain(tmp_path)
    first = sql_dir / "migrations" / f"{ONE}.sql"
    first.write_text(first.read_text() + "SELECT pg_sleep(1.5);\n")
    third = sql_dir / "migrations" / f"{THREE}.sql"
    ran = third.read_text()
    with Migrator(empty_db_url, directory=sql_dir / "migrations") as migrator:
        editor = threading.Timer(0.5, lambda: third.write_text(ran.replace("thirds", "fourths")))
        editor.start()  # during ONE's sleep: THREE was read already, and runs as read
        assert migrator.migrate() == [ONE, TWO, THREE]
        editor.join()
        assert "public.thirds" in tables(empty_db_url)
        states = {s.id: s.label for s in migrator.status()}
    assert states == {ONE: "applied", TWO: "applied", THREE: "edited"}
