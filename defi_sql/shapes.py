"""Does a query's result fit the msgspec struct it is decoded into?

defi-sql builds a struct from a row column by column (:mod:`defi_sql.rows`):
non-JSON values go in as psycopg loaded them, JSON goes through msgspec with
the field's type. So each column must have a field of the same name whose type
takes what PostgreSQL sends: ``numeric`` a ``Decimal`` (a ``float`` would lose
digits), ``text`` a ``str`` or a ``Literal`` holding every value the column's
CHECK allows, ``jsonb`` a struct, dict, list or ``Any`` of the shape its CHECK
pins, and a column that can be NULL an optional field.
"""

from __future__ import annotations

import datetime
import decimal
import uuid
from dataclasses import dataclass

import msgspec
import msgspec.inspect as mi

__all__ = ["SCALARS", "ResultColumn", "compare_scalar", "compare_struct", "type_name"]

_TEXT = (mi.StrType, mi.LiteralType)
_JSON = (mi.StructType, mi.DictType, mi.ListType, mi.AnyType, mi.TypedDictType, mi.DataclassType)
#: PostgreSQL type -> the msgspec types a field may have to receive it.
_ACCEPTS: dict[str, tuple[type[mi.Type], ...]] = {
    "bool": (mi.BoolType,),
    "int2": (mi.IntType,),
    "int4": (mi.IntType,),
    "int8": (mi.IntType,),
    "oid": (mi.IntType,),
    "numeric": (mi.DecimalType,),
    "float4": (mi.FloatType,),
    "float8": (mi.FloatType,),
    "text": _TEXT,
    "varchar": _TEXT,
    "bpchar": _TEXT,
    "name": _TEXT,
    "citext": _TEXT,
    "uuid": (mi.UUIDType,),
    "timestamptz": (mi.DateTimeType,),
    "timestamp": (mi.DateTimeType,),
    "date": (mi.DateType,),
    "time": (mi.TimeType,),
    "interval": (mi.TimeDeltaType,),
    "bytea": (mi.BytesType,),
    "json": _JSON,
    "jsonb": _JSON,
}
_SUGGEST = {
    "numeric": "Decimal",
    "int2": "int",
    "int4": "int",
    "int8": "int",
    "float4": "float",
    "float8": "float",
    "uuid": "UUID",
    "timestamptz": "datetime",
    "timestamp": "datetime",
    "bool": "bool",
}
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
    choices: tuple[str, ...] | None = None  # values an enum-like CHECK allows
    json_kind: str | None = None  # 'object' or 'array' when a CHECK pins it


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
        inner = [item]
    accepted = _ACCEPTS.get(pg or "")
    if accepted is None:
        return None
    if not all(isinstance(x, accepted) for x in inner):
        if pg == "numeric" and any(isinstance(x, mi.FloatType) for x in inner):
            return f"{where}; a float loses numeric's digits, use Decimal."
        if pg in ("json", "jsonb"):
            return f"{where}; a JSON document decodes into a struct, dict, list or Any."
        hint = _SUGGEST.get(pg or "", "str")
        return f"{where}; use {hint}."
    if column.json_kind == "object" and any(isinstance(x, mi.ListType) for x in inner):
        return f"{where}; its CHECK makes it a JSON object, use a struct or dict."
    if column.json_kind == "array" and any(
        isinstance(x, mi.StructType | mi.DictType | mi.TypedDictType) for x in inner
    ):
        return f"{where}; its CHECK makes it a JSON array, use a list."
    literals = [x for x in inner if isinstance(x, mi.LiteralType)]
    if literals and column.choices is not None:
        allowed = {v for x in literals for v in x.values}
        missing = [v for v in column.choices if v not in allowed]
        if missing:
            shown = ", ".join(repr(v) for v in missing)
            return f"{where}; its CHECK also allows {shown}, add them to the Literal."
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
