"""Applying and undoing ``sql/migrations`` with yoyo, in batches, under a lock.

yoyo-migrations reads the files (``NNNN.verb-object.sql`` +
``.rollback.sql``, ``-- depends:`` and ``-- transactional:`` directives),
runs their statements and keeps its ``_yoyo_migration`` table. defi-sql adds
what yoyo lacks:

* **Batches.** One ``migrate`` applies everything pending as one batch;
  ``rollback`` undoes the last batch (or ``steps``, ``to``, ``all``).
* **Atomic bookkeeping.** A migration's statements and its bookkeeping rows
  commit in one transaction, so a failure or a ``kill -9`` leaves the database
  exactly at the last good migration. (A ``-- transactional: false`` migration
  cannot be atomic; its bookkeeping commits right after it.)
* **Checksums.** The content of each file is hashed when applied; ``migrate``
  refuses to run while an applied file differs (``repair`` accepts it).
* **A lock that dies with its process.** A session-level advisory lock instead
  of yoyo's lock row, which goes stale when its process is killed.
* **A bounded wait for table locks.** The session that runs migrations sets
  ``lock_timeout`` (``DEFI_SQL_LOCK_TIMEOUT``, default 5s), so a migration that
  needs a lock another transaction holds fails instead of queueing every query
  behind it.
"""

from __future__ import annotations

import hashlib
import os
import re
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

import psycopg
from psycopg.conninfo import conninfo_to_dict
from yoyo import exceptions as yoyo_exceptions
from yoyo import read_migrations
from yoyo.backends.core.postgresql import PostgresqlPsycopgBackend
from yoyo.connections import parse_uri
from yoyo.migrations import default_migration_table, read_sql_migration

from defi_sql._aiosql import internal_queries
from defi_sql.connection import connect
from defi_sql.errors import (
    ConfigError,
    EditedMigration,
    MigrationError,
    MigrationFailed,
    MigrationLocked,
    UnknownMigration,
)
from defi_sql.paths import migrations_dir

__all__ = [
    "DEFAULT_LOCK_TIMEOUT",
    "LOCK_KEY",
    "MigrationState",
    "Migrator",
    "checksum",
    "create_migration",
    "session_lock_timeout",
]

#: The advisory lock key every defi-sql migration run takes ('defi' + 1).
LOCK_KEY = 0x6465_6669_0001
_NAME = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)+$")
_ID = re.compile(r"^(\d{4})\.[a-z0-9-]+$")
#: ``lock_timeout`` of the session running migrations, unless DEFI_SQL_LOCK_TIMEOUT is set.
DEFAULT_LOCK_TIMEOUT = "5s"
_DURATION = re.compile(r"^\d+(\.\d+)?(us|ms|s|min|h|d)?$")

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

    @property
    def label(self) -> Literal["applied", "pending", "edited", "file missing"]:
        if self.path is None:
            return "file missing"
        if self.edited:
            return "edited"
        return "applied" if self.applied else "pending"


class _TracingCursor:
    """Remembers the first statement that failed, so the error can name its line."""

    def __init__(self, cursor: psycopg.Cursor[Any], backend: _Backend) -> None:
        self._cursor = cursor
        self._backend = backend

    def execute(self, query: Any, params: Any = None) -> Any:
        try:
            return self._cursor.execute(query, params)
        except psycopg.Error:
            if self._backend.failed_statement is None and isinstance(query, str):
                self._backend.failed_statement = query
            raise

    def __getattr__(self, name: str) -> Any:
        return getattr(self._cursor, name)


class _Backend(PostgresqlPsycopgBackend):  # type: ignore[misc]
    """yoyo's psycopg 3 backend on our connection, without yoyo's lock row."""

    failed_statement: str | None = None

    def __init__(self, conninfo: str, lock_timeout: str) -> None:
        self._conninfo = conninfo
        self._lock_timeout = lock_timeout
        super().__init__(parse_uri("postgresql+psycopg:///"), default_migration_table)

    def connect(self, dburi: Any) -> psycopg.Connection[Any]:
        # A session setting given at connection time, so it holds outside and
        # inside every migration transaction (added to any options of the URL).
        setting = f"-c lock_timeout={self._lock_timeout}"
        options = conninfo_to_dict(self._conninfo).get("options")
        return connect(
            self._conninfo, autocommit=True, options=f"{options} {setting}" if options else setting
        )

    def copy(self) -> _Backend:
        return _Backend(self._conninfo, self._lock_timeout)

    def cursor(self) -> _TracingCursor:
        return _TracingCursor(self.connection.cursor(), self)

    @contextmanager
    def lock(self, timeout: int = 10) -> Iterator[None]:
        # The Migrator holds a session-level advisory lock for its whole run.
        yield


def _line_of(path: Path, statement: str | None, position: str | None) -> int | None:
    """The 1-based line of ``path`` where ``statement`` failed, if it can be told."""
    if not statement:
        return None
    try:
        text = path.read_text(encoding="utf-8").replace("\r\n", "\n")
    except OSError:
        return None
    start = text.find(statement.replace("\r\n", "\n"))
    if start < 0:
        return None
    offset = int(position) - 1 if position and position.isdigit() else 0
    return text.count("\n", 0, start) + statement.count("\n", 0, max(offset, 0)) + 1


def _display(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


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
        self._lock_conn: psycopg.Connection[Any] | None = None
        self._backend: _Backend | None = None

    # -- session -----------------------------------------------------------

    def __enter__(self) -> Migrator:
        self._lock_conn = connect(self._conninfo, autocommit=True)
        try:
            self._acquire_lock(self._lock_conn)
            self._open_backend()
        except BaseException:
            self._lock_conn.close()
            raise
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._backend is not None:
            self._backend.connection.close()
            self._backend = None
        if self._lock_conn is not None:
            self._lock_conn.close()  # closing the session releases the advisory lock
            self._lock_conn = None

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

    def _open_backend(self) -> None:
        if self._backend is not None:
            self._backend.connection.close()
        backend = _Backend(self._conninfo, self._statement_lock_timeout)
        backend.init_database()
        backend.ensure_internal_schema_updated()
        internal_queries().create_bookkeeping(backend.connection)
        self._backend = backend

    @property
    def backend(self) -> _Backend:
        if self._backend is None:
            raise RuntimeError("use Migrator as a context manager: `with Migrator(url) as m:`")
        return self._backend

    # -- reading -----------------------------------------------------------

    def _read(self) -> Any:
        if not self._directory.is_dir():
            raise MigrationError(
                f"{self._directory} does not exist; create it or set DEFI_SQL_SQL_DIR."
            )
        try:
            migrations = read_migrations(str(self._directory))
            for migration in migrations:
                migration.load()
        except yoyo_exceptions.BadMigration as exc:
            raise MigrationError(f"cannot read a migration: {exc}") from None
        return migrations

    def _recorded(self) -> dict[str, tuple[int, str, datetime]]:
        rows = internal_queries().list_applied(self.backend.connection)
        return {mid: (batch, digest, at) for mid, batch, digest, at in rows}

    def _applied_in_order(self, migrations: Any) -> list[Any]:
        """Applied migrations, oldest first (those applied outside defi-sql first)."""
        applied = set(self.backend.get_applied_migration_hashes())
        by_id = {m.id: m for m in migrations if m.hash in applied}
        recorded = list(self._recorded())
        outside = [m for m in migrations if m.hash in applied and m.id not in recorded]
        return outside + [by_id[mid] for mid in recorded if mid in by_id]

    def status(self) -> list[MigrationState]:
        """Every migration with applied/pending, batch, time applied and edits."""
        return self._states(self._read())

    def _states(self, migrations: Any) -> list[MigrationState]:
        applied = set(self.backend.get_applied_migration_hashes())
        recorded = self._recorded()
        states = []
        for m in migrations:
            batch, digest, at = recorded.get(m.id, (None, None, None))
            path = Path(m.path)
            states.append(
                MigrationState(
                    id=m.id,
                    path=path,
                    applied=m.hash in applied,
                    batch=batch,
                    applied_at=at,
                    edited=m.hash in applied and digest is not None and digest != checksum(path),
                )
            )
        known = {m.id for m in migrations}
        for mid, (batch, _digest, at) in recorded.items():
            if mid not in known:
                states.append(MigrationState(mid, None, True, batch, at, edited=False))
        return states

    def _refuse_edited(self, migrations: Any) -> None:
        edited = [s.id for s in self._states(migrations) if s.edited]
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
        return [m.id for m in self.backend.to_apply(self._read())]

    def plan(self, direction: Literal["apply", "rollback"], ids: Sequence[str]) -> str:
        """The SQL that applying (or rolling back) ``ids`` would run, for ``--dry-run``."""
        chunks = []
        for mid in ids:
            path = self._directory / f"{mid}.sql"
            if direction == "rollback":
                path = self._directory / f"{mid}.rollback.sql"
            _directives, _comment, statements = read_sql_migration(str(path))
            chunks.append(f"-- {direction} {mid} ({_display(path)})")
            chunks.extend(statement.rstrip().rstrip(";") + ";" for statement in statements)
        return "\n".join(chunks)

    def migrate(self, *, dry_run: bool = False) -> list[str]:
        """Apply every pending migration as one batch; return their ids."""
        migrations = self._read()
        self._refuse_edited(migrations)
        pending = list(self.backend.to_apply(migrations))
        if dry_run or not pending:
            return [m.id for m in pending]
        batch = int(internal_queries().next_batch(self.backend.connection))
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
        migrations = self._read()
        applied = self._applied_in_order(migrations)
        if to is not None:
            ids = [m.id for m in migrations]
            if to not in ids:
                raise UnknownMigration(
                    f"there is no migration {to!r} in {_display(self._directory)}; "
                    "`defi-sql status` lists them."
                )
            applied_ids = [m.id for m in applied]
            if to not in applied_ids:
                raise MigrationError(f"{to} is not applied, so there is nothing to roll back to.")
            targets = applied[applied_ids.index(to) + 1 :]
        elif everything:
            targets = applied
        elif steps is not None:
            if steps < 1:
                raise MigrationError(f"--steps must be 1 or more, not {steps}.")
            targets = applied[-steps:]
        else:
            recorded = self._recorded()
            last = max((batch for batch, _d, _a in recorded.values()), default=None)
            targets = [m for m in applied if recorded.get(m.id, (None,))[0] == last]
            if last is None:
                targets = applied[-1:]
        targets.reverse()
        for migration in targets:
            rollback_path = Path(migration.path).with_suffix(".rollback.sql")
            if not rollback_path.is_file():
                raise MigrationError(
                    f"{migration.id} has no rollback file {_display(rollback_path)}; write one "
                    "before rolling it back."
                )
        if not dry_run:
            for migration in targets:
                self._run(migration, "rollback", None)
        return [m.id for m in targets]

    def _run(
        self, migration: Any, direction: Literal["apply", "rollback"], batch: int | None
    ) -> None:
        backend = self.backend
        queries = internal_queries()
        started = time.perf_counter()
        backend.failed_statement = None

        def bookkeeping() -> None:
            backend.log_migration(migration, direction)
            if direction == "apply":
                backend.mark_one(migration, log=False)
                queries.record_applied(
                    backend.connection,
                    migration_id=migration.id,
                    batch=batch,
                    checksum=checksum(Path(migration.path)),
                )
            else:
                backend.unmark_one(migration, log=False)
                queries.forget_applied(backend.connection, migration_id=migration.id)

        try:
            if migration.use_transactions:
                with backend.transaction():
                    migration.process_steps(backend, direction)
                    bookkeeping()
            else:
                migration.process_steps(backend, direction)
                with backend.transaction():
                    bookkeeping()
        except psycopg.Error as exc:
            raise self._failure(migration, direction, exc) from None
        elapsed = (time.perf_counter() - started) * 1000
        verb = "applied" if direction == "apply" else "rolled back"
        self._report(f"{verb} {migration.id} ({elapsed:.0f} ms)")

    def _failure(
        self, migration: Any, direction: Literal["apply", "rollback"], exc: psycopg.Error
    ) -> MigrationFailed:
        path = Path(migration.path)
        if direction == "rollback":
            path = path.with_suffix(".rollback.sql")
        diag = exc.diag
        line = _line_of(path, self.backend.failed_statement, diag.statement_position)
        where = f"{_display(path)}:{line}" if line else _display(path)
        reason = diag.message_primary or str(exc).strip().splitlines()[0]
        state = f" (SQLSTATE {diag.sqlstate})" if diag.sqlstate else ""
        if migration.use_transactions:
            outcome = (
                f"nothing of {migration.id} was {'applied' if direction == 'apply' else 'undone'}"
            )
        else:
            outcome = f"{migration.id} is not transactional, so its earlier statements stay"
        advice = "fix the file and run the command again"
        if diag.sqlstate == "55P03":  # lock_not_available
            advice = (
                f"another session held a lock it needs for longer than lock_timeout "
                f"({self._statement_lock_timeout}); run the command again once that session "
                "is done, or raise DEFI_SQL_LOCK_TIMEOUT"
            )
        return MigrationFailed(
            f"{where}: {reason}{state}; {outcome} and the database stays at the last good "
            f"migration; {advice}.",
            path=str(path),
            line=line,
            sqlstate=diag.sqlstate,
        )

    # -- resetting and repairing ------------------------------------------

    def drop_everything(self) -> None:
        """Drop every object of the current schema, bookkeeping included."""
        internal_queries().drop_schema_objects(self.backend.connection)
        self._report("dropped every object of the schema")
        self._open_backend()

    def repair(self, ids: Sequence[str]) -> list[str]:
        """Accept the current content of edited, applied migrations; return their ids."""
        states = {s.id: s for s in self.status()}
        for mid in ids:
            if mid not in states:
                raise UnknownMigration(
                    f"there is no migration {mid!r}; `defi-sql status` lists them."
                )
        chosen = list(ids) or [s.id for s in states.values() if s.edited]
        repaired = []
        for mid in chosen:
            state = states[mid]
            if state.edited and state.path is not None:
                internal_queries().accept_checksum(
                    self.backend.connection, migration_id=mid, checksum=checksum(state.path)
                )
                repaired.append(mid)
        return repaired


def create_migration(name: str, directory: Path | None = None) -> tuple[Path, Path]:
    """Write the next-numbered forward and rollback files for ``name`` (verb-object)."""
    directory = directory or migrations_dir()
    if not _NAME.match(name):
        raise MigrationError(
            f"migration name {name!r} is not verb-object in lower-case kebab case; "
            "use e.g. `add-users-email` or `create-index-alerts-type`."
        )
    numbers = [
        int(match.group(1))
        for path in directory.glob("*.sql")
        if (match := _ID.match(path.name.removesuffix(".sql").removesuffix(".rollback")))
    ]
    previous = sorted(
        p.name.removesuffix(".sql")
        for p in directory.glob("*.sql")
        if not p.name.endswith(".rollback.sql")
    )
    number = max(numbers, default=0) + 1
    mid = f"{number:04d}.{name}"
    forward = directory / f"{mid}.sql"
    rollback = directory / f"{mid}.rollback.sql"
    depends = f"-- depends: {previous[-1]}\n" if previous else ""
    forward.write_text(
        f"-- {mid}: say here why this change is needed (one or two sentences).\n{depends}\n",
        encoding="utf-8",
    )
    rollback.write_text(
        f"-- Undo {mid}: restore the schema exactly as it was before.\n\n", encoding="utf-8"
    )
    return forward, rollback
