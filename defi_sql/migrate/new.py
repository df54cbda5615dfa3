"""``defi-sql new``: the next-numbered pair of migration files, from a template
that lint refuses until it is filled in, depending on the newest migrations."""

from __future__ import annotations

import re
from pathlib import Path

from defi_sql.errors import MigrationError
from defi_sql.migrate.files import migration_set, rollback_path
from defi_sql.paths import migrations_dir

__all__ = ["TEMPLATE_PLACEHOLDER", "create_migration"]

TEMPLATE_PLACEHOLDER = "say here why this change is needed"
_NAME = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)+$")
_ID = re.compile(r"^(\d{4})\.[a-z0-9-]+$")


def _heads(directory: Path) -> list[str]:
    """The migrations no other one depends on: what a new migration depends on."""
    try:
        files = migration_set(directory)[0]
    except MigrationError:
        return []
    needed = {dep for m in files for dep in m.depends}
    heads = [m.id for m in files if m.id not in needed]
    if any(m.depends for m in files):
        return heads
    return heads[-1:]  # files without `-- depends:` lines: the last one


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
    number = max(numbers, default=0) + 1
    mid = f"{number:04d}.{name}"
    forward = directory / f"{mid}.sql"
    rollback = rollback_path(forward)
    heads = _heads(directory)
    depends = f"-- depends: {' '.join(heads)}\n" if heads else ""
    forward.write_text(
        f"-- {mid}: {TEMPLATE_PLACEHOLDER} (one or two sentences).\n{depends}\n",
        encoding="utf-8",
    )
    rollback.write_text(
        f"-- Undo {mid}: restore the schema exactly as it was before.\n"
        "-- Undoing often takes a statement squawk bans (DROP COLUMN, DROP TABLE...):\n"
        "-- say why it is safe here in the ignore, before the statement, e.g.\n"
        "--     -- squawk-ignore ban-drop-column -- the rollback of an ADD COLUMN drops it\n\n",
        encoding="utf-8",
    )
    return forward, rollback
