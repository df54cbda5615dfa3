"""The shard rule: which named queries would run on one shard, and which on all,
once the per-user tables are distributed by user (docs/scale-out.md).

Citus routes a statement to one shard when it can prune to one value of the
distribution column; otherwise the coordinator sends it to every shard. So a
query is **single-shard** when every per-user relation it touches is pinned to
one value of its distribution column (:data:`DISTRIBUTION`: ``users.id``, the
others' ``user_id``), and **multi-shard** when one is not.

It is read from the query's generic plan, never from its text, so the
planner's own simplifications decide (``user_id = $1 OR true`` becomes no
condition at all, ``user_id = user_id`` becomes ``user_id IS NOT NULL``). A
relation is pinned when:

* a scan of it (a partition's scan counts for its partitioned table) has a
  top-level equality (``Index Cond``, ``Recheck Cond`` or ``Filter``, not inside
  ``OR``, ``NOT`` or ``CASE``) between its distribution column and a parameter of
  the statement (``user_id = $1``, the parameter cast or not; the column not
  cast: Citus prunes on the column itself), or with a column that is itself
  pinned, through any chain of such equalities, join conditions included
  (``p.user_id = u.id`` with ``u.id = $1``). An ``IN`` list (``= ANY``), a
  subquery's value (an InitPlan's), or an equality with another table's column
  that nothing pins leaves it unpinned: those reach several users;
* an ``INSERT`` into it writes one row (its source is a plain ``Result``) or
  takes the distribution column from a parameter or a pinned column; one that
  takes it from rows of a multi-shard source (``INSERT ... SELECT``) is not.

A query that reaches many users on purpose says so in its doc lines,
``shards: multi, <why>``. An undeclared multi-shard query is a warning; so is
a declaration on a query every per-user relation of which is pinned. Every
query that touches a per-user relation, or declares the rule, is listed in
:attr:`~defi_sql.check.report.Report.shards` (``defi-sql check --shards``
prints it). A ``#`` script is not planned, so not judged; a function's own
statements are not either (Citus plans each when the function runs it), so a
query that reaches a per-user table only through a function is listed only if
it declares itself.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import psycopg

from defi_sql._aiosql import internal_queries
from defi_sql.check.plan import Plan
from defi_sql.check.plan_text import (
    _COLUMN,
    _RETURNS,
    _binary,
    _strip_cast,
    _strip_parens,
    _unquote,
    conjuncts,
)
from defi_sql.check.report import Report, location
from defi_sql.statements import Statement

__all__ = ["DISTRIBUTION", "ShardFacts", "ShardVerdict", "judge_shards"]

#: docs/scale-out.md: the per-user tables (schema public), co-located by user,
#: and each one's distribution column
DISTRIBUTION: dict[str, str] = {
    "users": "id",
    "positions": "user_id",
    "positions_latest": "user_id",
    "positions_daily": "user_id",
    "alerts": "user_id",
    "intents": "user_id",
}
_CONDITIONS = (
    "Index Cond",
    "Recheck Cond",
    "Filter",
    "TID Cond",
    "Hash Cond",
    "Merge Cond",
    "Join Filter",
)
_PARAMETER = re.compile(r"\$(\d+)")


@dataclass(frozen=True)
class ShardVerdict:
    """One query that touches per-user tables (or declares ``shards: multi``)."""

    query: str
    where: str
    #: the per-user tables it touches, by name
    tables: tuple[str, ...]
    #: the distribution columns it leaves unpinned (``alerts.user_id``): multi-shard
    unpinned: tuple[str, ...]
    #: the reason its doc gives (``shards: multi, <why>``), or None
    declared: str | None

    @property
    def multi(self) -> bool:
        return bool(self.unpinned) or (not self.tables and self.declared is not None)

    def __str__(self) -> str:
        kind = "multi-shard" if self.multi else "single-shard"
        touched = ", ".join(self.tables) or "no per-user table in its plan"
        line = f"{self.where}: {kind}: {self.query} ({touched})"
        if self.unpinned:
            line += f"; unpinned: {', '.join(self.unpinned)}"
        if self.declared is not None:
            line += f"; declared: {self.declared}"
        return line


class ShardFacts:
    """The catalog facts of one check run, cached: a relation's distributed table
    (a partition's partitioned one) and a column's number."""

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self.conn = conn
        self._q = internal_queries()
        self._roots: dict[tuple[str, str], str | None] = {}
        self._numbers: dict[tuple[str, str], int | None] = {}

    def distributed(self, schema: str, relation: str) -> str | None:
        """The per-user table ``schema.relation`` belongs to, or None."""
        if (schema, relation) not in self._roots:
            with self.conn.transaction():
                row = self._q.shards_root(self.conn, schema_name=schema, table_name=relation)
            table = None
            if row is not None and row[0] == "public" and row[1] in DISTRIBUTION:
                table = str(row[1])
            self._roots[(schema, relation)] = table
        return self._roots[(schema, relation)]

    def column_number(self, table: str, column: str) -> int | None:
        if (table, column) not in self._numbers:
            with self.conn.transaction():
                number = self._q.shards_column_number(
                    self.conn, schema_name="public", table_name=table, column_name=column
                )
            self._numbers[(table, column)] = number
        return self._numbers[(table, column)]


def _nodes(node: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield node
    for child in node.get("Plans", []):
        yield from _nodes(child)


class _Equalities:
    """Terms (``alias.column``, ``$n``) set equal by the plan's conditions: a union-find."""

    def __init__(self) -> None:
        self._parent: dict[str, str] = {}

    def find(self, term: str) -> str:
        self._parent.setdefault(term, term)
        while self._parent[term] != term:
            self._parent[term] = self._parent[self._parent[term]]
            term = self._parent[term]
        return term

    def join(self, a: str, b: str) -> None:
        self._parent[self.find(a)] = self.find(b)

    def group(self, term: str) -> set[str]:
        root = self.find(term)
        return {t for t in list(self._parent) if self.find(t) == root}


def _term(expr: str, alias: str | None, parameters: set[str]) -> str | None:
    """``alias.column`` for a column (not cast), ``$n`` for a statement parameter
    (cast or not), else None."""
    expr = _strip_parens(expr.strip())
    value = _strip_parens(_strip_cast(expr))
    if value in parameters:
        return value
    column = _COLUMN.fullmatch(expr)
    if column is None or expr.upper() in ("NULL", "TRUE", "FALSE"):
        return None
    owner = _unquote(column.group(1)) if column.group(1) else alias
    return f"{owner}.{_unquote(column.group(2))}" if owner else None


def _parameters(plan: Plan, count: int) -> set[str]:
    """``$1`` .. ``$count``, less those PostgreSQL 16 prints for an InitPlan's value."""
    taken: set[str] = set()
    for node in _nodes(plan.root):
        if found := _RETURNS.fullmatch(node.get("Subplan Name", "")):
            taken |= {p.strip() for p in found.group(2).split(",")}
    return {f"${n}" for n in range(1, count + 1)} - taken


def _verdict(
    facts: ShardFacts, stmt: Statement, plan: Plan, parameters: tuple[int, ...]
) -> ShardVerdict:
    statement_parameters = _parameters(plan, len(parameters))
    equal = _Equalities()
    # (table, the term of its distribution column, or None when it is pinned already)
    touched: list[tuple[str, str | None]] = []
    for node in _nodes(plan.root):
        alias = node.get("Alias")
        # a Bitmap Index Scan's condition is one arm of its heap scan's Recheck Cond,
        # maybe of an OR (BitmapOr): that Recheck Cond says it whole
        for key in _CONDITIONS if node["Node Type"] != "Bitmap Index Scan" else ():
            for part in conjuncts(node.get(key, "")):
                binary = _binary(_strip_parens(part))
                if binary is None or binary[1] != "=":
                    continue
                left = _term(binary[0], alias, statement_parameters)
                right = _term(binary[2], alias, statement_parameters)
                if left and right:
                    equal.join(left, right)
        relation = node.get("Relation Name")
        if relation is None:
            continue
        table = facts.distributed(node.get("Schema", "public"), relation)
        if table is None:
            continue
        column = DISTRIBUTION[table]
        if node["Node Type"] != "ModifyTable":
            touched.append((table, f"{alias}.{column}"))
        elif node.get("Operation") == "Insert":
            touched.append((table, _inserted(facts, node, table, column, statement_parameters)))
    tables = tuple(sorted({table for table, _ in touched}))
    unpinned = tuple(
        sorted(
            {
                f"{table}.{DISTRIBUTION[table]}"
                for table, term in touched
                if term is not None
                and not any(t in statement_parameters for t in equal.group(term))
            }
        )
    )
    return ShardVerdict(stmt.name, location(stmt), tables, unpinned, stmt.multi_shard)


def _inserted(
    facts: ShardFacts, node: dict[str, Any], table: str, column: str, parameters: set[str]
) -> str | None:
    """The term an INSERT takes its distribution column from (None: pinned, one row)."""
    unknown = f"INSERT INTO {table}"  # no condition's term: never pinned
    source = next(
        (c for c in node.get("Plans", []) if c.get("Parent Relationship") == "Outer"), None
    )
    number = facts.column_number(table, column)
    if source is None or number is None:
        return unknown
    outputs = source.get("Output", [])
    value = outputs[number - 1] if number <= len(outputs) else None
    term = _term(value, None, parameters) if value is not None else None
    if term is not None:
        return term  # a parameter, or a column pinned or not by the source's conditions
    if source["Node Type"] == "Result" and "Plans" not in source:
        return None  # one row: it goes to one shard whatever its value
    return unknown  # rows computed from a source that may span users


def judge_shards(
    report: Report,
    facts: ShardFacts,
    stmt: Statement,
    plan: Plan,
    parameters: tuple[int, ...],
) -> None:
    """Add the query's verdict to the report's shard section, and warn of an
    undeclared multi-shard query or a declaration a single-shard one does not need."""
    verdict = _verdict(facts, stmt, plan, parameters)
    if not verdict.tables and verdict.declared is None:
        return
    report.shards.append(verdict)
    if verdict.unpinned and verdict.declared is None:
        columns = " or ".join(verdict.unpinned)
        report.warning(
            verdict.where,
            "shards",
            f"{stmt.name}: no equality on a parameter pins {columns}, so once the per-user "
            "tables are distributed by user (docs/scale-out.md) it runs on every shard; filter "
            "on one user (user_id = :user_id), or declare `-- shards: multi, <why>` if it must "
            "reach many users.",
        )
    elif verdict.tables and not verdict.unpinned and verdict.declared is not None:
        report.warning(
            verdict.where,
            "shards",
            f"{stmt.name}: declares `shards: multi` but an equality on a parameter pins "
            f"every per-user table it touches ({', '.join(verdict.tables)}), so it runs on "
            "one shard; drop the declaration.",
        )
