"""The sync query API: ``from defi_sql import sync as db``, then ``db.users.get(conn, id)``.

Every function takes a psycopg ``Connection`` (or one from a
``ConnectionPool``) and has an async twin of the same name and types in
``defi_sql.aio``. ``open_pool`` makes a pool that recovers from broken
connections on its own, ``run_transaction`` runs a unit of work in one
transaction and again when that is safe (see :mod:`defi_sql.sync.retry`),
``open_router`` sends reads to streaming replicas that have replayed the
caller's writes (see :mod:`defi_sql.sync.router`).

Generated from defi_sql/aio/__init__.py by tools/async_to_sync.py: do not edit.
"""

from defi_sql.sync import (
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
from defi_sql.sync._execute import acting_as, transaction
from defi_sql.sync.pool import open_pool
from defi_sql.sync.retry import run_transaction
from defi_sql.sync.router import open_router

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
