"""``replica: ok`` proven: a query a streaming replica may serve writes nothing.

A query whose doc says ``replica: ok`` may be sent to a hot standby by the
read router, which refuses every write (``cannot execute INSERT in a read-only
transaction``) and shares no locks with the primary. Such a query must not:

* write: a data-modifying statement, or one in a ``WITH`` clause;
* lock rows: ``SELECT ... FOR UPDATE/NO KEY UPDATE/SHARE/KEY SHARE``, in the
  statement or in any subquery;
* call a built-in function that writes or needs the primary: ``nextval`` and
  ``setval``, the advisory locks, ``pg_notify``, ``txid_current`` (which assigns
  a transaction id), or any other VOLATILE function of pg_catalog that is not
  known harmless (:data:`HARMLESS`: ``random()``, ``clock_timestamp()``,
  ``gen_random_uuid()``, ``set_config()``, the replica's own status functions);
* call a function of ours that may write: a VOLATILE one (PostgreSQL lets
  it write); or a STABLE or IMMUTABLE one that calls such a function, however
  deep. PostgreSQL refuses a write in a non-volatile function's own statements
  (``INSERT is not allowed in a non-volatile function``), but not in the
  volatile functions it calls: ``CREATE FUNCTION f() ... STABLE AS 'SELECT
  writer()'`` writes.

How it is proven, and why not by running it. EXPLAIN does not apply the
read-only rule (the executor skips it for EXPLAIN, so ``EXPLAIN INSERT`` runs in
a ``READ ONLY`` transaction), and executing the query in one only catches the
writes its execution reaches on check's scratch database, which holds no rows:
a function that writes for each row it is given, or ``nextval`` in the select
list, is never called. So each query is read, not run:

* the generic plan (the one ``check`` reads already) shows every write
  (``ModifyTable``) and every row lock (``LockRows``), of the statement, its
  ``WITH`` clauses and its subqueries, views expanded;
* the built-in functions it calls are read from the same plan, by name: a
  built-in cannot hide behind an operator or a cast that writes;
* our functions it calls are asked of the server: the query becomes the body
  of a temporary ``BEGIN ATOMIC`` function (rolled back at once), whose
  pg_depend rows name every function, operator, view and domain it refers to,
  overloads resolved; each is followed to what it runs in turn (a function's
  ``BEGIN ATOMIC`` body, an operator's function, a view's rules, a table's
  row-level security policies, a domain's CHECK constraints). A body kept as
  text (PL/pgSQL, or SQL in quotes) is read for the names it calls, every
  overload counting, and ``EXECUTE`` (SQL built at run time) in one is
  reported: check cannot follow it.

Each problem is an error naming the query, what writes and how to fix it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import psycopg

from defi_sql._aiosql import internal_queries
from defi_sql.check.describe import to_numbered
from defi_sql.check.plan import Plan
from defi_sql.check.report import Report, location
from defi_sql.statements import Statement
from defi_sql.translate import message_of

__all__ = ["HARMLESS", "Functions", "check_replica"]


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


#: VOLATILE built-ins that write nothing and run on a standby: a query for a
#: replica may call them (any other VOLATILE built-in is reported)
HARMLESS = _words(
    "random random_normal setseed array_sample array_shuffle clock_timestamp timeofday "
    "gen_random_uuid uuidv4 uuidv7 set_config currval lastval pg_sleep pg_sleep_for "
    "pg_sleep_until pg_is_in_recovery pg_last_wal_receive_lsn pg_last_wal_replay_lsn "
    "pg_last_xact_replay_timestamp pg_is_wal_replay_paused pg_get_wal_replay_pause_state "
    "pg_relation_size pg_table_size pg_indexes_size pg_total_relation_size "
    "pg_database_size pg_partition_tree pg_partition_ancestors"
)
#: built-ins that are not VOLATILE but cannot run on a standby
_NEEDS_PRIMARY = frozenset({"txid_current", "pg_current_xact_id"})
_WHY = {
    "nextval": "advances a sequence, a write",
    "setval": "sets a sequence, a write",
    "pg_notify": "sends a notification, which a standby refuses",
    "txid_current": "assigns a transaction id, which a standby cannot",
    "pg_current_xact_id": "assigns a transaction id, which a standby cannot",
}
_ADVISORY = "takes an advisory lock, which on a standby excludes none of the primary's sessions"
#: a string literal or a comment, whichever starts first
_NOT_CODE = re.compile(r"'(?:[^']|'')*'|--[^\n]*|/\*.*?\*/", re.DOTALL)
#: a call by name: ``f(``, ``public.f (``, ``"F"(``
_CALLED = re.compile(r'(?<![\w$."])(?:(\w+|"[^"]+")\.)?(\w+|"[^"]+")\s*\(')
_EXECUTE = re.compile(r"\bEXECUTE\b", re.IGNORECASE)


@dataclass(frozen=True)
class _Function:
    oid: int
    signature: str
    name: str
    volatility: str
    language: str
    body: str | None


def _names_called(text: str, *, builtin: bool = False) -> set[str]:
    """The names ``text`` calls as functions, string literals and comments aside;
    with ``builtin``, only those unqualified or qualified by pg_catalog."""
    text = _NOT_CODE.sub(" ", text)
    return {
        name[1:-1] if name.startswith('"') else name.lower()
        for schema, name in _CALLED.findall(text)
        if not builtin or schema in ("", "pg_catalog")
    }


def _plan_strings(node: Any) -> Iterator[str]:
    if isinstance(node, str):
        yield node
    elif isinstance(node, list):
        for item in node:
            yield from _plan_strings(item)
    elif isinstance(node, dict):
        for key, value in node.items():
            if key not in ("Node Type", "Subplan Name", "Parent Relationship"):
                yield from _plan_strings(value)


def _nodes(node: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield node
    for child in node.get("Plans", []):
        yield from _nodes(child)


class Functions:
    """The look-ups of one check run, cached: functions by oid and by name, what
    an object refers to, the unsafe built-ins."""

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self.conn = conn
        self.q = internal_queries()
        self._functions: dict[int, _Function | None] = {}
        self._named: dict[str, list[int]] = {}
        self._unsafe: frozenset[str] | None = None

    def unsafe_builtins(self) -> frozenset[str]:
        if self._unsafe is None:
            with self.conn.transaction():
                names = {row[0] for row in self.q.replica_volatile_builtins(self.conn)}
            self._unsafe = frozenset(names - HARMLESS) | _NEEDS_PRIMARY
        return self._unsafe

    def function(self, oid: int) -> _Function | None:
        if oid not in self._functions:
            row = self.q.replica_function(self.conn, function_id=oid)
            self._functions[oid] = None if row is None else _Function(oid, *row)
        return self._functions[oid]

    def named(self, name: str) -> list[int]:
        if name not in self._named:
            self._named[name] = [
                row[0] for row in self.q.replica_functions_named(self.conn, name=name)
            ]
        return self._named[name]

    def references(self, kind: str, oid: int) -> list[tuple[str, int]]:
        return [
            (row[0], row[1])
            for row in self.q.replica_references(self.conn, class_name=kind, object_id=oid)
        ]


#: (what writes, how to fix it)
Finding = tuple[str, str]
_DROP = "or drop `replica: ok`"


def _builtin_reason(name: str) -> str:
    if name in _WHY:
        return _WHY[name]
    if "advisory" in name:
        return _ADVISORY
    return "a VOLATILE built-in function not known to be harmless on a standby"


def _writes_in_plan(plan: Plan, unsafe: frozenset[str]) -> list[Finding]:
    """What the plan shows: its writes, its row locks and the unsafe built-ins it calls."""
    found: list[Finding] = []
    for node in _nodes(plan.root):
        kind = node["Node Type"]
        if kind == "ModifyTable":
            operation = str(node.get("Operation", "a write")).upper()
            found.append(
                (
                    f"it writes: {operation} on {node.get('Relation Name', 'a table')} (a "
                    "data-modifying statement or WITH clause)",
                    f"move the write to a query of its own, {_DROP}",
                )
            )
        elif kind == "LockRows":
            found.append(
                (
                    "it locks rows (SELECT ... FOR UPDATE or FOR SHARE)",
                    f"drop the locking clause, {_DROP}",
                )
            )
    called: set[str] = set()
    for text in _plan_strings(plan.root):
        called |= _names_called(text, builtin=True) & unsafe
    for name in sorted(called):
        found.append(
            (f"it calls {name}(), which {_builtin_reason(name)}", f"drop the call, {_DROP}")
        )
    return list(dict.fromkeys(found))


def _probe(
    functions: Functions, stmt: Statement, parameters: tuple[int, ...]
) -> list[Finding] | str:
    """The functions of ours the query may run that may write, or why the server
    could not make the probe."""
    conn = functions.conn
    numbered, _names = to_numbered(stmt.sql)
    body = numbered.strip().rstrip(";")
    try:
        with conn.transaction(force_rollback=True):
            functions.q.replica_probe_maker(conn)
            probe = functions.q.replica_probe(conn, parameter_types=list(parameters), body=body)
            return _walk(functions, probe)
    except psycopg.Error as exc:
        return message_of(exc)


def _walk(functions: Functions, probe: int) -> list[Finding]:
    found: list[Finding] = []
    unsafe = functions.unsafe_builtins()
    seen: set[tuple[str, int]] = set()
    # (catalog, oid, the functions that lead to it), breadth first: the shortest chain
    todo: list[tuple[str, int, tuple[str, ...]]] = [("pg_proc", probe, ())]
    while todo:
        kind, oid, chain = todo.pop(0)
        if (kind, oid) in seen:
            continue
        seen.add((kind, oid))
        function = functions.function(oid) if kind == "pg_proc" and oid != probe else None
        if function is not None:
            chain = (*chain, function.signature)
            shown = " -> ".join(chain)
            if function.volatility == "v":
                found.append(
                    (
                        f"it calls {shown}, a VOLATILE function, which PostgreSQL lets write",
                        "declare the function STABLE if it only reads (PostgreSQL then refuses a "
                        f"write in its own statements), {_DROP}",
                    )
                )
                continue  # what it calls in turn adds nothing to that
            body = function.body or ""
            if function.language == "plpgsql" and _EXECUTE.search(_NOT_CODE.sub(" ", body)):
                found.append(
                    (
                        f"it calls {shown}, which runs SQL built at run time (EXECUTE), which "
                        "check cannot follow",
                        f"write the statement out in the function, {_DROP}",
                    )
                )
            for name in sorted(_names_called(body)):
                if name in unsafe:
                    found.append(
                        (
                            f"it calls {shown}, which calls {name}(), which "
                            + _builtin_reason(name),
                            f"drop the call from the function, {_DROP}",
                        )
                    )
                todo += [("pg_proc", called, chain) for called in functions.named(name)]
        todo += [(k, o, chain) for k, o in functions.references(kind, oid)]
    return found


def check_replica(
    report: Report,
    functions: Functions,
    stmt: Statement,
    plan: Plan | None,
    parameters: tuple[int, ...] = (),
) -> None:
    """Report each way a ``replica: ok`` query may write (nothing for another query);
    ``plan`` is None for a script, which is run, not planned."""
    if not stmt.replica:
        return
    if plan is None:
        report.error(
            location(stmt),
            "replica",
            f"{stmt.name}: declares `replica: ok` but check cannot read its plan (a script "
            "is run, not planned), so cannot prove it writes nothing; make it one statement "
            "the server plans, or drop `replica: ok`.",
        )
        return
    found = _writes_in_plan(plan, functions.unsafe_builtins())
    probed = _probe(functions, stmt, parameters)
    if isinstance(probed, str):
        found.append(
            (
                f"check cannot list the functions it calls ({probed})",
                f"make it one SELECT the server can take as a function body, {_DROP}",
            )
        )
    else:
        found += [f for f in probed if f not in found]
    for what, fix in found:
        report.error(
            location(stmt), "replica", f"{stmt.name}: declares `replica: ok` but {what}; {fix}."
        )
