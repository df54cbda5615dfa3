"""The result columns of a query as ``check`` compares them with its struct: each
column's type, whether it is never NULL, the values it can hold (an enum's labels,
a domain's ``CHECK``, the literals of its expression) and its JSON kind."""

from __future__ import annotations

import re
from typing import Any

import psycopg

from defi_sql._aiosql import internal_queries
from defi_sql.check.describe import Description
from defi_sql.check.outputs import json_kind, output_expressions, text_values
from defi_sql.check.pgtypes import check_choices
from defi_sql.check.plan import CatalogFacts, Plan
from defi_sql.check.shapes import ResultColumn
from defi_sql.statements import Statement

__all__ = ["Catalog", "result_columns"]

_DOMAIN_CHOICES = re.compile(
    r"CHECK \(\((?:VALUE|\(VALUE\)::[\w ]+) = (?:ANY \(ARRAY\[.*\]\)|'(?:[^']|'')*'::[\w ]+)\)\)"
)


class Catalog:
    """Cached catalog look-ups on one connection."""

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self.conn = conn
        self._queries = internal_queries()
        self._cache: dict[tuple[Any, ...], Any] = {}
        self.plan_facts = CatalogFacts(conn)

    def _get(self, key: tuple[Any, ...], fetch: Any) -> Any:
        if key not in self._cache:
            self._cache[key] = fetch()
        return self._cache[key]

    def column(
        self, table_oid: int, attnum: int
    ) -> tuple[bool, tuple[str, ...] | None, str | None]:
        def fetch() -> tuple[bool, tuple[str, ...] | None, str | None]:
            row = self._queries.column_facts(self.conn, table_oid=table_oid, attnum=attnum)
            if row is None:
                return False, None, None
            not_null, _table, _column, choices, json_kind = row
            values = check_choices(choices or "")
            return bool(not_null), values or None, json_kind

        return self._get(("col", table_oid, attnum), fetch)  # type: ignore[no-any-return]

    def type(self, oid: int) -> tuple[str, str | None]:
        def fetch() -> tuple[str, str | None]:
            row = self._queries.type_facts(self.conn, type_oid=oid)
            if row is None:
                return f"oid {oid}", None
            name, category, element = row
            if category == "A" and element:
                return str(name), self.type(int(element))[0]
            return str(name), None

        return self._get(("type", oid), fetch)  # type: ignore[no-any-return]

    def column_type(self, table_oid: int, attnum: int) -> int | None:
        """The declared type of a table column: a domain's own oid, not its base's."""
        q = self._queries
        return self._get(  # type: ignore[no-any-return]
            ("coltype", table_oid, attnum),
            lambda: q.column_type(self.conn, table_oid=table_oid, attnum=attnum),
        )

    def values(self, oid: int) -> tuple[tuple[str, ...] | None, str, bool]:
        """(the values, what holds them, enum?) of a type: an enum's labels, else the
        values its domains' ``CHECK (VALUE IN (...))`` allow (all of them, if several)."""

        def fetch() -> tuple[tuple[str, ...] | None, str, bool]:
            row = self._queries.type_values(self.conn, type_oid=oid)
            domains, checks, enum_name, labels = row or (None, None, None, None)
            allowed: tuple[str, ...] | None = None
            source = ""
            if enum_name is not None:
                allowed, source = tuple(labels or ()), f"its enum type {enum_name}"
            for entry in checks or ():
                domain, definition = entry.split("|", 1)
                if _DOMAIN_CHOICES.fullmatch(definition):
                    values = check_choices(definition)
                    allowed = (
                        values if allowed is None else tuple(v for v in allowed if v in values)
                    )
                    outer = (domains or [domain])[0]
                    source = f"its domain {outer}" + (f" (a {domain})" if domain != outer else "")
            return allowed, source, enum_name is not None

        return self._get(("values", oid), fetch)  # type: ignore[no-any-return]


def result_columns(
    stmt: Statement, description: Description, plan: Plan | None, catalog: Catalog
) -> list[ResultColumn]:
    columns = []
    for index, column in enumerate(description.columns):
        type_name, element = catalog.type(column.type_oid)
        choices: tuple[str, ...] | None = None
        kind = None
        facts: dict[str, Any] = {}
        never_null = column.name in stmt.not_null or (plan is not None and plan.never_null(index))
        type_oid = column.type_oid
        if column.table_oid:
            # its attnotnull is not enough (an outer join, ROLLUP, RETURNING old.col,
            # NOT VALID): never_null is the plan's (defi_sql.check.plan)
            _not_null, choices, kind = catalog.column(column.table_oid, column.table_column)
            type_oid = catalog.column_type(column.table_oid, column.table_column) or type_oid
        elif plan is not None and (exprs := output_expressions(plan.root, index)):
            found = [text_values(e) for e in exprs]
            if all(v is not None for v in found):
                choices = tuple(dict.fromkeys(v for vs in found if vs is not None for v in vs))
                facts["choices_from"] = "its expression"
            kinds = {json_kind(e) for e in exprs} - {"null"}
            if len(kinds) == 1 and None not in kinds:
                kind = kinds.pop()
                facts["json_from"] = "its expression"
        values, source, facts["enum"] = catalog.values(type_oid)
        if values is not None and choices is None:
            choices, facts["choices_from"], facts["exact"] = values, source, True
        columns.append(
            ResultColumn(column.name, type_name, element, never_null, choices, kind, **facts)
        )
    return columns
