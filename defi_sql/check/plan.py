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
at run time), and :attr:`Plan.notes` a reference the reader could not follow.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol

import msgspec
import msgspec.inspect as mi
import psycopg
from psycopg import pq

from defi_sql._aiosql import internal_queries
from defi_sql.check.shapes import type_name

__all__ = [
    "CatalogFacts",
    "Facts",
    "Plan",
    "UniqueKey",
    "conjuncts",
    "split_arguments",
]

Node = dict[str, Any]


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


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


_JOINS = {"Nested Loop", "Hash Join", "Merge Join"}
_APPENDS = {"Append", "MergeAppend"}
#: nodes that return exactly the rows of their outer child
_SAME_ROWS = {"Sort", "Incremental Sort", "Materialize", "Hash", "WindowAgg"}
#: nodes that return at most the rows of their outer child (Gather: of all its workers')
_FEWER = _SAME_ROWS | {"Limit", "Unique", "Memoize", "LockRows", "Result", "SetOp"}
_FEWER |= {"Gather", "Gather Merge"}
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
_IDENT = r'(?:[A-Za-z_][\w$]*|"(?:[^"]|"")+")'
_COLUMN = re.compile(rf"(?:({_IDENT})\.)?({_IDENT})")
_RETURNS = re.compile(r"(InitPlan \d+) \(returns (\$\d+(?:,\s*\$\d+)*)\)")
_INIT_REF = re.compile(r"\((InitPlan \d+)\)\.col(\d+)")
_SUBPLAN = re.compile(r"\((SubPlan \d+)\)")
_EXISTS = re.compile(r"EXISTS\((?:SubPlan|InitPlan) \d+\)")
_HASHED = re.compile(r"hashed SubPlan \d+")
_HASHED_ANY = re.compile(r"ANY \([^()]* = \(hashed SubPlan \d+\)\.col\d+\)")
_ALTERNATIVES = re.compile(r"alternatives: (SubPlan \d+) or hashed SubPlan \d+")
_TYPE = re.compile(r'[\w ."]+(?:\(\d+(?:,\s*\d+)?\))?(?:\[\])*')
_STRING = re.compile(r"'(?:[^']|'')*'")
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?")
_NAME = re.compile(r"([A-Za-z_][\w.]*)\(")
_OPERATOR = re.compile(r" ([+\-*/<>=~!@#%^&|`?]+) ")
_IS = re.compile(r"(.+) IS (?:NOT )?(?:NULL|TRUE|FALSE|UNKNOWN|DISTINCT FROM .+)", re.DOTALL)
_VALUE = rf"(?:\$\d+|\(InitPlan \d+\)\.col\d+|'(?:[^']|'')*'::[\w ]+|-?\d+|{_IDENT}\.{_IDENT})"
_EQUALS = re.compile(rf"\((?:({_IDENT})\.)?({_IDENT}) = ({_VALUE})\)")
_EQUALS_REVERSED = re.compile(rf"\(({_VALUE}) = (?:({_IDENT})\.)?({_IDENT})\)")
_NOT_NULL_TEST = re.compile(rf"\((?:{_IDENT}\.)?({_IDENT}) IS NOT NULL\)")
_LIMIT = re.compile(r"\blimit\s+\(*([^\s;()]+)", re.IGNORECASE)
_FETCH = re.compile(
    r"\bfetch\s+(?:first|next)\s+\(*(\S*?)\)*\s*rows?\s+(only|with\s+ties)", re.IGNORECASE
)
_SUBQUERY_SOURCES = {"Subquery", "Outer"}


def _unquote(name: str) -> str:
    return name[1:-1].replace('""', '"') if name.startswith('"') else name


def _quote(name: str) -> str:
    return name if re.fullmatch(r"[a-z_][a-z0-9_$]*", name) else '"' + name.replace('"', '""') + '"'


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


def _closing(text: str, start: int) -> int | None:
    """The index of the parenthesis closing the one at ``text[start]``."""
    for i, ch, depth in _scan(text[start:]):
        if ch == ")" and depth == 0:
            return start + i
    return None


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


def _split_top(text: str, word: str) -> list[str]:
    parts, start = [], 0
    for i, _, depth in _scan(text):
        if depth == 0 and text.startswith(word, i) and i >= start:
            parts.append(text[start:i].strip())
            start = i + len(word)
    parts.append(text[start:].strip())
    return [p for p in parts if p]


def conjuncts(condition: str) -> list[str]:
    """``((a = 1) AND ((b) OR (c)))`` -> ``['(a = 1)', '((b) OR (c))']``: the top-level ANDs."""
    return _split_top(_strip_parens(condition.strip()), " AND ")


def _strip_cast(expr: str) -> str:
    """``(x)::integer`` -> ``(x)``: a cast keeps NULL as NULL and a value as a value.
    Only a cast of the whole expression: ``(a + (b)::integer)`` keeps its ``+``."""
    last = -1
    for i, ch, depth in _scan(expr):
        if depth == 0 and ch == ":" and expr[i : i + 2] == "::":
            last = i
        elif depth == 0 and ch == " " and last < 0:
            return expr  # an operand before the cast: not one value cast
    if last <= 0 or not _TYPE.fullmatch(expr[last + 2 :].strip()):
        return expr
    return expr[:last].strip()


def _call(expr: str) -> tuple[str, str, str] | None:
    """``f(a, b) rest`` -> ``('f', 'a, b', 'rest')``: a call at the start of ``expr``."""
    name = _NAME.match(expr)
    if name is None:
        return None
    close = _closing(expr, name.end() - 1)
    if close is None:
        return None
    return name.group(1).rsplit(".", 1)[-1].lower(), expr[name.end() : close], expr[close + 1 :]


def _binary(expr: str) -> tuple[str, str, str] | None:
    """``a + b`` -> ``('a', '+', 'b')``: a top-level binary operator (EXPLAIN
    parenthesizes every operator expression, so there is at most one)."""
    for i, ch, depth in _scan(expr):
        if depth == 0 and ch == " " and i > 0:
            found = _OPERATOR.match(expr, i)
            if found and found.end() < len(expr):
                return expr[:i].strip(), found.group(1), expr[found.end() :].strip()
    return None


def _children(node: Node, relations: set[str]) -> Iterator[Node]:
    for child in node.get("Plans", []):
        if child.get("Parent Relationship") in relations:
            yield child


def _outputs(node: Node) -> list[str]:
    """A node's output expressions; an Append prints none: its first member's."""
    if "Output" not in node and node["Node Type"] in _APPENDS:
        first = next(_children(node, {"Member"}), None)
        return _outputs(first) if first is not None else []
    return node.get("Output", [])  # type: ignore[no-any-return]


def _without_comments(sql: str) -> str:
    return re.sub(r"--[^\n]*", " ", sql).strip()


def _limits_are_one(sql: str) -> bool:
    """Whether every LIMIT and FETCH of ``sql`` keeps one row (``LIMIT 1``, ``FETCH
    FIRST ROW ONLY``; any OFFSET): EXPLAIN does not print a Limit node's count, but
    then every Limit node of its plan is one of them (or min/max's own LIMIT 1)."""
    text = _without_comments(sql)
    return all(v == "1" for v in _LIMIT.findall(text)) and all(
        count in ("", "1") and ending.lower() == "only" for count, ending in _FETCH.findall(text)
    )


def _ctes(sql: str) -> tuple[dict[str, str], str]:
    """The top-level WITH clause of ``sql``: each CTE's name -> the clause up to
    the end of its definition, and the whole clause ('' when there is none)."""
    text = _without_comments(sql)
    start = re.match(r"WITH\s+(?:RECURSIVE\s+)?", text, re.IGNORECASE)
    if start is None:
        return {}, ""
    head = re.compile(
        rf"\s*({_IDENT})\s*(?:\([^()]*\)\s*)?AS\s+(?:NOT\s+)?(?:MATERIALIZED\s+)?\(",
        re.IGNORECASE,
    )
    prefixes: dict[str, str] = {}
    clause, position = "", start.end()
    while found := head.match(text, position):
        close = _closing(text, found.end() - 1)
        if close is None:
            break
        clause = text[: close + 1]
        prefixes[_unquote(found.group(1))] = clause
        comma = re.compile(r"\s*,").match(text, close + 1)
        if comma is None:
            break
        position = comma.end()
    return prefixes, clause


def _subquery_texts(sql: str, alias: str) -> list[str]:
    """Statements whose columns are those of the FROM-clause subquery ``alias``
    (``(body) AS alias (cols)``, if it is the only one): the subquery alone, and,
    for a LATERAL one, its FROM clause up to it (``SELECT alias.* FROM a CROSS
    JOIN LATERAL (body) AS alias``, ``... ON true`` for a join)."""
    text = _without_comments(sql)
    after = re.compile(
        rf"\)\s*(?:AS\s+)?{re.escape(_quote(alias))}(\s*\([^()]*\))?(?![\w$.])", re.IGNORECASE
    )
    found = []
    for i, ch, depth in _scan(text):
        if ch == ")" and (tail := after.match(text, i)):
            starts = [j for j, c, d in _scan(text[:i]) if c == "(" and d == depth + 1]
            if starts:
                found.append((starts[-1], tail.end(), depth))
    if len(found) != 1:
        return []
    start, end, depth = found[0]
    subquery = text[start:end]
    texts = [f"SELECT * FROM {subquery}"]  # noqa: S608
    froms = [
        j
        for j, _c, d in _scan(text[:start])
        if d == depth
        and re.match(r"\bFROM\b", text[j : j + 5], re.IGNORECASE)
        and not re.match(r"[\w$]", text[j - 1 : j])
    ]
    if froms:
        clause = text[froms[-1] : end]
        texts += [
            f"SELECT {_quote(alias)}.* {clause}",
            f"SELECT {_quote(alias)}.* {clause} ON true",
        ]
    return texts


class Plan:
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
        self.notes: list[str] = []
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

    def _walk(self, node: Node) -> Iterator[Node]:
        yield node
        for child in node.get("Plans", []):
            yield from self._walk(child)

    def _note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)

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
            self._note(f"the plan's {kind} has no output {index + 1}")
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
            self._note(
                f"column {alias + '.' if alias else ''}{column} comes from no scan of the plan"
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
            f"column {source.get('Alias')}.{column} comes from a {kind}, whose columns the plan "
            "reader does not read"
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
                f"column {alias}.{column} comes from a {scan['Node Type']} whose columns the "
                "plan reader could not place"
            )
            return False
        return self._output_never_null(inner, names.index(column))

    def _find(self, node: Node, alias: str | None, *, nullable: bool) -> tuple[Node, bool] | None:
        """The scan that ``alias`` names at or below ``node``, and whether an outer
        join may replace its rows by NULLs on the way up."""
        if alias is not None and node.get("Alias") == alias:
            return node, nullable
        if alias is None:
            return (node, nullable) if "Alias" in node else None
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
