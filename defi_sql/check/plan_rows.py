"""How many rows a generic plan returns (at most one, exactly one), and the
scalar subqueries in it that may return more than one: the part of
:class:`~defi_sql.check.plan.Plan` that counts rows (see its module for the rules)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from defi_sql.check.plan_facts import Facts, UniqueKey
from defi_sql.check.plan_text import (
    _EQUALS,
    _EQUALS_REVERSED,
    _INIT_REF,
    _NOT_NULL_TEST,
    _SUBPLAN,
    _limits_are_one,
    _quote,
    _strip_parens,
    _unquote,
    _without_comments,
    conjuncts,
)

__all__ = ["Node", "RowCounts"]

Node = dict[str, Any]

_JOINS = {"Nested Loop", "Hash Join", "Merge Join"}
_APPENDS = {"Append", "Merge Append"}
#: nodes that return exactly the rows of their outer child
_SAME_ROWS = {"Sort", "Incremental Sort", "Materialize", "Hash", "WindowAgg"}
#: nodes that return at most the rows of their outer child (Gather: of all its workers')
_FEWER = _SAME_ROWS | {"Limit", "Unique", "Memoize", "LockRows", "Result", "SetOp"}
_FEWER |= {"Gather", "Gather Merge"}


def _children(node: Node, relations: set[str]) -> Iterator[Node]:
    for child in node.get("Plans", []):
        if child.get("Parent Relationship") in relations:
            yield child


class RowCounts:
    """The row-counting half of a plan reader: the plan's tree and what it is read with."""

    root: Node
    _facts: Facts
    _sql: str
    _named: dict[str, Node]
    #: PostgreSQL 16 prints an InitPlan's outputs as ``$n``: "InitPlan 1 (returns $0)"
    _exec_params: dict[str, tuple[Node, int]]
    problems: list[str]

    def _walk(self, node: Node) -> Iterator[Node]:
        yield node
        for child in node.get("Plans", []):
            yield from self._walk(child)

    def _find(self, node: Node, alias: str | None, *, nullable: bool) -> tuple[Node, bool] | None:
        """The scan that ``alias`` names at or below ``node``, and whether an outer
        join may replace its rows by NULLs on the way up."""
        if alias is not None and node.get("Alias") == alias:
            return node, nullable
        if alias is None:
            return (node, nullable) if "Alias" in node else None
        if node["Node Type"] in _APPENDS and alias is not None:
            # a partitioned table: its partitions' scans are named alias_1, alias_2, ...
            # (NOT NULL holds on every partition as on the parent)
            members = list(_children(node, {"Member"}))
            pattern = re.compile(re.escape(alias) + r"_\d+")
            if members and all(pattern.fullmatch(m.get("Alias", "")) for m in members):
                return members[0], nullable
        join = node.get("Join Type")
        # not into an Append's members: the first one's alias names every branch's column
        for child in _children(node, {"Outer", "Inner", "Subquery"}):
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

    def exactly_one_row(self) -> bool:
        """Whether the statement returns exactly one row, whatever its parameters."""
        return self._exactly_one(self.root)

    def _exactly_one(self, node: Node) -> bool:
        kind = node["Node Type"]
        if kind == "Aggregate":
            return (
                node.get("Strategy") == "Plain"
                and node.get("Partial Mode") != "Partial"  # a row per parallel worker
                and "Grouping Sets" not in node
                and "Filter" not in node  # HAVING: no row when it fails
            )
        outer = next(_children(node, {"Outer"}), None)
        if kind == "Result":
            if "One-Time Filter" in node:
                return False
            return outer is None or self._exactly_one(outer)
        if kind in _SAME_ROWS:
            return outer is not None and self._exactly_one(outer)
        if kind == "ModifyTable" and node.get("Operation") == "Insert":
            schema, table = node.get("Schema", "public"), node.get("Relation Name", "")
            return (
                outer is not None
                and node.get("Conflict Resolution") != "NOTHING"
                and "Conflict Filter" not in node
                and not self._facts.row_triggers(schema, table)
                and self._exactly_one(outer)
            )
        return False

    def at_most_one_row(self, sql: str) -> bool:
        """Whether the statement can return at most one row, whatever its parameters."""
        return self._at_most_one(self.root, sql)

    def _at_most_one(self, node: Node, sql: str) -> bool:
        kind = node["Node Type"]
        if self._exactly_one(node):
            return True
        if kind == "Aggregate" and node.get("Strategy") == "Plain" and "Grouping Sets" not in node:
            return True  # with HAVING: one row or none
        if kind == "Limit" and _limits_are_one(sql or self._sql):
            return True
        outer = next(_children(node, {"Outer"}), None)
        if kind == "ModifyTable" and node.get("Operation") in ("Update", "Delete") and outer:
            # each target row is returned once, whatever it is joined with
            target = self._find(outer, node.get("Alias"), nullable=False)
            if target is not None and self._at_most_one(target[0], sql):
                return True
        if kind == "Aggregate" and "Grouping Sets" in node:
            return False  # a row per grouping set
        if kind == "Result" and outer is None:
            return True  # a row, or none when its One-Time Filter fails
        if kind in _FEWER or kind in ("ModifyTable", "Aggregate"):
            # an aggregate with GROUP BY: one group per input row at most
            return outer is not None and self._at_most_one(outer, sql)
        if kind in _JOINS:
            join = node.get("Join Type")
            inner = next(_children(node, {"Inner"}), None)
            if join in ("Semi", "Anti"):
                return outer is not None and self._at_most_one(outer, sql)
            if join in ("Right Semi", "Right Anti"):
                return inner is not None and self._at_most_one(inner, sql)
            sides = list(_children(node, {"Outer", "Inner"}))
            return bool(sides) and all(self._at_most_one(side, sql) for side in sides)
        return self._unique_scan(node)

    def _unique_scan(self, node: Node) -> bool:
        if "Relation Name" not in node:
            return False
        equal, stated = self._conditions(node)
        keys = self._facts.unique_keys(node.get("Schema", "public"), node["Relation Name"])
        return any(key.columns <= equal and self._implied(key, node, equal, stated) for key in keys)

    def _implied(self, key: UniqueKey, node: Node, equal: frozenset[str], stated: set[str]) -> bool:
        """Whether a partial index's predicate holds for every row the scan returns."""
        if key.predicate is None or node.get("Index Name") == key.index:
            return True
        for part in conjuncts(key.predicate):
            part = f"({_strip_parens(part)})"
            not_null = _NOT_NULL_TEST.fullmatch(part)
            if part in stated or (not_null and _unquote(not_null.group(1)) in equal):
                continue
            return False
        return True

    def _conditions(self, node: Node) -> tuple[frozenset[str], set[str]]:
        """The columns a scan's conditions set equal to one value each, and its
        conditions as unqualified text (top-level conjuncts only: an equality
        under OR, NOT or CASE may not hold)."""
        alias = node.get("Alias", "")
        qualifier = re.compile(rf"(?<![\w$\".]){re.escape(_quote(alias))}\.")
        columns: set[str] = set()
        stated: set[str] = set()
        for key in ("Index Cond", "Recheck Cond", "Filter"):
            condition = node.get(key)
            if not condition:
                continue
            for part in conjuncts(condition):
                part = f"({_strip_parens(part)})"
                stated.add(qualifier.sub("", part))
                if found := _EQUALS.fullmatch(part):
                    owner, name, value = found.groups()
                elif found := _EQUALS_REVERSED.fullmatch(part):
                    value, owner, name = found.groups()
                else:
                    continue
                if owner and _unquote(owner) != alias:
                    continue
                if value.startswith(f"{_quote(alias)}."):
                    continue  # a column of the same row
                columns.add(_unquote(name))
        return frozenset(columns), stated

    # -- scalar subqueries -------------------------------------------------

    def _check_scalar_subqueries(self) -> None:
        """A scalar subquery returning two rows fails at run time (CardinalityViolation)."""
        seen: set[str] = set()
        for node in self._walk(self.root):
            for key, value in node.items():
                texts = value if isinstance(value, list) else [value]
                for text in texts:
                    if not isinstance(text, str) or key in ("Subplan Name", "Node Type"):
                        continue
                    for name in self._scalar_references(text):
                        if name in seen:
                            continue
                        seen.add(name)
                        sub = self._named.get(name)
                        if sub is not None and sub.get("Output") and not self._at_most_one(sub, ""):
                            self.problems.append(
                                f"its scalar subquery ({name}) can return more than one row, "
                                "which fails at run time (more than one row returned by a "
                                "subquery used as an expression); make it return one row "
                                "(a unique key, an aggregate, LIMIT 1) or use EXISTS, IN "
                                "or ARRAY(...)."
                            )

    def _scalar_references(self, text: str) -> Iterator[str]:
        """The subplans ``text`` uses as one value: ``(InitPlan n).colk`` and a
        bare ``(SubPlan n)`` (PostgreSQL 17+), ``$k`` of an InitPlan (16)."""
        for found in _INIT_REF.finditer(text):
            before = text[: found.start()]
            if not re.search(r"(?:ANY|ALL) \([^()]*$", before):
                yield found.group(1)
        if self._ambiguous_sublinks():
            return
        for found in _SUBPLAN.finditer(text):
            before, after = text[: found.start()], text[found.end() :]
            if before.endswith(("EXISTS", "ARRAY")) or after.startswith(".col"):
                continue
            yield found.group(1)
        for found in re.finditer(r"\$\d+", text):
            if found.group() in self._exec_params:
                yield self._exec_params[found.group()][0]["Subplan Name"].split(" (")[0]

    def _ambiguous_sublinks(self) -> bool:
        """PostgreSQL 16 prints every SubPlan alike, and an InitPlan's value as
        ``$n``: with ARRAY(SELECT ...), IN (SELECT ...) or ANY/ALL (SELECT ...) in
        the query, a bare one may be any of them. On every version alike, such a
        query's subqueries are not taken for scalar ones."""
        return bool(
            re.search(
                r"\b(?:ARRAY|IN|ANY|ALL|SOME)\s*\(\s*(?:SELECT|WITH|VALUES)\b",
                _without_comments(self._sql),
                re.IGNORECASE,
            )
        )
