"""The named queries of ``sql/queries``, loaded by aiosql, checked for unique names.

aiosql parses the files (``-- name: users_get(user_id)^``, doc lines, declared
parameters) and turns ``:name`` parameters into psycopg's ``%(name)s``; defi-sql
executes the resulting SQL itself, with its own row decoding, streaming and
COPY. aiosql lets a later file silently replace a query of the same name: here
each file is loaded on its own and a duplicate name is an error.

Each file is parsed once (:func:`loaded`): the same aiosql objects give the
:class:`Statement` s that check and the facades read and, gathered into one
``Queries`` with aiosql's ``add_query``, the methods that run them
(:mod:`defi_sql._aiosql`). Only the directory's own ``*.sql`` files count, for
both: aiosql's ``from_path`` of a directory would also load its subdirectories,
whose queries no check would have seen.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiosql

from defi_sql.errors import ConfigError
from defi_sql.paths import queries_dir

__all__ = ["Loaded", "Statement", "load_statements", "loaded", "statement"]


@dataclass(frozen=True)
class Statement:
    """One named query: its psycopg SQL, declared parameters, operator and origin."""

    name: str
    sql: str
    parameters: tuple[str, ...]
    operation: str
    doc: str
    path: Path
    line: int

    @property
    def where(self) -> str:
        return f"{self.path.name}:{self.line}"

    @property
    def returns(self) -> str | None:
        """The struct (or, for ``$``, the scalar type) its doc declares: ``returns: User``
        (``User`` also for ``returns: User | None``)."""
        found = _RETURNS.search(self.doc)
        return found.group(1) if found else None

    @property
    def optional(self) -> bool:
        """Whether it declares "one value or none": ``returns: UUID | None``. A ``$``
        without it must return exactly one row; with it, its value may be None."""
        found = _RETURNS.search(self.doc)
        return bool(found and found.group(2))

    @property
    def rows_vouched(self) -> str | None:
        """What its doc vouches of its rows, where the plan cannot prove it:
        ``one row: <why>`` (exactly one) or ``at most one row: <why>``; 'one',
        'at most one' or None."""
        found = _ROWS.search(self.doc)
        return found.group(1) if found else None

    @property
    def not_null(self) -> frozenset[str]:
        """Columns its doc vouches are never NULL: ``not null: total, archived``."""
        return frozenset(
            name.strip()
            for found in _NOT_NULL.finditer(self.doc)
            for name in found.group(1).split(",")
            if name.strip()
        )

    @property
    def replica(self) -> bool:
        """Whether its doc declares that a streaming replica may serve it:
        ``replica: ok`` (``defi-sql check`` proves such a query writes nothing)."""
        return bool(_REPLICA.search(self.doc))

    @property
    def multi_shard(self) -> str | None:
        """Why it reads or writes across users on purpose, where its doc says so:
        ``shards: multi, <why>`` (the reason), else None. See docs/scale-out.md."""
        found = _SHARDS.search(self.doc)
        return found.group(1) if found else None

    @property
    def deploy_after(self) -> str | None:
        """The migration this query needs applied before it is deployed, where its
        doc says so: ``deploy after: 0056.add-intents-threshold``. It reads what that
        migration adds, so it fails on the schema before it; ``defi-sql check``
        expects that, and says so when it does not fail there."""
        found = _DEPLOY_AFTER.search(self.doc)
        return found.group(1) if found else None

    @property
    def body_line(self) -> int:
        """The file line where its SQL starts (after the name and doc lines)."""
        return self.line + 1 + len(self.doc.splitlines()) if self.doc else self.line + 1


_RETURNS = re.compile(r"^returns:\s*([\w.]+)(\s*\|\s*None)?\s*$", re.MULTILINE)
_ROWS = re.compile(r"^(one|at most one) row:\s*\S.*$", re.MULTILINE)
_NOT_NULL = re.compile(r"^not null:\s*(.+?)\s*$", re.MULTILINE)
_REPLICA = re.compile(r"^replica:\s*ok\b", re.MULTILINE)
_SHARDS = re.compile(r"^shards:\s*multi\s*,\s*(\S.*?)\s*$", re.MULTILINE)
_DEPLOY_AFTER = re.compile(r"^deploy after:\s*(\S+)\s*$", re.MULTILINE)


def _line_of(text: str, name: str) -> int:
    match = re.search(rf"^--\s*name\s*:\s*{re.escape(name)}\b", text, re.MULTILINE)
    return text.count("\n", 0, match.start()) + 1 if match else 1


@dataclass(frozen=True)
class Loaded:
    """The named queries of a directory, each file parsed once."""

    #: every query, by name, as check and the facades read it
    statements: dict[str, Statement]
    #: the same queries as one aiosql ``Queries`` (methods built at run time, hence Any)
    queries: Any


def _load(*directories: Path) -> Loaded:
    found: dict[str, Statement] = {}
    every: Any = aiosql.from_str("", "psycopg")  # an empty Queries, to gather the files'
    for path in [p for directory in directories for p in sorted(directory.glob("*.sql"))]:
        text = path.read_text(encoding="utf-8")
        try:
            queries: Any = aiosql.from_path(path, "psycopg")
        except aiosql.SQLParseException as exc:
            raise ConfigError(f"{path}: {exc}; fix the query file.") from None
        available = set(queries.available_queries)
        for name in queries.available_queries:
            if "." in name or (name.endswith("_cursor") and name[: -len("_cursor")] in available):
                continue  # a namespaced name, or the cursor variant aiosql adds to each query
            fn = getattr(queries, name)
            current = Statement(
                name=name,
                sql=fn.sql,
                parameters=tuple(fn.parameters or ()),
                operation=fn.operation.name,
                doc=(fn.__doc__ or "").strip(),
                path=path,
                line=_line_of(text, name),
            )
            if name in found:
                raise ConfigError(
                    f"query {name!r} is defined twice, in {found[name].where} and "
                    f"{current.where}; rename one of them."
                )
            found[name] = current
        for name in queries.available_queries:  # the cursor variants too, as from_path has
            every.add_query(name, getattr(queries, name))
    return Loaded(found, every)


def load_statements(*directories: Path) -> dict[str, Statement]:
    """Every named query of every ``*.sql`` file in ``directories`` (a missing one
    holds none), read afresh; a name is defined once across all of them."""
    return _load(*directories).statements


@functools.cache
def loaded(directory: Path) -> Loaded:
    """The queries of ``directory``, parsed once for the life of the process."""
    return _load(directory)


def _project_statements() -> dict[str, Statement]:
    return loaded(queries_dir()).statements


def statement(name: str) -> Statement:
    """The project's query ``name`` (from ``sql/queries``)."""
    try:
        return _project_statements()[name]
    except KeyError:
        raise ConfigError(
            f"no query named {name!r} in {queries_dir()}; add it to a .sql file."
        ) from None
