"""The async query API: ``from defi_sql import aio as db``, then ``await db.users.get(conn, id)``.

Every function takes a psycopg ``AsyncConnection`` (or one from an
``AsyncConnectionPool``) and has a sync twin of the same name and types in
``defi_sql.sync``. ``open_pool`` makes a pool that recovers from broken
connections on its own, ``run_transaction`` runs a unit of work in one
transaction and again when that is safe (see :mod:`defi_sql.aio.retry`),
``open_router`` sends reads to streaming replicas that have replayed the
caller's writes (see :mod:`defi_sql.aio.router`).
"""

from defi_sql.aio import (
    alerts,
    events,
    intents,
    maintenance,
    positions,
    signals,
    subscriptions,
    users,
    wakeup,
)
from defi_sql.aio._execute import acting_as, transaction
from defi_sql.aio.pool import open_pool
from defi_sql.aio.retry import run_transaction
from defi_sql.aio.router import open_router

__all__ = [
    "acting_as",
    "alerts",
    "events",
    "intents",
    "maintenance",
    "open_pool",
    "open_router",
    "positions",
    "run_transaction",
    "signals",
    "subscriptions",
    "transaction",
    "users",
    "wakeup",
]
