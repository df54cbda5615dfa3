"""A connection pool set up the way the query API expects: ``pool = db.open_pool(url)``.

* Autocommit connections, like every connection the API takes: a write is a
  transaction of its own unless inside :func:`db.transaction` or
  :func:`db.run_transaction`, and a read leaves no transaction open.
* It recovers on its own. Each connection is checked (one empty round trip)
  as it is handed out; a broken one (server restarted, ``pg_terminate_backend``,
  network) is discarded and replaced, and the next one is tried at once, so
  the caller's next query works however many were broken. (psycopg_pool's own
  ``check=`` waits 1 s, 2 s, 4 s... after each broken one: a pool of 10 killed
  connections then fails ``getconn`` after its 30 s timeout.)
* Opening waits until ``min_size`` connections are up and raises
  :class:`DatabaseUnavailable` when the server cannot be reached within
  ``timeout`` seconds, the same ``timeout`` a caller waits at most for a
  connection afterwards.

Close it with ``pool.close()``, or ``with db.open_pool(url) as pool:``.

Generated from defi_sql/aio/pool.py by tools/async_to_sync.py: do not edit.
"""

from __future__ import annotations

from time import monotonic
from typing import Any

import psycopg
from psycopg import Connection
from psycopg_pool import ConnectionPool, PoolTimeout

from defi_sql import validate
from defi_sql.config import mask_conninfo
from defi_sql.errors import DatabaseUnavailable, InvalidInput

__all__ = ["Pool", "open_pool"]


class Pool(ConnectionPool[Connection[Any]]):
    """psycopg_pool's pool, handing out only connections that answer."""

    def getconn(self, timeout: float | None = None) -> Connection[Any]:
        """A working connection; broken ones met on the way are discarded and replaced."""
        waited = self.timeout if timeout is None else timeout
        deadline = monotonic() + waited
        while True:
            left = deadline - monotonic()
            if left <= 0:
                raise PoolTimeout(f"couldn't get a connection after {waited:.2f} sec")
            conn = super().getconn(left)
            try:
                self.check_connection(conn)
            except psycopg.Error:
                self.putconn(conn)  # broken: the pool closes it and opens another
                continue
            return conn


def open_pool(
    conninfo: str, *, min_size: int = 1, max_size: int = 10, timeout: float = 30.0
) -> Pool:
    """An open pool of ``min_size`` to ``max_size`` autocommit connections to ``conninfo``."""
    validate.positive_int(min_size, "min_size")
    if validate.positive_int(max_size, "max_size") < min_size:
        raise InvalidInput(f"max_size must be at least min_size ({min_size}), not {max_size}.")
    pool = Pool(
        conninfo,
        min_size=min_size,
        max_size=max_size,
        timeout=timeout,
        kwargs={"autocommit": True, "connect_timeout": 10},
        open=False,
    )
    try:
        pool.open(wait=True, timeout=timeout)
    except PoolTimeout:
        pool.close()
        raise DatabaseUnavailable(
            f"cannot connect to {mask_conninfo(conninfo)} within {timeout:g}s; check that the "
            "server is running and that DATABASE_URL (or DB_*) is right."
        ) from None
    return pool
