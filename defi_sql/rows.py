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

msgspec checks types when it decodes, not when a struct is constructed, so
the columns that are not JSON are checked here, or a struct could hold None in
a field typed ``str``: a NULL for a field that is not optional, a value
outside a ``Literal``, a ``timestamp`` without time zone for an aware
``datetime`` (every plain ``datetime`` is aware, as the models promise;
``Meta(tz=False)`` asks for a naive one), a NULL item in a list whose items
are not optional. Each is the same :class:`UnreadableRow`, naming the query,
the column and what to change. What each column needs is worked out once per
struct and column list (:class:`_Check`), so a row pays one ``is None`` per
non-optional column and one set lookup per ``Literal``; a ``timestamptz``
column costs nothing, its type already says every value is aware. Whether a
value has the field's type at all (text for an ``int``) is not checked: that
is ``defi-sql check``'s job, once, before any row.

Why not a class of its own (SQLx's ``UnexpectedNull``): the row does not fit
its struct either way, and every caller that sets unreadable rows aside, logs
them or moves them out of a queue already handles :class:`UnreadableRow`.
"""

from __future__ import annotations

import functools
import gc
import logging
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any, Generic, Literal, TypeVar, get_args, get_origin

import msgspec
import msgspec.inspect as mi
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


#: OIDs of ``timestamp`` and ``timestamptz``: psycopg loads the first naive, the second aware.
_NAIVE_OID, _AWARE_OID = 1114, 1184


@dataclass(frozen=True)
class _Check:
    """What one column of a row must satisfy for its field, and how to say it does not.

    Found once per struct and column list from the field's type, so that a row
    costs a few comparisons: ``is None`` for a field that is not optional, a set
    membership for a ``Literal``, nothing for a ``timestamptz`` column read into
    an aware field (the column's type already says every value is aware).
    """

    index: int
    name: str
    #: the field's type as written, for the message
    spelled: str
    nullable: bool
    #: the values a ``Literal`` field allows (None included when it is optional)
    allowed: frozenset[Any] | None = None
    #: the same values in the order the ``Literal`` lists them, for the message
    choices: tuple[Any, ...] = ()
    #: "aware" or "naive": every non-NULL value of the column has the wrong kind
    wrong_tz: str | None = None
    #: the field is a list (or set, tuple) whose items may not be NULL
    items_not_null: bool = False
    #: the values a list of ``Literal`` allows
    allowed_items: frozenset[Any] | None = None

    def condition(self, var: str) -> str | None:
        """A Python expression true when ``var`` does not fit, or None: nothing to check."""
        tests = []
        if self.allowed is not None:
            tests.append(f"{var} not in _a{self.index}")
        elif not self.nullable:
            tests.append(f"{var} is None")
        if self.wrong_tz is not None:
            tests.append(f"{var} is not None")
        # psycopg loads an array as a list: anything else is not this check's business
        if self.allowed_items is not None:
            tests.append(f"({var}.__class__ is list and not _a{self.index}.issuperset({var}))")
        elif self.items_not_null:
            tests.append(f"({var}.__class__ is list and None in {var})")
        return " or ".join(tests) if tests else None

    def problem(self, value: Any) -> str | None:
        """What is wrong with ``value`` (and how to fix it), or None when it fits."""
        if value is None:
            if self.nullable or (self.allowed is not None and None in self.allowed):
                return None
            return (
                f"column {self.name} is NULL but the field is `{self.spelled}`; declare it "
                f"`{self.spelled} | None`, or make the query return a value there (a NOT NULL "
                "column, an inner join, coalesce())"
            )
        if self.allowed is not None and not _within(self.allowed, [value]):
            choices = ", ".join(repr(v) for v in self.choices)
            return (
                f"column {self.name} is {value!r}, not one of the field's {choices}; add it "
                "to the field's Literal, or keep the query from returning it (a CHECK on the "
                "column, a CASE in the query)"
            )
        if self.wrong_tz == "aware":
            return (
                f"column {self.name} is a timestamp without time zone ({value}) but the field "
                f"wants an aware datetime; select it as timestamptz (e.g. {self.name} AT TIME "
                "ZONE 'UTC'), or declare the field Annotated[datetime, Meta(tz=False)]"
            )
        if self.wrong_tz == "naive":
            return (
                f"column {self.name} is a timestamp with time zone ({value}) but the field "
                f"wants a naive datetime (Meta(tz=False)); cast it to timestamp, or drop "
                "tz=False from the field"
            )
        if not isinstance(value, list):
            return None
        if self.allowed_items is not None and not _within(self.allowed_items, value):
            odd = next(v for v in value if not _within(self.allowed_items, [v]))
            return (
                f"column {self.name} holds {odd!r}, which the field's `{self.spelled}` does "
                "not allow; add it to the Literal, or keep the query from returning it"
            )
        if self.items_not_null and None in value:
            return (
                f"column {self.name} holds a NULL item but the field is `{self.spelled}`; "
                "declare the items optional, or leave the NULLs out (array_remove(..., NULL), "
                "a FILTER (WHERE ... IS NOT NULL) on the aggregate)"
            )
        return None


def _within(allowed: frozenset[Any], values: list[Any]) -> bool:
    """Whether every one of ``values`` is allowed (one that cannot be hashed is not)."""
    try:
        return allowed.issuperset(values)
    except TypeError:
        return False


def _spelled(field_type: Any) -> str:
    if isinstance(field_type, type):
        return field_type.__name__
    return repr(field_type).replace("typing.", "").replace("datetime.datetime", "datetime")


def _split(info: mi.Type) -> tuple[bool, list[mi.Type]]:
    """Whether ``info`` admits None, and the types it admits besides."""
    types = list(info.types) if isinstance(info, mi.UnionType) else [info]
    cores = [t for t in types if not isinstance(t, mi.NoneType)]
    anything = any(
        isinstance(t, mi.AnyType) or (isinstance(t, mi.CustomType) and t.cls is object)
        for t in cores
    )
    return anything or len(cores) < len(types), [] if anything else cores


def _literal_values(types: list[mi.Type]) -> tuple[Any, ...] | None:
    """The values of a type made of ``Literal``s only; else None."""
    if not types or not all(isinstance(t, mi.LiteralType) for t in types):
        return None
    return tuple(v for t in types if isinstance(t, mi.LiteralType) for v in t.values)


def _written(field_type: Any) -> list[Any]:
    """The values of the ``Literal``s in ``field_type``, in the order they are written
    (msgspec sorts them)."""
    if get_origin(field_type) is Literal:
        return list(get_args(field_type))
    return [v for arg in get_args(field_type) for v in _written(arg)]


def _check(index: int, name: str, oid: int, field_type: Any) -> _Check | None:
    """The check column ``index`` needs for a field of ``field_type``, or None."""
    try:
        info = mi.type_info(field_type)
    except (TypeError, ValueError):  # a type msgspec cannot describe: nothing known to check
        return None
    nullable, cores = _split(info)
    if not cores:
        return None
    check = _Check(index, name, _spelled(field_type), nullable)
    if oid in JSON_OIDS:  # the JSON decoder checks everything but SQL's own NULL
        return None if nullable else check
    values = _literal_values(cores)
    if values is not None:
        allowed = frozenset((*values, None) if nullable else values)
        order = [v for v in _written(field_type) if v in allowed]
        return replace(check, allowed=allowed, choices=tuple(dict.fromkeys(order)))
    if len(cores) == 1 and isinstance(cores[0], mi.DateTimeType):
        aware = cores[0].tz is not False  # a plain datetime is aware: the models' rule
        if oid == (_NAIVE_OID if aware else _AWARE_OID):
            return replace(check, wrong_tz="aware" if aware else "naive")
    elif len(cores) == 1 and isinstance(cores[0], mi.CollectionType):
        items_nullable, items = _split(cores[0].item_type)
        if items:
            values = _literal_values(items)
            allowed_items = None
            if values is not None:
                allowed_items = frozenset((*values, None) if items_nullable else values)
            return replace(check, items_not_null=not items_nullable, allowed_items=allowed_items)
    return None if nullable else check


@functools.cache
def _maker(
    cls: type[msgspec.Struct],
    columns: tuple[tuple[str, int], ...],
    lenient: bool = False,
    query: str | None = None,
) -> Callable[..., Any]:
    """A function building ``cls`` from one row of these (name, type oid) columns.

    It is generated once per struct and column list, like ``dataclasses``
    generates ``__init__``: ``c0, ..., c11 = v``, then one ``if`` testing every
    column whose field needs it (``c1 is None or c4 not in _a4 ...``, see
    :class:`_Check`), then ``cls(id=c0, ..., collateral=_d6(c6) ...)``, with no
    per-row loop or dict. Names come from the struct's own fields, which are
    Python identifiers, so nothing foreign reaches the generated source. A row
    that does not fit raises :class:`UnreadableRow` (``lenient``: returns it).
    """
    fields = {f.name: f for f in msgspec.structs.fields(cls)}
    checks: list[_Check] = []
    namespace: dict[str, Any] = {
        "_cls": cls,
        "_unfit": _UNFIT,
        "_unreadable": functools.partial(_unreadable, cls, columns),
        "_misfit": functools.partial(_misfit, cls, columns, checks, query),
    }
    arguments = []
    for index, (name, oid) in enumerate(columns):
        field = fields.get(name)
        if field is None:
            raise ConfigError(
                f"the query returns column {name!r} but {cls.__name__} has no such field; "
                f"select only the columns of {cls.__name__}."
            )
        check = _check(index, name, oid, field.type)
        if check is not None:
            checks.append(check)
            if check.allowed is not None or check.allowed_items is not None:
                namespace[f"_a{index}"] = check.allowed or check.allowed_items
        if oid in JSON_OIDS:
            namespace[f"_d{index}"] = _decoder(field.type)
            if check is None:  # optional: SQL's NULL is the field's None
                arguments.append(f"{name}=None if c{index} is None else _d{index}(c{index})")
            else:
                arguments.append(f"{name}=_d{index}(c{index})")
        else:
            arguments.append(f"{name}=c{index}")
    misfit = "return _misfit(v)" if lenient else "raise _misfit(v) from None"
    handle = "return _unreadable(v, e)" if lenient else "raise _unreadable(v, e) from None"
    conditions = [c for c in (check.condition(f"c{check.index}") for check in checks) if c]
    test = (
        # a value that cannot be hashed (an array for a Literal) does not fit either
        f"    try:\n        if {' or '.join(conditions)}:\n            {misfit}\n"
        f"    except TypeError:\n        {misfit}\n"
    )
    source = "".join(
        [
            "def make(v):\n",
            f"    {''.join(f'c{i}, ' for i in range(len(columns)))}= v\n" if columns else "",
            test if conditions else "",
            "    try:\n",
            f"        return _cls({', '.join(arguments)})\n",
            "    except _unfit as e:\n",
            f"        {handle}\n",
        ]
    )
    exec(source, namespace)  # generated from field names only, see above
    maker: Callable[..., Any] = namespace["make"]
    return maker


def _misfit(
    cls: type[msgspec.Struct],
    columns: tuple[tuple[str, int], ...],
    checks: list[_Check],
    query: str | None,
    values: Sequence[Any],
) -> UnreadableRow:
    """The error for a row with a column its field forbids: query, table, id, column, why."""
    problem, field = "a column does not fit its field", "(row)"
    for check in checks:
        found = check.problem(values[check.index])
        if found is not None:
            problem, field = found, check.name
            break
    table, row_id = _table(cls), _row_id(columns, values)
    row = f"{table} row {row_id}" if row_id is not None else f"a {table} row"
    by = f" (query {query})" if query else ""
    return UnreadableRow(
        f"{row} cannot be read into {cls.__name__}{by}: {problem}.",
        table=table,
        row_id=row_id,
        field=field,
    )


def _table(cls: type[msgspec.Struct]) -> str:
    return getattr(cls, "table", "") or cls.__name__


def _row_id(columns: tuple[tuple[str, int], ...], values: Sequence[Any]) -> Any:
    names = [name for name, _ in columns]
    return next((values[names.index(k)] for k in ("id", "event_id") if k in names), None)


def _unreadable(
    cls: type[msgspec.Struct],
    columns: tuple[tuple[str, int], ...],
    values: Sequence[Any],
    error: Exception,
) -> UnreadableRow:
    """The error for a row of ``cls`` that did not decode: table, id, field path, reason."""
    row_id = _row_id(columns, values)
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
    table = _table(cls)
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


def struct_row(
    cls: type[T], *, lenient: bool = False, query: str | None = None
) -> BaseRowFactory[T]:
    """A psycopg row factory building ``cls`` from columns of the same names.

    The cursor must load JSON as raw bytes (:func:`use_raw_json`). A row that
    does not fit raises :class:`UnreadableRow`; with ``lenient`` the error is
    returned in the row's place instead (for :class:`Batch`). ``query``, the
    name of the query being read, goes into the message of a column that
    breaks its field's type.
    """

    def factory(cursor: Any) -> RowMaker[T]:
        description = cursor.description
        if description is None:
            return _no_result
        columns = tuple((c.name, c.type_code) for c in description)
        maker: RowMaker[T] = _maker(cls, columns, lenient, query)
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
