"""Drift: a live database compared with what the migrations give at its level."""

from __future__ import annotations

import psycopg

from defi_sql._aiosql import internal_queries
from defi_sql.check.catalog import Fingerprint, changes, fingerprint
from defi_sql.check.report import Report
from defi_sql.config import mask_conninfo
from defi_sql.connection import connect

__all__ = ["drift"]


def drift(report: Report, database: str, ids: list[str], levels: dict[str, Fingerprint]) -> None:
    where = mask_conninfo(database)
    with connect(database, autocommit=True) as live:
        try:
            with live.transaction():
                applied = [mid for (mid,) in internal_queries().applied_migrations(live)]
        except psycopg.errors.UndefinedTable:
            applied = []
        actual = fingerprint(live)
    known = [mid for mid in ids if mid in applied]
    unknown = [mid for mid in applied if mid not in ids]
    if unknown:
        report.error(
            where,
            "drift",
            f"the database has migrations this tree lacks: {', '.join(unknown)}",
        )
    level = known[-1] if known else None
    pending = ids[ids.index(level) + 1 :] if level else ids
    if pending:
        report.warning(
            where,
            "drift",
            f"{len(pending)} migration(s) pending ({', '.join(pending)}); compared with the "
            f"schema at {level or 'no migration'}",
        )
    expected = levels.get(level, ()) if level else ()
    differences = changes(
        expected,
        actual,
        "is missing from the database",
        "exists only in the database",
        "{kind} {name} differs: the migrations give {old}; the database has {new}",
    )
    for change in differences:
        report.error(where, "drift", f"compared with the migrations, {change}")
