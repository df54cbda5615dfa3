"""Rows into msgspec structs, and structs into JSONB.

psycopg parses most columns in C (uuid, timestamptz, numeric -> Decimal, int);
JSON is where the time goes. Here ``json``/``jsonb`` columns are not parsed by
psycopg at all: they arrive as raw bytes and are decoded once, straight into
the field's type, by a cached typed ``msgspec.json.Decoder`` (camelCase keys,
``Decimal`` amounts, unknown keys ignored). The row factory then builds the
struct from the column values by name.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import msgspec
from psycopg import adapt
from psycopg.abc import Buffer
from psycopg.rows import BaseRowFactory, RowMaker

from defi_sql.errors import ConfigError

__all__ = ["JSON_OIDS", "RawJsonLoader", "encode_json", "struct_row", "use_raw_json"]

T = TypeVar("T", bound=msgspec.Struct)

#: OIDs of ``json`` and ``jsonb``.
JSON_OIDS = (114, 3802)

_ENCODER = msgspec.json.Encoder()
_NUMBER_ENCODER = msgspec.json.Encoder(decimal_format="number")


class RawJsonLoader(adapt.Loader):
    """Leave ``json``/``jsonb`` as the bytes PostgreSQL sent (text format)."""

    def load(self, data: Buffer) -> bytes:
        return bytes(data)


def use_raw_json(adapters: adapt.AdaptersMap) -> None:
    """Make a connection's or cursor's adapters load JSON as raw bytes."""
    for oid in JSON_OIDS:
        adapters.register_loader(oid, RawJsonLoader)


def encode_json(value: object, *, numbers: bool = False) -> bytes:
    """JSON for a JSONB parameter; Decimals as strings, or as numbers with ``numbers``."""
    return (_NUMBER_ENCODER if numbers else _ENCODER).encode(value)


@functools.cache
def _decoder(field_type: Any) -> Callable[[bytes], Any]:
    return msgspec.json.Decoder(field_type).decode


@functools.cache
def _plan(
    cls: type[msgspec.Struct], columns: tuple[tuple[str, int], ...]
) -> tuple[tuple[str, Callable[[bytes], Any] | None], ...]:
    fields = {f.name: f for f in msgspec.structs.fields(cls)}
    plan = []
    for name, oid in columns:
        field = fields.get(name)
        if field is None:
            raise ConfigError(
                f"the query returns column {name!r} but {cls.__name__} has no such field; "
                f"select only the columns of {cls.__name__}."
            )
        plan.append((name, _decoder(field.type) if oid in JSON_OIDS else None))
    return tuple(plan)


def struct_row(cls: type[T]) -> BaseRowFactory[T]:
    """A psycopg row factory building ``cls`` from columns of the same names.

    The cursor must load JSON as raw bytes (:func:`use_raw_json`).
    """

    def factory(cursor: Any) -> RowMaker[T]:
        description = cursor.description
        if description is None:
            return _no_result
        plan = _plan(cls, tuple((c.name, c.type_code) for c in description))

        def make(values: Sequence[Any]) -> T:
            return cls(
                **{
                    name: decode(value) if decode is not None and value is not None else value
                    for (name, decode), value in zip(plan, values, strict=True)
                }
            )

        return make

    return factory


def _no_result(values: Sequence[Any]) -> Any:
    raise ConfigError("the statement returned no columns to build a row from")
