"""Reads on streaming replicas, each caller reading its own writes: ``db.open_router``.

``router = db.open_router(primary, [replica, ...])`` holds a pool for the
primary and one for each hot standby. Each caller (a web request, a job) takes
a :class:`Session`. ``session.write()`` lends a primary connection, for writes
and for read-modify-write work; when the block ends the session notes where
the primary's WAL then stands, its :class:`~defi_sql.lsn.Token`.
``session.read()`` lends a connection to a replica that has replayed the WAL
up to that token, so the caller sees what it wrote; before any write (no
token) any replica that still replays will do. A web app keeps the token
between requests (``str(session.token)`` in its session or a cookie,
``router.session(Token.parse(text))`` on the next request).

Choosing a replica
------------------

* The position is asked on the very connection that is lent (query
  ``replication_replayed``), never taken from an earlier answer: a replica is
  never chosen for a token it has not reached, even while another one has
  (GitLab's load balancer shipped that bug: their issue 413203). An earlier
  answer may no longer hold: a restarted replica replays again from its last
  restartpoint, and may take reads again behind what it reported before.
* When none has reached it, the read asks again after 1 ms, doubling up to
  20 ms, for at most ``max_wait`` seconds in all, then reads from the primary:
  a replica that lags by seconds costs each read at most ``max_wait``.
* Turn by turn: each read starts with the next replica; with a token, those
  last seen at or past it are asked first.
* A replica that cannot be reached, or no longer replays (promoted), is
  skipped and tried again after ``retry_after`` seconds, doubling with each
  failed try up to 30 s (each pause shortened at random by up to half, so that
  many processes do not knock at once). A try is one direct connection
  (connect, ask the position, close): while it fails no read waits on that
  replica's pool. A replica whose pool is only busy (every connection lent
  for the wait) is skipped for that read alone.
* A connection that breaks while lent sends that replica for a try at once:
  one dead behind it is skipped by the very next read.

What may run on a replica
-------------------------

Only the named queries whose doc declares ``replica: ok`` (``sql/queries``):
read-only ones, whose answer may be a moment old when no token asks for more.
Any other raises :class:`~defi_sql.errors.NotReplicaSafe` before it reaches
the server, on every connection ``read()`` or ``run_read()`` lends, the
primary's too when a read falls back to it: a missing declaration fails in
the first test, not only once a replica happens to be chosen. Raw SQL on the
connection is not checked (a replica refuses writes on its own, SQLSTATE 25006).

A replica that dies while the caller's block runs raises
:class:`~defi_sql.errors.ConnectionLost` out of ``read()``, as the primary
would. ``run_read(work)`` runs the read again instead, on another replica
or the primary: a read changes nothing, so running it twice is safe. (A
query the replica cancels for a conflict with the WAL it replays, SQLSTATE
40001, is a :class:`~defi_sql.errors.TransientConflict` on a connection that
still works, and is raised as it is.)

Generated from defi_sql/aio/router.py by tools/async_to_sync.py: do not edit.
"""

from __future__ import annotations

import itertools
import random
import time
from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from time import monotonic
from types import TracebackType
from typing import Any, NamedTuple, TypeVar, cast

import msgspec
import psycopg
from psycopg import Connection
from psycopg.conninfo import conninfo_to_dict
from psycopg_pool import ConnectionPool, PoolTimeout

from defi_sql.config import mask_conninfo
from defi_sql.connection import describe_failure
from defi_sql.errors import (
    ConfigError,
    ConnectionLost,
    DatabaseUnavailable,
    DefiSqlError,
    InvalidInput,
)
from defi_sql.lsn import Token
from defi_sql.sync._execute import fetch_value, replica_reads
from defi_sql.sync.pool import Pool, open_pool
from defi_sql.sync.retry import Work

__all__ = ["ReplicaState", "Router", "Session", "Token", "open_router"]

T = TypeVar("T")

#: the first pause of a read waiting for a replica to reach its token, and the longest
_FIRST_PAUSE = 0.001
_MAX_PAUSE = 0.02
#: the longest pause before a failed replica is tried again (unless retry_after is longer)
_MAX_RETRY_AFTER = 30.0
#: a read waits at least this long for a replica's pool to lend a connection
_CONNECT_WAIT = 0.05
#: how long a try may take to connect to a replica that was skipped (libpq's minimum)
_TRY_TIMEOUT = 2
_NOT_REPLAYING = "it is not in recovery (promoted, or not a replica)"


class ReplicaState(msgspec.Struct, frozen=True):
    """What a router knows of one replica: ``up`` unless skipped for ``error``."""

    conninfo: str
    up: bool
    replayed: Token | None
    error: str | None


@dataclass(eq=False)
class _Replica:
    conninfo: str
    pool: ConnectionPool[Connection[Any]]
    #: the last replay position a connection reported (for the order of asking)
    replayed: Token | None = None
    #: why it is skipped, while it is
    error: str | None = None
    failures: int = 0
    retry_at: float = 0.0


class _Lease(NamedTuple):
    conn: Connection[Any]
    replica: _Replica | None  # None: the primary's


class Router:
    """Writes go to the primary; reads to a replica that has replayed the caller's writes.

    Made by :func:`open_router`; close it with ``close()``, or open it as
    ``with db.open_router(...) as router:``.
    """

    primary: Pool

    def __init__(
        self,
        primary: Pool,
        replicas: Sequence[ConnectionPool[Connection[Any]]],
        *,
        max_wait: float,
        retry_after: float,
    ) -> None:
        self.primary = primary
        # open_router gives each pool its conninfo as text (a pool may take a function)
        self._replicas = [_Replica(cast(str, pool.conninfo), pool) for pool in replicas]
        self._max_wait = max_wait
        self._retry_after = retry_after
        self._turns = itertools.count()

    def session(self, token: Token | None = None) -> Session:
        """A caller's session, reading its own writes from ``token`` on (e.g. a token
        kept in a cookie by an earlier request)."""
        return Session(self, token)

    def replicas(self) -> list[ReplicaState]:
        """Each replica, in the order given: up or skipped (and why), and the last
        replay position seen."""
        return [
            ReplicaState(
                conninfo=mask_conninfo(replica.conninfo),
                up=replica.error is None,
                replayed=replica.replayed,
                error=replica.error,
            )
            for replica in self._replicas
        ]

    def close(self) -> None:
        """Close every pool; connections still lent are closed as they come back."""
        for replica in self._replicas:
            replica.pool.close()
        self.primary.close()

    def __enter__(self) -> Router:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    # -- lending ---------------------------------------------------------------------

    def _lease(
        self, token: Token | None, *, primary: bool = False, avoid: Collection[_Replica] = ()
    ) -> _Lease:
        """A connection for a read: a replica's that has replayed ``token``, else the
        primary's once ``max_wait`` has passed (at once when no replica can serve)."""
        if not primary:
            deadline = monotonic() + self._max_wait
            pause = _FIRST_PAUSE
            while True:
                asked = False
                for replica in self._in_turn(token):
                    if replica in avoid or not self._due(replica):
                        continue
                    asked = True
                    conn = self._replica_connection(replica, token, deadline)
                    if conn is not None:
                        return _Lease(conn, replica)
                left = deadline - monotonic()
                if token is None or not asked or left <= 0:
                    break
                time.sleep(min(pause, left))
                pause = min(pause * 2, _MAX_PAUSE)
        return _Lease(self._primary_connection(), None)

    def _release(self, lease: _Lease) -> None:
        broken = lease.conn.broken
        if lease.replica is None:
            self.primary.putconn(lease.conn)
            return
        lease.replica.pool.putconn(lease.conn)
        if broken:  # the replica may be gone: find out now, not on a read's time
            self._try(lease.replica)

    def _primary_connection(self) -> Connection[Any]:
        try:
            return self.primary.getconn()
        except PoolTimeout as exc:
            raise DatabaseUnavailable(
                f"the primary's pool had no connection to give ({exc}); check that "
                f"{mask_conninfo(str(self.primary.conninfo))} is running, or raise max_size or "
                "timeout."
            ) from None

    def _in_turn(self, token: Token | None) -> list[_Replica]:
        if not self._replicas:
            return []
        start = next(self._turns) % len(self._replicas)
        order = self._replicas[start:] + self._replicas[:start]
        if token is not None:  # those last seen at or past the token first (a stable sort)
            order.sort(key=lambda r: r.replayed is None or r.replayed < token)
        return order

    @staticmethod
    def _due(replica: _Replica) -> bool:
        return replica.error is None or monotonic() >= replica.retry_at

    def _replica_connection(
        self, replica: _Replica, token: Token | None, deadline: float
    ) -> Connection[Any] | None:
        """A connection of ``replica`` whose server has replayed ``token``, or None."""
        if replica.error is not None and not self._try(replica):
            return None
        pool = replica.pool
        for _stale in range(pool.max_size + 1):  # those that outlived a restart, then one more
            try:
                conn = pool.getconn(max(deadline - monotonic(), _CONNECT_WAIT))
            except PoolTimeout:
                self._try(replica)  # down: skipped from now on; up: busy, this read only
                return None
            try:
                replayed = fetch_value(conn, "replication_replayed", {})
            except DefiSqlError as exc:
                broken = conn.broken
                pool.putconn(conn)
                if broken and self._try(replica):
                    continue
                if not broken:
                    self._failed(replica, str(exc))
                return None
            if replayed is None:
                pool.putconn(conn)
                self._failed(replica, _NOT_REPLAYING)
                return None
            replica.replayed = Token.parse(replayed)
            if token is not None and replica.replayed < token:
                pool.putconn(conn)
                return None
            return conn
        return None

    def _try(self, replica: _Replica) -> bool:
        """Whether ``replica`` answers and replays, on a connection of its own; it is
        skipped (for a while longer) when not."""
        replica.retry_at = monotonic() + self._retry_after  # no other read tries meanwhile
        try:
            conn = Connection.connect(
                replica.conninfo, autocommit=True, connect_timeout=_TRY_TIMEOUT
            )
        except psycopg.Error as exc:
            self._failed(replica, describe_failure(exc))
            return False
        try:
            with conn:
                replayed = fetch_value(conn, "replication_replayed", {})
        except DefiSqlError as exc:
            self._failed(replica, str(exc))
            return False
        if replayed is None:
            self._failed(replica, _NOT_REPLAYING)
            return False
        replica.replayed = Token.parse(replayed)
        replica.error, replica.failures, replica.retry_at = None, 0, 0.0
        return True

    def _failed(self, replica: _Replica, reason: str) -> None:
        replica.failures += 1
        longest = max(self._retry_after, _MAX_RETRY_AFTER)
        pause = min(self._retry_after * 2 ** min(replica.failures - 1, 16), longest)
        replica.error = reason
        replica.retry_at = monotonic() + pause * random.uniform(0.5, 1.0)


class Session:
    """One caller's reads and writes: its reads see its own writes.

    ``token`` is where the primary's WAL stood after the session's last write
    (None before any); one caller uses a session at a time.
    """

    token: Token | None

    def __init__(self, router: Router, token: Token | None = None) -> None:
        if token is not None and not isinstance(token, Token):
            raise InvalidInput(
                f"token must be a Token (Token.parse(text) reads one), not {type(token).__name__}."
            )
        self.token = token
        self._router = router
        #: a write whose position could not be read: read from the primary until the next
        self._primary_only = False

    @contextmanager
    def write(self) -> Iterator[Connection[Any]]:
        """A primary connection, for writes and read-modify-write work; when the block
        ends (even by an error: what it committed stays), ``token`` moves past it."""
        router = self._router
        conn = router._primary_connection()
        try:
            try:
                yield conn
            except BaseException:
                self._advance(conn, quietly=True)
                raise
            self._advance(conn, quietly=False)
        finally:
            router.primary.putconn(conn)

    @contextmanager
    def read(self) -> Iterator[Connection[Any]]:
        """A connection to a replica that has replayed ``token`` (any replica while it
        is None), else, after at most the router's ``max_wait``, to the primary; only
        queries declared ``replica: ok`` run on it."""
        lease = self._router._lease(self.token, primary=self._primary_only)
        try:
            with replica_reads(lease.conn):
                yield lease.conn
        finally:
            self._router._release(lease)

    def run_read(self, work: Work[T]) -> T:
        """``work(conn)`` on a connection as :meth:`read` lends it; run again on
        another replica, or the primary, when the replica's connection breaks."""
        avoid: list[_Replica] = []
        while True:
            lease = self._router._lease(self.token, primary=self._primary_only, avoid=avoid)
            try:
                with replica_reads(lease.conn):
                    return work(lease.conn)
            except (psycopg.Error, DatabaseUnavailable):
                if lease.replica is None or not lease.conn.broken:
                    raise
                avoid.append(lease.replica)
            finally:
                self._router._release(lease)

    def _advance(self, conn: Connection[Any], *, quietly: bool) -> None:
        """Move ``token`` to where the primary's WAL stands now, read on ``conn`` right
        after the caller's work (see query ``replication_position``). When it cannot be
        read (the connection broke: did the work commit?), reads go to the primary until
        a later write notes a position."""
        try:
            if conn.broken:
                raise ConnectionLost(
                    "the connection of the session's write broke, so whether its last work "
                    "committed is unknown; the session reads from the primary until its next "
                    "write."
                )
            position = Token.parse(fetch_value(conn, "replication_position", {}))
        except DefiSqlError:
            self._primary_only = True
            if quietly:
                return
            raise
        self.token = position if self.token is None else max(self.token, position)
        self._primary_only = False


def open_router(
    primary: str,
    replicas: Sequence[str] = (),
    *,
    max_wait: float = 0.1,
    min_size: int = 1,
    max_size: int = 10,
    timeout: float = 30.0,
    retry_after: float = 1.0,
) -> Router:
    """A router over an open pool of ``primary`` (as :func:`open_pool` opens it) and
    one pool per replica, opened without waiting: a replica down now is skipped."""
    if isinstance(replicas, str) or not all(isinstance(r, str) for r in replicas):
        raise InvalidInput(
            "replicas must be a list of connection strings (one per replica), not "
            f"{type(replicas).__name__}; pass [url] for one."
        )
    for name, value in (("max_wait", max_wait), ("retry_after", retry_after)):
        if isinstance(value, bool) or not isinstance(value, int | float) or not value >= 0:
            raise InvalidInput(f"{name} must be a number of seconds, at least 0, not {value!r}.")
    for conninfo in replicas:
        try:
            conninfo_to_dict(conninfo)
        except psycopg.ProgrammingError:
            raise ConfigError(
                f"the replica connection string {mask_conninfo(conninfo)} is not valid; write "
                "it as postgresql://user:password@host:5432/database."
            ) from None
    pool = open_pool(primary, min_size=min_size, max_size=max_size, timeout=timeout)
    pools: list[ConnectionPool[Connection[Any]]] = []
    for conninfo in replicas:
        # reconnect_timeout=0: the pool never waits on its own between connection
        # attempts; when a replica is retried is the router's to decide
        replica: ConnectionPool[Connection[Any]] = ConnectionPool(
            conninfo,
            min_size=min_size,
            max_size=max_size,
            timeout=timeout,
            kwargs={"autocommit": True, "connect_timeout": 10},
            reconnect_timeout=0,
            open=False,
        )
        replica.open(wait=False)
        pools.append(replica)
    return Router(pool, pools, max_wait=float(max_wait), retry_after=float(retry_after))
