"""Applying and undoing ``sql/migrations`` in batches, on one connection that holds the lock.

The files are yoyo's format (``NNNN.verb-object.sql`` + ``.rollback.sql``,
``-- depends:`` and ``-- transactional:`` directives, statements split as yoyo
splits them) and yoyo's ``_yoyo_migration`` table stays the record of what is
applied, so ``yoyo apply`` and ``yoyo rollback`` are seen. defi-sql runs the
statements itself and adds what yoyo lacks:

* **A sound set, before anything runs.** Names, directives, dependencies, empty
  files, transaction-control statements, shared numbers and migrations numbered
  before applied ones are refused with one line naming the file
  (:mod:`defi_sql.migrate.files`).
* **Batches.** One ``migrate`` applies everything pending as one batch;
  ``rollback`` undoes the last batch (or ``steps``, ``to``, ``all``).
* **Atomic bookkeeping.** A migration's statements and its bookkeeping rows
  commit in one transaction, written only while that transaction is still the
  one the migration started in, so a failure or a ``kill -9`` leaves the
  database exactly at the last good migration. A ``-- transactional: false``
  migration cannot be atomic: it is recorded only once every index it built or
  dropped is checked valid, and a failure names the INVALID index it left with
  the statement that removes it.
* **Each migration from the migrator's own session.** Settings a migration
  changes (``SET search_path``, ``lock_timeout``, ``ROLE``...) are reset before
  the next one, and the bookkeeping inside a migration's transaction runs with
  the migrator's own search_path.
* **Checksums.** The content of each file is hashed when applied; ``migrate``
  refuses to run while an applied file differs (``repair`` accepts it) or is
  missing.
* **A lock on the working connection.** A session-level advisory lock taken by
  the very connection that runs the migrations: it is released when that
  session ends, never before its work (``client_connection_check_interval``
  ends the session soon after its client dies).
* **A bounded wait for table locks.** ``lock_timeout`` (``DEFI_SQL_LOCK_TIMEOUT``,
  default 5s), so a migration that needs a lock another transaction holds fails
  instead of queueing every query behind it.
* **Read-only commands read.** ``status`` and ``--dry-run`` create nothing, so
  they work on a replica or as a role without CREATE.

Reading and checking the files (and writing new ones) is
:mod:`defi_sql.migrate.files`; running one migration is
:mod:`defi_sql.migrate.running`, the record of what is applied
:mod:`defi_sql.migrate.bookkeeping`; what a failure left and the sentence that
says so is :mod:`defi_sql.migrate.failures`.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import psycopg
from psycopg.conninfo import conninfo_to_dict

from defi_sql._aiosql import internal_queries
from defi_sql.connection import connect
from defi_sql.errors import (
    ConfigError,
    EditedMigration,
    MigrationError,
    MigrationLocked,
    Refused,
    UnknownMigration,
)
from defi_sql.migrate.bookkeeping import (
    Applied,
    MigrationState,
    checksum,
    ensure_bookkeeping,
    invalid_indexes,
    read_applied,
)
from defi_sql.migrate.failures import (
    Direction,
    Index,
    invalid_named,
)
from defi_sql.migrate.files import (
    MigrationFile,
    duplicate_numbers,
    duplicate_problem,
    migration_set,
    read_migration_set,
    rollback_problems,
    rollback_statements,
)
from defi_sql.migrate.running import run_migration
from defi_sql.paths import display_path, migrations_dir

__all__ = ["DEFAULT_LOCK_TIMEOUT", "LOCK_KEY", "Migrator", "session_lock_timeout"]

#: The advisory lock key every defi-sql migration run takes ('defi' + 1).
LOCK_KEY = 0x6465_6669_0001
#: ``lock_timeout`` of the session running migrations, unless DEFI_SQL_LOCK_TIMEOUT is set.
DEFAULT_LOCK_TIMEOUT = "5s"
_DURATION = re.compile(r"^\d+(\.\d+)?(us|ms|s|min|h|d)?$")
#: How often (ms) the server checks that the migrator's client is still there while a
#: statement runs, so that a killed client's session (and its lock) ends soon.
_CLIENT_CHECK_MS = 1000

Report = Callable[[str], None]


def session_lock_timeout() -> str:
    """The ``lock_timeout`` migrations run with: ``DEFI_SQL_LOCK_TIMEOUT``, else 5s.

    A statement that waits longer than this for a lock (say, an ALTER TABLE behind a
    long transaction) fails, rather than making every later query on the table wait
    behind it; ``0`` waits forever.
    """
    raw = os.environ.get("DEFI_SQL_LOCK_TIMEOUT") or DEFAULT_LOCK_TIMEOUT
    value = raw.replace(" ", "")
    if not _DURATION.match(value):
        raise ConfigError(
            f"DEFI_SQL_LOCK_TIMEOUT={raw!r} is not a duration; write it as PostgreSQL does, "
            "e.g. 5s, 500ms or 2min (0 waits forever)."
        )
    return value


class Migrator:
    """Migrations of one database, used as a context manager that holds the lock.

    >>> with Migrator(conninfo) as m:
    ...     m.migrate()
    """

    def __init__(
        self,
        conninfo: str,
        *,
        directory: Path | None = None,
        lock_timeout: float = 60.0,
        report: Report | None = None,
    ) -> None:
        self._conninfo = conninfo
        self._directory = directory or migrations_dir()
        self._lock_timeout = lock_timeout
        self._statement_lock_timeout = session_lock_timeout()
        self._report: Report = report or (lambda _line: None)
        self._conn: psycopg.Connection[Any] | None = None
        self._search_path = ""

    # -- session -----------------------------------------------------------

    def __enter__(self) -> Migrator:
        conn = self._connect()
        try:
            schema, search_path = internal_queries().session_identity(conn)
            if schema is None:
                raise MigrationError(
                    f"no schema of the search_path ({search_path}) exists, so "
                    "there is nowhere to keep the migrations' bookkeeping; create one, or "
                    "set search_path for this role."
                )
            self._search_path = str(search_path)
            self._acquire_lock(conn)
        except BaseException:
            conn.close()
            raise
        self._conn = conn
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._conn is not None:
            self._conn.close()  # closing the session releases the advisory lock
            self._conn = None

    def _connect(self) -> psycopg.Connection[Any]:
        # Session settings given at connection time: they hold outside and inside every
        # migration transaction, and RESET ALL returns to them (added to any options of
        # the URL).
        settings = (
            f"-c lock_timeout={self._statement_lock_timeout} "
            f"-c client_connection_check_interval={_CLIENT_CHECK_MS}"
        )
        options = conninfo_to_dict(self._conninfo).get("options")
        return connect(
            self._conninfo,
            autocommit=True,
            options=f"{options} {settings}" if options else settings,
        )

    def _acquire_lock(self, conn: psycopg.Connection[Any]) -> None:
        queries = internal_queries()
        deadline = time.monotonic() + self._lock_timeout
        while not queries.try_lock(conn, key=LOCK_KEY):
            if time.monotonic() >= deadline:
                holder = queries.lock_holder(conn, key=LOCK_KEY)
                raise MigrationLocked(
                    f"another migration run (server pid {holder}) has held the lock for "
                    f"{self._lock_timeout:g}s; wait for it to finish, or end it with "
                    f"SELECT pg_terminate_backend({holder})."
                )
            time.sleep(0.1)

    @property
    def connection(self) -> psycopg.Connection[Any]:
        """The connection that holds the lock and runs the migrations."""
        if self._conn is None:
            raise RuntimeError("use Migrator as a context manager: `with Migrator(url) as m:`")
        return self._conn

    def _tables(self) -> tuple[bool, bool, bool]:
        yoyo, ours, created = internal_queries().bookkeeping_tables(self.connection)
        return bool(yoyo), bool(ours), bool(created)

    def _files(self) -> list[MigrationFile]:
        return read_migration_set(self._directory)

    def _applied(self) -> list[Applied]:
        """Applied migrations, oldest first, whoever applied them (yoyo's table decides)."""
        return read_applied(self.connection)

    def status(self) -> list[MigrationState]:
        """Every migration with applied/pending, batch, time applied, edits and missing files."""
        return self._states(self._files(), self._applied())

    def _states(self, files: list[MigrationFile], applied: list[Applied]) -> list[MigrationState]:
        by_id = {a.id: a for a in applied}
        invalid = invalid_indexes(self.connection)
        states = []
        for m in files:
            record = by_id.get(m.id)
            names: tuple[str, ...] = ()
            if record is not None and not m.transactional:
                names = tuple(i.qualified for i in invalid_named(m.statements, invalid))
            states.append(
                MigrationState(
                    id=m.id,
                    path=m.path,
                    applied=record is not None,
                    batch=record.batch if record else None,
                    applied_at=record.at if record else None,
                    edited=bool(record and record.checksum and record.checksum != checksum(m.path)),
                    invalid_indexes=names,
                )
            )
        known = {m.id for m in files}
        for a in applied:
            if a.id not in known:
                states.append(MigrationState(a.id, None, True, a.batch, a.at, edited=False))
        return states

    def _invalid_indexes(self) -> list[Index]:
        rows = internal_queries().invalid_indexes(self.connection)
        return [Index(qualified, name, table) for qualified, name, table in rows]

    def _missing_file(self, mid: str) -> MigrationError:
        shown = display_path(self._directory)
        return MigrationError(
            f"applied migration {mid} has no file in {shown} (a branch switch?), so nothing "
            f"can safely run around it; restore its files (e.g. `git checkout <the branch "
            f"that has it> -- {shown}/{mid}.sql {shown}/{mid}.rollback.sql`), or roll it "
            "back on that branch first."
        )

    def _refuse_edited(self, states: list[MigrationState]) -> None:
        edited = [s.id for s in states if s.edited]
        if edited:
            names = ", ".join(edited)
            raise EditedMigration(
                f"applied migration {names} changed on disk since it was applied; restore the "
                "file (git checkout), add a new migration for the change, or accept the "
                f"edit with `defi-sql repair {edited[0]}` if the database already matches it.",
                migration_ids=edited,
            )

    # -- applying ----------------------------------------------------------

    def pending(self) -> list[str]:
        applied = {a.id for a in self._applied()}
        return [m.id for m in self._files() if m.id not in applied]

    def plan(self, direction: Direction, ids: Sequence[str]) -> str:
        """The SQL that applying (or rolling back) ``ids`` would run, for ``--dry-run``."""
        files = {m.id: m for m in migration_set(self._directory)[0]}
        chunks = []
        for mid in ids:
            m = files[mid]
            path = m.path if direction == "apply" else m.rollback_path
            statements = m.statements if direction == "apply" else rollback_statements(m)
            chunks.append(f"-- {direction} {mid} ({display_path(path)})")
            chunks.extend(s.text.rstrip().rstrip(";") + ";" for s in statements)
        return "\n".join(chunks)

    def migrate(self, *, dry_run: bool = False) -> list[str]:
        """Apply every pending migration as one batch; return their ids."""
        files = self._files()
        applied = self._applied()
        known = {m.id for m in files}
        for a in applied:
            if a.id not in known:
                raise self._missing_file(a.id)
        self._refuse_edited(self._states(files, applied))
        done = {a.id for a in applied}
        pending = [m for m in files if m.id not in done]
        free = max((m.number for m in files), default=0) + 1
        for group in duplicate_numbers(files):
            if any(m.id not in done for m in group):
                raise MigrationError(str(duplicate_problem(group, free)))
        if pending and applied:
            newest = max(applied, key=lambda a: a.id)
            early = [m for m in pending if m.id < newest.id]
            if early:
                m = early[0]
                raise MigrationError(
                    f"{display_path(m.path)}:1: {m.id} is numbered before {newest.id}, which "
                    "this database has applied already, so it would run here after it but "
                    "before it in a new database; give it the next free number, "
                    f"{free:04d} (`git mv` it and its rollback), depending on the newest "
                    "migration."
                )
        if dry_run or not pending:
            return [m.id for m in pending]
        ensure_bookkeeping(self.connection)
        batch = int(internal_queries().next_batch(self.connection))
        for migration in pending:
            self._run(migration, "apply", batch)
        return [m.id for m in pending]

    def rollback(
        self,
        *,
        steps: int | None = None,
        to: str | None = None,
        everything: bool = False,
        dry_run: bool = False,
    ) -> list[str]:
        """Undo the last batch (default), the last ``steps``, all after ``to``, or all."""
        files = {m.id: m for m in self._files()}
        applied = self._applied()
        applied_ids = [a.id for a in applied]
        if to is not None:
            if to not in files and to not in applied_ids:
                raise UnknownMigration(
                    f"there is no migration {to!r} in {display_path(self._directory)}; "
                    "`defi-sql status` lists them."
                )
            if to not in applied_ids:
                raise MigrationError(f"{to} is not applied, so there is nothing to roll back to.")
            targets = applied[applied_ids.index(to) + 1 :]
        elif everything:
            targets = applied
        elif steps is not None:
            if steps < 1:
                raise MigrationError(f"--steps must be 1 or more, not {steps}.")
            if steps > len(applied) and applied:
                raise MigrationError(
                    f"--steps {steps} is more than the {len(applied)} applied migration(s); "
                    f"pass --steps {len(applied)}, or --all to undo every one."
                )
            targets = applied[-steps:]
        else:
            # the last batch: the newest migrations that share its number (one applied
            # outside defi-sql, without a batch, is a batch of its own)
            targets = applied[-1:]
            if targets and targets[0].batch is not None:
                last = targets[0].batch
                start = len(applied)
                while start > 0 and applied[start - 1].batch == last:
                    start -= 1
                targets = applied[start:]
        ready = []
        for a in reversed(targets):
            m = files.get(a.id)
            if m is None:
                shown = display_path(self._directory)
                raise MigrationError(
                    f"{a.id} is applied but its file {shown}/{a.id}.sql is missing (a branch "
                    "switch?), so it cannot be rolled back, and rolling back past it would "
                    "leave it applied; restore its files (e.g. `git checkout <the branch that "
                    f"has it> -- {shown}/{a.id}.sql {shown}/{a.id}.rollback.sql`) and run the "
                    f"command again, or undo only what came after it with `--to {a.id}`."
                )
            ready.append(m)
        for m in ready:
            if not m.rollback_path.is_file():
                raise MigrationError(
                    f"{m.id} has no rollback file {display_path(m.rollback_path)}; write one "
                    "before rolling it back."
                )
            found = rollback_problems(m)
            if found:
                raise MigrationError(str(found[0]))
        if not dry_run and ready:
            ensure_bookkeeping(self.connection)
            for m in ready:
                self._run(m, "rollback", None)
        return [m.id for m in ready]

    # -- running one migration ----------------------------------------------

    def _run(self, migration: MigrationFile, direction: Direction, batch: int | None) -> None:
        started = time.perf_counter()
        run_migration(
            self.connection,
            migration,
            direction,
            batch,
            search_path=self._search_path,
            lock_timeout=self._statement_lock_timeout,
        )
        elapsed = (time.perf_counter() - started) * 1000
        verb = "applied" if direction == "apply" else "rolled back"
        self._report(f"{verb} {migration.id} ({elapsed:.0f} ms)")

    # -- resetting and repairing ------------------------------------------

    def drop_everything(self) -> None:
        """Drop every object of the current schema (bookkeeping included, the TypeScript
        app's migration tables and extension members excluded) and the schemas and
        extensions migrations created; :class:`Refused` while objects it would not drop
        depend on them. The database's settings (0053's ``constraint_exclusion``) stay:
        they may be a DBA's too, and migrating again finds them in place."""
        ensure_bookkeeping(self.connection)
        conn = self.connection
        queries = internal_queries()
        dependents = [f"{name} (on {on})" for name, on in queries.foreign_dependents(conn)]
        if dependents:
            shown = "; ".join(dependents[:5])
            more = f" and {len(dependents) - 5} more" if len(dependents) > 5 else ""
            raise Refused(
                f"fresh would also drop what other schemas build on this one: {shown}{more}; "
                "nothing was dropped: drop or move those objects first, or run fresh on a "
                "database of its own."
            )
        with conn.transaction():
            queries.drop_created(conn)
            queries.drop_schema_objects(conn)
        self._report("dropped every object of the schema")
        ensure_bookkeeping(self.connection)

    def repair(self, ids: Sequence[str]) -> list[str]:
        """Accept the current content of edited, applied migrations; return their ids."""
        states = {s.id: s for s in self.status()}
        for mid in ids:
            if mid not in states:
                raise UnknownMigration(
                    f"there is no migration {mid!r}; `defi-sql status` lists them."
                )
            state = states[mid]
            if not state.applied:
                raise MigrationError(
                    f"{mid} is not applied, so there is no recorded content to repair; "
                    "`defi-sql migrate` applies it."
                )
            if state.path is None:
                raise self._missing_file(mid)
        chosen = list(ids) or [s.id for s in states.values() if s.edited]
        repaired = []
        for mid in chosen:
            state = states[mid]
            if state.edited and state.path is not None:
                internal_queries().accept_checksum(
                    self.connection, migration_id=mid, checksum=checksum(state.path)
                )
                repaired.append(mid)
        return repaired
