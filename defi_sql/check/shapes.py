"""Does a query's result fit the msgspec struct it is decoded into?

defi-sql builds a struct from a row column by column (:mod:`defi_sql.rows`):
non-JSON values go in as psycopg loaded them, JSON goes through msgspec with
the field's type, and msgspec does not check what the constructor is given. So
each column must have a field of the same name whose type takes what
PostgreSQL sends:

* ``numeric`` a ``Decimal`` (a ``float`` would lose digits);
* ``timestamptz`` an aware ``datetime``, ``timestamp`` (naive) only a field
  declared naive, ``Annotated[datetime, Meta(tz=False)]``;
* ``text`` a ``str``, or a ``Literal`` holding every value something holds the
  column to: its CHECK (``col IN (...)``), its enum type's labels or its
  domain's ``CHECK (VALUE IN (...))`` (then exactly those: a value the type
  lacks is reported too), or the constants of the ``CASE`` computing it. Free
  text into a ``Literal`` is an error: nothing keeps a row inside it;
* ``jsonb`` a struct, dict, list or ``Any`` of the kind its CHECK pins or its
  expression builds (``jsonb_agg`` an array, ``jsonb_build_object`` an object);
  ``jsonb[]`` only ``list[str]``, since its elements arrive undecoded;
* a column that can be NULL an optional field.

A type not listed here (a range, ``inet``, a composite, an array of one) is an
error naming the column: check says when it cannot decide, never passes it.
"""

from __future__ import annotations

import datetime
import decimal
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

import msgspec
import msgspec.inspect as mi

from defi_sql.check.pgtypes import PG_TYPES, TEXT

__all__ = ["SCALARS", "ResultColumn", "compare_scalar", "compare_struct", "type_name"]

#: Names a ``$`` query may declare with ``-- returns:`` instead of a struct.
SCALARS: dict[str, object] = {
    "int": int,
    "float": float,
    "str": str,
    "bool": bool,
    "bytes": bytes,
    "Decimal": decimal.Decimal,
    "UUID": uuid.UUID,
    "datetime": datetime.datetime,
    "date": datetime.date,
    "dict": dict,
    "list": list,
}


@dataclass(frozen=True)
class ResultColumn:
    """A result column as the checker sees it."""

    name: str
    type: str  # PostgreSQL type name, '_text' style for arrays
    element: str | None  # element type name of an array
    never_null: bool
    choices: tuple[str, ...] | None = None  # the only text values it can hold
    json_kind: str | None = None  # 'object' or 'array' when a CHECK or its expression pins it
    #: what holds it to ``choices``: "its CHECK", "its enum type shade", "its expression"...
    choices_from: str = "its CHECK"
    #: the choices are a type's (enum labels, a domain's CHECK): a Literal must be exactly them
    exact: bool = False
    enum: bool = False  # an enum type: text on the wire, its labels in ``choices``
    json_from: str = "its CHECK"  # what pins ``json_kind``: "its CHECK", "its expression"


def type_name(t: mi.Type) -> str:
    """A msgspec type as Python would write it."""
    if isinstance(t, mi.UnionType):
        return " | ".join(type_name(x) for x in t.types)
    if isinstance(t, mi.LiteralType):
        return "Literal[" + ", ".join(repr(v) for v in t.values) + "]"
    if isinstance(t, mi.StructType | mi.DataclassType | mi.TypedDictType):
        return t.cls.__name__
    if isinstance(t, mi.ListType):
        return f"list[{type_name(t.item_type)}]"
    if isinstance(t, mi.DictType):
        return f"dict[{type_name(t.key_type)}, {type_name(t.value_type)}]"
    if isinstance(t, mi.DateTimeType) and t.tz is not None:
        return f"Annotated[datetime, Meta(tz={t.tz})]"
    names = {
        mi.NoneType: "None",
        mi.AnyType: "Any",
        mi.DecimalType: "Decimal",
        mi.UUIDType: "UUID",
        mi.DateTimeType: "datetime",
        mi.TimeDeltaType: "timedelta",
    }
    for cls, name in names.items():
        if isinstance(t, cls):
            return name
    return type(t).__name__.removesuffix("Type").lower()


def _split_optional(t: mi.Type) -> tuple[list[mi.Type], bool]:
    if isinstance(t, mi.UnionType):
        inner = [x for x in t.types if not isinstance(x, mi.NoneType)]
        return inner, len(inner) != len(t.types)
    return [t], False


def _type_problem(column: ResultColumn, field: str, t: mi.Type) -> str | None:
    inner, _optional = _split_optional(t)
    is_array = column.element is not None
    pg = column.element if is_array else column.type
    label = f"{pg}[]" if is_array else pg
    where = f"column {column.name} is {label} but {field} is {type_name(t)}"
    if any(isinstance(x, mi.AnyType) for x in inner):
        return None
    if is_array:
        lists = [x for x in inner if isinstance(x, mi.ListType | mi.TupleType | mi.VarTupleType)]
        if not lists:
            return f"{where}; use list[...]."
        item = lists[0].item_type if isinstance(lists[0], mi.ListType | mi.VarTupleType) else None
        if item is None:
            return None
        inner, _item_optional = _split_optional(item)
        if pg in ("json", "jsonb"):
            if all(isinstance(x, mi.StrType) for x in inner):
                return None
            return (
                f"{where}; the elements of a {label} arrive as JSON text, not decoded: select "
                f"to_jsonb({column.name}) (one JSON array) into a list, or make it list[str]."
            )
    known = PG_TYPES.get(pg or "")
    accepted = TEXT if column.enum else known.accepts if known else None
    if accepted is None:
        return (
            f"{where}; check does not know the type {label}, so it cannot tell whether "
            f"the field takes it: cast the column to a type it knows ({column.name}::text)."
        )
    if not all(isinstance(x, accepted) for x in inner):
        if pg == "numeric" and any(isinstance(x, mi.FloatType) for x in inner):
            return f"{where}; a float loses numeric's digits, use Decimal."
        if pg in ("json", "jsonb"):
            return f"{where}; a JSON document decodes into a struct, dict, list or Any."
        hint = "str" if column.enum or known is None else known.name
        return f"{where}; use {hint}."
    if problem := _time_zone_problem(pg or "", where, inner):
        return problem
    made = f"{column.json_from} makes it"
    if column.json_kind == "object" and any(isinstance(x, mi.ListType) for x in inner):
        return f"{where}; {made} a JSON object, use a struct or dict."
    if column.json_kind == "array" and any(
        isinstance(x, mi.StructType | mi.DictType | mi.TypedDictType) for x in inner
    ):
        return f"{where}; {made} a JSON array, use a list."
    literals = [v for x in inner if isinstance(x, mi.LiteralType) for v in x.values]
    if literals:
        return _literal_problem(column, where, literals)
    return None


def _time_zone_problem(pg: str, where: str, inner: list[mi.Type]) -> str | None:
    """A naive ``timestamp`` into an aware field, or an aware ``timestamptz`` into a naive one."""
    zones = {x.tz for x in inner if isinstance(x, mi.DateTimeType)}
    if pg == "timestamp" and zones - {False}:
        return (
            f"{where}; a timestamp without time zone arrives naive (no tzinfo): make the "
            "column timestamptz, or the field Annotated[datetime, Meta(tz=False)] if naive "
            "is meant."
        )
    if pg == "timestamptz" and False in zones:
        return (
            f"{where}; a timestamptz arrives aware: make the field datetime, or select the "
            "column AT TIME ZONE 'UTC' if naive is meant."
        )
    return None


def _literal_problem(column: ResultColumn, where: str, allowed: Sequence[object]) -> str | None:
    """A ``Literal`` field must hold every value the column can: the values its CHECK,
    enum, domain or CASE allows; a type's values must also all be in the Literal."""
    if column.choices is None:
        return (
            f"{where}; nothing holds the column to the Literal's values (no CHECK, enum or "
            "domain, or a computed value check cannot read): add a CHECK (col IN (...)) in "
            "a migration, or make the field str."
        )
    missing = [v for v in column.choices if v not in allowed]
    if missing:
        shown = ", ".join(repr(v) for v in missing)
        verb = "can produce" if column.choices_from == "its expression" else "also allows"
        return f"{where}; {column.choices_from} {verb} {shown}, add them to the Literal."
    extra = [v for v in allowed if v not in column.choices]
    if column.exact and extra:
        shown = ", ".join(repr(v) for v in extra)
        return (
            f"{where}; {column.choices_from} has no {shown}, drop them from the Literal (or "
            "add them to the type in a migration)."
        )
    return None


def compare_struct(cls: type[msgspec.Struct], columns: list[ResultColumn]) -> list[str]:
    """Problems decoding rows of ``columns`` into ``cls``, one sentence each."""
    info = mi.type_info(cls)
    assert isinstance(info, mi.StructType)
    fields = {f.name: f for f in info.fields}
    name = cls.__name__
    problems: list[str] = []
    seen: set[str] = set()
    for column in columns:
        if column.name in seen:
            problems.append(f"column {column.name} is returned twice; alias one of them.")
            continue
        seen.add(column.name)
        field = fields.get(column.name)
        if field is None:
            problems.append(
                f"column {column.name} has no field in {name}; add the field or drop the column."
            )
            continue
        problems.extend(_column_problems(column, f"{name}.{field.name}", field.type))
    for field in info.fields:
        if field.name not in seen and field.required:
            problems.append(
                f"field {name}.{field.name} has no column in the result; select it or give "
                "the field a default."
            )
    return problems


def compare_scalar(target: str, column: ResultColumn) -> list[str]:
    """Problems decoding a one-column result into the scalar type ``target``."""
    t = mi.type_info(SCALARS[target])
    return _column_problems(column, "the value", t)


def _column_problems(column: ResultColumn, field: str, t: mi.Type) -> list[str]:
    problems = []
    if problem := _type_problem(column, field, t):
        problems.append(problem)
    _inner, optional = _split_optional(t)
    if not column.never_null and not optional and not isinstance(t, mi.AnyType):
        problems.append(
            f"column {column.name} can be NULL but {field} is {type_name(t)}; make it "
            f"{type_name(t)} | None, or add `-- not null: {column.name}` to the query if "
            "it never is."
        )
    return problems
