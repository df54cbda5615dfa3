"""Least privilege: the defi_app and defi_worker roles of migrations 0014 and 0015.

The services log in as roles of their own that are members of ``defi_app`` or
``defi_worker``; so do these tests (a LOGIN role made for each test, dropped
after), never a superuser that has merely SET ROLE and could RESET it.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Protocol
from uuid import UUID, uuid4

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

import defi_sql.sync as defi
from defi_sql.check.catalog import fingerprint
from defi_sql.errors import ConcurrencyConflict, InvalidInput, NotAllowed, NotFound
from defi_sql.models import (
    IntentAction,
    IntentCondition,
    NewEvent,
    NewPosition,
    UserPreferences,
)

from .helpers import new_user


class Connect(Protocol):
    def __call__(self, group: str, *, set_role: bool = True) -> psycopg.Connection[Any]: ...


USER_TABLES = ("users", "positions", "alerts", "intents")
PRIVILEGES = ("SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES", "TRIGGER")
READ_WRITE = frozenset({"SELECT", "INSERT", "UPDATE", "DELETE"})
#: table -> what each role may do to it; everything else is refused
EXPECTED = {
    "defi_app": {
        **dict.fromkeys(USER_TABLES, READ_WRITE),
        "signals": frozenset({"SELECT"}),
        "event_store": frozenset({"SELECT", "INSERT"}),
        "event_store_archive": frozenset({"SELECT"}),
        "positions_latest": frozenset({"SELECT"}),  # kept by triggers, read only
        "positions_daily": frozenset({"SELECT"}),  # written by retention, read only
    },
    "defi_worker": {
        **dict.fromkeys((*USER_TABLES, "signals", "event_subscriptions"), READ_WRITE),
        "event_store": frozenset({"SELECT", "INSERT"}),
        "event_store_archive": frozenset({"SELECT"}),
        "positions_latest": frozenset({"SELECT"}),
        "positions_daily": frozenset({"SELECT"}),
    },
}
#: the tables whose rows defi_app sees only for the user it acts for
PER_USER_TABLES = (
    *USER_TABLES,
    "positions_latest",
    "positions_daily",
    "event_store",
    "event_store_archive",
)


@pytest.fixture
def login(db_url: str, db: psycopg.Connection[Any]) -> Iterator[Connect]:
    """``login("defi_app")``: an autocommit connection as a new LOGIN member of that role,
    set up as the README says: the member's sessions start as the group role."""
    made: list[tuple[str, psycopg.Connection[Any]]] = []

    def connect(group: str, *, set_role: bool = True) -> psycopg.Connection[Any]:
        name = f"test_{group}_{uuid4().hex[:8]}"
        db.execute(
            sql.SQL("CREATE ROLE {} LOGIN IN ROLE {}").format(
                sql.Identifier(name), sql.Identifier(group)
            )
        )
        if set_role:
            db.execute(
                sql.SQL("ALTER ROLE {} SET role = {}").format(
                    sql.Identifier(name), sql.Literal(group)
                )
            )
        params = conninfo_to_dict(db_url)
        params["user"] = name
        conn = psycopg.connect(make_conninfo("", **params), autocommit=True)
        made.append((name, conn))
        return conn

    yield connect
    for name, conn in made:
        conn.close()
        db.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(name)))


def position(user_id: UUID, n: int) -> NewPosition:
    return NewPosition(
        user_id=user_id,
        wallet_address=f"0x{n:040x}",
        protocol="aave-v3",
        chain_id=1,
        health_factor=Decimal("1.5"),
        collateral=[],
        debt=[],
        snapshot_at=datetime(2026, 1, 1, n % 24, tzinfo=UTC),
    )


def make_user(conn: psycopg.Connection[Any], n: int) -> UUID:
    """A user with a position, an alert and an intent, written by the owner."""
    user_id = new_user(conn, n)
    defi.positions.create(conn, position(user_id, n))
    defi.alerts.create(conn, user_id=user_id, type="health_factor", channel="email", message="hf")
    defi.intents.create(
        conn,
        user_id=user_id,
        condition=IntentCondition(operator="<", value=Decimal("1.2")),
        action=IntentAction(type="notify"),
    )
    return user_id


def rows(conn: psycopg.Connection[Any]) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of the four per-user tables, as the connection's role sees them."""
    return {
        table: conn.execute(
            sql.SQL("SELECT * FROM {} ORDER BY 1").format(sql.Identifier(table))
        ).fetchall()
        for table in USER_TABLES
    }


def table_privileges(conn: psycopg.Connection[Any], role: str) -> dict[str, frozenset[str]]:
    tables = [
        name
        for (name,) in conn.execute(
            "SELECT relname FROM pg_class WHERE relnamespace = 'public'::regnamespace"
            " AND relkind IN ('r', 'p') AND relname NOT LIKE '%yoyo%'"
            " AND relname NOT LIKE '_defi_sql%'"
        )
    ]
    granted = {}
    for table in tables:
        have = frozenset(
            p
            for p in PRIVILEGES
            if conn.execute("SELECT has_table_privilege(%s, %s, %s)", (role, table, p)).fetchone()
            == (True,)
        )
        if have:
            granted[table] = have
    return granted


@pytest.mark.parametrize("role", ["defi_app", "defi_worker"])
def test_each_role_has_exactly_its_privileges(db: psycopg.Connection[Any], role: str) -> None:
    assert table_privileges(db, role) == EXPECTED[role]
    attributes = db.execute(
        "SELECT rolcanlogin, rolsuper, rolcreaterole, rolcreatedb, rolbypassrls"
        " FROM pg_roles WHERE rolname = %s",
        (role,),
    ).fetchone()
    assert attributes == (False, False, False, False, role == "defi_worker")


@pytest.mark.parametrize("role", ["defi_app", "defi_worker"])
def test_no_role_reaches_a_partition_but_through_its_parent(
    db: psycopg.Connection[Any], role: str
) -> None:
    """Partitions (schema partitions) carry no grant: RLS and grants are positions'."""
    db.execute("SELECT * FROM positions_make_partitions('1 month', now() + interval '60 days')")
    partitions = [
        name
        for (name,) in db.execute(
            "SELECT oid::regclass::text FROM pg_class"
            " WHERE relnamespace = 'partitions'::regnamespace AND relkind = 'r'"
        )
    ]
    assert "partitions.positions_legacy" in partitions and len(partitions) >= 3
    reached = [
        (table, p)
        for table in partitions
        for p in PRIVILEGES
        if db.execute("SELECT has_table_privilege(%s, %s, %s)", (role, table, p)).fetchone()
        == (True,)
    ]
    assert reached == []
    assert db.execute(
        "SELECT has_schema_privilege(%s, 'partitions', 'USAGE')", (role,)
    ).fetchone() == (False,)


def test_row_level_security_is_on_exactly_the_per_user_tables_and_the_event_store(
    db: psycopg.Connection[Any],
) -> None:
    secured = db.execute(
        "SELECT relname, relforcerowsecurity FROM pg_class"
        " WHERE relnamespace = 'public'::regnamespace AND relrowsecurity ORDER BY relname"
    ).fetchall()
    assert secured == [(table, False) for table in sorted(PER_USER_TABLES)]


def test_user_a_cannot_read_change_or_delete_user_b(
    db: psycopg.Connection[Any], login: Connect
) -> None:
    a, b = make_user(db, 1), make_user(db, 2)
    everything = rows(db)
    b_alert = db.execute("SELECT id FROM alerts WHERE user_id = %s", (b,)).fetchone()
    b_intent = db.execute("SELECT id FROM intents WHERE user_id = %s", (b,)).fetchone()
    assert b_alert is not None and b_intent is not None
    app = login("defi_app")

    with defi.acting_as(app, a):
        seen = rows(app)
        assert seen == {
            table: [r for r in everything[table] if a in r[:2]] for table in USER_TABLES
        }
        assert all(len(seen[table]) == 1 for table in USER_TABLES)
        assert defi.users.get(app, a).id == a
        assert defi.users.find_by_wallet(app, f"0x{2:040x}") is None
        assert defi.positions.list_for_user(app, b) == []
        assert defi.positions.latest(app, b) is None
        assert defi.positions.latest_per_protocol(app, b) == []
        # the every-tick reads, asked by the app: its own user's rows only
        assert [p.user_id for p in defi.positions.latest_per_user(app)] == [a]
        latest = app.execute("SELECT user_id FROM positions_latest").fetchall()
        assert latest == [(a,)]
        assert defi.alerts.pending_for_user(app, b) == []
        assert defi.intents.active_for_user(app, b) == []
        for read in (
            lambda: defi.users.get(app, b),
            lambda: defi.alerts.get(app, b_alert[0]),
            lambda: defi.intents.get(app, b_intent[0]),
        ):
            with pytest.raises(NotFound):
                read()
        # change or delete B's rows: nothing to find
        for write in (
            lambda: defi.users.update_preferences(
                app, b, UserPreferences(risk_profile="aggressive")
            ),
            lambda: defi.users.set_telegram_chat(app, b, "12345"),
            lambda: defi.users.delete(app, b),
            lambda: defi.intents.cancel(app, b_intent[0]),
            lambda: defi.alerts.acknowledge(app, b_alert[0]),
        ):
            with pytest.raises(NotFound):
                write()
        for table in USER_TABLES:
            column = "id" if table == "users" else "user_id"
            query = sql.SQL("DELETE FROM {} WHERE {} = %s").format(
                sql.Identifier(table), sql.Identifier(column)
            )
            assert app.execute(query, (b,)).rowcount == 0
            query = sql.SQL("UPDATE {} SET {} = {} WHERE {} = %s").format(
                sql.Identifier(table),
                sql.Identifier(column),
                sql.Identifier(column),
                sql.Identifier(column),
            )
            assert app.execute(query, (b,)).rowcount == 0
        # nor write rows for B, nor move A's rows to B
        for write in (
            lambda: defi.positions.create(app, position(b, 3)),
            lambda: defi.alerts.create(
                app, user_id=b, type="health_factor", channel="email", message="spoof"
            ),
            lambda: defi.intents.create(
                app,
                user_id=b,
                condition=IntentCondition(operator="<", value=Decimal("1")),
                action=IntentAction(type="notify"),
            ),
        ):
            with pytest.raises(NotAllowed) as caught:
                write()
            assert "row-level security" in str(caught.value)
        with pytest.raises(psycopg.errors.InsufficientPrivilege), app.transaction():
            app.execute("UPDATE positions SET user_id = %s WHERE user_id = %s", (b, a))
    assert rows(db) == everything


def test_without_a_user_the_app_sees_and_writes_nothing(
    db: psycopg.Connection[Any], login: Connect
) -> None:
    a = make_user(db, 1)
    everything = rows(db)
    app = login("defi_app")
    assert rows(app) == {table: [] for table in USER_TABLES}
    with pytest.raises(NotFound):
        defi.users.get(app, a)
    with pytest.raises(NotAllowed):
        defi.positions.create(app, position(a, 4))
    with defi.acting_as(app, a):
        assert len(rows(app)["positions"]) == 1
    # the setting ended with the transaction: the connection, back in a pool, is anonymous
    assert rows(app) == {table: [] for table in USER_TABLES}
    assert app.execute("SELECT acting_user_id()").fetchone() == (None,)
    assert rows(db) == everything


def test_acting_as_its_own_user_the_app_does_its_work(
    db: psycopg.Connection[Any], login: Connect
) -> None:
    a = make_user(db, 1)
    app = login("defi_app")
    with defi.acting_as(app, a):
        defi.positions.create(app, position(a, 5))
        defi.users.update_preferences(app, a, UserPreferences(risk_profile="conservative"))
        intent = defi.intents.active_for_user(app, a)[0]
        defi.intents.cancel(app, intent.id)
        stream = uuid4()
        [event] = defi.events.append(
            app,
            stream_type="user",
            stream_id=stream,
            expected_version=0,
            events=[NewEvent(event_type="preferences_changed", payload={"user": str(a)})],
        )
        assert defi.events.read_stream(app, stream) == [event]
    assert len(defi.positions.list_for_user(db, a)) == 2
    assert defi.intents.get(db, intent.id).status == "cancelled"
    assert defi.users.get(db, a).preferences.risk_profile == "conservative"


def test_acting_as_refuses_a_user_id_that_is_not_a_uuid(
    db: psycopg.Connection[Any], login: Connect
) -> None:
    app = login("defi_app")
    for bad in ("1 OR true", "", None, 7):
        with (
            pytest.raises(InvalidInput, match=r"^user_id must be a UUID"),
            defi.acting_as(app, bad),  # type: ignore[arg-type]
        ):
            pass
    assert app.info.transaction_status == psycopg.pq.TransactionStatus.IDLE


def test_nested_acting_as_restores_the_outer_user(
    db: psycopg.Connection[Any], login: Connect
) -> None:
    a, b = make_user(db, 1), make_user(db, 2)
    app = login("defi_app")

    def users_seen() -> list[UUID]:
        return [row[0] for row in app.execute("SELECT id FROM users")]

    with defi.acting_as(app, a):
        assert users_seen() == [a]
        with defi.acting_as(app, b):
            assert users_seen() == [b]
        assert users_seen() == [a]
        with pytest.raises(RuntimeError), defi.acting_as(app, b):
            raise RuntimeError("the inner block failed")
        assert users_seen() == [a]  # a rolled-back savepoint restores the setting too
    assert users_seen() == []


def test_acting_as_inside_run_transaction(db: psycopg.Connection[Any], db_url: str) -> None:
    """The two compose: run_transaction's work acts for the user, and a retry would too."""
    a = make_user(db, 1)
    name = f"test_defi_app_{uuid4().hex[:8]}"
    db.execute(sql.SQL("CREATE ROLE {} LOGIN IN ROLE defi_app").format(sql.Identifier(name)))
    params = conninfo_to_dict(db_url)
    params["user"] = name
    try:
        with defi.open_pool(make_conninfo("", **params), max_size=2) as pool:

            def work(conn: psycopg.Connection[Any]) -> int:
                with defi.acting_as(conn, a):
                    return len(defi.positions.list_for_user(conn, a))

            assert defi.run_transaction(pool, work) == 1
    finally:
        db.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(name)))


ATTEMPTS = [
    "DROP TABLE users",
    "ALTER TABLE users ADD COLUMN evil text",
    "ALTER TABLE users DISABLE ROW LEVEL SECURITY",
    "ALTER TABLE positions NO FORCE ROW LEVEL SECURITY",
    "DROP POLICY users_acting_user ON users",
    "CREATE POLICY evil ON users TO defi_app USING (true)",
    "TRUNCATE positions",
    "TRUNCATE event_store",
    "CREATE TABLE evil (id int)",
    "CREATE INDEX evil ON users (telegram_chat_id)",
    "CREATE FUNCTION evil() RETURNS int LANGUAGE sql AS 'SELECT 1'",
    "DROP FUNCTION acting_user_id()",
    "CREATE OR REPLACE FUNCTION acting_user_id() RETURNS uuid LANGUAGE sql AS 'SELECT NULL::uuid'",
    "ALTER FUNCTION set_updated_at() OWNER TO CURRENT_USER",
    "DROP TRIGGER users_set_updated_at ON users",
    "UPDATE event_store SET payload = '{}'",
    "DELETE FROM event_store",
    "SELECT archive_events(now())",
    "DELETE FROM yoyo_migration",
    "SET ROLE postgres",
]


@pytest.mark.parametrize("role", ["defi_app", "defi_worker"])
def test_neither_role_can_change_the_schema(
    db: psycopg.Connection[Any], login: Connect, role: str
) -> None:
    make_user(db, 1)
    before = fingerprint(db)
    conn = login(role)
    refused = []
    for statement in ATTEMPTS:
        try:
            with conn.transaction():
                conn.execute(statement)  # type: ignore[arg-type]
        except psycopg.errors.InsufficientPrivilege:
            refused.append(statement)
        except psycopg.errors.UndefinedTable:
            refused.append(statement)  # yoyo's table: not even visible to the role
    assert [s for s in ATTEMPTS if s not in refused] == []
    # granting what one was only granted does nothing (a warning, no error)
    conn.execute("GRANT SELECT ON users, positions TO PUBLIC")
    assert fingerprint(db) == before


def test_the_worker_sees_every_row_and_ingests(db: psycopg.Connection[Any], login: Connect) -> None:
    a, b = make_user(db, 1), make_user(db, 2)
    worker = login("defi_worker")
    assert rows(worker) == rows(db)
    assert defi.users.find_by_wallet(worker, f"0x{2:040x}") is not None
    c = defi.users.create(worker, wallet_address=f"0x{3:040x}").id
    assert defi.positions.ingest(worker, [position(user, 6) for user in (a, b, c)]) == 3
    claimed = defi.alerts.claim(worker, limit=10)
    assert {alert.user_id for alert in claimed} == {a, b}
    assert len(defi.alerts.mark_sent_many(worker, claimed)) == 2
    assert len(rows(db)["positions"]) == 5


def test_the_app_cannot_bulk_ingest(db: psycopg.Connection[Any], login: Connect) -> None:
    a = make_user(db, 1)
    everything = rows(db)
    app = login("defi_app")
    with defi.acting_as(app, a), pytest.raises(NotAllowed) as caught:
        defi.positions.ingest(app, [position(a, 7)])
    assert "worker" in str(caught.value)
    assert rows(db) == everything


def test_a_worker_login_that_does_not_become_defi_worker_sees_nothing(
    db: psycopg.Connection[Any], login: Connect
) -> None:
    """BYPASSRLS is an attribute of defi_worker, not inherited by its members: a login
    without ``SET role = 'defi_worker'`` fails closed, with a message that says so."""
    a = make_user(db, 1)
    everything = rows(db)
    member = login("defi_worker", set_role=False)
    assert rows(member) == {table: [] for table in USER_TABLES}
    with pytest.raises(NotAllowed) as caught:
        defi.positions.ingest(member, [position(a, 8)])
    assert str(caught.value) == (
        "COPY FROM not supported with row-level security: ingest (COPY) is refused under "
        "row-level security; run it in a session whose role is defi_worker "
        "(ALTER ROLE your_login SET role = 'defi_worker')."
    )
    assert rows(db) == everything


# -- the event store is per user too (migration 0031) ------------------------------


def note(n: int) -> NewEvent:
    return NewEvent(event_type="noted", payload={"n": n})


def test_user_a_cannot_read_or_append_to_user_b_s_streams(
    db: psycopg.Connection[Any], login: Connect
) -> None:
    a, b = make_user(db, 1), make_user(db, 2)
    app = login("defi_app")
    with defi.acting_as(app, b):
        b_stream = uuid4()
        b_events = defi.events.append(
            app, stream_type="wallet", stream_id=b_stream, expected_version=0, events=[note(1)]
        )
    with defi.acting_as(app, a):
        a_stream = uuid4()
        [a_event] = defi.events.append(
            app, stream_type="wallet", stream_id=a_stream, expected_version=0, events=[note(2)]
        )
    with defi.acting_as(app, a):  # the global read: A's committed events, B's are not there
        assert defi.events.read_all_after(app) == [a_event]
        assert defi.events.read_stream(app, b_stream) == []
        assert defi.events.version(app, b_stream) == 0
        # to A the stream is empty: appending its first event is refused by the owner check
        with pytest.raises(NotAllowed, match=r"stream .* belongs to another owner"):
            defi.events.append(
                app, stream_type="wallet", stream_id=b_stream, expected_version=0, events=[note(3)]
            )
        # and claiming B's version gets what A can see: an empty stream
        with pytest.raises(ConcurrencyConflict, match=r"is at version 0, not 1"):
            defi.events.append(
                app, stream_type="wallet", stream_id=b_stream, expected_version=1, events=[note(3)]
            )
        with pytest.raises(NotAllowed):  # nor can A make an event B's
            defi.events.append(
                app,
                stream_type="wallet",
                stream_id=uuid4(),
                expected_version=0,
                events=[note(4)],
                owner_id=b,
            )
    assert defi.events.read_stream(db, b_stream) == b_events
    assert [e.owner_id for e in defi.events.read_all_after(db)] == [b, a]


def test_without_a_user_the_app_sees_no_event_and_appends_none(
    db: psycopg.Connection[Any], login: Connect
) -> None:
    a = make_user(db, 1)
    defi.events.append(
        db,
        stream_type="wallet",
        stream_id=uuid4(),
        expected_version=0,
        events=[note(1)],
        owner_id=a,
    )
    app = login("defi_app")
    assert defi.events.read_all_after(app) == []
    with pytest.raises(NotAllowed):
        defi.events.append(
            app, stream_type="wallet", stream_id=uuid4(), expected_version=0, events=[note(2)]
        )
    with pytest.raises(NotAllowed):
        defi.subscriptions.subscribe(app, "projection")


def test_the_worker_sees_every_stream_and_appends_to_a_user_s_stream_as_the_user_s(
    db: psycopg.Connection[Any], login: Connect
) -> None:
    a = make_user(db, 1)
    app = login("defi_app")
    stream = uuid4()
    with defi.acting_as(app, a):
        defi.events.append(
            app, stream_type="wallet", stream_id=stream, expected_version=0, events=[note(1)]
        )
    worker = login("defi_worker")
    [system] = defi.events.append(
        worker, stream_type="system", stream_id=uuid4(), expected_version=0, events=[note(2)]
    )
    [later] = defi.events.append(
        worker, stream_type="wallet", stream_id=stream, expected_version=1, events=[note(3)]
    )
    assert (system.owner_id, later.owner_id) == (None, a)  # the stream stays the user's
    assert len(defi.events.read_all_after(worker)) == 3
    defi.subscriptions.subscribe(worker, "projection")
    assert defi.subscriptions.poll(worker, "projection", lambda conn, events: None) == 3
    with defi.acting_as(app, a):
        assert [e.version for e in defi.events.read_stream(app, stream)] == [1, 2]
