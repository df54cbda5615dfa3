"""`defi-sql check`'s rules for issue 12: a `replica: ok` query is proven to write
nothing, and every query on the per-user tables is judged single- or multi-shard.

The fixtures (tests/fixtures/check/scale_out) are built to fool the naive checks:
text with DML in it that writes nothing, VOLATILE built-ins that write nothing,
and writes hidden behind a function, a STABLE wrapper, an operator, a view or a
function body that runs only for the rows it is given (so running the query in a
READ ONLY transaction on check's empty scratch database passes); conditions that
look like `user_id = $1` and are not. Each verdict is asserted whole, on
PostgreSQL 16 and 18, and each write check reports is shown to happen."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import psycopg
import pytest

from defi_sql.check import run_check
from defi_sql.check.replica import _names_called
from defi_sql.check.shards import DISTRIBUTION
from defi_sql.migrate import Migrator
from defi_sql.statements import Statement, load_statements

from .conftest import FIXTURES, REPO, Server, cli

TREE = FIXTURES / "check" / "scale_out"
MODELS = "tests.fixtures.check.scale_out.models"
R = "tests/fixtures/check/scale_out/queries/replica.sql"
S = "tests/fixtures/check/scale_out/queries/shards.sql"
DROP = "or drop `replica: ok`."
STABLE = (
    "declare the function STABLE if it only reads (PostgreSQL then refuses a write in its "
    f"own statements), {DROP}"
)


def _replica(line: int, query: str, what: str, fix: str) -> str:
    return f"{R}:{line}: error: [replica] {query}: declares `replica: ok` but {what}; {fix}"


def _volatile(line: int, query: str, chain: str) -> str:
    what = f"it calls {chain}, a VOLATILE function, which PostgreSQL lets write"
    return _replica(line, query, what, STABLE)


def _multi(line: int, query: str, columns: str) -> str:
    return (
        f"{S}:{line}: warning: [shards] {query}: no equality on a parameter pins {columns}, so "
        "once the per-user tables are distributed by user (docs/scale-out.md) it runs on every "
        "shard; filter on one user (user_id = :user_id), or declare `-- shards: multi, <why>` "
        "if it must reach many users."
    )


REPORT = [
    _replica(
        29,
        "alerts_logged_cte",
        "it writes: INSERT on reads (a data-modifying statement or WITH clause)",
        f"move the write to a query of its own, {DROP}",
    ),
    _replica(
        41,
        "alert_locked",
        "it locks rows (SELECT ... FOR UPDATE or FOR SHARE)",
        f"drop the locking clause, {DROP}",
    ),
    _replica(
        47,
        "alerts_locked_below",
        "it locks rows (SELECT ... FOR UPDATE or FOR SHARE)",
        f"drop the locking clause, {DROP}",
    ),
    _replica(
        56,
        "next_ticket",
        "it calls nextval(), which advances a sequence, a write",
        f"drop the call, {DROP}",
    ),
    _volatile(63, "alerts_logged", "log_read(uuid)"),
    _volatile(70, "alerts_masked", "masked(uuid) -> log_read(uuid)"),
    _volatile(76, "alerts_masked_atomic", "masked_atomic(uuid) -> log_read(uuid)"),
    _replica(
        82,
        "ticketed",
        "it calls ticket(), which calls nextval(), which advances a sequence, a write",
        f"drop the call from the function, {DROP}",
    ),
    _replica(
        88,
        "alerts_dynamic",
        "it calls dynamic_read(uuid), which runs SQL built at run time (EXECUTE), which "
        "check cannot follow",
        f"write the statement out in the function, {DROP}",
    ),
    _volatile(94, "alerts_matching", "same_logged(uuid,uuid)"),
    _volatile(100, "alerts_seen_by", "log_read(uuid)"),
    _replica(
        109,
        "alerts_unsettled",
        "it calls pg_try_advisory_lock(), which takes an advisory lock, which on a standby "
        "excludes none of the primary's sessions",
        f"drop the call, {DROP}",
    ),
    _replica(
        115,
        "alerts_touched",
        "check cannot read its plan (a script is run, not planned), so cannot prove it "
        "writes nothing",
        f"make it one statement the server plans, {DROP}",
    ),
    f"{S}:48: warning: [shards] alerts_of_user_declared: declares `shards: multi` but an "
    "equality on a parameter pins every per-user table it touches (alerts), so it runs on "
    "one shard; drop the declaration.",
    _multi(54, "alerts_self_equal", "alerts.user_id"),
    _multi(59, "alerts_or_true", "alerts.user_id"),
    _multi(64, "alerts_of_either", "alerts.user_id"),
    _multi(69, "alerts_in_list", "alerts.user_id"),
    _multi(74, "alerts_and_wallet_positions", "positions.user_id"),
    _multi(82, "alerts_of_wallet", "alerts.user_id or users.id"),
    _multi(89, "alerts_cast_column", "alerts.user_id"),
    _multi(94, "alerts_or_any", "alerts.user_id"),
    _multi(99, "alerts_copied", "alerts.user_id or users.id"),
    _multi(119, "alerts_forwarded", "alerts.user_id"),
]
SHARDS = [
    *(
        f"{R}:{line}: single-shard: {query} (alerts)"
        for line, query in [
            (5, "alert_named"),
            (15, "alerts_sampled"),
            (29, "alerts_logged_cte"),
            (41, "alert_locked"),
            (47, "alerts_locked_below"),
            (63, "alerts_logged"),
            (70, "alerts_masked"),
            (76, "alerts_masked_atomic"),
            (88, "alerts_dynamic"),
            (94, "alerts_matching"),
            (100, "alerts_seen_by"),
        ]
    ),
    f"{S}:5: single-shard: alerts_of_user (alerts)",
    f"{S}:9: single-shard: alerts_of_user_cast (alerts)",
    f"{S}:14: single-shard: alerts_of_user_joined (alerts, users)",
    f"{S}:22: single-shard: positions_of_user_in (positions, users)",
    f"{S}:29: single-shard: alerts_with_signals (alerts)",
    f"{S}:37: single-shard: alert_create (alerts)",
    f"{S}:43: single-shard: user_create (users)",
    f"{S}:48: single-shard: alerts_of_user_declared (alerts); declared: a mistake",
    f"{S}:54: multi-shard: alerts_self_equal (alerts); unpinned: alerts.user_id",
    f"{S}:59: multi-shard: alerts_or_true (alerts); unpinned: alerts.user_id",
    f"{S}:64: multi-shard: alerts_of_either (alerts); unpinned: alerts.user_id",
    f"{S}:69: multi-shard: alerts_in_list (alerts); unpinned: alerts.user_id",
    f"{S}:74: multi-shard: alerts_and_wallet_positions (alerts, positions); unpinned: "
    "positions.user_id",
    f"{S}:82: multi-shard: alerts_of_wallet (alerts, users); unpinned: alerts.user_id, users.id",
    f"{S}:89: multi-shard: alerts_cast_column (alerts); unpinned: alerts.user_id",
    f"{S}:94: multi-shard: alerts_or_any (alerts); unpinned: alerts.user_id",
    f"{S}:99: multi-shard: alerts_copied (alerts, users); unpinned: alerts.user_id, users.id",
    f"{S}:103: multi-shard: alerts_to_everyone (alerts, users); unpinned: alerts.user_id, "
    "users.id; declared: a broadcast to every user",
    f"{S}:108: multi-shard: forget_everything (no per-user table in its plan); declared: "
    "clears every user's alerts",
    f"{S}:119: multi-shard: alerts_forwarded (alerts); unpinned: alerts.user_id",
]


@pytest.fixture(autouse=True)
def _at_repo(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)  # reports name files relative to the working directory


def test_every_replica_and_shard_case_is_reported_exactly(server: Server) -> None:
    report = run_check(server.admin, sql_dir=TREE, models=MODELS)
    assert [str(p) for p in report.problems] == REPORT
    assert [str(v) for v in report.shards] == SHARDS


def test_cli_prints_the_shard_section_after_the_problems(server: Server) -> None:
    done = cli(
        "check", "--server", server.admin, "--sql-dir", str(TREE), "--models", MODELS, "--shards"
    )
    assert done.returncode == 1
    assert done.stdout.splitlines() == REPORT + SHARDS
    assert done.stderr == "check: 13 error(s), 11 warning(s) in 1 migrations and 36 queries\n"


def _migrated(url: str) -> dict[str, Statement]:
    with Migrator(url, directory=TREE / "migrations") as migrator:
        migrator.migrate()
    return load_statements(TREE / "queries")


def _read_only(conn: psycopg.Connection[Any], stmt: Statement, **params: Any) -> list[Any]:
    """``stmt`` in a READ ONLY transaction, as a standby runs every statement."""
    with conn.transaction(force_rollback=True):
        conn.execute("SET TRANSACTION READ ONLY")
        return conn.execute(stmt.sql, params).fetchall()


USER = UUID("00000000-0000-4000-8000-000000000001")
ALERT = UUID("00000000-0000-4000-8000-0000000000a1")
#: each query check refuses as a write, with its parameters
WRITERS = {
    "alerts_logged_cte": {"user_id": USER},
    "alert_locked": {"user_id": USER},
    "alerts_locked_below": {"user_id": USER},
    "next_ticket": {},
    "alerts_logged": {"user_id": USER},
    "alerts_masked": {"user_id": USER},
    "alerts_masked_atomic": {"user_id": USER},
    "ticketed": {},
    "alerts_dynamic": {"user_id": USER},
    "alerts_matching": {"user_id": USER, "alert_id": ALERT},
    "alerts_seen_by": {"user_id": USER},
}


def test_what_check_refuses_writes_in_a_read_only_transaction(empty_db_url: str) -> None:
    """Each write check reports happens: with an alert to read, a READ ONLY
    transaction (what a standby runs) refuses every one of them; the queries check
    passes run there."""
    q = _migrated(empty_db_url)
    with psycopg.connect(empty_db_url, autocommit=True) as conn:
        conn.execute("INSERT INTO users (id, wallet_address) VALUES (%s, '0xa')", [USER])
        conn.execute(
            "INSERT INTO alerts (id, user_id, message) VALUES (%s, %s, 'hi')", [ALERT, USER]
        )
        for name, params in WRITERS.items():
            with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
                _read_only(conn, q[name], **params)
        assert _read_only(conn, q["alert_named"], user_id=USER) == [(ALERT, USER, "hi")]
        assert len(_read_only(conn, q["alerts_sampled"], user_id=USER)) <= 1
        assert conn.execute("SELECT count(*) FROM reads").fetchone() == (0,)


def test_a_read_only_transaction_alone_misses_what_check_refuses(empty_db_url: str) -> None:
    """The naive oracle: run in a READ ONLY transaction on a database without rows
    (check's scratch database), a writer called per row never runs, and EXPLAIN
    skips the read-only rule altogether."""
    q = _migrated(empty_db_url)
    with psycopg.connect(empty_db_url, autocommit=True) as conn:
        for name in ("alerts_logged", "alerts_masked", "alerts_matching", "alerts_seen_by"):
            assert _read_only(conn, q[name], user_id=USER, alert_id=ALERT) == []
        with conn.transaction(force_rollback=True):
            conn.execute("SET TRANSACTION READ ONLY")
            conn.execute("EXPLAIN INSERT INTO reads (alert_id) VALUES (NULL)")
            conn.execute("EXPLAIN SELECT id FROM alerts FOR UPDATE")


OTHER = UUID("00000000-0000-4000-8000-000000000002")


@pytest.mark.parametrize(
    ("query", "params"),
    [
        ("alerts_self_equal", {}),
        ("alerts_or_true", {"user_id": USER}),
        ("alerts_of_either", {"user_id": USER, "other_id": OTHER}),
        ("alerts_in_list", {"user_id": USER, "other_id": OTHER}),
        ("alerts_or_any", {"user_id": None}),
    ],
)
def test_a_multi_shard_query_reaches_another_users_rows(
    empty_db_url: str, query: str, params: dict[str, Any]
) -> None:
    """What check calls multi-shard reads the rows of a user it was not pinned to:
    with users distributed, that user's rows live on another shard."""
    q = _migrated(empty_db_url)
    with psycopg.connect(empty_db_url, autocommit=True) as conn:
        for user, wallet in ((USER, "0xa"), (OTHER, "0xb")):
            conn.execute("INSERT INTO users (id, wallet_address) VALUES (%s, %s)", [user, wallet])
            conn.execute("INSERT INTO alerts (user_id, message) VALUES (%s, 'hi')", [user])
        users = {row[1] for row in conn.execute(q[query].sql, params).fetchall()}
        assert users == {USER, OTHER}


def test_the_distribution_covers_every_table_that_references_users(db_url: str) -> None:
    """DISTRIBUTION (docs/scale-out.md) names users and every table whose column
    references users (id): a new per-user table cannot be left out of the rule."""
    with psycopg.connect(db_url) as conn:
        rows = conn.execute(
            "SELECT c.relname, a.attname"
            "  FROM pg_constraint AS con"
            "  JOIN pg_class AS c ON c.oid = con.conrelid"
            "  JOIN pg_attribute AS a ON a.attrelid = c.oid AND a.attnum = con.conkey[1]"
            " WHERE con.contype = 'f' AND con.confrelid = 'public.users'::regclass"
            "   AND c.relnamespace = 'public'::regnamespace AND NOT c.relispartition"
        ).fetchall()
    assert {"users": "id", **dict(rows)} == DISTRIBUTION


@pytest.mark.parametrize(
    ("body", "called"),
    [
        ("SELECT log_read(alert)", {"log_read"}),
        ("SELECT public.log_read (alert)", {"log_read"}),
        ('SELECT "Log Read"(alert)', {"Log Read"}),
        # a comment with an apostrophe does not hide the call after it
        ("-- the user's alert\nSELECT log_read(alert)", {"log_read"}),
        # nor does a string hide what follows it, and what it holds is no call
        ("SELECT 'nextval(x)', log_read(alert)", {"log_read"}),
        ("SELECT 1 /* nextval( */", set()),
    ],
)
def test_the_names_a_body_calls(body: str, called: set[str]) -> None:
    """A function body kept as text is read for the names it calls (check follows
    them): strings and comments aside, whichever comes first."""
    assert _names_called(body) == called


def test_a_builtin_is_only_an_unqualified_or_pg_catalog_call() -> None:
    text = "nextval('s'::regclass), public.setval(x), pg_catalog.pg_notify('c', 'm')"
    assert _names_called(text, builtin=True) == {"nextval", "pg_notify"}
