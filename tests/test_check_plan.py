"""`defi-sql check` reads nullability and cardinality from the plan soundly or
loudly (issue 18): each false negative of the audit is reported with its exact
message, file and line, each false positive passes, with the same verdicts on
PostgreSQL 16 and 18; and each wrong query really goes wrong on a database."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import psycopg
import pytest

from defi_sql.check import run_check
from defi_sql.check.plan import Plan, PlanNote
from defi_sql.check.plan_text import _binary, _limits_are_one, _strip_cast
from defi_sql.migrate import Migrator
from defi_sql.statements import Statement, load_statements

from .conftest import FIXTURES, REPO, Server

PLAN = FIXTURES / "check" / "soundness_plan"
PLAN_18 = FIXTURES / "check" / "soundness_plan_18"
MODELS = "tests.fixtures.check.soundness_models"
W = "tests/fixtures/check/soundness_plan/queries/wrong.sql"
C = "tests/fixtures/check/soundness_plan_18/queries/counters.sql"
CAN_BE_NULL = "make it {t} | None, or add `-- not null: {c}` to the query if it never is."


def _null(line: int, query: str, struct: str, column: str, t: str, where: str = W) -> str:
    return (
        f"{where}:{line}: error: [shape] {query} -> {struct}: column {column} can be NULL but "
        f"{struct + '.' + column if struct[0].isupper() else 'the value'} is {t}; "
        + CAN_BE_NULL.format(t=t, c=column)
    )


def _many(line: int, query: str, op: str) -> str:
    return (
        f"{W}:{line}: error: [operator] {query}: `{op}` keeps one row but the query can return "
        "many; filter on a unique key, add LIMIT 1, or drop the operator to get every row."
    )


PLAN_REPORT = [
    "tests/fixtures/check/soundness_plan/queries/unread.sql:3: warning: [plan] numbers: column "
    "c.n comes from a Function Scan, whose columns the plan reader does not read; it counts as "
    "nullable.",
    "tests/fixtures/check/soundness_plan/queries/unread.sql:3: error: [shape] numbers -> "
    "WholeNumber: column n can be NULL but WholeNumber.n is int; make it int | None, or add "
    "`-- not null: n` to the query if it never is.",
    "tests/fixtures/check/soundness_plan/queries/unread.sql:9: error: [plan] broken_ratio: "
    "EXPLAIN (GENERIC_PLAN) failed: division by zero; check cannot judge its rows and NULLs "
    "until the server can plan it.",
    _null(4, "accounts_per_status", "StatusCount", "status", "str"),
    _null(11, "account_labels", "Label", "label", "str"),
    _null(18, "entries_if_many", "int", "entries", "int"),
    _null(23, "idle_for", "Idle", "idle", "timedelta"),
    _null(28, "entry_accounts", "EntryAccount", "id", "int"),
    f"{W}:38: error: [shape] account_entry_ids -> AccountEntries: column entry_ids is an array "
    "whose elements can be NULL but AccountEntries.entry_ids is list[int] | None; make its "
    "elements optional (list[int | None]), or leave the NULLs out (array_agg(...) FILTER "
    "(WHERE ... IS NOT NULL)).",
    _many(46, "account_in_region", "^"),
    _many(51, "account_or_any", "^"),
    f"{W}:58: error: [plan] accounts_with_amount: its scalar subquery (SubPlan 1) can return "
    "more than one row, which fails at run time (more than one row returned by a subquery "
    "used as an expression); make it return one row (a unique key, an aggregate, LIMIT 1) or "
    "use EXISTS, IN or ARRAY(...).",
    f"{W}:64: error: [operator] account_status: `$` may find no row and then returns None, not "
    "str; declare `-- returns: str | None`, or make it return exactly one row (an aggregate "
    "without GROUP BY, VALUES, INSERT ... RETURNING).",
]
PLAN_18_REPORT = [
    _null(3, "hit", "Hit", "previous_hits", "int", C),
    _null(11, "counter_labels", "CounterLabel", "label", "str", C),
]


@pytest.fixture(autouse=True)
def _at_repo(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)  # reports name files relative to the working directory


def _version(server: Server) -> int:
    with psycopg.connect(server.admin) as conn:
        return conn.info.server_version // 10000


def test_every_plan_case_is_reported_exactly(server: Server) -> None:
    """wrong.sql: one error per false negative; right.sql: nothing at all; unread.sql:
    a warning naming what the reader cannot follow."""
    report = run_check(server.admin, sql_dir=PLAN, models=MODELS)
    assert [str(p) for p in report.problems] == PLAN_REPORT


def test_postgresql_18_cases_are_reported_exactly(server: Server) -> None:
    if _version(server) < 18:
        pytest.skip("RETURNING old.* and NOT NULL ... NOT VALID are PostgreSQL 18 syntax")
    report = run_check(server.admin, sql_dir=PLAN_18, models=MODELS)
    assert [str(p) for p in report.problems] == PLAN_18_REPORT


def _migrated(url: str, tree: Any) -> dict[str, Statement]:
    with Migrator(url, directory=tree / "migrations") as migrator:
        migrator.migrate()
    return load_statements(tree / "queries")


def _run(conn: psycopg.Connection[Any], stmt: Statement, **params: Any) -> list[Any]:
    return conn.execute(stmt.sql, params).fetchall()


def test_the_wrong_queries_go_wrong_on_a_database(empty_db_url: str) -> None:
    """What check now reports happens: the value check used to promise is NULL,
    two rows come back for `^`, or the query fails."""
    q = _migrated(empty_db_url, PLAN)
    with psycopg.connect(empty_db_url, autocommit=True) as conn:
        assert _run(conn, q["entries_if_many"]) == [(None,)]  # 4: no entries, no group
        assert _run(conn, q["idle_for"]) == [(None,)]  # 5
        conn.execute(
            "INSERT INTO accounts (name, status, code, region) "
            "VALUES ('a', 'active', 'A', 'eu'), ('b', 'closed', 'B', 'us')"
        )
        conn.execute("INSERT INTO entries (account_id, amount) VALUES (1, 1), (1, 2), (NULL, 3)")
        assert (None, 2) in _run(conn, q["accounts_per_status"])  # 1
        assert (None,) in _run(conn, q["account_labels"])  # 2
        assert (3, None) in _run(conn, q["entry_accounts"])  # 6
        assert (2, [None]) in _run(conn, q["account_entry_ids"])  # 14
        assert len(_run(conn, q["account_or_any"], account_id=None)) == 2  # 17
        with pytest.raises(psycopg.errors.CardinalityViolation):  # 18
            _run(conn, q["accounts_with_amount"])
        assert _run(conn, q["account_status"], account_id=99) == []  # 19
        with conn.transaction():  # 16
            conn.execute("SET CONSTRAINTS accounts_region_key DEFERRED")
            conn.execute(
                "INSERT INTO accounts (name, status, code, region) VALUES ('c', 'x', 'C', 'eu')"
            )
            assert len(_run(conn, q["account_in_region"], region="eu")) == 2
            conn.execute("DELETE FROM accounts WHERE code = 'C'")


def test_the_right_queries_run_as_check_says(empty_db_url: str) -> None:
    q = _migrated(empty_db_url, PLAN)
    with psycopg.connect(empty_db_url, autocommit=True) as conn:
        assert _run(conn, q["entry_count"]) == [(0,)]
        (account,) = _run(conn, q["new_account"], name="a", code="A", region="eu")
        entries = "INSERT INTO entries (account_id, amount) VALUES (%s, 1), (%s, 2)"
        conn.execute(entries, account * 2)
        assert _run(conn, q["account_flags"]) == [(account[0], True)]
        assert _run(conn, q["ranked_accounts"]) == [(account[0], 1, 1, 1)]
        assert _run(conn, q["count_attempt_with_entries"], account_id=account[0]) == [
            (account[0], 1)
        ]
        assert _run(conn, q["account_note"], account_id=account[0]) == [(None,)]
        assert _run(conn, q["account_with_entries"], account_id=account[0]) == [(account[0], "a")]
        assert _run(conn, q["nth_account"], skip=1) == []
        assert _run(conn, q["active_account_named"], name="a") == [(account[0], "a")]
        amounts = conn.execute("SELECT sum(amount) FROM entries").fetchone()
        assert amounts == (Decimal(3),)


def test_postgresql_18_cases_go_wrong_on_a_database(server: Server, empty_db_url: str) -> None:
    if _version(server) < 18:
        pytest.skip("RETURNING old.* and NOT NULL ... NOT VALID are PostgreSQL 18 syntax")
    q = _migrated(empty_db_url, PLAN_18)
    with psycopg.connect(empty_db_url, autocommit=True) as conn:
        assert _run(conn, q["hit"], name="n") == [(1, None)]  # 3: inserted, no old row
        assert _run(conn, q["hit"], name="n") == [(1, 0)]
        conn.execute("ALTER TABLE counters DROP CONSTRAINT counters_label_not_null")
        conn.execute("INSERT INTO counters (name) VALUES ('unlabelled')")
        conn.execute(
            "ALTER TABLE counters ADD CONSTRAINT counters_label_not_null NOT NULL label NOT VALID"
        )
        assert ("unlabelled", None) in conn.execute("SELECT name, label FROM counters").fetchall()
        assert None in [label for _id, label in _run(conn, q["counter_labels"])]  # 12


def test_a_column_of_no_scan_is_a_note_naming_it() -> None:
    """WHERE false leaves a Result and no scan (no_entry_amounts in right.sql): the
    note names the column, unquoted, so check matches it to a vouched column or an
    optional field whatever the alias (a regex over the message missed "every
    account.name" and "amount$"); the report prints the message."""
    result = {"Node Type": "Result", "Output": ['"every account".name', 'b."amount$"', "id"]}
    plan = Plan([{"Plan": result}], facts=None)  # type: ignore[arg-type]  # none is asked
    assert [plan.never_null(i) for i in range(3)] == [False, False, False]
    assert plan.notes == [
        PlanNote("no scan", "name", "column every account.name comes from no scan of the plan"),
        PlanNote("no scan", "amount$", "column b.amount$ comes from no scan of the plan"),
        PlanNote("no scan", "id", "column id comes from no scan of the plan"),
    ]


@pytest.mark.parametrize(
    ("sql", "one"),
    [
        ("SELECT 1 LIMIT 1", True),
        ("SELECT 1 LIMIT 1 OFFSET $1", True),
        ("SELECT 1 OFFSET 5 ROWS FETCH NEXT 1 ROWS ONLY", True),
        ("SELECT 1 FETCH FIRST ROW ONLY FOR UPDATE OF a SKIP LOCKED", True),
        ("SELECT (SELECT 1 LIMIT 1) LIMIT %(n)s", False),
        ("SELECT 1 FETCH FIRST 1 ROWS WITH TIES", False),
        ("SELECT 1 LIMIT ALL", False),
    ],
)
def test_limits_are_one(sql: str, one: bool) -> None:
    """EXPLAIN prints no Limit count: a Limit node is one row only if every LIMIT is."""
    assert _limits_are_one(sql) is one


@pytest.mark.parametrize(
    ("expr", "uncast"),
    [
        ("(a)::integer", "(a)"),
        ("'{}'::bigint[]", "'{}'"),
        ("(x)::character varying(64)", "(x)"),
        ("a + (b)::integer", "a + (b)::integer"),  # the cast of b alone
    ],
)
def test_strip_cast(expr: str, uncast: str) -> None:
    assert _strip_cast(expr) == uncast


@pytest.mark.parametrize(
    ("expr", "parts"),
    [
        ("now() - max(e.created_at)", ("now()", "-", "max(e.created_at)")),
        ("a.attempts + 1", ("a.attempts", "+", "1")),
        ("lower(a.name)", None),
        ("(a ->> 'k'::text) = 'v'::text", ("(a ->> 'k'::text)", "=", "'v'::text")),
    ],
)
def test_binary(expr: str, parts: tuple[str, str, str] | None) -> None:
    """EXPLAIN parenthesizes every operator: one top-level operator at most."""
    assert _binary(expr) == parts
