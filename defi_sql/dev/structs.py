"""``defi-sql struct TABLE``: a msgspec struct for a table, written from the live catalog.

The seed's ``make:model``: after ``new``, writing the SQL and ``migrate``, this
prints a starting point for ``defi_sql/models.py``. Enum-like CHECK constraints
(``col IN ('a', 'b')``) become ``Literal`` types, nullable columns ``T | None``,
``numeric`` ``Decimal``, a naive ``timestamp`` ``Annotated[datetime,
Meta(tz=False)]``, JSONB ``dict[str, object]`` (replace it with a document
struct), and the table's comment the docstring. The types are check's
(:data:`~defi_sql.check.pgtypes.PG_TYPES`), so check accepts what this writes.
"""

from __future__ import annotations

from typing import Any

import psycopg

from defi_sql._aiosql import internal_queries
from defi_sql.check.pgtypes import PG_TYPES, check_choices
from defi_sql.errors import NotFound

__all__ = ["class_name", "struct_source"]


def class_name(table: str) -> str:
    """``event_store`` -> ``EventStore``, ``positions`` -> ``Position``."""
    words = table.split("_")
    last = words[-1]
    if last.endswith("ies"):
        words[-1] = last[:-3] + "y"
    elif last.endswith("s") and not last.endswith("ss"):
        words[-1] = last[:-1]
    return "".join(word.capitalize() for word in words)


def struct_source(conn: psycopg.Connection[Any], table: str) -> str:
    """Python source of a ``Row`` struct for ``table`` of the connection's current schema."""
    queries = internal_queries()
    columns = list(queries.table_columns(conn, table_name=table))
    if not columns:
        raise NotFound(
            f"there is no table {table!r} in the current schema; `defi-sql status` shows "
            "whether its migration is applied."
        )
    imports = {"from defi_sql.models import Row"}
    fields = []
    for name, sql_type, base, is_array, not_null, comment, _default, choices in columns:
        known = PG_TYPES.get(base)
        python = known.name if known else "object"
        imports.update(known.imports if known else ())
        if choices:
            values = check_choices(choices)
            python = "Literal[" + ", ".join(repr(v).replace("'", '"') for v in values) + "]"
            imports.add("from typing import Literal")
        if is_array:
            python = f"list[{python}]"
        if not not_null:
            python += " | None"
        note = f"  # {sql_type}" if python == "object" else ""
        fields.append(f"    {name}: {python}{note}")
        if comment:
            fields[-1] = f"    #: {comment}\n" + fields[-1]
    doc = queries.table_comment(conn, table_name=table) or f"A row of {table}."
    stdlib = sorted(line for line in imports if not line.startswith("from defi_sql"))
    header = "\n".join(stdlib) + "\n\nfrom defi_sql.models import Row"
    body = "\n".join(fields)
    return (
        f"{header}\n\n\nclass {class_name(table)}(Row, kw_only=True, frozen=True):\n"
        f'    """{doc}"""\n\n{body}\n'
    )
