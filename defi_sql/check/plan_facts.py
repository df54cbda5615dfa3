"""The catalog facts a generic plan is read with (:class:`Facts`), and
:class:`CatalogFacts`, which asks them of a live database."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import psycopg
from psycopg import pq

from defi_sql._aiosql import internal_queries

__all__ = ["CatalogFacts", "Facts", "UniqueKey"]


@dataclass(frozen=True)
class UniqueKey:
    """A unique index usable as a proof of one row: its key columns, and the
    predicate of a partial index (``pg_get_expr`` text, unqualified)."""

    index: str
    columns: frozenset[str]
    predicate: str | None = None


class Facts(Protocol):
    """The catalog facts a plan is read with."""

    def not_null(self, schema: str, table: str, column: str) -> bool | None: ...

    def unique_keys(self, schema: str, table: str) -> list[UniqueKey]: ...

    def row_triggers(self, schema: str, table: str) -> bool: ...

    def user_defined(self, kind: str, name: str) -> bool: ...

    def column_names(self, sql: str, parameter_types: tuple[int, ...]) -> list[str] | None: ...


class _Unprepared(Exception):
    pass


class CatalogFacts:
    """:class:`Facts` asked of a live database, each answer cached."""

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self.conn = conn
        self._queries = internal_queries()
        self._cache: dict[tuple[Any, ...], Any] = {}

    def _get(self, key: tuple[Any, ...], fetch: Callable[[], Any]) -> Any:
        if key not in self._cache:
            with self.conn.transaction():
                self._cache[key] = fetch()
        return self._cache[key]

    def not_null(self, schema: str, table: str, column: str) -> bool | None:
        q = self._queries
        return self._get(  # type: ignore[no-any-return]
            ("nn", schema, table, column),
            lambda: q.plan_column_not_null(
                self.conn, schema_name=schema, table_name=table, column_name=column
            ),
        )

    def unique_keys(self, schema: str, table: str) -> list[UniqueKey]:
        q = self._queries
        return self._get(  # type: ignore[no-any-return]
            ("uk", schema, table),
            lambda: [
                UniqueKey(index, frozenset(columns), predicate)
                for index, columns, predicate in q.plan_unique_keys(
                    self.conn, schema_name=schema, table_name=table
                )
            ],
        )

    def row_triggers(self, schema: str, table: str) -> bool:
        q = self._queries
        return bool(
            self._get(
                ("tg", schema, table),
                lambda: q.plan_row_triggers(self.conn, schema_name=schema, table_name=table),
            )
        )

    def user_defined(self, kind: str, name: str) -> bool:
        fetch = (
            self._queries.plan_user_operator
            if kind == "operator"
            else self._queries.plan_user_function
        )
        return bool(self._get(("ud", kind, name), lambda: fetch(self.conn, name=name)))

    def column_names(self, sql: str, parameter_types: tuple[int, ...]) -> list[str] | None:
        """The result column names of ``sql`` (``$n`` parameters), None if it does not prepare."""

        def fetch() -> list[str] | None:
            pgconn = self.conn.pgconn
            name = b"defi_sql_plan_columns"
            result = pgconn.prepare(name, sql.encode(), parameter_types or None)
            if result.status != pq.ExecStatus.COMMAND_OK:
                raise _Unprepared
            try:
                described = pgconn.describe_prepared(name)
                return [(described.fname(i) or b"").decode() for i in range(described.nfields)]
            finally:
                pgconn.exec_(b"DEALLOCATE defi_sql_plan_columns")

        try:
            return self._get(("cols", sql, parameter_types), fetch)  # type: ignore[no-any-return]
        except _Unprepared:  # its transaction rolled back
            self._cache[("cols", sql, parameter_types)] = None
            return None
