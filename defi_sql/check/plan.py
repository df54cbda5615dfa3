"""What a query's plan proves: which result columns are never NULL, and how many rows.

PostgreSQL describes a prepared statement's columns by name and type, and for
a column read straight from a table it names that table column. That is not
enough: an outer join, a ``ROLLUP`` or ``RETURNING old.col`` makes a NOT NULL
column NULL, and a computed column (``count(*)``, ``coalesce(x, 0)``, a
``UNION``, a CTE) names no table. Like SQLx, we read the generic plan
(``EXPLAIN (GENERIC_PLAN, VERBOSE, FORMAT JSON)``, PostgreSQL 16+) and follow
each output expression down to the scans it comes from. Unlike SQLx we do not
guess: what cannot be proven never NULL is nullable, and a query vouches for
a column with ``-- not null: column`` in its doc lines.

How an expression is followed:

* An upper node's output (a join, sort, aggregate, window, ``UNION``) is the
  same text as one of its children's outputs: it is followed to that child by
  position, and an ``Append``'s output to the same position of every branch.
  The nullable side of an outer join, and a grouping column that some grouping
  set leaves out (``ROLLUP``, ``CUBE``, ``GROUPING SETS``), can be NULL.
* A column of a table scan is never NULL when the column is NOT NULL, and not
  by a ``NOT VALID`` NOT NULL constraint (PostgreSQL 18). A column of a CTE or
  subquery is followed to the CTE's or subquery's plan by its position there,
  which is asked of the server (its column names); never by name alone.
* ``RETURNING old.col`` (PostgreSQL 18) is NULL for an inserted row, and
  ``new.col`` for a deleted one.
* A call or operator: ``count``, ``row_number()``/``rank()``/``dense_rank()``
  and ``EXISTS`` are never NULL; ``coalesce``, ``greatest`` and ``least`` when
  one argument never is; an arithmetic, comparison or concatenation operator
  of pg_catalog (no operator of that name defined elsewhere), and a few
  pg_catalog functions (``lower``, ``abs``, ``date_trunc``, ...), when all
  their inputs never are. Anything else may be NULL, ``->>`` included.
* A scalar subquery is never NULL when its plan returns exactly one row whose
  column never is.

How many rows (``^`` and ``$`` keep one): at most one when the plan is a
top-level ``LIMIT 1``/``FETCH FIRST 1 ROW ONLY`` (with any ``OFFSET`` and
locking clause), an aggregate without ``GROUP BY``, a ``VALUES`` of one row,
``INSERT ... VALUES`` of one row, an ``UPDATE``/``DELETE`` whose target scan is
at most one row (each target row is returned once, ``FROM`` or not), a join of
such sides, a semi or anti join of such a side, or a scan whose plain equality
conditions cover a unique index. That index must be immediate (a DEFERRABLE key
holds duplicates until commit), its key columns are ``indnkeyatts`` (not the
``INCLUDE`` ones), and a partial index counts when its predicate is implied:
the scan reads that index, or the query's conditions state each conjunct of the
predicate (``col = const`` as written, ``col IS NOT NULL`` by an equality). An
equality inside ``OR``, ``NOT`` or ``CASE`` proves nothing. Exactly one row
(a ``$`` without ``| None``): an aggregate without ``GROUP BY`` or ``HAVING``,
a ``VALUES`` of one row, or an ``INSERT`` of one such row without ``ON
CONFLICT DO NOTHING``, conflict ``WHERE`` or a BEFORE row trigger (which may
skip the row).

What the plan cannot show is said, never passed: :attr:`Plan.problems` holds
a scalar subquery that may return more than one row (a ``CardinalityViolation``
at run time), and :attr:`Plan.notes` a reference the reader could not follow
(a :class:`PlanNote`: what kind, which column, and the sentence to print).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

import msgspec
import msgspec.inspect as mi

from defi_sql.check.plan_facts import CatalogFacts, Facts, UniqueKey
from defi_sql.check.plan_rows import _APPENDS, Node, RowCounts, _children
from defi_sql.check.plan_text import (
    _ALTERNATIVES,
    _COLUMN,
    _EXISTS,
    _HASHED,
    _HASHED_ANY,
    _INIT_REF,
    _IS,
    _NUMBER,
    _RETURNS,
    _STRING,
    _SUBPLAN,
    _binary,
    _call,
    _ctes,
    _quote,
    _split_top,
    _strip_cast,
    _strip_parens,
    _subquery_texts,
    _unquote,
    conjuncts,
    split_arguments,
)
from defi_sql.check.shapes import type_name

__all__ = [
    "CatalogFacts",
    "Facts",
    "Plan",
    "PlanNote",
    "UniqueKey",
    "conjuncts",
    "split_arguments",
]


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


_NEVER_NULL_CALLS = _words(
    "count now gen_random_uuid jsonb_build_object json_build_object jsonb_build_array "
    "json_build_array clock_timestamp statement_timestamp transaction_timestamp concat "
    "grouping"
)
_NEVER_NULL_WINDOWS = {"row_number", "rank", "dense_rank", "percent_rank", "cume_dist", "count"}
#: pg_catalog functions that return a value for values
_VALUE_CALLS = _words(
    "lower upper length char_length octet_length abs round trunc floor ceil ceiling sign mod "
    "power lpad rpad btrim ltrim rtrim replace md5 to_hex date_trunc date_part make_interval "
    "substr left right repeat jsonb_typeof json_typeof to_jsonb to_json array_append "
    "array_prepend array_cat"
)
#: operators of pg_catalog that return a value for values (``->>`` may not)
_VALUE_OPERATORS = _words("+ - * / % ^ = <> < > <= >= || ~~ !~~ ~~* !~~* ~ !~ ~* !~* @> <@ ? ?| ?&")
_NEVER_NULL_WORDS = {"CURRENT_TIMESTAMP", "CURRENT_DATE", "LOCALTIMESTAMP", "true", "false"}
_SUBQUERY_SOURCES = {"Subquery", "Outer"}


def _outputs(node: Node) -> list[str]:
    """A node's output expressions; an Append prints none: its first member's."""
    if "Output" not in node and node["Node Type"] in _APPENDS:
        first = next(_children(node, {"Member"}), None)
        return _outputs(first) if first is not None else []
    return node.get("Output", [])  # type: ignore[no-any-return]


@dataclass(frozen=True)
class PlanNote:
    """A reference the plan reader could not follow; the column counts as nullable.

    ``kind``: ``"no output"`` (a node lacks the output asked for), ``"no scan"``
    (no scan of the plan has the column's table: a ``WHERE false`` leaves none),
    ``"unread scan"`` (a scan whose columns are not read, a function's) or
    ``"unplaced"`` (a CTE or subquery column not found in its plan). ``column``
    is the column referred to, unquoted (None for ``"no output"``), and
    ``message`` the sentence the report prints.
    """

    kind: Literal["no output", "no scan", "unread scan", "unplaced"]
    column: str | None
    message: str


class Plan(RowCounts):
    """A generic plan (the JSON of ``EXPLAIN (GENERIC_PLAN, VERBOSE, FORMAT JSON)``)
    of ``sql`` (with ``$n`` parameters of ``parameter_types``), read with ``facts``."""

    def __init__(
        self,
        explained: Any,
        facts: Facts,
        sql: str = "",
        parameter_types: tuple[int, ...] = (),
    ) -> None:
        self.root: Node = explained[0]["Plan"]
        self._facts = facts
        self._sql = sql
        self._parameter_types = parameter_types
        self._named: dict[str, Node] = {}
        #: PostgreSQL 16 prints an InitPlan's outputs as ``$n``: "InitPlan 1 (returns $0)"
        self._exec_params: dict[str, tuple[Node, int]] = {}
        self.problems: list[str] = []
        self.notes: list[PlanNote] = []
        for node in self._walk(self.root):
            if "Subplan Name" not in node:
                continue
            name = node["Subplan Name"]
            if returns := _RETURNS.fullmatch(name):
                name = returns.group(1)
                for index, param in enumerate(returns.group(2).split(",")):
                    param = param.strip()
                    if int(param[1:]) > len(parameter_types):  # else: a statement parameter too
                        self._exec_params[param] = (node, index)
            self._named[name] = node
        self._check_scalar_subqueries()

    def _note(self, note: PlanNote) -> None:
        if note not in self.notes:
            self.notes.append(note)

    # -- nullability -------------------------------------------------------

    def never_null(self, index: int) -> bool:
        """Whether result column ``index`` is proven never NULL."""
        return self._output_never_null(self.root, index)

    def elements_can_be_null(self, index: int) -> bool:
        """Whether result column ``index`` is an ``array_agg`` whose elements can be NULL."""
        found = self._source(self.root, index)
        if found is None:
            return False
        node, expr = found
        call = _call(_strip_parens(_strip_cast(_strip_parens(expr.strip()))))
        if call is None or call[0] != "array_agg":
            return False
        argument = re.sub(r"^DISTINCT\s+", "", call[1].strip())
        argument = _split_top(argument, " ORDER BY ")[0]
        return not self._expr_never_null(argument, node)

    def element_problems(self, cls: type[msgspec.Struct], names: list[str]) -> list[str]:
        """A ``list[X]`` field of ``cls`` given an ``array_agg`` whose elements can be NULL."""
        fields = {f.name: f.type for f in mi.type_info(cls).fields}  # type: ignore[attr-defined]
        problems = []
        for index, name in enumerate(names):
            t = fields.get(name)
            if t is None or not self.elements_can_be_null(index):
                continue
            for x in t.types if isinstance(t, mi.UnionType) else (t,):
                if not isinstance(x, mi.ListType | mi.VarTupleType):
                    continue
                item = x.item_type
                items = item.types if isinstance(item, mi.UnionType) else (item,)
                if not any(isinstance(i, mi.NoneType | mi.AnyType) for i in items):
                    problems.append(
                        f"column {name} is an array whose elements can be NULL but "
                        f"{cls.__name__}.{name} is {type_name(t)}; make its elements optional "
                        f"(list[{type_name(x.item_type)} | None]), or leave the NULLs out "
                        f"(array_agg(...) FILTER (WHERE ... IS NOT NULL))."
                    )
        return problems

    def _source(self, node: Node, index: int) -> tuple[Node, str] | None:
        """The node and expression that compute output ``index`` of ``node``."""
        outputs = node.get("Output", [])
        if index >= len(outputs):
            return None
        expr = outputs[index]
        if node["Node Type"] in _APPENDS:
            return None
        for child in _children(node, {"Outer", "Inner"}):
            if expr in _outputs(child):
                return self._source(child, _outputs(child).index(expr))
        return node, expr

    def _output_never_null(self, node: Node, index: int) -> bool:
        kind = node["Node Type"]
        outputs = _outputs(node)
        if index >= len(outputs):
            self._note(PlanNote("no output", None, f"the plan's {kind} has no output {index + 1}"))
            return False
        if kind in _APPENDS:
            members = list(_children(node, {"Member"}))
            return bool(members) and all(self._output_never_null(m, index) for m in members)
        return self._expr_never_null(outputs[index], node)

    def _expr_never_null(self, expr: str, node: Node) -> bool:
        raw = expr.strip()
        if node["Node Type"] != "ModifyTable":
            followed = self._follow(raw, node)
            if followed is not None:
                return followed
        inner = _strip_parens(raw)
        if inner != raw:
            return self._expr_never_null(inner, node)
        uncast = _strip_cast(inner)
        if uncast != inner:  # ``(x)::t``: the same NULLs as x
            return self._expr_never_null(uncast, node)
        return self._value_never_null(inner, node)

    def _follow(self, expr: str, node: Node) -> bool | None:
        """An output computed by a child, followed there by position (None: none computes it)."""
        if node["Node Type"] == "Aggregate" and "Grouping Sets" in node:
            sets = [
                keys
                for grouping in node["Grouping Sets"]
                for name in ("Group Keys", "Hash Keys")
                for keys in grouping.get(name, [])
            ]
            partial = {key for keys in sets for key in keys if any(key not in s for s in sets)}
            # the output may name the key unqualified: ``status`` for accounts.status
            names = partial | {key.rsplit(".", 1)[-1] for key in partial if _COLUMN.fullmatch(key)}
            if any(re.search(rf"(?<![\w.$]){re.escape(n)}(?![\w$])", expr) for n in names):
                return False  # NULL in the rows of the grouping sets without that key
        join = node.get("Join Type")
        for child in _children(node, {"Outer", "Inner"}):
            outputs = _outputs(child)
            if expr not in outputs:
                continue
            side = child.get("Parent Relationship")
            if join == "Full" or (join == "Left" and side == "Inner"):
                return False
            if join == "Right" and side == "Outer":
                return False
            return self._output_never_null(child, outputs.index(expr))
        return None

    def _value_never_null(self, expr: str, node: Node) -> bool:
        if expr in self._exec_params:
            sub, index = self._exec_params[expr]
            return self._subquery_never_null(sub, index)
        if expr.upper() == "NULL" or expr.startswith("$"):
            return False
        if expr in _NEVER_NULL_WORDS or _STRING.fullmatch(expr) or _NUMBER.fullmatch(expr):
            return True
        if _EXISTS.fullmatch(expr):
            return True
        if init := _INIT_REF.fullmatch(expr):
            named = self._named.get(init.group(1))
            return named is not None and self._subquery_never_null(named, int(init.group(2)) - 1)
        if _HASHED.fullmatch(expr) or _HASHED_ANY.fullmatch(expr):
            # an IN (SELECT ...) is NULL for a NULL; with none in the query, the
            # planner made it of an EXISTS (true or false, its NULLs false)
            return not self._ambiguous_sublinks()
        if alternatives := _ALTERNATIVES.fullmatch(expr):  # an EXISTS, or an IN (NULL?)
            named = self._named.get(alternatives.group(1))
            return named is not None and not named.get("Output")
        if subplan := _SUBPLAN.fullmatch(f"({expr})"):
            named = self._named.get(subplan.group(1))
            if named is not None and named.get("Output") and self._ambiguous_sublinks():
                return False  # PostgreSQL 16: maybe an IN (SELECT ...), NULL for a NULL
            return named is not None and self._subquery_never_null(named, 0)
        if expr.startswith("CASE "):
            return False
        if expr.startswith("NOT "):
            return self._expr_never_null(expr[4:], node)
        for word in (" AND ", " OR "):  # before IS: ``c AND (a IS NULL)`` is NULL for a NULL c
            parts = _split_top(expr, word)
            if len(parts) > 1:
                return all(self._expr_never_null(p, node) for p in parts)
        if _IS.fullmatch(expr) and _binary(expr) is None:
            return True
        if binary := _binary(expr):
            left, operator, right = binary
            return (
                operator in _VALUE_OPERATORS
                and not self._facts.user_defined("operator", operator)
                and self._expr_never_null(left, node)
                and self._expr_never_null(right, node)
            )
        if call := _call(expr):
            return self._call_never_null(*call, node)
        if column := _COLUMN.fullmatch(expr):
            alias, name = column.group(1), _unquote(column.group(2))
            return self._column_never_null(node, _unquote(alias) if alias else None, name)
        return False

    def _call_never_null(self, name: str, arguments: str, rest: str, node: Node) -> bool:
        rest = rest.strip()
        if rest.startswith("OVER "):
            return name in _NEVER_NULL_WINDOWS
        if rest.startswith("FILTER ") and name == "count":
            return True
        if rest:
            return False
        if name in ("coalesce", "greatest", "least"):
            return any(self._expr_never_null(a, node) for a in split_arguments(arguments))
        if name in _NEVER_NULL_CALLS:
            return not self._facts.user_defined("function", name)
        if name in _VALUE_CALLS:
            return not self._facts.user_defined("function", name) and all(
                self._expr_never_null(a, node) for a in split_arguments(arguments)
            )
        return False

    def _subquery_never_null(self, sub: Node, index: int) -> bool:
        """A subquery's value: an EXISTS (its plan returns no column) is true or
        false; a scalar subquery returns exactly one row, its column not NULL."""
        if not sub.get("Output"):
            return True
        return self._exactly_one(sub) and self._output_never_null(sub, index)

    def _column_never_null(self, node: Node, alias: str | None, column: str) -> bool:
        if node["Node Type"] == "ModifyTable" and alias in ("old", "new"):
            operation = node.get("Operation")
            if (alias, operation) in (("old", "Insert"), ("new", "Delete")):
                return False  # PostgreSQL 18: no old row for an insert, no new one for a delete
            alias = node.get("Alias")
        found = self._find(node, alias, nullable=False)
        if found is None:
            where = f"{alias + '.' if alias else ''}{column}"
            self._note(
                PlanNote("no scan", column, f"column {where} comes from no scan of the plan")
            )
            return False
        source, nullable = found
        if nullable:
            return False
        kind = source["Node Type"]
        if kind in ("CTE Scan", "Subquery Scan"):
            return self._derived_never_null(source, column)
        if "Relation Name" in source:
            schema = source.get("Schema", "public")
            return bool(self._facts.not_null(schema, source["Relation Name"], column))
        self._note(
            PlanNote(
                "unread scan",
                column,
                f"column {source.get('Alias')}.{column} comes from a {kind}, whose columns "
                "the plan reader does not read",
            )
        )
        return False

    def _derived_never_null(self, scan: Node, column: str) -> bool:
        """A column of a CTE or subquery, followed to its plan by its position there."""
        alias = scan.get("Alias", "")
        if scan["Node Type"] == "CTE Scan":
            name = scan.get("CTE Name", "")
            inner = self._named.get(f"CTE {name}")
            prefixes, _clause = _ctes(self._sql)
            query = f"{prefixes.get(name)} SELECT * FROM {_quote(name)}"  # noqa: S608
            texts = [query] if name in prefixes else []
        else:
            inner = next(_children(scan, _SUBQUERY_SOURCES), None)
            _prefixes, clause = _ctes(self._sql)
            texts = [f"{clause} {body}" for body in _subquery_texts(self._sql, alias)]
        names = None
        for text in texts:
            if (names := self._facts.column_names(text, self._parameter_types)) is not None:
                break
        if inner is None or names is None or names.count(column) != 1:
            self._note(
                PlanNote(
                    "unplaced",
                    column,
                    f"column {alias}.{column} comes from a {scan['Node Type']} whose columns "
                    "the plan reader could not place",
                )
            )
            return False
        return self._output_never_null(inner, names.index(column))
