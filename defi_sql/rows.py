"""Rows into msgspec structs, and structs into JSONB.

psycopg parses most columns in C (uuid, timestamptz, numeric -> Decimal, int);
JSON is where the time goes. Here ``json``/``jsonb`` columns are not parsed by
psycopg at all: they arrive as text and are decoded once, straight into
the field's type, by a cached typed ``msgspec.json.Decoder`` (camelCase keys,
``Decimal`` amounts, unknown keys ignored). The row factory then builds the
struct from the column values by name, with a maker generated per struct and
column list, while the garbage collector is paused for large results.
"""

from __future__ import annotations

import functools
import gc
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

import msgspec
from psycopg import adapt
from psycopg.rows import BaseRowFactory, RowMaker
from psycopg.types.string import TextLoader

from defi_sql.errors import ConfigError

__all__ = [
    "JSON_OIDS",
    "encode_json",
    "paused_gc",
    "struct_row",
    "use_raw_json",
]

T = TypeVar("T", bound=msgspec.Struct)

#: OIDs of ``json`` and ``jsonb``.
JSON_OIDS = (114, 3802)

_ENCODER = msgspec.json.Encoder()
_NUMBER_ENCODER = msgspec.json.Encoder(decimal_format="number")


def use_raw_json(adapters: adapt.AdaptersMap) -> None:
    """Make a connection's or cursor's adapters leave JSON undecoded.

    ``json``/``jsonb`` columns then arrive as the text PostgreSQL sent, through
    psycopg's C text loader (measured faster than a Python loader returning
    bytes), for msgspec to decode straight into the field's type.
    """
    for oid in JSON_OIDS:
        adapters.register_loader(oid, TextLoader)


def encode_json(value: object, *, numbers: bool = False) -> bytes:
    """JSON for a JSONB parameter; Decimals as strings, or as numbers with ``numbers``."""
    return (_NUMBER_ENCODER if numbers else _ENCODER).encode(value)


@functools.cache
def _decoder(field_type: Any) -> Callable[[str], Any]:
    return msgspec.json.Decoder(field_type).decode


@functools.cache
def _maker(cls: type[msgspec.Struct], columns: tuple[tuple[str, int], ...]) -> Callable[..., Any]:
    """A function building ``cls`` from one row of these (name, type oid) columns.

    It is generated once per struct and column list, like ``dataclasses``
    generates ``__init__``: ``cls(id=v[0], ..., collateral=_d6(v[6]) ...)``, with
    no per-row loop or dict. Names come from the struct's own fields, which are
    Python identifiers, so nothing foreign reaches the generated source.
    """
    fields = {f.name: f for f in msgspec.structs.fields(cls)}
    namespace: dict[str, Any] = {"_cls": cls}
    arguments = []
    for index, (name, oid) in enumerate(columns):
        field = fields.get(name)
        if field is None:
            raise ConfigError(
                f"the query returns column {name!r} but {cls.__name__} has no such field; "
                f"select only the columns of {cls.__name__}."
            )
        if oid in JSON_OIDS:
            namespace[f"_d{index}"] = _decoder(field.type)
            arguments.append(f"{name}=None if v[{index}] is None else _d{index}(v[{index}])")
        else:
            arguments.append(f"{name}=v[{index}]")
    source = f"def make(v):\n    return _cls({', '.join(arguments)})\n"
    exec(source, namespace)  # generated from field names only, see above
    maker: Callable[..., Any] = namespace["make"]
    return maker


def struct_row(cls: type[T]) -> BaseRowFactory[T]:
    """A psycopg row factory building ``cls`` from columns of the same names.

    The cursor must load JSON as raw bytes (:func:`use_raw_json`).
    """

    def factory(cursor: Any) -> RowMaker[T]:
        description = cursor.description
        if description is None:
            return _no_result
        maker: RowMaker[T] = _maker(cls, tuple((c.name, c.type_code) for c in description))
        return maker

    return factory


@contextmanager
def paused_gc() -> Iterator[None]:
    """Hold the cyclic garbage collector while building many rows at once.

    A result of rows holds no garbage, yet every few hundred new containers
    wake the collector, which then walks the growing result again: about a
    quarter of the time of a large fetch (see ``make bench``). Reference
    counting still frees everything as usual; a collector that was already
    disabled stays disabled.
    """
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def _no_result(values: Sequence[Any]) -> Any:
    raise ConfigError("the statement returned no columns to build a row from")
