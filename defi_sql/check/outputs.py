"""What a computed result column can hold, read from its expression in the generic plan.

A column read straight from a table has its type's and its CHECK's facts. A
computed one names no table; ``EXPLAIN (VERBOSE)`` prints its expression, and
two facts about it are read from that text:

* the text values it can take, when it is a constant (``'sent'::text``) or a
  ``CASE`` (or ``COALESCE``) whose every branch is one, so that a ``Literal``
  field can be compared with them; anything else (a column, a function call,
  a branch that is not a constant) can be any string, and ``None`` says so;
* the JSON kind of a document it builds: ``jsonb_agg`` and ``jsonb_build_array``
  always give an array, ``jsonb_build_object`` and ``jsonb_object_agg`` an
  object, a ``'[...]'::jsonb`` constant what it spells.

Only what is certain is returned: ``None`` means "cannot tell".
"""

from __future__ import annotations

import json
import re
from typing import Any

from defi_sql.check.plan_text import _scan, split_arguments  # the plan reader's lexer

__all__ = ["json_kind", "output_expressions", "text_values"]

Node = dict[str, Any]

_ARRAY_BUILDERS = {
    "jsonb_agg",
    "json_agg",
    "jsonb_build_array",
    "json_build_array",
    "array_to_json",
    "jsonb_path_query_array",
}
_OBJECT_BUILDERS = {
    "jsonb_build_object",
    "json_build_object",
    "jsonb_object_agg",
    "json_object_agg",
    "jsonb_object",
    "json_object",
    "row_to_json",
}
_STRING = re.compile(r"'((?:[^']|'')*)'")
_CAST = re.compile(
    r'::(?:[a-z_]\w*\.)?(?:[a-z_]\w*|"[^"]+")(?: [a-z][a-z ]*[a-z])?(?:\(\d+(?:,\d+)?\))?(?:\[\])?$'
)
_NULL = re.compile(r"NULL(?:::[\w ]+)?", re.IGNORECASE)
_CALL = re.compile(r"(?:[A-Za-z_]\w*\.)?([A-Za-z_]\w*)\(")
_FILTER = re.compile(r"\s*FILTER \(WHERE .*\)", re.DOTALL)
_WORD = re.compile(r"[A-Za-z_]+")


def output_expressions(root: Node, index: int) -> list[str] | None:
    """The plan's expressions for result column ``index``: one, or one per ``UNION`` member."""
    node = root
    while node["Node Type"] in ("Limit", "Sort", "Incremental Sort", "Unique", "LockRows"):
        children = node.get("Plans", [])
        if not children:
            break
        node = children[0]
    if node["Node Type"] in ("Append", "Merge Append"):
        found: list[str] = []
        for member in node.get("Plans", []):
            exprs = output_expressions(member, index)
            if exprs is None:
                return None
            found.extend(exprs)
        return found
    outputs = node.get("Output", [])
    return [outputs[index]] if index < len(outputs) else None


def _strip(expr: str) -> str:
    """Outer parentheses and a trailing cast off: ``(('a'::text)::varchar)`` -> ``'a'``."""
    while True:
        expr = expr.strip()
        if expr.startswith("(") and _closing(expr, 0) == len(expr) - 1:
            expr = expr[1:-1]
            continue
        cast = _CAST.search(expr)
        if cast and cast.start() in _top_level(expr):
            expr = expr[: cast.start()]
            continue
        return expr


def _closing(text: str, start: int) -> int:
    """Index of the parenthesis closing the one at ``start``; -1 when unbalanced."""
    for i, ch, depth in _scan(text[start:]):
        if ch == ")" and depth == 0:
            return start + i
    return -1


def _top_level(text: str) -> set[int]:
    """Indexes of ``text`` outside parentheses, string literals and quoted names."""
    return {i for i, _ch, depth in _scan(text) if depth == 0}


def _call(expr: str) -> tuple[str, list[str]] | None:
    """``name(a, b)`` (a ``FILTER`` clause allowed) -> (name, arguments)."""
    match = _CALL.match(expr)
    if match is None:
        return None
    close = _closing(expr, match.end() - 1)
    rest = expr[close + 1 :] if close > 0 else None
    if rest is None or (rest.strip() and not _FILTER.fullmatch(rest)):
        return None
    return match.group(1).lower(), split_arguments(expr[match.end() : close])


def _case_branches(expr: str) -> list[str] | None:
    """The result expressions (after THEN and ELSE) of a ``CASE ... END``."""
    if not (expr.startswith("CASE") and expr.endswith("END")):
        return None
    top = _top_level(expr)
    words = [(m.start(), m.group()) for m in _WORD.finditer(expr) if m.start() in top]
    nesting, branches, start = 0, [], -1
    for at, word in words:
        if word == "CASE":
            nesting += 1
        elif word == "END":
            nesting -= 1
            if nesting == 0 and start >= 0:
                branches.append(expr[start:at])
        if nesting != 1:
            continue
        if word in ("WHEN", "ELSE") and start >= 0:
            branches.append(expr[start:at])
            start = -1
        if word in ("THEN", "ELSE"):
            start = at + len(word)
    return [b.strip() for b in branches]


def text_values(expr: str) -> tuple[str, ...] | None:
    """The strings ``expr`` can produce (NULL aside), or None when any string can come."""
    expr = _strip(expr)
    if _NULL.fullmatch(expr):
        return ()
    if (constant := _STRING.fullmatch(expr)) is not None:
        return (constant.group(1).replace("''", "'"),)
    branches = _case_branches(expr)
    if branches is None and (call := _call(expr)) is not None and call[0] == "coalesce":
        branches = call[1]
    if branches is None:
        return None
    values: list[str] = []
    for branch in branches:
        found = text_values(branch)
        if found is None:
            return None
        values.extend(v for v in found if v not in values)
    return tuple(values)


def json_kind(expr: str) -> str | None:
    """``'array'`` or ``'object'`` when ``expr`` always builds one (or NULL), else None."""
    expr = _strip(expr)
    if _NULL.fullmatch(expr):
        return "null"
    if (constant := _STRING.fullmatch(expr)) is not None:
        try:
            value = json.loads(constant.group(1).replace("''", "'"))
        except ValueError:
            return None
        return "array" if isinstance(value, list) else "object" if isinstance(value, dict) else None
    branches = _case_branches(expr)
    call = _call(expr) if branches is None else None
    if call is not None:
        name, arguments = call
        if name in _ARRAY_BUILDERS:
            return "array"
        if name in _OBJECT_BUILDERS:
            return "object"
        if name == "coalesce":
            branches = arguments
    if not branches:
        return None
    kinds = {json_kind(b) for b in branches} - {"null"}
    if len(kinds) == 1:
        return kinds.pop()
    return None
