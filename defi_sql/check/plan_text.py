"""The plan reader's lexer: EXPLAIN's expression text split into arguments,
conjuncts, calls and operators, outside string literals and quoted names; and
the query text's LIMITs, CTEs and FROM-clause subqueries."""

from __future__ import annotations

import re
from collections.abc import Iterator

__all__ = ["conjuncts", "split_arguments"]

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
