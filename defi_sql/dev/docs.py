"""``docs/schema.md``: the schema for readers, generated from the catalog.

A Mermaid ER diagram of the foreign keys, the database's own settings, then
each table with its ``COMMENT ON`` text, columns (type, null, default,
comment), constraints, indexes, the roles' privileges and row-level security
policies. ``make schema``
writes it with ``sql/schema.sql``; a test fails while it is stale.
"""

from __future__ import annotations

from typing import Any

import psycopg

from defi_sql._aiosql import internal_queries
from defi_sql.check.catalog import fingerprint

__all__ = ["schema_markdown"]

_KINDS = {"p": "primary key", "u": "unique", "f": "foreign key", "c": "check", "x": "exclusion"}


def _cell(text: object) -> str:
    return "" if text is None else str(text).replace("|", "\\|").replace("\n", " ")


def schema_markdown(conn: psycopg.Connection[Any]) -> str:
    """The whole schema of the connection's current schema, as Markdown."""
    queries = internal_queries()
    tables = list(queries.documented_tables(conn))
    lines = [
        "# Schema",
        "",
        "Generated from the migrated catalog by `make schema`; do not edit. The SQL itself is",
        "in `sql/migrations` and, in one file, `sql/schema.sql`.",
        "",
        "```mermaid",
        "erDiagram",
    ]
    for from_table, to_table, columns, required in queries.foreign_keys(conn):
        parent = "||" if required else "|o"  # a NULL-able key: the parent is optional
        lines.append(f'    {to_table} {parent}--o{{ {from_table} : "{columns}"')
    lines.append("```")
    settings = [(name, value) for kind, name, value in fingerprint(conn) if kind == "setting"]
    if settings:
        lines += [
            "",
            "## Database settings",
            "",
            "Set by migrations for every new session of this database (`ALTER DATABASE ... "
            "SET`); a database copied from it as a template does not have them.",
            "",
            "| setting | value |",
            "|---|---|",
        ]
        for name, value in settings:
            lines.append(f"| `{name}` | `{_cell(value)}` |")
    for name, comment, partition_key in tables:
        lines += ["", f"## {name}", ""]
        if comment:
            lines += [comment, ""]
        if partition_key:
            lines += [
                f"Partitioned: `PARTITION BY {partition_key}`. Its partitions are in the schema "
                "`partitions`, made ahead and retired by `defi-sql maintain` (their bounds depend "
                "on the date, so they are not listed here); indexes, constraints, triggers, "
                "grants and policies are the parent's.",
                "",
            ]
        lines += ["| column | type | null | default | meaning |", "|---|---|---|---|---|"]
        for column in queries.table_columns(conn, table_name=name):
            col, sql_type, _base, _array, not_null, col_comment, default, _choices = column
            lines.append(
                f"| `{col}` | {_cell(sql_type)} | {'' if not_null else 'yes'} "
                f"| {_cell(default)} | {_cell(col_comment)} |"
            )
        constraints = list(queries.table_constraints(conn, table_name=name))
        if constraints:
            lines += ["", "| constraint | kind | definition |", "|---|---|---|"]
            for con_name, kind, definition in constraints:
                lines.append(f"| `{con_name}` | {_KINDS.get(kind, kind)} | `{_cell(definition)}` |")
        indexes = list(queries.table_indexes(conn, table_name=name))
        if indexes:
            lines += ["", "| index | definition | purpose |", "|---|---|---|"]
            for index_name, definition, index_comment in indexes:
                lines.append(f"| `{index_name}` | `{_cell(definition)}` | {_cell(index_comment)} |")
        lines += _access(conn, name)
    return "\n".join(lines) + "\n"


def _access(conn: psycopg.Connection[Any], table: str) -> list[str]:
    """Who besides the owner may do what to ``table``, and its row-level security policies."""
    queries = internal_queries()
    lines: list[str] = []
    grants = list(queries.table_access(conn, table_name=table))
    if grants:
        lines += ["", "| role | may |", "|---|---|"]
        lines += [f"| `{role}` | {_cell(privileges)} |" for role, privileges in grants]
    policies = list(queries.table_policies(conn, table_name=table))
    if policies:
        lines += [
            "",
            "Row-level security is on: a role without a policy here (and without BYPASSRLS) "
            "sees no row.",
            "",
            "| policy | roles | command | rows seen (USING) | rows written (CHECK) | purpose |",
            "|---|---|---|---|---|---|",
        ]
        for name, roles, command, using, check, comment in policies:
            lines.append(
                f"| `{name}` | {_cell(roles)} | {command} | `{_cell(using)}` "
                f"| `{_cell(check)}` | {_cell(comment)} |"
            )
    return lines
