"""What a named query takes and returns, asked of the server (PREPARE + describe).

The server parses and plans the statement against the live schema without
running it: an unknown table or column, a type error or a wrong parameter
fails here, and the result columns come back with their names and types.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import pq

from defi_sql.statements import Statement

__all__ = ["Column", "Description", "describe", "to_numbered"]

_PLACEHOLDER = re.compile(r"%\((\w+)\)s|%%")


@dataclass(frozen=True)
class Column:
    """A result column: its name, type, and the table column it comes from (0 if none)."""

    name: str
    type_oid: int
    table_oid: int = 0
    table_column: int = 0


@dataclass(frozen=True)
class Description:
    parameters: tuple[int, ...]
    columns: tuple[Column, ...]


def to_numbered(sql: str) -> tuple[str, tuple[str, ...]]:
    """psycopg's ``%(name)s`` placeholders as the server's ``$1``; the names in order."""
    names: list[str] = []

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name is None:
            return "%"
        if name not in names:
            names.append(name)
        return f"${names.index(name) + 1}"

    return _PLACEHOLDER.sub(replace, sql), tuple(names)


def describe(conn: psycopg.Connection[Any], stmt: Statement) -> Description:
    """Prepare ``stmt`` on the server and describe it; raises ``psycopg.Error`` if it fails."""
    sql, _names = to_numbered(stmt.sql)
    pgconn = conn.pgconn
    name = b"defi_sql_describe"
    result = pgconn.prepare(name, sql.encode())
    if result.status != pq.ExecStatus.COMMAND_OK:
        raise psycopg.errors.error_from_result(result, encoding=conn.info.encoding)
    try:
        described = pgconn.describe_prepared(name)
        if described.status != pq.ExecStatus.COMMAND_OK:
            raise psycopg.errors.error_from_result(described, encoding=conn.info.encoding)
        columns = tuple(
            Column(
                (described.fname(i) or b"").decode(),
                described.ftype(i),
                described.ftable(i),
                described.ftablecol(i),
            )
            for i in range(described.nfields)
        )
        parameters = tuple(described.param_type(i) for i in range(described.nparams))
    finally:
        pgconn.exec_(b"DEALLOCATE defi_sql_describe")
    return Description(parameters, columns)
