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
:mod:`defi_sql.migrate.files`; what a failure left and the sentence that says
so is :mod:`defi_sql.migrate.failures`.
"""

from __future__ import annotations

import getpass
import hashlib
import os
import re
import socket
import time
import uuid
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

import psycopg
from psycopg.conninfo import conninfo_to_dict
from psycopg.pq import TransactionStatus
from yoyo.backends.core.postgresql import PostgresqlPsycopgBackend
from yoyo.connections import parse_uri
from yoyo.migrations import default_migration_table

from defi_sql._aiosql import internal_queries
from defi_sql.connection import connect
from defi_sql.errors import (
    ConfigError,
    EditedMigration,
    MigrationError,
    MigrationFailed,
    MigrationLocked,
    Refused,
    UnknownMigration,
)
from defi_sql.migrate.failures import (
    Direction,
    Index,
    describe_failure,
    first_word,
    invalid_left,
    invalid_named,
)
from defi_sql.migrate.files import (
    TEMPLATE_PLACEHOLDER,
    MigrationFile,
    Statement,
    create_migration,
    duplicate_numbers,
    duplicate_problem,
    migration_set,
    read_migration_set,
    rollback_problems,
    rollback_statements,
)
from defi_sql.paths import display_path, migrations_dir

__all__ = [
    "DEFAULT_LOCK_TIMEOUT",
    "LOCK_KEY",
    "TEMPLATE_PLACEHOLDER",
    "MigrationState",
    "Migrator",
    "checksum",
    "create_migration",
    "session_lock_timeout",
]

#: The advisory lock key every defi-sql migration run takes ('defi' + 1).
LOCK_KEY = 0x6465_6669_0001
#: ``lock_timeout`` of the session running migrations, unless DEFI_SQL_LOCK_TIMEOUT is set.
DEFAULT_LOCK_TIMEOUT = "5s"
_DURATION = re.compile(r"^\d+(\.\d+)?(us|ms|s|min|h|d)?$")
#: How often (ms) the server checks that the migrator's client is still there while a
#: statement runs, so that a killed client's session (and its lock) ends soon.
_CLIENT_CHECK_MS = 1000

Report = Callable[[str], None]


def checksum(path: Path) -> str:
    """SHA-256 of a migration file, with line endings normalised to ``\\n``."""
    return hashlib.sha256(path.read_bytes().replace(b"\r\n", b"\n")).hexdigest()


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


@dataclass(frozen=True)
class MigrationState:
    """One migration as ``status`` reports it."""

    id: str
    path: Path | None
    applied: bool
    batch: int | None
    applied_at: datetime | None
    edited: bool
    #: INVALID indexes an applied, non-transactional migration names (a failed rollback)
    invalid_indexes: tuple[str, ...] = ()

    @property
    def label(self) -> Literal["applied", "pending", "edited", "file missing", "invalid"]:
        if self.path is None:
            return "file missing"
        if self.edited:
            return "edited"
        if self.invalid_indexes:
            return "invalid"
        return "applied" if self.applied else "pending"


@dataclass(frozen=True)
class _Applied:
    id: str
    batch: int | None  # None: applied outside defi-sql (yoyo apply)
    checksum: str | None
    at: datetime


class _Backend(PostgresqlPsycopgBackend):  # type: ignore[misc]
    """yoyo's backend on the migrator's connection, used only to create (or upgrade)
    yoyo's own tables exactly as yoyo does."""

    def __init__(self, connection: psycopg.Connection[Any]) -> None:
        self._given = connection
        super().__init__(parse_uri("postgresql+psycopg:///"), default_migration_table)

    def connect(self, dburi: Any) -> psycopg.Connection[Any]:
        return self._given

    def lock(self, timeout: int = 10) -> AbstractContextManager[None]:
        return nullcontext()  # the Migrator holds its own lock


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
        self._host = ""

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

    def _ensure_bookkeeping(self) -> None:
        """Create the bookkeeping tables that are missing (only commands that write)."""
        if all(self._tables()):
            return
        backend = _Backend(self.connection)
        backend.init_database()
        backend.ensure_internal_schema_updated()
        internal_queries().create_bookkeeping(self.connection)

    def _reset_session(self) -> None:
        if not self.connection.broken:
            internal_queries().reset_session(self.connection)

    # -- reading -----------------------------------------------------------

    def _files(self) -> list[MigrationFile]:
        return read_migration_set(self._directory)

    def _applied(self) -> list[_Applied]:
        """Applied migrations, oldest first, whoever applied them (yoyo's table decides)."""
        queries = internal_queries()
        yoyo, ours, _created = self._tables()
        if not yoyo:
            recorded = int(queries.count_recorded(self.connection)) if ours else 0
            if recorded:
                raise MigrationError(
                    f"_yoyo_migration, the record of applied migrations, is missing while "
                    f"_defi_sql_migration records {recorded}: it was dropped by hand; restore "
                    "it from a backup (or with `yoyo mark`), since without it every migration "
                    "would run again."
                )
            return []
        rows = (queries.list_applied if ours else queries.list_applied_by_yoyo)(self.connection)
        return [_Applied(mid, batch, digest, at) for mid, batch, digest, at in rows]

    def status(self) -> list[MigrationState]:
        """Every migration with applied/pending, batch, time applied, edits and missing files."""
        return self._states(self._files(), self._applied())

    def _states(self, files: list[MigrationFile], applied: list[_Applied]) -> list[MigrationState]:
        by_id = {a.id: a for a in applied}
        invalid = self._invalid_indexes()
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
        self._ensure_bookkeeping()
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
            self._ensure_bookkeeping()
            for m in ready:
                self._run(m, "rollback", None)
        return [m.id for m in ready]

    # -- running one migration ----------------------------------------------

    def _run(self, migration: MigrationFile, direction: Direction, batch: int | None) -> None:
        conn = self.connection
        queries = internal_queries()
        path = migration.path if direction == "apply" else migration.rollback_path
        statements = (
            migration.statements if direction == "apply" else rollback_statements(migration)
        )
        started = time.perf_counter()
        self._reset_session()
        invalid_before = {i.qualified for i in self._invalid_indexes()}
        if not migration.transactional:
            self._refuse_invalid_leftover(path, statements)
        objects_before = {tuple(r) for r in queries.schemas_and_extensions(conn)}
        current: Statement | None = None
        committing = False
        try:
            if migration.transactional:
                with conn.transaction():
                    xid = queries.transaction_id(conn)
                    for current in statements:
                        conn.execute(current.text)
                    current = None
                    self._check_intact(migration, path, xid)
                    queries.pin_session(
                        conn,
                        search_path=self._search_path,
                        lock_timeout=self._statement_lock_timeout,
                    )
                    self._bookkeeping(migration, direction, batch, objects_before)
                    committing = True
            else:
                for current in statements:
                    conn.execute(current.text)
                current = None
                self._reset_session()
                self._check_built(path, statements)
                with conn.transaction():
                    self._bookkeeping(migration, direction, batch, objects_before)
                    committing = True
        except psycopg.Error as exc:
            self._reset_session()
            raise describe_failure(
                migration,
                direction,
                path,
                exc,
                current,
                lost=conn.broken,
                committing=committing,
                invalid_before=invalid_before,
                invalid_now=[] if conn.broken else self._invalid_indexes(),
                lock_timeout=self._statement_lock_timeout,
            ) from None
        finally:
            self._reset_session()
        elapsed = (time.perf_counter() - started) * 1000
        verb = "applied" if direction == "apply" else "rolled back"
        self._report(f"{verb} {migration.id} ({elapsed:.0f} ms)")

    def _check_intact(self, migration: MigrationFile, path: Path, xid: str) -> None:
        """Refuse to record a migration whose statements ended the transaction it runs in."""
        conn = self.connection
        if (
            conn.info.transaction_status == TransactionStatus.INTRANS
            and internal_queries().transaction_id(conn) == xid
        ):
            return
        raise MigrationFailed(
            f"{display_path(path)}: {migration.id} ended the transaction it runs in (a "
            "COMMIT or ROLLBACK among its statements), so it is not recorded as applied, and "
            "what ran before that may stay committed; compare the database with the file, "
            "remove the statement, and run the command again.",
            path=str(path),
            line=None,
            sqlstate=None,
        )

    def _refuse_invalid_leftover(self, path: Path, statements: Sequence[Statement]) -> None:
        """A build over an INVALID index of the same name (left by a failed run) would
        fail with "already exists", or, with IF NOT EXISTS, be skipped and recorded."""
        builds = [s for s in statements if first_word(s) in ("CREATE", "REINDEX")]
        left = invalid_named(builds, self._invalid_indexes())
        if left:
            raise invalid_left(path, builds[0].line, left[0], "left by an earlier failed build")

    def _check_built(self, path: Path, statements: Sequence[Statement]) -> None:
        """A non-transactional migration is recorded only when no index it names is INVALID."""
        left = invalid_named(statements, self._invalid_indexes())
        if left:
            line = statements[0].line if statements else 1
            raise invalid_left(
                path, line, left[0], "after it ran (IF NOT EXISTS kept a failed build?)"
            )

    def _bookkeeping(
        self,
        migration: MigrationFile,
        direction: Direction,
        batch: int | None,
        objects_before: set[tuple[Any, ...]],
    ) -> None:
        conn = self.connection
        queries = internal_queries()
        if not self._host:
            self._host = socket.getfqdn()
        queries.log_operation(
            conn,
            id=str(uuid.uuid1()),
            migration_hash=migration.hash,
            migration_id=migration.id,
            operation=direction,
            username=getpass.getuser(),
            hostname=self._host,
        )
        # a record left by `yoyo rollback`, which knows only its own table, goes first
        queries.forget_applied(conn, migration_id=migration.id)
        if direction == "apply":
            queries.mark_applied(conn, migration_hash=migration.hash, migration_id=migration.id)
            queries.record_applied(
                conn, migration_id=migration.id, batch=batch, checksum=migration.checksum
            )
            for kind, name in sorted(
                {tuple(r) for r in queries.schemas_and_extensions(conn)} - objects_before
            ):
                queries.record_created(conn, migration_id=migration.id, kind=kind, name=name)
        else:
            queries.unmark_applied(conn, migration_hash=migration.hash)
            queries.forget_created(conn, migration_id=migration.id)

    # -- resetting and repairing ------------------------------------------

    def drop_everything(self) -> None:
        """Drop every object of the current schema (bookkeeping included, the TypeScript
        app's migration tables and extension members excluded) and the schemas and
        extensions migrations created; :class:`Refused` while objects it would not drop
        depend on them."""
        self._ensure_bookkeeping()
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
        self._ensure_bookkeeping()

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
