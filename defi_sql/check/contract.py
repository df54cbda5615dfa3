"""Do the database's CHECKs hold the JSON documents to the values the structs name?

The database is the contract between every writer and reader of a table (the
TypeScript app, psql, defi-sql): a shape the structs require that no CHECK
enforces is a row one writer can store and another cannot read. So for each row
struct of the models module (a non-empty ``table`` ClassVar, ``User.table ==
"users"``), each of its fields holding a document (a msgspec struct, or an
optional one: ``User.preferences: UserPreferences``), and each top-level key of
that document typed ``Literal[...]`` or ``list[Literal[...]]`` (optionally
``| None``), the values the table's CHECKs allow for the key, under its encoded
name (``risk_profile`` is ``riskProfile`` on disk), must be exactly the
Literal's:

* a key no CHECK constrains is an error (any string can be stored);
* a Literal value a CHECK forbids is one defi-sql cannot write;
* a value a CHECK allows that the Literal lacks is a row defi-sql cannot read.

The CHECKs are read as PostgreSQL renders them (``pg_get_constraintdef``, the
same text on 16 and 18), split into their top-level ``AND`` terms. A term binds
a key when it is, whole, one of these comparisons (``COALESCE(x, default)``
around the key is allowed; its default is not an allowed value):

* ``(col ->> 'key'::text) = ANY (ARRAY['a'::text, ...])`` or ``= 'a'::text``;
* ``(col -> 'key'::text) = ANY (ARRAY['"a"'::jsonb, ...])`` or ``= '"a"'::jsonb``;
* ``(col -> 'key'::text) <@ '["a", "b"]'::jsonb``, the elements of a list.

Inside a ``CASE`` term (``CASE jsonb_typeof(col -> 'key') WHEN 'array' THEN
... <@ ... ELSE ... END``, 0016's idiom for an optional list) the comparisons
are read wherever they stand. A comparison under a top-level ``OR`` or ``NOT``
binds nothing, and a ``NOT ENFORCED`` CHECK (PostgreSQL 18) is skipped; a
``NOT VALID`` one counts, since new rows are held to it. When several CHECKs
bind a key, the database allows what all of them allow. Nested documents
(``preferences.alertThresholds.healthFactor``) are not compared.

A problem points at the document field's line in the models file. This
module reports; :func:`defi_sql.check.run.run_check` calls :func:`check_documents`
on its migrated scratch database.
"""

from __future__ import annotations

import inspect
import json
import re
from dataclasses import dataclass
from types import ModuleType
from typing import TYPE_CHECKING, Any

import msgspec
import msgspec.inspect as mi
import psycopg

from defi_sql._aiosql import internal_queries
from defi_sql.check.pgtypes import check_choices
from defi_sql.check.plan import conjuncts
from defi_sql.check.shapes import type_name
from defi_sql.paths import display_path

if TYPE_CHECKING:
    from defi_sql.check.report import Report

__all__ = ["Breach", "check_documents", "document_breaches", "json_key_bindings"]

Value = str | int | float | bool | None

_STR = r"'(?:[^']|'')*'"
_COLUMN = r'(?P<column>\w+|"(?:[^"]|"")+")'
_DEFINITION = re.compile(
    r"CHECK \((?P<body>.*)\)(?P<flags>(?: NO INHERIT| NOT VALID| NOT ENFORCED)*)", re.DOTALL
)
#: ``(col ->> 'key')``, as text: ``= ANY (ARRAY['a'::text, ...])`` or ``= 'a'::text``.
_AS_TEXT = re.compile(
    rf"(?P<coalesce>COALESCE\()?\({_COLUMN} ->> (?P<key>{_STR})::text\)"
    rf"(?(coalesce), {_STR}::text\))"
    rf" = (?:ANY \(ARRAY\[(?P<many>{_STR}::text(?:, {_STR}::text)*)\]\)|(?P<one>{_STR})::text)"
)
#: ``(col -> 'key')``, as jsonb: ``= ANY (ARRAY[...])``, ``= '"a"'`` or ``<@ '["a", ...]'``.
_AS_JSON = re.compile(
    rf"(?P<coalesce>COALESCE\()?\({_COLUMN} -> (?P<key>{_STR})::text\)"
    rf"(?(coalesce), {_STR}::jsonb\))"
    rf" (?:= ANY \(ARRAY\[(?P<many>{_STR}::jsonb(?:, {_STR}::jsonb)*)\]\)"
    rf"|= (?P<one>{_STR})::jsonb|<@ (?P<within>{_STR})::jsonb)"
)
_ARRAYS = (mi.ListType, mi.SetType, mi.FrozenSetType, mi.VarTupleType)


@dataclass(frozen=True)
class Breach:
    """One way the structs and the CHECKs disagree: ``file:line`` and a sentence."""

    where: str
    message: str


def check_documents(report: Report, conn: psycopg.Connection[Any], models: ModuleType) -> None:
    """Add every breach of ``models``' documents on ``conn``'s schema to ``report``."""
    for breach in document_breaches(conn, models):
        report.error(breach.where, "contract", breach.message)


def document_breaches(conn: psycopg.Connection[Any], models: ModuleType) -> list[Breach]:
    """Where the row structs' documents and their tables' CHECKs disagree, in module order."""
    breaches: list[Breach] = []
    tables: dict[str, _Table] = {}
    seen: set[tuple[str, str, type]] = set()
    for row, table in _row_structs(models):
        for field in _struct_fields(row):
            document = _document(field.type)
            if document is None or (table, field.name, document.cls) in seen:
                continue
            seen.add((table, field.name, document.cls))
            if table not in tables:
                tables[table] = _Table.read(conn, table)
            facts = tables[table]
            if field.name not in facts.columns:
                breaches.append(
                    Breach(
                        _where(row, field.name),
                        f"{row.__name__}.{field.name} is a {document.cls.__name__} document but "
                        f"table {table} has no column {field.name}; correct {row.__name__}.table, "
                        "or add the column in a migration.",
                    )
                )
                continue
            for key in document.fields:
                literal = _literal_values(key.type)
                if literal is None:
                    continue
                messages = _compare(
                    f"{document.cls.__name__}.{key.name} is {type_name(key.type)}",
                    f"{table}.{field.name}->'{key.encode_name}'",
                    literal,
                    facts.rules.get((field.name, key.encode_name), []),
                )
                breaches.extend(Breach(_where(document.cls, key.name), m) for m in messages)
    return breaches


@dataclass(frozen=True)
class _Table:
    """A table's column names and, per (column, JSON key), the CHECKs binding the key."""

    columns: frozenset[str]
    rules: dict[tuple[str, str], list[tuple[str, tuple[Value, ...]]]]

    @classmethod
    def read(cls, conn: psycopg.Connection[Any], table: str) -> _Table:
        queries = internal_queries()
        columns = frozenset(name for name, *_ in queries.table_columns(conn, table_name=table))
        rules: dict[tuple[str, str], list[tuple[str, tuple[Value, ...]]]] = {}
        for name, kind, definition in queries.table_constraints(conn, table_name=table):
            if kind == "c":
                for key, values in json_key_bindings(definition):
                    rules.setdefault(key, []).append((name, values))
        return cls(columns, rules)


def _compare(
    subject: str,
    path: str,
    literal: tuple[Value, ...],
    rules: list[tuple[str, tuple[Value, ...]]],
) -> list[str]:
    if not rules:
        return [
            f"{subject} but the database does not hold {path} to the Literal's values; add a "
            "CHECK in a migration (see 0016)."
        ]
    allowed = [v for v in rules[0][1] if all(v in values for _name, values in rules)]
    forbidden = [v for v in literal if v not in allowed]
    lacking = [v for v in allowed if v not in literal]
    problems = []
    if forbidden:
        names = ", ".join(n for n, values in rules if any(v not in values for v in forbidden))
        problems.append(
            f"{subject} but the CHECK {names} forbids {_show(forbidden)} in {path}; drop them "
            "from the Literal, or widen the CHECK in a migration."
        )
    if lacking:
        names = ", ".join(n for n, _values in rules)
        problems.append(
            f"{subject}; the CHECK {names} also allows {_show(lacking)} in {path}, add them to "
            "the Literal (or narrow the CHECK in a migration)."
        )
    return problems


def _show(values: list[Value]) -> str:
    return ", ".join(repr(v) for v in values)


# -- the structs -----------------------------------------------------------------


def _row_structs(models: ModuleType) -> list[tuple[type[msgspec.Struct], str]]:
    """(struct, table) for the module's structs that name a table, in definition order."""
    rows = []
    for obj in vars(models).values():
        if isinstance(obj, type) and issubclass(obj, msgspec.Struct):
            table = getattr(obj, "table", None)
            if isinstance(table, str) and table:
                rows.append((obj, table))
    return rows


def _struct_fields(cls: type[msgspec.Struct]) -> tuple[mi.Field, ...]:
    info = mi.type_info(cls)
    return info.fields if isinstance(info, mi.StructType) else ()


def _without_none(t: mi.Type) -> list[mi.Type]:
    if isinstance(t, mi.UnionType):
        return [x for x in t.types if not isinstance(x, mi.NoneType)]
    return [t]


def _document(t: mi.Type) -> mi.StructType | None:
    """The struct a field holds, optional or not; None for anything else."""
    inner = _without_none(t)
    if len(inner) == 1 and isinstance(inner[0], mi.StructType):
        return inner[0]
    return None


def _literal_values(t: mi.Type) -> tuple[Value, ...] | None:
    """The values of a ``Literal`` or of a list of one (optional or not), else None."""
    inner = _without_none(t)
    if len(inner) == 1 and isinstance(inner[0], _ARRAYS):
        inner = _without_none(inner[0].item_type)
    if inner and all(isinstance(x, mi.LiteralType) for x in inner):
        return tuple(v for x in inner if isinstance(x, mi.LiteralType) for v in x.values)
    return None


def _where(cls: type, attribute: str) -> str:
    """``file:line`` of ``attribute``'s annotation in ``cls`` (or the base declaring it)."""
    owner = next((k for k in cls.__mro__ if attribute in inspect.get_annotations(k)), cls)
    try:
        path = inspect.getsourcefile(owner)
        lines, start = inspect.getsourcelines(owner)
    except (OSError, TypeError):
        return f"{owner.__module__}.{owner.__qualname__}"
    declared = re.compile(rf"\s*{re.escape(attribute)}\s*:")
    offset = next((i for i, line in enumerate(lines) if declared.match(line)), 0)
    return f"{display_path(path or owner.__module__)}:{start + offset}"


# -- the CHECKs ------------------------------------------------------------------


def _unquote(literal: str) -> str:
    return literal[1:-1].replace("''", "'")


def _terms(expression: str) -> list[str]:
    """The top-level ``AND`` terms of ``expression``, nested ``AND`` flattened."""
    parts = conjuncts(expression)
    if len(parts) == 1:
        return parts
    return [term for part in parts for term in _terms(part)]


def json_key_bindings(definition: str) -> list[tuple[tuple[str, str], tuple[Value, ...]]]:
    """((column, key), allowed values) for each JSON key a CHECK definition binds."""
    parsed = _DEFINITION.fullmatch(definition)
    if parsed is None or "NOT ENFORCED" in parsed["flags"]:
        return []
    found = []
    for term in _terms(parsed["body"]):
        if term.startswith("CASE") and term.endswith("END"):
            matches = [m for p in (_AS_TEXT, _AS_JSON) for m in p.finditer(term)]
        else:
            matches = [m for p in (_AS_TEXT, _AS_JSON) if (m := p.fullmatch(term))]
        for match in matches:
            values = _allowed(match)
            if values is not None:
                column = match["column"]
                if column.startswith('"'):
                    column = column[1:-1].replace('""', '"')
                found.append(((column, _unquote(match["key"])), values))
    return found


def _allowed(match: re.Match[str]) -> tuple[Value, ...] | None:
    """The values a matched comparison allows; None when they are not plain JSON scalars."""
    if match.re is _AS_TEXT:
        if match["one"] is not None:
            return (_unquote(match["one"]),)
        return check_choices(match["many"])
    try:
        if match["within"] is not None:
            decoded = json.loads(_unquote(match["within"]))
            if not isinstance(decoded, list):
                return None
            values: list[Any] = decoded
        elif match["one"] is not None:
            values = [json.loads(_unquote(match["one"]))]
        else:
            values = [json.loads(v) for v in check_choices(match["many"])]
    except ValueError:
        return None
    if not all(isinstance(v, str | int | float | bool) or v is None for v in values):
        return None
    return tuple(values)
