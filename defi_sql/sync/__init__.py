"""The async query API: ``from defi_sql import aio as db``, then ``db.users.get(conn, id)``.

Every function takes a psycopg ``AsyncConnection`` (or one from an
``AsyncConnectionPool``) and has a sync twin of the same name and types in
``defi_sql.sync``.

Generated from defi_sql/aio/__init__.py by defi_sql/_async_to_sync.py: do not edit.
"""

from defi_sql.sync import alerts, events, intents, positions, signals, users
from defi_sql.sync._execute import transaction

__all__ = ["alerts", "events", "intents", "positions", "signals", "transaction", "users"]
