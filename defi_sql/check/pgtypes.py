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
    #: the module ``name`` is imported from; None for a builtin
    module: str | None
    #: the msgspec types (:mod:`msgspec.inspect`) of a field that takes the value
    accepts: tuple[type[mi.Type], ...]

    @property
    def import_line(self) -> str | None:
        """``from decimal import Decimal``; None for a builtin."""
        return f"from {self.module} import {self.name}" if self.module else None


_STR = PyType("str", None, TEXT)
_INT = PyType("int", None, (mi.IntType,))
_FLOAT = PyType("float", None, (mi.FloatType,))
_DATETIME = PyType("datetime", "datetime", (mi.DateTimeType,))
_DOCUMENT = PyType("dict[str, object]", None, JSON)

#: ``pg_type.typname`` -> the Python type a column of it arrives as.
PG_TYPES: dict[str, PyType] = {
    "bool": PyType("bool", None, (mi.BoolType,)),
    "int2": _INT,
    "int4": _INT,
    "int8": _INT,
    "oid": _INT,
    "numeric": PyType("Decimal", "decimal", (mi.DecimalType,)),
    "float4": _FLOAT,
    "float8": _FLOAT,
    "text": _STR,
    "varchar": _STR,
    "bpchar": _STR,
    "name": _STR,
    "citext": _STR,
    "uuid": PyType("UUID", "uuid", (mi.UUIDType,)),
    "timestamptz": _DATETIME,
    "timestamp": _DATETIME,
    "date": PyType("date", "datetime", (mi.DateType,)),
    "time": PyType("time", "datetime", (mi.TimeType,)),
    "interval": PyType("timedelta", "datetime", (mi.TimeDeltaType,)),
    "bytea": PyType("bytes", None, (mi.BytesType,)),
    "json": _DOCUMENT,
    "jsonb": _DOCUMENT,
}

_CHOICE = re.compile(r"'((?:[^']|'')*)'::")


def check_choices(definition: str) -> tuple[str, ...]:
    """The values of a ``CHECK (col = ANY (ARRAY['a'::text, ...]))``, unquoted, in order."""
    return tuple(v.replace("''", "'") for v in _CHOICE.findall(definition))
