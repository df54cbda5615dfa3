"""A fingerprint of a schema read from the PostgreSQL catalog.

Two schemas are the same when their fingerprints are equal; :func:`changes`
says how they differ, one phrase per object (the round-trip check, drift and
the round-trip proof in the tests all read it). The catalog query lives in
``defi_sql/sql/catalog.sql``.
"""

from __future__ import annotations

from typing import Any

import psycopg

from defi_sql._aiosql import internal_queries

__all__ = ["Fingerprint", "changes", "fingerprint"]

Fingerprint = tuple[tuple[str, str, str], ...]


def fingerprint(conn: psycopg.Connection[Any]) -> Fingerprint:
    """Every object of the connection's current schema as (kind, name, definition)."""
    rows = internal_queries().schema_fingerprint(conn)
    return tuple((str(kind), str(name), str(definition)) for kind, name, definition in rows)


def changes(
    before: Fingerprint,
    after: Fingerprint,
    missing: str = "is missing",
    extra: str = "is left over",
    differs: str = "{kind} {name} differs: {old} became {new}",
) -> list[str]:
    """How ``after`` differs from ``before``, one phrase per object, in (kind, name)
    order: an object only before is ``missing``, one only after ``extra``, and one
    whose definition changed ``differs`` (formatted with kind, name, old and new).

    (kind, name) identifies an object: the catalog allows one relation, column,
    constraint, trigger, policy, type or function signature of a name."""
    old = {(k, n): d for k, n, d in before}
    new = {(k, n): d for k, n, d in after}
    lines = []
    for key in sorted(old.keys() | new.keys()):
        kind, name = key
        if key not in new:
            lines.append(f"{kind} {name} {missing} ({old[key]})")
        elif key not in old:
            lines.append(f"{kind} {name} {extra} ({new[key]})")
        elif old[key] != new[key]:
            lines.append(differs.format(kind=kind, name=name, old=old[key], new=new[key]))
    return lines
