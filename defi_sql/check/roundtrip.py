"""The round-trip of one migration: applied, rolled back (the schema must come back
exactly), applied again (the same schema as the first time)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import psycopg

from defi_sql.check.catalog import Fingerprint, changes, fingerprint
from defi_sql.check.report import Report
from defi_sql.errors import DefiSqlError
from defi_sql.migrate import Migrator
from defi_sql.migrate.files import rollback_path
from defi_sql.paths import display_path

__all__ = ["round_trip"]


def round_trip(
    report: Report,
    url: str,
    chain: Path,
    forward: Path,
    before: Fingerprint,
    conn: psycopg.Connection[Any],
) -> bool:
    """Apply, roll back, apply again; False when the chain cannot go on.

    When the rollback does not restore the schema, the database is rebuilt from
    scratch up to this migration so that the rest of the chain is still checked.
    """
    rollback = rollback_path(forward)
    try:
        with Migrator(url, directory=chain) as migrator:
            migrator.migrate()
            applied = fingerprint(conn)
            if not rollback.is_file():
                report.error(
                    f"{display_path(forward)}:1",
                    "round-trip",
                    f"{forward.name} has no rollback {rollback.name}; write one.",
                )
                return True
            migrator.rollback(steps=1)
            undone = changes(before, fingerprint(conn))
            for change in undone:
                report.error(
                    f"{display_path(rollback)}:1",
                    "round-trip",
                    f"after rolling back {forward.stem}, {change}",
                )
            if undone:
                migrator.drop_everything()
                migrator.migrate()
                return True
            migrator.migrate()
            for change in changes(applied, fingerprint(conn)):
                report.error(
                    f"{display_path(forward)}:1",
                    "round-trip",
                    f"applied again after its rollback, {change}",
                )
    except DefiSqlError as exc:
        message = str(exc).replace(str(chain), display_path(forward.parent))
        report.error(f"{display_path(forward)}:1", "migrate", message)
        return False
    return True
