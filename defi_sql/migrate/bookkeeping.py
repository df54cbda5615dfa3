"""The record of what is applied: yoyo's ``_yoyo_migration`` (and its log), and
defi-sql's ``_defi_sql_migration`` beside it (batch, checksum, time) with the
schemas and extensions each migration created."""

from __future__ import annotations

import functools
import getpass
import hashlib
import socket
import uuid
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

import psycopg
from yoyo.backends.core.postgresql import PostgresqlPsycopgBackend
from yoyo.connections import parse_uri
from yoyo.migrations import default_migration_table

from defi_sql._aiosql import internal_queries
from defi_sql.errors import MigrationError
from defi_sql.migrate.failures import Direction, Index
from defi_sql.migrate.files import MigrationFile

__all__ = [
    "Applied",
    "MigrationState",
    "checksum",
    "ensure_bookkeeping",
    "invalid_indexes",
    "read_applied",
    "record",
    "tables",
]


def checksum(path: Path) -> str:
    """SHA-256 of a migration file, with line endings normalised to ``\\n``."""
    return hashlib.sha256(path.read_bytes().replace(b"\r\n", b"\n")).hexdigest()


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
class Applied:
    """An applied migration as the bookkeeping records it."""

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


def tables(conn: psycopg.Connection[Any]) -> tuple[bool, bool, bool]:
    """Whether yoyo's table, ours, and our record of created objects exist."""
    yoyo, ours, created = internal_queries().bookkeeping_tables(conn)
    return bool(yoyo), bool(ours), bool(created)


def ensure_bookkeeping(conn: psycopg.Connection[Any]) -> None:
    """Create the bookkeeping tables that are missing (only commands that write)."""
    if all(tables(conn)):
        return
    backend = _Backend(conn)
    backend.init_database()
    backend.ensure_internal_schema_updated()
    internal_queries().create_bookkeeping(conn)


def read_applied(conn: psycopg.Connection[Any]) -> list[Applied]:
    """Applied migrations, oldest first, whoever applied them (yoyo's table decides)."""
    queries = internal_queries()
    yoyo, ours, _created = tables(conn)
    if not yoyo:
        recorded = int(queries.count_recorded(conn)) if ours else 0
        if recorded:
            raise MigrationError(
                f"_yoyo_migration, the record of applied migrations, is missing while "
                f"_defi_sql_migration records {recorded}: it was dropped by hand; restore "
                "it from a backup (or with `yoyo mark`), since without it every migration "
                "would run again."
            )
        return []
    rows = (queries.list_applied if ours else queries.list_applied_by_yoyo)(conn)
    return [Applied(mid, batch, digest, at) for mid, batch, digest, at in rows]


def invalid_indexes(conn: psycopg.Connection[Any]) -> list[Index]:
    """The INVALID indexes of the database (a failed concurrent build)."""
    rows = internal_queries().invalid_indexes(conn)
    return [Index(qualified, name, table) for qualified, name, table in rows]


@functools.cache
def _hostname() -> str:
    return socket.getfqdn()


def record(
    conn: psycopg.Connection[Any],
    migration: MigrationFile,
    direction: Direction,
    batch: int | None,
    objects_before: set[tuple[Any, ...]],
) -> None:
    """Record that ``migration`` was applied (in ``batch``) or rolled back, with the
    schemas and extensions it created (those not in ``objects_before``)."""
    queries = internal_queries()
    queries.log_operation(
        conn,
        id=str(uuid.uuid1()),
        migration_hash=migration.hash,
        migration_id=migration.id,
        operation=direction,
        username=getpass.getuser(),
        hostname=_hostname(),
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
