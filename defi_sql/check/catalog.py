"""A fingerprint of a schema read from the PostgreSQL catalog.

Two schemas are the same when their fingerprints are equal; :func:`diff`
says how they differ. The catalog query lives in ``defi_sql/sql/catalog.sql``.
"""

from __future__ import annotations

from typing import Any

import psycopg

from defi_sql._aiosql import internal_queries

__all__ = ["Fingerprint", "diff", "fingerprint"]

Fingerprint = tuple[tuple[str, str, str], ...]


def fingerprint(conn: psycopg.Connection[Any]) -> Fingerprint:
    """Every object of the connection's current schema as (kind, name, definition)."""
    rows = internal_queries().schema_fingerprint(conn)
    return tuple((str(kind), str(name), str(definition)) for kind, name, definition in rows)


def diff(before: Fingerprint, after: Fingerprint) -> list[str]:
    """Lines ``- kind name: definition`` (only before) and ``+ ...`` (only after)."""
    old, new = set(before), set(after)
    gone = [f"- {k} {n}: {d}" for k, n, d in before if (k, n, d) not in new]
    added = [f"+ {k} {n}: {d}" for k, n, d in after if (k, n, d) not in old]
    return gone + added
