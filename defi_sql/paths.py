"""Where the project's ``sql/`` tree and the embedded server's data live.

Decided once, here. The ``sql/`` tree: ``DEFI_SQL_SQL_DIR`` when set; else the
tree bundled into the wheel (``defi_sql/_bundled_sql``, see ``pyproject.toml``);
else the checkout's ``sql/`` beside the package. It holds ``migrations/``,
``queries/`` (what the API runs) and ``seed/`` (what ``defi-sql seed`` runs).

The bundled tree is read-only: it is the schema this version of the package
ships, and a migration written into ``site-packages`` would be lost (or,
worse, applied) by the next install. ``new`` refuses to write into it and asks
for ``DEFI_SQL_SQL_DIR``, and ``schema --output`` leaves its manifest alone.

The embedded server keeps its data in ``DEFI_SQL_DATA_DIR`` when set; else in
``.pgdata/`` of the checkout; else, for an installed package, in one folder per
user, ``$XDG_DATA_HOME/defi-sql`` (``~/.local/share/defi-sql``), wherever the
command is run from: never in the current directory, which would give every
folder a server of its own.
"""

from __future__ import annotations

import os
from pathlib import Path

from defi_sql.errors import ConfigError

__all__ = [
    "data_dir",
    "installed",
    "internal_sql_dir",
    "is_bundled",
    "migrations_dir",
    "queries_dir",
    "seed_dir",
    "sql_root",
    "writable_sql_root",
]

_PACKAGE = Path(__file__).resolve().parent
_BUNDLED = _PACKAGE / "_bundled_sql"
_CHECKOUT = _PACKAGE.parent / "sql"


def installed() -> bool:
    """Whether this is an installed wheel (it carries the bundled tree), not a checkout."""
    return (_BUNDLED / "migrations").is_dir()


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


def is_bundled(root: Path) -> bool:
    """Whether ``root`` is the read-only tree inside the installed package."""
    return root == _BUNDLED


def writable_sql_root() -> Path:
    """:func:`sql_root` for a command that writes into it: never the bundled tree."""
    root = sql_root()
    if is_bundled(root):
        raise ConfigError(
            f"the sql/ tree bundled with the installed defi-sql ({root}) is read-only; "
            "set DEFI_SQL_SQL_DIR to your project's sql/ directory (the one holding "
            "migrations/ and queries/) and run the command again."
        )
    return root


def migrations_dir() -> Path:
    return sql_root() / "migrations"


def queries_dir() -> Path:
    """The named queries the API runs (``sql/queries``)."""
    return sql_root() / "queries"


def seed_dir() -> Path:
    """The named SQL of ``defi-sql seed`` (``sql/seed``): development data, which the
    API never loads; ``check`` proves it with the queries."""
    return sql_root() / "seed"


def internal_sql_dir() -> Path:
    """defi-sql's own queries (bookkeeping, catalog), shipped with the package."""
    return _PACKAGE / "sql"


def data_dir() -> Path:
    """Parent folder of the embedded server's data directories (``pg16``, ``pg18``)."""
    override = os.environ.get("DEFI_SQL_DATA_DIR")
    if override:
        return Path(override).expanduser().resolve()
    if not installed() and _CHECKOUT.is_dir():
        return _CHECKOUT.parent / ".pgdata"  # git-ignored
    xdg = os.environ.get("XDG_DATA_HOME", "")
    # the XDG spec: a relative XDG_DATA_HOME is invalid and ignored (it would depend on cwd)
    user_data = Path(xdg) if os.path.isabs(xdg) else Path.home() / ".local" / "share"
    return user_data / "defi-sql"


def display_path(path: Path | str) -> str:
    """``path`` relative to the current directory when it is inside it (for messages)."""
    try:
        return str(Path(path).resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)
