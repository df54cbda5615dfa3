"""Snapshot ingest: 100k positions through defi-sql's bulk path and the alternatives.

Every variant writes the same snapshots (``NewPosition`` structs with Decimal
amounts, two assets and a metadata document) into an empty ``positions`` table
with its real constraints, foreign key, triggers and indexes, and commits. The
table reports rows per second and each variant's speed relative to defi-sql's
``positions.ingest`` (the baseline), measured in the same run. The ORM, far
slower, writes a tenth of the rows; rows/s make it comparable.

One variant writes elsewhere: raw binary COPY into ``bench_positions_flat``,
positions as it was before #11 (``bench/sql/ingest.sql``: the same columns,
defaults, CHECKs, indexes, foreign key and wallet trigger, no read-model
trigger, not partitioned). ``positions.ingest`` must keep at least 0.8x of its
rows/s: what the read model and partitioning of #11 may cost an ingest. The
two take turns (:func:`_paired`) and the ratio is taken between those turns,
so a busy moment of the machine hits both.
"""

from __future__ import annotations

import asyncio
import gc
import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

import asyncpg
import msgspec
import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb, set_json_dumps
from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from bench.common import Result, bench_sql, print_markdown
from bench.reads import PositionORM, asyncpg_params, url_for_sqlalchemy
from defi_sql import validate
from defi_sql.models import Asset, NewPosition
from defi_sql.sync import positions, users

SECTION = "snapshot ingest of 100k positions"
BASELINE = "defi-sql positions.ingest (validated, binary COPY)"
COLUMNS = (
    "user_id",
    "wallet_address",
    "protocol",
    "chain_id",
    "health_factor",
    "collateral",
    "debt",
    "metadata",
    "snapshot_at",
)
COPY_SQL = (
    "COPY positions (user_id, wallet_address, protocol, chain_id, health_factor, collateral, "
    "debt, metadata, snapshot_at) FROM STDIN (FORMAT BINARY)"
)
COPY_TYPES = ["uuid", "text", "text", "int8", "numeric", "jsonb", "jsonb", "jsonb", "timestamptz"]
INSERT_SQL = (
    "INSERT INTO positions (user_id, wallet_address, protocol, chain_id, health_factor, "
    "collateral, debt, metadata, snapshot_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)"
)
#: The CHECKs that hold positions' documents to the structs (migration 0016): what
#: the database's side of the contract with other writers costs an ingest.
CONTRACT = (
    "positions_collateral_assets_check",
    "positions_debt_assets_check",
    "positions_metadata_depth_check",
    "positions_chain_id_safe_integer_check",
)
WITHOUT_CONTRACT = "the same, without the document CHECKs of 0016"
#: what the baseline must show (speed-up factors, rows/s against rows/s)
TARGETS = {"psycopg executemany (pipeline)": 3.0, "SQLAlchemy 2 ORM (add_all)": 25.0}
FLAT = "binary COPY into today's table, no read model (bench_positions_flat)"
#: the baseline's rows/s must be at least this share of the variant's (#11)
AT_LEAST = {FLAT: 0.8}
RATE_TARGET = 100_000
_ENCODER = msgspec.json.Encoder()


def make_snapshots(user_rows: list[tuple[UUID, str]], rows: int) -> list[NewPosition]:
    """``rows`` realistic snapshots spread over the users, five minutes apart."""
    start = datetime(2026, 1, 1, tzinfo=UTC)
    out = []
    for i in range(rows):
        user_id, wallet = user_rows[i % len(user_rows)]
        eth = Decimal(f"{1 + i % 97}.{i % 1000:03d}")
        out.append(
            NewPosition(
                user_id=user_id,
                wallet_address=wallet,
                protocol=("aave-v3", "compound-v3", "spark")[i % 3],
                chain_id=(1, 10, 42161)[i % 3],
                health_factor=Decimal(f"1.{i % 9000:04d}"),
                collateral=[Asset(symbol="ETH", amount=eth, value_usd=eth * 3000)],
                debt=[
                    Asset(
                        symbol="USDC",
                        amount=Decimal(1000 + i % 5000),
                        value_usd=Decimal(1000 + i % 5000),
                    )
                ],
                metadata={"source": "bench", "block": 19_000_000 + i},
                snapshot_at=start + timedelta(minutes=5 * (i // len(user_rows))),
            )
        )
    return out


def _row(s: NewPosition) -> tuple[Any, ...]:
    return (
        s.user_id,
        s.wallet_address,
        s.protocol,
        s.chain_id,
        s.health_factor,
        s.collateral,
        s.debt,
        s.metadata,
        s.snapshot_at,
    )


def _timed(conn: psycopg.Connection[Any], write: Callable[[], object], repeat: int) -> float:
    """Median time of ``write`` into an emptied table, after one warm-up."""
    times = []
    for attempt in range(repeat + 1):
        conn.execute("TRUNCATE positions")
        gc.collect()
        started = time.perf_counter()
        write()
        if attempt:
            times.append(time.perf_counter() - started)
    conn.execute("TRUNCATE positions")
    return statistics.median(times)


def _paired(
    conn: psycopg.Connection[Any],
    writes: list[tuple[Callable[[], object], str]],
    repeat: int,
) -> list[float]:
    """Median times of ``writes`` (each with the table it empties first), taking turns
    for ``repeat`` rounds after a warm-up round."""
    times: list[list[float]] = [[] for _ in writes]
    for attempt in range(repeat + 1):
        for (write, table), out in zip(writes, times, strict=True):
            conn.execute(sql.SQL("TRUNCATE {}").format(sql.Identifier(table)))
            gc.collect()
            started = time.perf_counter()
            write()
            if attempt:
                out.append(time.perf_counter() - started)
    for _, table in writes:
        conn.execute(sql.SQL("TRUNCATE {}").format(sql.Identifier(table)))
    return [statistics.median(out) for out in times]


@contextmanager
def _without(conn: psycopg.Connection[Any], constraints: tuple[str, ...]) -> Iterator[None]:
    """The positions table without these CHECKs for the block; put back (validated) after."""
    definitions = conn.execute(
        "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint"
        " WHERE conrelid = 'positions'::regclass AND conname = ANY(%s)",
        (list(constraints),),
    ).fetchall()
    assert len(definitions) == len(constraints), definitions
    for name, _ in definitions:
        conn.execute(
            sql.SQL("ALTER TABLE positions DROP CONSTRAINT {}").format(sql.Identifier(name))
        )
    try:
        yield
    finally:
        for name, definition in definitions:
            conn.execute(
                sql.SQL("ALTER TABLE positions ADD CONSTRAINT {} {}").format(
                    sql.Identifier(name), sql.SQL(definition)
                )
            )


def run(url: str, *, quick: bool = False) -> list[Result]:
    rows = 20_000 if quick else 100_000
    repeat = 2 if quick else 3
    conn = psycopg.connect(url, autocommit=True)
    user_rows = []
    for n in range(2000):
        user = users.get_or_create(conn, f"0x{0xB0000000 + n:040x}")
        user_rows.append((user.id, user.wallet_address))
    snapshots = make_snapshots(user_rows, rows)
    orm_rows = rows // 10

    def ours() -> None:
        positions.ingest(conn, snapshots)

    def copy_rows(check: bool, statement: str = COPY_SQL) -> None:
        with conn.transaction(), conn.cursor() as cur:
            set_json_dumps(_ENCODER.encode, context=cur)
            with cur.copy(statement) as copy:
                copy.set_types(COPY_TYPES)
                for s in snapshots:
                    if check:
                        validate.new_position(s)
                    copy.write_row(_row(s))

    def executemany() -> None:
        with conn.transaction(), conn.cursor() as cur:
            cur.executemany(
                INSERT_SQL,
                [
                    (
                        *_row(s)[:5],
                        Jsonb(s.collateral, dumps=_ENCODER.encode),
                        Jsonb(s.debt, dumps=_ENCODER.encode),
                        Jsonb(s.metadata, dumps=_ENCODER.encode),
                        s.snapshot_at,
                    )
                    for s in snapshots
                ],
            )

    loop = asyncio.new_event_loop()
    apg = loop.run_until_complete(asyncpg.connect(**asyncpg_params(conn)))

    def asyncpg_copy() -> None:
        records = [
            (
                *_row(s)[:5],
                _ENCODER.encode(s.collateral).decode(),
                _ENCODER.encode(s.debt).decode(),
                _ENCODER.encode(s.metadata).decode(),
                s.snapshot_at,
            )
            for s in snapshots
        ]
        loop.run_until_complete(
            apg.copy_records_to_table("positions", records=records, columns=list(COLUMNS))
        )

    engine = create_engine(url_for_sqlalchemy(url))

    def orm() -> None:
        with Session(engine) as session:
            session.add_all(
                PositionORM(
                    user_id=s.user_id,
                    wallet_address=s.wallet_address,
                    protocol=s.protocol,
                    chain_id=s.chain_id,
                    health_factor=s.health_factor,
                    collateral=msgspec.to_builtins(s.collateral),
                    debt=msgspec.to_builtins(s.debt),
                    metadata_=s.metadata,
                    snapshot_at=s.snapshot_at,
                )
                for s in snapshots[:orm_rows]
            )
            session.commit()

    conn.execute(bench_sql("ingest_create_flat_table"))
    variants: list[tuple[str, Callable[[], object], int]] = [
        (BASELINE, ours, rows),
        (
            "binary COPY, full check of every row (no fast check)",
            lambda: copy_rows(True),
            rows,
        ),
        ("binary COPY row by row, unvalidated", lambda: copy_rows(False), rows),
        ("psycopg executemany (pipeline)", executemany, rows),
        ("asyncpg copy_records_to_table", asyncpg_copy, rows),
        ("SQLAlchemy 2 ORM (add_all)", orm, orm_rows),
    ]
    results = []
    try:
        for name, write, count in variants:
            seconds = _timed(conn, write, repeat)
            results.append(Result(SECTION, name, seconds, count, BASELINE))
            if name == BASELINE:
                ours_turns, flat = _paired(
                    conn,
                    [
                        (ours, "positions"),
                        (
                            lambda: copy_rows(False, bench_sql("ingest_copy_flat")),
                            "bench_positions_flat",
                        ),
                    ],
                    repeat + 2,
                )
                paired = {"paired_speedup": flat / ours_turns, "ours_paired_seconds": ours_turns}
                results.append(Result(SECTION, FLAT, flat, rows, BASELINE, paired))
        with _without(conn, CONTRACT):
            seconds = _timed(conn, ours, repeat)
        results.append(Result(SECTION, WITHOUT_CONTRACT, seconds, rows, BASELINE))
    finally:
        conn.execute(bench_sql("ingest_drop_flat_table"))
        loop.run_until_complete(apg.close())
        loop.close()
        engine.dispose()
        conn.close()
    base = results[0].rows_per_second
    table = []
    for r in results:
        # the flat table's ratio is taken against the turns of ours beside it
        speedup = r.extra.get("paired_speedup", base / r.rows_per_second)
        target = TARGETS.get(r.name)
        verdict = ""
        if r.name == BASELINE:
            met = r.rows_per_second >= RATE_TARGET
            verdict = f"≥ {RATE_TARGET:,} rows/s: {'met' if met else 'MISSED'}"
        elif target is not None:
            verdict = f"≥ {target:g}x faster: {'met' if speedup >= target else 'MISSED'}"
        elif r.name in AT_LEAST:
            share = AT_LEAST[r.name]
            verdict = f"≥ {share:g}x its rows/s: {'met' if speedup >= share else 'MISSED'}"
        r.extra["speedup"] = round(speedup, 2)
        table.append(
            [
                r.name,
                f"{r.rows:,}",
                f"{r.seconds * 1000:,.0f} ms",
                f"{r.rows_per_second:,.0f}",
                f"{speedup:.2f}x",
                verdict,
            ]
        )
    print_markdown(
        f"{SECTION} ({rows:,} rows, median of {repeat})",
        ["variant", "rows", "median", "rows/s", "baseline is faster by", "baseline's target"],
        table,
        align="lrrrrl",
    )
    return results
