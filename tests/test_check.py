"""`defi-sql check`: each check catches what it claims, with the exact report,
and the real sql/ tree passes cleanly on PostgreSQL 16 and 18."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import psycopg
import pytest

from defi_sql.check import run_check
from defi_sql.check.plan import conjuncts, split_arguments
from defi_sql.migrate import Migrator
from defi_sql.paths import sql_root
from defi_sql.statements import load_statements

from .conftest import FIXTURES, REPO, Server, cli

BROKEN = FIXTURES / "check" / "broken"
MODELS = "tests.fixtures.check.models"
B = "tests/fixtures/check/broken/"
REMARK = 'column "remark" does not exist'
ONE_BACK = "fails on the schema before 0003.rename-things-note (new code before the migration)"
AFTER = "; deploy it after migrating, and say so: `-- deploy after: 0003.rename-things-note`"
BROKEN_REPORT = [
    f"{B}migrations/0002.add-things-size.rollback.sql:1: error: [round-trip] after rolling "
    "back 0002.add-things-size, index things_name_idx is left over (CREATE INDEX "
    "things_name_idx ON public.things USING btree (name))",
    f"{B}queries/things.sql:11: warning: [compatibility] things_by_kind "
    f"{ONE_BACK}: {REMARK}{AFTER}",
    f"{B}queries/things.sql:27: warning: [compatibility] things_named_like "
    f"{ONE_BACK}: {REMARK}{AFTER}",
    f"{B}queries/things.sql:34: warning: [compatibility] list_things {ONE_BACK}: {REMARK}{AFTER}",
    f"{B}queries/things.sql:53: warning: [compatibility] newest_thing {ONE_BACK}: {REMARK}{AFTER}",
    f'{B}queries/things.sql:7: error: [prepare] get_thing: column "nickname" does not exist',
    f"{B}queries/things.sql:11: error: [operator] things_by_kind: `^` keeps one row but the "
    "query can return many; filter on a unique key, add LIMIT 1, or drop the operator to get "
    "every row.",
    f"{B}queries/things.sql:18: error: [operator] thing_name_and_kind: `$` may find no row and "
    "then returns None, not str; declare `-- returns: str | None`, or make it return exactly "
    "one row (an aggregate without GROUP BY, VALUES, INSERT ... RETURNING).",
    f"{B}queries/things.sql:18: error: [operator] thing_name_and_kind: `$` returns one value "
    "but the query returns 2 columns; select one column or use `^`.",
    f"{B}queries/things.sql:23: error: [operator] rename_thing: `!` throws away what RETURNING "
    "returns; use `^` for one row or no operator for every row.",
    f"{B}queries/things.sql:27: error: [operator] things_named_like: a literal % is read by "
    "psycopg as a placeholder; write %% or use strpos()/starts_with()/mod() instead.",
    f"{B}queries/things.sql:34: error: [shape] list_things -> BadThing: column remark can be "
    "NULL but BadThing.remark is str; make it str | None, or add `-- not null: remark` to the "
    "query if it never is.",
    f"{B}queries/things.sql:34: error: [shape] list_things -> BadThing: column kind is text but "
    "BadThing.kind is Literal['a', 'b']; its CHECK also allows 'c', add them to the Literal.",
    f"{B}queries/things.sql:34: error: [shape] list_things -> BadThing: column amount is "
    "numeric but BadThing.amount is float; a float loses numeric's digits, use Decimal.",
    f"{B}queries/things.sql:34: error: [shape] list_things -> BadThing: column doc is jsonb but "
    "BadThing.doc is list[Any]; its CHECK makes it a JSON object, use a struct or dict.",
    f"{B}queries/things.sql:34: error: [shape] list_things -> BadThing: column size has no "
    "field in BadThing; add the field or drop the column.",
    f"{B}queries/things.sql:34: error: [shape] list_things -> BadThing: field "
    "BadThing.owner_name has no column in the result; select it or give the field a default.",
    f"{B}queries/things.sql:41: error: [shape] things_with_owners -> ThingWithOwner: column "
    "owner_name can be NULL but ThingWithOwner.owner_name is str; make it str | None, or add "
    "`-- not null: owner_name` to the query if it never is.",
    f"{B}queries/things.sql:61: error: [shape] undeclared_thing: returns rows but declares no "
    "struct; add `-- returns: Struct` to its doc lines.",
    f"{B}queries/things.sql:65: error: [shape] unknown_struct: declares `returns: Gadget` but "
    "tests.fixtures.check.models has no struct Gadget; name a msgspec struct of that module.",
]


@pytest.fixture(autouse=True)
def _at_repo(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)  # reports name files relative to the working directory


def test_the_real_tree_passes_cleanly(server: Server) -> None:
    report = run_check(server.admin, sql_dir=sql_root())
    assert [str(p) for p in report.problems] == []
    # docs/scale-out.md: a user's own reads and writes run on one shard; every other
    # query on the per-user tables is multi-shard, and says why (no warning above)
    assert sorted(v.query for v in report.shards if not v.multi) == [
        *("alerts_create", "alerts_pending_for_user", "intents_active_for_user"),
        *("intents_create", "positions_create", "positions_history", "positions_history_daily"),
        *("positions_latest", "positions_latest_per_protocol", "positions_list_for_user"),
        *("users_create", "users_delete", "users_get", "users_set_telegram_chat"),
        "users_update_preferences",
    ]
    assert all(v.declared for v in report.shards if v.multi)
    assert report.queries == len(load_statements(sql_root() / "queries", sql_root() / "seed"))
    assert report.migrations == len(
        [p for p in (sql_root() / "migrations").glob("*.sql") if ".rollback." not in p.name]
    )


def test_every_broken_fixture_is_reported_exactly(server: Server) -> None:
    report = run_check(server.admin, sql_dir=BROKEN, models=MODELS)
    assert [str(p) for p in report.problems] == BROKEN_REPORT
    assert (len(report.errors), len(report.warnings)) == (16, 4)


def test_cli_prints_the_report_and_fails(server: Server) -> None:
    done = cli("check", "--server", server.admin, "--sql-dir", str(BROKEN), "--models", MODELS)
    assert done.returncode == 1
    assert done.stdout.splitlines() == BROKEN_REPORT
    assert done.stderr == "check: 16 error(s), 4 warning(s) in 3 migrations and 11 queries\n"


def test_cli_passes_the_real_tree(server: Server) -> None:
    done = cli("check", "--server", server.admin)
    assert (done.returncode, done.stderr) == (0, ""), done.stderr
    # as `lint`: the closing line on stdout when the check passes, on stderr when it fails
    assert done.stdout.startswith("check: ") and done.stdout.endswith(": no problems\n")


def test_cli_names_a_models_module_it_cannot_import(server: Server) -> None:
    done = cli("check", "--server", server.admin, "--models", "no_such_models")
    assert done.returncode == 1
    assert done.stderr == (
        "defi-sql: error: cannot import the models module 'no_such_models' "
        "(No module named 'no_such_models'); pass --models.\n"
    )


def _tree(tmp_path: Path) -> Path:
    tree = tmp_path / "sql"
    shutil.copytree(BROKEN, tree)
    return tree


def test_a_missing_rollback_is_reported(server: Server, tmp_path: Path) -> None:
    tree = _tree(tmp_path)
    (tree / "migrations" / "0003.rename-things-note.rollback.sql").unlink()
    report = run_check(server.admin, sql_dir=tree, models=MODELS)
    assert report.problems[1].where.endswith("migrations/0003.rename-things-note.sql:1")
    assert report.problems[1].message == (
        "0003.rename-things-note.sql has no rollback 0003.rename-things-note.rollback.sql; "
        "write one."
    )


def test_deploy_after_the_newest_migration_is_expected_checked_and_named(
    server: Server, tmp_path: Path
) -> None:
    """`-- deploy after: M` takes a query's compatibility warning away when M is
    the newest migration and the query fails before it; says the line is stale
    when the query runs there; and a line naming no migration is an error."""
    tree = _tree(tmp_path)
    queries = tree / "queries" / "things.sql"
    text = queries.read_text()
    text = text.replace(
        "-- `^` on a query that returns every thing of a kind.\n",
        "-- `^` on a query that returns every thing of a kind.\n"
        "-- deploy after: 0003.rename-things-note\n",
    )
    text = text.replace(
        "-- Fine: an aggregate is one row, and count(*) is never NULL.\n",
        "-- Fine: an aggregate is one row, and count(*) is never NULL.\n"
        "-- deploy after: 0003.rename-things-note\n",
    )
    text = text.replace(
        "-- Fine: LIMIT 1.\n", "-- Fine: LIMIT 1.\n-- deploy after: 0004.no-such-migration\n"
    )
    queries.write_text(text)
    report = run_check(server.admin, sql_dir=tree, models=MODELS)
    compatibility = [(p.severity, p.message) for p in report.problems if p.check == "compatibility"]
    assert compatibility == [
        (
            "error",
            "newest_thing says `deploy after: 0004.no-such-migration`, which is no migration "
            "(the newest is 0003.rename-things-note); name one by its file name without .sql.",
        ),
        ("warning", f"things_named_like {ONE_BACK}: {REMARK}{AFTER}"),
        ("warning", f"list_things {ONE_BACK}: {REMARK}{AFTER}"),
        ("warning", f"newest_thing {ONE_BACK}: {REMARK}{AFTER}"),
        (
            "warning",
            "count_things says `deploy after: 0003.rename-things-note` but runs on the schema "
            "before it; drop the line.",
        ),
    ]


def test_a_migration_that_fails_stops_the_chain_with_file_and_line(
    server: Server, tmp_path: Path
) -> None:
    tree = _tree(tmp_path)
    path = tree / "migrations" / "0002.add-things-size.sql"
    path.write_text(path.read_text().replace("ADD COLUMN size integer", "ADD COLUMN size intgr"))
    report = run_check(server.admin, sql_dir=tree, models=MODELS)
    assert len(report.problems) == 1
    problem = report.problems[0]
    assert (problem.check, problem.severity) == ("migrate", "error")
    assert problem.message.startswith(f"{tree / 'migrations'}/0002.add-things-size.sql:4: ")
    assert 'type "intgr" does not exist' in problem.message


def test_a_rollback_that_restores_the_index_passes(server: Server, tmp_path: Path) -> None:
    tree = _tree(tmp_path)
    rollback = tree / "migrations" / "0002.add-things-size.rollback.sql"
    rollback.write_text("DROP INDEX things_name_idx;\nALTER TABLE things DROP COLUMN size;\n")
    report = run_check(server.admin, sql_dir=tree, models=MODELS)
    assert not [p for p in report.problems if p.check == "round-trip"]


def test_drift_sees_a_storage_parameter_changed_by_hand(server: Server, db_url: str) -> None:
    """A fillfactor or autovacuum setting is schema too (0048 sets one)."""
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("ALTER TABLE positions_latest SET (fillfactor = 90)")
        conn.execute("ALTER TABLE alerts SET (autovacuum_vacuum_scale_factor = 0.01)")
    report = run_check(server.admin, sql_dir=sql_root(), database=db_url)
    drift = sorted(p.message for p in report.problems if p.check == "drift")
    assert len(drift) == 2
    assert "relation alerts differs" in drift[0]
    assert "options=autovacuum_vacuum_scale_factor=0.01" in drift[0]
    assert "relation positions_latest differs" in drift[1]
    assert "options=fillfactor=70" in drift[1] and "options=fillfactor=90" in drift[1]


def test_drift_lists_what_was_changed_by_hand(server: Server, db_url: str) -> None:
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("CREATE INDEX stray_idx ON signals (asset)")
        conn.execute("ALTER TABLE users ALTER COLUMN telegram_chat_id TYPE varchar(64)")
        conn.execute("DROP INDEX positions_user_id_snapshot_at_idx")
    report = run_check(server.admin, sql_dir=sql_root(), database=db_url)
    drift = [p for p in report.problems if p.check == "drift"]
    assert all(p.severity == "error" for p in drift)
    changed, check, missing, stray = sorted(p.message for p in drift)
    assert changed.startswith(
        "compared with the migrations, column users.telegram_chat_id differs: the migrations "
        "give text position=4 comment="
    )
    assert "; the database has character varying(64) position=4 comment=" in changed
    assert check == (
        "compared with the migrations, constraint users.users_telegram_chat_id_check differs: "
        "the migrations give CHECK ((telegram_chat_id <> ''::text)); the database has CHECK "
        "(((telegram_chat_id)::text <> ''::text))"
    )
    assert missing == (
        "compared with the migrations, index positions_user_id_snapshot_at_idx is missing from "
        "the database (CREATE INDEX positions_user_id_snapshot_at_idx ON ONLY public.positions "
        "USING btree (user_id, snapshot_at DESC) comment=Serves a user's history newest first "
        "or by time range (positions_list_for_user, positions_history), "
        "positions_latest_refresh, and the user_id foreign key (ON DELETE CASCADE).)"
    )
    assert stray == (
        "compared with the migrations, index stray_idx exists only in the database (CREATE "
        "INDEX stray_idx ON public.signals USING btree (asset))"
    )
    assert all("password" not in p.where for p in drift)


def test_drift_compares_a_database_behind_with_its_own_level(server: Server, db_url: str) -> None:
    with Migrator(db_url) as migrator:
        (last,) = migrator.rollback(steps=1)
        previous = [s.id for s in migrator.status() if s.label == "applied"][-1]
    report = run_check(server.admin, sql_dir=sql_root(), database=db_url)
    assert [(p.severity, p.check, p.message) for p in report.problems] == [
        (
            "warning",
            "drift",
            f"1 migration(s) pending ({last}); compared with the schema at {previous}",
        )
    ]


@pytest.mark.parametrize(
    ("text", "parts"),
    [
        ("a, b", ["a", "b"]),
        ("f(a, b), 'x,y', \"c,d\"", ["f(a, b)", "'x,y'", '"c,d"']),
        ("CASE WHEN (a = 1) THEN b END, $1", ["CASE WHEN (a = 1) THEN b END", "$1"]),
    ],
)
def test_split_arguments(text: str, parts: list[str]) -> None:
    assert split_arguments(text) == parts


@pytest.mark.parametrize(
    ("condition", "parts"),
    [
        ("(id = $1)", ["id = $1"]),
        (
            "((id = $1) AND (status = 'pending'::text) AND ((claim_token = $2) OR ($2 IS NULL)))",
            ["(id = $1)", "(status = 'pending'::text)", "((claim_token = $2) OR ($2 IS NULL))"],
        ),
        ("((a = ' AND ') AND (b = 2))", ["(a = ' AND ')", "(b = 2)"]),
    ],
)
def test_conjuncts(condition: str, parts: list[str]) -> None:
    """Only top-level ANDs split: an equality under an OR holds for no row in particular."""
    assert conjuncts(condition) == parts


def _git(repo: Path, *args: str) -> str:
    env = {
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.com",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.com",
        "PATH": "/usr/bin:/bin",
    }
    done = subprocess.run(
        ["git", *args], cwd=repo, env=env, capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


def test_old_queries_from_git_are_prepared_on_the_new_schema(
    server: Server, tmp_path: Path
) -> None:
    """Old code after the migration: the queries committed before the newest
    migration was added still use `note`, which it renamed."""
    tree = _tree(tmp_path)
    newest = tree / "migrations" / "0003.rename-things-note.sql"
    hold = tmp_path / "hold"
    hold.mkdir()
    for path in (newest, newest.with_suffix(".rollback.sql"), tree / "queries" / "things.sql"):
        shutil.move(path, hold / path.name)
    (tree / "queries" / "things.sql").write_text(
        "-- name: get_note(thing_id)$\n-- returns: str\n"
        "SELECT note FROM things WHERE id = :thing_id;\n"
    )
    _git(tmp_path, "init", "-q")
    _git(tmp_path, "add", ".")
    _git(tmp_path, "commit", "-qm", "before the rename")
    old = _git(tmp_path, "rev-parse", "--short", "HEAD")
    for path in hold.iterdir():
        target = tree / ("queries" if path.name == "things.sql" else "migrations") / path.name
        shutil.move(path, target)
    _git(tmp_path, "add", ".")
    _git(tmp_path, "commit", "-qm", "rename note")
    report = run_check(server.admin, sql_dir=tree, models=MODELS)
    old_code = [p for p in report.problems if "old code" in p.message]
    assert [(p.where, p.severity, p.message) for p in old_code] == [
        (
            f"{tree}/queries/things.sql:1",
            "warning",
            f"get_note as of {old} (old code after 0003.rename-things-note) fails on the new "
            'schema: column "note" does not exist',
        )
    ]
