"""Rows into msgspec structs, and structs into JSONB.

psycopg parses most columns in C (uuid, timestamptz, numeric -> Decimal, int);
JSON is where the time goes. Here ``json``/``jsonb`` columns are not parsed by
psycopg at all: they arrive as text and are decoded once, straight into
the field's type, by a cached typed ``msgspec.json.Decoder`` (camelCase keys,
``Decimal`` amounts, unknown keys ignored). The row factory then builds the
struct from the column values by name, with a maker generated per struct and
column list, while the garbage collector is paused for large results.

A row that does not fit its struct (a JSON document written around the
database's CHECKs, or before them) never surfaces as a msgspec or recursion
error: the maker raises :class:`~defi_sql.errors.UnreadableRow` naming the
table, the row's id and the field path, or, for batch reads
(``struct_row(cls, lenient=True)``), returns that error in the row's place so
that :class:`Batch` can set it aside and serve the other rows.
"""

from __future__ import annotations

import functools
import gc
import logging
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Generic, TypeVar

import msgspec
from psycopg import adapt
from psycopg.rows import BaseRowFactory, RowMaker
from psycopg.types.string import TextLoader

from defi_sql.errors import ConfigError, UnreadableRow

__all__ = [
    "JSON_OIDS",
    "Batch",
    "encode_json",
    "paused_gc",
    "struct_row",
    "use_raw_json",
]

T = TypeVar("T", bound=msgspec.Struct)

#: OIDs of ``json`` and ``jsonb``.
JSON_OIDS = (114, 3802)

_ENCODER = msgspec.json.Encoder()
_LOG = logging.getLogger("defi_sql")
#: What decoding a stored row can raise: a value of the wrong shape, or JSON
#: nested beyond the decoder's recursion limit.
_UNFIT = (msgspec.ValidationError, RecursionError)
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
def _maker(
    cls: type[msgspec.Struct], columns: tuple[tuple[str, int], ...], lenient: bool = False
) -> Callable[..., Any]:
    """A function building ``cls`` from one row of these (name, type oid) columns.

    It is generated once per struct and column list, like ``dataclasses``
    generates ``__init__``: ``cls(id=v[0], ..., collateral=_d6(v[6]) ...)``, with
    no per-row loop or dict. Names come from the struct's own fields, which are
    Python identifiers, so nothing foreign reaches the generated source. A row
    that does not fit raises :class:`UnreadableRow` (``lenient``: returns it).
    """
    fields = {f.name: f for f in msgspec.structs.fields(cls)}
    namespace: dict[str, Any] = {
        "_cls": cls,
        "_unfit": _UNFIT,
        "_unreadable": functools.partial(_unreadable, cls, columns),
    }
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
    handle = "return _unreadable(v, e)" if lenient else "raise _unreadable(v, e) from None"
    source = (
        "def make(v):\n"
        "    try:\n"
        f"        return _cls({', '.join(arguments)})\n"
        "    except _unfit as e:\n"
        f"        {handle}\n"
    )
    exec(source, namespace)  # generated from field names only, see above
    maker: Callable[..., Any] = namespace["make"]
    return maker


def _unreadable(
    cls: type[msgspec.Struct],
    columns: tuple[tuple[str, int], ...],
    values: Sequence[Any],
    error: Exception,
) -> UnreadableRow:
    """The error for a row of ``cls`` that did not decode: table, id, field path, reason."""
    names = [name for name, _ in columns]
    row_id = next((values[names.index(k)] for k in ("id", "event_id") if k in names), None)
    field, reason = "(row)", str(error) or type(error).__name__
    fields = {f.name: f for f in msgspec.structs.fields(cls)}
    for index, (name, oid) in enumerate(columns):  # find the column that fails, and where
        if oid not in JSON_OIDS or values[index] is None:
            continue
        try:
            _decoder(fields[name].type)(values[index])
        except _UNFIT as exc:
            reason, _, path = str(exc).partition(" - at `$")
            field = name + path.rstrip("`")
            if isinstance(exc, RecursionError):
                reason = "the JSON is nested too deeply to decode"
            break
    table = getattr(cls, "table", "") or cls.__name__
    return UnreadableRow(
        f"{table} row {row_id} cannot be read into {cls.__name__}: {field}: {reason}; it "
        "breaks a rule the database now enforces (or was written around it): repair or "
        "delete the row.",
        table=table,
        row_id=row_id,
        field=field,
    )


class Batch(list[T], Generic[T]):
    """The rows of a batch read, with the stored rows that could not be read set aside.

    A list of the readable rows; ``unreadable`` holds an :class:`UnreadableRow`
    for each row left out (each is also logged as a warning on the
    ``defi_sql`` logger), so one bad row never stops the work for every user.
    """

    unreadable: list[UnreadableRow]

    def __init__(self, rows: Sequence[T | UnreadableRow] = ()) -> None:
        super().__init__()
        self.unreadable = []
        for row in rows:
            if isinstance(row, UnreadableRow):
                _LOG.warning("%s", row)
                self.unreadable.append(row)
            else:
                self.append(row)


def struct_row(cls: type[T], *, lenient: bool = False) -> BaseRowFactory[T]:
    """A psycopg row factory building ``cls`` from columns of the same names.

    The cursor must load JSON as raw bytes (:func:`use_raw_json`). A row that
    does not fit raises :class:`UnreadableRow`; with ``lenient`` the error is
    returned in the row's place instead (for :class:`Batch`).
    """

    def factory(cursor: Any) -> RowMaker[T]:
        description = cursor.description
        if description is None:
            return _no_result
        columns = tuple((c.name, c.type_code) for c in description)
        maker: RowMaker[T] = _maker(cls, columns, lenient)
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
