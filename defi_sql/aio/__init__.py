"""The async query API: ``from defi_sql import aio as db``, then ``await db.users.get(conn, id)``.

Every function takes a psycopg ``AsyncConnection`` (or one from an
``AsyncConnectionPool``) and has a sync twin of the same name and types in
``defi_sql.sync``.
"""

from defi_sql.aio import alerts, events, intents, positions, signals, users
from defi_sql.aio._execute import transaction

__all__ = ["alerts", "events", "intents", "positions", "signals", "transaction", "users"]
