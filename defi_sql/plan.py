"""What a query's plan proves: which result columns are never NULL, and at most one row.

PostgreSQL describes a prepared statement's columns by name and type, and for
a column read straight from a table it names that table column, whose
``attnotnull`` says whether it can be NULL. That is not enough: an outer join
makes a NOT NULL column nullable, and a computed column (``count(*)``,
``coalesce(x, 0)``, a ``UNION``, a CTE) names no table. Like SQLx, we read the
generic plan (``EXPLAIN (GENERIC_PLAN, VERBOSE, FORMAT JSON)``, PostgreSQL 16+)
and follow each output expression down to the scans it comes from. What cannot
be proven never NULL is reported as nullable; a query can vouch for a column
with ``-- not null: column`` in its doc lines.

The same plan says when a query returns at most one row: a top-level
``LIMIT 1``, an aggregate without ``GROUP BY``, a ``VALUES`` of one row, or a
scan whose equality conditions cover a unique index.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

__all__ = ["Plan", "split_arguments"]

Node = dict[str, Any]
#: (schema, table, column) -> NOT NULL? (None: no such column)
NotNull = Callable[[str, str, str], bool | None]
#: (schema, table) -> the column sets of its unique indexes
UniqueKeys = Callable[[str, str], list[frozenset[str]]]

_PASS_THROUGH = {
    "Limit",
    "Sort",
    "Incremental Sort",
    "Unique",
    "Materialize",
    "Memoize",
    "LockRows",
    "Gather",
    "Gather Merge",
    "Hash",
}
_JOINS = {"Nested Loop", "Hash Join", "Merge Join"}
_SOURCES = {"Outer", "Inner", "Member", "Subquery"}
_NEVER_NULL_CALLS = {
    "count",
    "now",
    "gen_random_uuid",
    "jsonb_build_object",
    "json_build_object",
    "jsonb_build_array",
    "json_build_array",
    "clock_timestamp",
    "statement_timestamp",
    "transaction_timestamp",
}
_NEVER_NULL_WORDS = {"CURRENT_TIMESTAMP", "CURRENT_DATE", "LOCALTIMESTAMP", "true", "false"}
_IDENT = r'(?:[A-Za-z_][\w$]*|"(?:[^"]|"")+")'
_COLUMN = re.compile(rf"(?:({_IDENT})\.)?({_IDENT})")
_RETURNS = re.compile(r"(InitPlan \d+) \(returns (\$\d+(?:,\s*\$\d+)*)\)")
_INIT_REF = re.compile(r"\((InitPlan \d+)\)\.col(\d+)")
_STRING = re.compile(r"'(?:[^']|'')*'")
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?")
_CALL = re.compile(r"([A-Za-z_][\w.]*)\((.*)\)", re.DOTALL)
_VALUE = r"(?:\$\d+|'(?:[^']|'')*'::[\w ]+|-?\d+)"
_EQUALS = re.compile(rf"\((?:({_IDENT})\.)?({_IDENT}) = {_VALUE}\)")
_EQUALS_REVERSED = re.compile(rf"\({_VALUE} = (?:({_IDENT})\.)?({_IDENT})\)")
_LIMIT_ONE = re.compile(
    r"\b(?:limit\s+1|fetch\s+first\s+(?:1\s+)?rows?\s+only)"
    r"(?:\s+for\s+(?:no\s+key\s+)?(?:update|share|key\s+share)(?:\s+(?:skip\s+locked|nowait))?)?"
    r"\s*;?\s*$",
    re.IGNORECASE,
)


def _unquote(name: str) -> str:
    return name[1:-1].replace('""', '"') if name.startswith('"') else name


def _scan(text: str) -> Iterator[tuple[int, str, int]]:
    """(index, character, paren depth) outside string literals and quoted names."""
    depth, quote = 0, ""
    for i, ch in enumerate(text):
        if quote:
            if ch == quote:
                quote = ""
            continue
        if ch in "'\"":
            quote = ch
            continue
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        yield i, ch, depth


def split_arguments(text: str) -> list[str]:
    """``a, f(b, c), 'd,e'`` -> ``['a', 'f(b, c)', "'d,e'"]``."""
    parts, start = [], 0
    for i, ch, depth in _scan(text):
        if ch == "," and depth == 0:
            parts.append(text[start:i].strip())
            start = i + 1
    parts.append(text[start:].strip())
    return [p for p in parts if p]


def _strip_parens(expr: str) -> str:
    while expr.startswith("(") and expr.endswith(")"):
        closes = [i for i, ch, depth in _scan(expr) if ch == ")" and depth == 0]
        if closes != [len(expr) - 1]:
            break
        expr = expr[1:-1].strip()
    return expr


def conjuncts(condition: str) -> list[str]:
    """``((a = 1) AND ((b) OR (c)))`` -> ``['(a = 1)', '((b) OR (c))']``: the top-level ANDs."""
    text = _strip_parens(condition.strip())
    parts, start = [], 0
    for i, _, depth in _scan(text):
        if depth == 0 and text.startswith(" AND ", i):
            parts.append(text[start:i].strip())
            start = i + len(" AND ")
    parts.append(text[start:].strip())
    return [p for p in parts if p]


def _strip_cast(expr: str) -> str:
    """``(x)::integer`` -> ``(x)``: a cast keeps NULL as NULL and a value as a value."""
    last = -1
    for i, ch, depth in _scan(expr):
        if depth == 0 and ch == ":" and expr[i : i + 2] == "::":
            last = i
    return expr[:last].strip() if last > 0 else expr


def _children(node: Node, relations: set[str]) -> Iterator[Node]:
    for child in node.get("Plans", []):
        if child.get("Parent Relationship") in relations:
            yield child


class Plan:
    """A generic plan (the JSON of ``EXPLAIN (GENERIC_PLAN, VERBOSE, FORMAT JSON)``)."""

    def __init__(self, explained: Any, not_null: NotNull, unique_keys: UniqueKeys) -> None:
        self.root: Node = explained[0]["Plan"]
        self._not_null = not_null
        self._unique_keys = unique_keys
        self._named: dict[str, Node] = {}
        #: PostgreSQL 16 prints an InitPlan's outputs as ``$n``: "InitPlan 1 (returns $0)"
        self._exec_params: dict[str, tuple[Node, int]] = {}
        for node in self._walk(self.root):
            if "Subplan Name" not in node:
                continue
            name = node["Subplan Name"]
            if returns := _RETURNS.fullmatch(name):
                name = returns.group(1)
                for index, param in enumerate(returns.group(2).split(",")):
                    self._exec_params[param.strip()] = (node, index)
            self._named[name] = node

    def _walk(self, node: Node) -> Iterator[Node]:
        yield node
        for child in node.get("Plans", []):
            yield from self._walk(child)

    @property
    def has_outer_join(self) -> bool:
        return any(n.get("Join Type") in ("Left", "Right", "Full") for n in self._walk(self.root))

    # -- nullability -------------------------------------------------------

    def never_null(self, index: int) -> bool:
        """Whether result column ``index`` is proven never NULL."""
        return self._output_never_null(self.root, index)

    def _output_never_null(self, node: Node, index: int) -> bool:
        kind = node["Node Type"]
        if kind == "ModifyTable" or (kind == "Result" and "Output" in node):
            outputs = node.get("Output", [])
            return index < len(outputs) and self._expr_never_null(outputs[index], node)
        if kind in _PASS_THROUGH:
            outer = next(_children(node, {"Outer"}), None)
            if outer is not None:
                return self._output_never_null(outer, index)
        if kind in ("Append", "MergeAppend"):
            members = list(_children(node, {"Member"}))
            return bool(members) and all(self._output_never_null(m, index) for m in members)
        outputs = node.get("Output", [])
        return index < len(outputs) and self._expr_never_null(outputs[index], node)

    def _expr_never_null(self, expr: str, node: Node) -> bool:
        expr = _strip_parens(_strip_cast(_strip_parens(expr.strip())))
        if expr in self._exec_params:
            sub, index = self._exec_params[expr]
            return self._exactly_one_row(sub) and self._output_never_null(sub, index)
        if expr.upper().startswith("NULL") or expr.startswith("$"):
            return False
        if expr in _NEVER_NULL_WORDS or _STRING.fullmatch(expr) or _NUMBER.fullmatch(expr):
            return True
        if init := _INIT_REF.fullmatch(expr):
            named = self._named.get(init.group(1))
            return (
                named is not None
                and self._exactly_one_row(named)
                and self._output_never_null(named, int(init.group(2)) - 1)
            )
        if call := _CALL.fullmatch(expr):
            name = call.group(1).rsplit(".", 1)[-1].lower()
            if name in ("coalesce", "greatest", "least"):
                return any(self._expr_never_null(a, node) for a in split_arguments(call.group(2)))
            return name in _NEVER_NULL_CALLS
        if column := _COLUMN.fullmatch(expr):
            alias, name = column.group(1), _unquote(column.group(2))
            return self._column_never_null(node, _unquote(alias) if alias else None, name)
        return False

    def _column_never_null(self, node: Node, alias: str | None, column: str) -> bool:
        found = self._find(node, alias, nullable=False)
        if found is None:
            return False
        source, nullable = found
        if nullable:
            return False
        kind = source["Node Type"]
        if kind == "CTE Scan":
            cte = self._named.get(f"CTE {source.get('CTE Name')}")
            return cte is not None and self._named_output_never_null(cte, column)
        if kind == "Subquery Scan":
            inner = next(_children(source, {"Subquery", "Outer"}), None)
            return inner is not None and self._named_output_never_null(inner, column)
        if "Relation Name" in source:
            schema = source.get("Schema", "public")
            return bool(self._not_null(schema, source["Relation Name"], column))
        return False

    def _named_output_never_null(self, node: Node, column: str) -> bool:
        for index, expr in enumerate(node.get("Output", [])):
            match = _COLUMN.fullmatch(expr.strip())
            if match and _unquote(match.group(2)) == column:
                return self._output_never_null(node, index)
        return False

    def _find(self, node: Node, alias: str | None, *, nullable: bool) -> tuple[Node, bool] | None:
        """The scan that ``alias`` names at or below ``node``, and whether an outer
        join may replace its rows by NULLs on the way up."""
        if alias is None or node.get("Alias") == alias:
            if "Relation Name" in node or node["Node Type"] in ("CTE Scan", "Subquery Scan"):
                return node, nullable
            if alias is None:
                return None
        join = node.get("Join Type")
        for child in _children(node, _SOURCES):
            side = child.get("Parent Relationship")
            child_nullable = nullable or join == "Full"
            child_nullable |= (join == "Left" and side == "Inner") or (
                join == "Right" and side == "Outer"
            )
            found = self._find(child, alias, nullable=child_nullable)
            if found is not None:
                return found
        return None

    # -- cardinality -------------------------------------------------------

    def _exactly_one_row(self, node: Node) -> bool:
        kind = node["Node Type"]
        if kind == "Aggregate" and node.get("Strategy") == "Plain":
            return True
        return kind == "Result" and next(_children(node, {"Outer"}), None) is None

    def at_most_one_row(self, sql: str) -> bool:
        """Whether the statement can return at most one row, whatever its parameters."""
        return self._at_most_one(self.root, sql)

    def _at_most_one(self, node: Node, sql: str) -> bool:
        kind = node["Node Type"]
        if self._exactly_one_row(node):
            return True
        if kind == "Limit" and _LIMIT_ONE.search(_without_comments(sql)):
            return True
        outer = next(_children(node, {"Outer"}), None)
        if kind in _PASS_THROUGH | {"ModifyTable", "Result"}:
            return outer is not None and self._at_most_one(outer, sql)
        if kind in _JOINS:
            sides = list(_children(node, {"Outer", "Inner"}))
            return bool(sides) and all(self._at_most_one(side, sql) for side in sides)
        if "Relation Name" in node:
            equal = self._equality_columns(node)
            keys = self._unique_keys(node.get("Schema", "public"), node["Relation Name"])
            return any(key <= equal for key in keys)
        return False

    def _equality_columns(self, node: Node) -> frozenset[str]:
        alias = node.get("Alias")
        columns: set[str] = set()
        for key in ("Index Cond", "Recheck Cond", "Filter"):
            condition = node.get(key)
            if not condition:
                continue
            for part in conjuncts(condition):
                if " OR " in part or "NOT " in part:  # an equality under either may not hold
                    continue
                for pattern in (_EQUALS, _EQUALS_REVERSED):
                    for qualifier, name in pattern.findall(f"({part})"):
                        if not qualifier or _unquote(qualifier) == alias:
                            columns.add(_unquote(name))
        return frozenset(columns)


def _without_comments(sql: str) -> str:
    return re.sub(r"--[^\n]*", " ", sql).strip()
