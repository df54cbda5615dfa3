"""The named queries, loaded once by aiosql (:func:`~defi_sql.statements.loaded`).

aiosql builds query methods at run time, invisible to type checkers (hence
``Any`` here); typed facades in front of them are what the rest of the package
and its users call.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from defi_sql.paths import internal_sql_dir, seed_dir
from defi_sql.statements import loaded

__all__ = ["internal_queries", "load_queries", "seed_queries"]


def load_queries(directory: Path) -> Any:
    """The queries of ``directory``, after the checks the query API's own get
    (:func:`~defi_sql.statements.loaded`, which parses each file once for both): a
    file aiosql cannot parse, or a name defined twice, is a
    :class:`~defi_sql.errors.ConfigError` naming both places."""
    return loaded(directory).queries


def internal_queries() -> Any:
    """defi-sql's own queries (``defi_sql/sql``): bookkeeping and catalog."""
    return load_queries(internal_sql_dir())


def seed_queries() -> Any:
    """The project's seed SQL (``sql/seed``), for ``defi-sql seed``. The API's own
    queries (``sql/queries``) are run through :mod:`defi_sql.statements`."""
    return load_queries(seed_dir())
