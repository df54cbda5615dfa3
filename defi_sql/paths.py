"""Where the project's ``sql/`` tree and the embedded server's data live.

Decided once, here: ``DEFI_SQL_SQL_DIR`` when set; else the tree bundled into
the wheel (``defi_sql/_bundled_sql``, see ``pyproject.toml``); else the
checkout's ``sql/`` beside the package. The embedded server keeps its data in
``DEFI_SQL_DATA_DIR`` when set, else in ``.pgdata/`` of the project: the
checkout root, or the current directory for an installed wheel.
"""

from __future__ import annotations

import os
from pathlib import Path

from defi_sql.errors import ConfigError

__all__ = [
    "data_dir",
    "internal_sql_dir",
    "migrations_dir",
    "project_root",
    "queries_dir",
    "sql_root",
]

_PACKAGE = Path(__file__).resolve().parent
_BUNDLED = _PACKAGE / "_bundled_sql"
_CHECKOUT = _PACKAGE.parent / "sql"


def sql_root() -> Path:
    """The directory holding ``migrations/`` and ``queries/``."""
    override = os.environ.get("DEFI_SQL_SQL_DIR")
    if override:
        root = Path(override).expanduser().resolve()
        if not (root / "migrations").is_dir():
            raise ConfigError(
                f"DEFI_SQL_SQL_DIR={override} has no migrations/ folder; "
                "point it at a directory containing migrations/ and queries/."
            )
        return root
    for candidate in (_BUNDLED, _CHECKOUT):
        if (candidate / "migrations").is_dir():
            return candidate
    raise ConfigError(
        "cannot find the sql/ tree (neither bundled in the package nor beside it); "
        "set DEFI_SQL_SQL_DIR to the directory containing migrations/."
    )


def migrations_dir() -> Path:
    return sql_root() / "migrations"


def queries_dir() -> Path:
    return sql_root() / "queries"


def internal_sql_dir() -> Path:
    """defi-sql's own queries (bookkeeping, catalog), shipped with the package."""
    return _PACKAGE / "sql"


def project_root() -> Path:
    """The checkout root when running from one, else the current directory."""
    if _CHECKOUT.is_dir() and not _BUNDLED.is_dir():
        return _CHECKOUT.parent
    return Path.cwd()


def data_dir() -> Path:
    """Parent folder of the embedded server's data directories (git-ignored)."""
    override = os.environ.get("DEFI_SQL_DATA_DIR")
    if override:
        return Path(override).expanduser().resolve()
    return project_root() / ".pgdata"
