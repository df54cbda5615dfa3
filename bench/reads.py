"""Typed reads: 100k position rows (with JSONB) through defi-sql and the alternatives.

Every variant runs the same SELECT (``positions_iterate_all`` of sql/queries: every
row, no sort) on the same data in the same run, and returns the rows with their
JSONB decoded (but the two labelled otherwise); the table reports each one's
median time relative to defi-sql's typed path (the baseline).
"""

from __future__ import annotations

import asyncio
import json
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

import aiosql
import asyncpg
import psycopg
from psycopg import adapt
from psycopg.rows import dict_row
from sqlalchemy import create_engine, select, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from bench.common import Result, Target, median_seconds, print_table
from defi_sql.check.describe import to_numbered
from defi_sql.dev.seed import seed_users
from defi_sql.models import Position
from defi_sql.rows import JSON_OIDS
from defi_sql.statements import statement
from defi_sql.sync._execute import fetch_all

SECTION = "typed reads of 100k positions"
BASELINE = "defi-sql typed (msgspec structs)"
#: what defi-sql's typed path must show against each variant (the issue's targets)
TARGETS = {
    "psycopg dict_row (untyped)": Target("faster", 1.5),
    "SQLAlchemy 2 ORM": Target("faster", 3.0),
    "asyncpg Records, JSONB decoded": Target("faster", 1.2),
    "psycopg tuples, JSONB as bytes (floor)": Target("within", 1.3),
}


class RawBytesLoader(adapt.Loader):
    """The floor: JSON left as the bytes PostgreSQL sent, nothing decoded."""

    def load(self, data: Any) -> bytes:
        return bytes(data)


class _Base(DeclarativeBase):
    pass


class PositionORM(_Base):
    """positions as an ORM user maps it (server defaults fetched back on insert)."""

    __tablename__ = "positions"
    id: Mapped[UUID] = mapped_column(primary_key=True, server_default=text("gen_random_uuid()"))
    user_id: Mapped[UUID]
    wallet_address: Mapped[str]
    protocol: Mapped[str]
    chain_id: Mapped[int]
    health_factor: Mapped[Decimal | None]
    collateral: Mapped[Any] = mapped_column(JSONB)
    debt: Mapped[Any] = mapped_column(JSONB)
    metadata_: Mapped[Any] = mapped_column("metadata", JSONB)
    snapshot_at: Mapped[datetime]
    created_at: Mapped[datetime] = mapped_column(server_default=text("now()"))
    updated_at: Mapped[datetime] = mapped_column(server_default=text("now()"))


def ensure_rows(url: str, rows: int) -> int:
    """Seed users with 50 snapshots each until there are at least ``rows`` positions."""
    with psycopg.connect(url, autocommit=True) as conn:
        seed_users(conn, max(1, rows // 50), snapshots=50)
        found = conn.execute("SELECT count(*) FROM positions").fetchone()
    return int(found[0]) if found else 0


def run(url: str, *, rows: int = 100_000, repeat: int = 5) -> list[Result]:
    count = ensure_rows(url, rows)
    stmt = statement("positions_iterate_all")
    sql = stmt.sql
    numbered, _ = to_numbered(sql)
    conn = psycopg.connect(url, autocommit=True)

    def ours() -> list[Position]:
        return fetch_all(conn, "positions_iterate_all", {}, Position)

    def dict_rows() -> list[dict[str, Any]]:
        return conn.cursor(row_factory=dict_row).execute(sql).fetchall()

    def floor() -> list[tuple[Any, ...]]:
        cur = conn.cursor()
        for oid in JSON_OIDS:
            cur.adapters.register_loader(oid, RawBytesLoader)
        return cur.execute(sql).fetchall()

    queries: Any = aiosql.from_str(f"-- name: all_positions()\n{sql}", "psycopg")

    def aiosql_records() -> list[Any]:
        return list(queries.all_positions(conn))

    engine = create_engine(url_for_sqlalchemy(url))

    def orm() -> list[PositionORM]:
        with Session(engine) as session:
            return list(session.scalars(select(PositionORM)))

    loop = asyncio.new_event_loop()
    apg = loop.run_until_complete(asyncpg.connect(**asyncpg_params(conn)))
    apg_json = loop.run_until_complete(asyncpg.connect(**asyncpg_params(conn)))
    for pg_type in ("json", "jsonb"):
        loop.run_until_complete(
            apg_json.set_type_codec(
                pg_type, encoder=json.dumps, decoder=json.loads, schema="pg_catalog"
            )
        )

    def asyncpg_records() -> list[Any]:
        return loop.run_until_complete(apg_json.fetch(numbered))

    def asyncpg_raw() -> list[Any]:
        return loop.run_until_complete(apg.fetch(numbered))

    variants = [
        (BASELINE, ours),
        ("psycopg tuples, JSONB as bytes (floor)", floor),
        ("psycopg dict_row (untyped)", dict_rows),
        ("asyncpg Records, JSONB decoded", asyncpg_records),
        ("asyncpg Records, JSONB as str", asyncpg_raw),
        ("aiosql default records", aiosql_records),
        ("SQLAlchemy 2 ORM", orm),
    ]
    results = []
    try:
        for name, fn in variants:
            seconds = median_seconds(fn, repeat)
            results.append(Result(SECTION, name, seconds, count, BASELINE))
    finally:
        loop.run_until_complete(apg.close())
        loop.run_until_complete(apg_json.close())
        loop.close()
        engine.dispose()
        conn.close()
    print_table(f"{SECTION} ({count:,} rows, median of {repeat})", results, TARGETS)
    return results


def url_for_sqlalchemy(conninfo: str) -> str:
    params = psycopg.conninfo.conninfo_to_dict(conninfo)
    host = params.get("host", "")
    return f"postgresql+psycopg://{params.get('user', 'postgres')}@/{params['dbname']}?host={host}"


def asyncpg_params(conn: psycopg.Connection[Any]) -> dict[str, Any]:
    info = conn.info
    return {"host": info.host, "port": info.port, "user": info.user, "database": info.dbname}
