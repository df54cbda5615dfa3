"""The PostgreSQL types defi-sql knows, and the Python type psycopg gives for each.

One table for its two readers: ``check`` (:mod:`~defi_sql.check.shapes`) asks
whether a struct field takes what a column sends (:attr:`PyType.accepts`) and,
when it does not, names the type to use (:attr:`PyType.name`); ``defi-sql
struct`` (:mod:`~defi_sql.dev.structs`) writes that same type, and its import,
for a column. A struct the generator writes therefore passes check's types.

A ``CHECK (col IN ('a', 'b'))`` narrows a text column to a ``Literal`` for
both: :func:`check_choices` reads its values from the constraint's definition.

Keys are ``pg_type.typname`` (``int4``, ``timestamptz``; an array is looked up
by its element type). A type not listed here is one neither reader decides:
check reports it, the generator writes ``object``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import msgspec.inspect as mi

__all__ = ["JSON", "PG_TYPES", "TEXT", "PyType", "check_choices"]

#: the msgspec types of a field that takes text: a ``str``, or a ``Literal`` of its values
TEXT: tuple[type[mi.Type], ...] = (mi.StrType, mi.LiteralType)
#: the msgspec types of a field that takes a JSON document
JSON: tuple[type[mi.Type], ...] = (
    mi.StructType,
    mi.DictType,
    mi.ListType,
    mi.AnyType,
    mi.TypedDictType,
    mi.DataclassType,
)


@dataclass(frozen=True)
class PyType:
    """The Python side of a PostgreSQL type."""

    #: the type as source code writes it: ``Decimal``, ``dict[str, object]``
    name: str
    #: the msgspec types (:mod:`msgspec.inspect`) of a field that takes the value
    accepts: tuple[type[mi.Type], ...]
    #: the import lines ``name`` needs; none for a builtin
    imports: tuple[str, ...] = ()


_STR = PyType("str", TEXT)
_INT = PyType("int", (mi.IntType,))
_FLOAT = PyType("float", (mi.FloatType,))
_DOCUMENT = PyType("dict[str, object]", JSON)


#: ``pg_type.typname`` -> the Python type a column of it arrives as.
PG_TYPES: dict[str, PyType] = {
    "bool": PyType("bool", (mi.BoolType,)),
    "int2": _INT,
    "int4": _INT,
    "int8": _INT,
    "oid": _INT,
    "numeric": PyType("Decimal", (mi.DecimalType,), ("from decimal import Decimal",)),
    "float4": _FLOAT,
    "float8": _FLOAT,
    "text": _STR,
    "varchar": _STR,
    "bpchar": _STR,
    "name": _STR,
    "citext": _STR,
    "uuid": PyType("UUID", (mi.UUIDType,), ("from uuid import UUID",)),
    "timestamptz": PyType("datetime", (mi.DateTimeType,), ("from datetime import datetime",)),
    # it arrives naive: a field must say so (check refuses an aware or unstated one)
    "timestamp": PyType(
        "Annotated[datetime, Meta(tz=False)]",
        (mi.DateTimeType,),
        (
            "from datetime import datetime",
            "from typing import Annotated",
            "from msgspec import Meta",
        ),
    ),
    "date": PyType("date", (mi.DateType,), ("from datetime import date",)),
    "time": PyType("time", (mi.TimeType,), ("from datetime import time",)),
    "interval": PyType("timedelta", (mi.TimeDeltaType,), ("from datetime import timedelta",)),
    "bytea": PyType("bytes", (mi.BytesType,)),
    "json": _DOCUMENT,
    "jsonb": _DOCUMENT,
}

_CHOICE = re.compile(r"'((?:[^']|'')*)'::")


def check_choices(definition: str) -> tuple[str, ...]:
    """The values of a ``CHECK (col = ANY (ARRAY['a'::text, ...]))``, unquoted, in order."""
    return tuple(v.replace("''", "'") for v in _CHOICE.findall(definition))
