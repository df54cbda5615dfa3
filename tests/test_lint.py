"""`defi-sql lint`: squawk and our own rules over deliberately broken migration trees
(tests/fixtures/lint), whole report lines asserted; the real tree passes."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

from defi_sql.cli import main
from defi_sql.dev import embedded
from defi_sql.dev.dump import DUMP_VERSION
from defi_sql.dev.lint import (
    MANIFEST_HEADER,
    lint_migrations,
    manifest_path,
    squawk_path,
    update_manifest,
)
from defi_sql.errors import ConfigError
from defi_sql.migrate import checksum
from defi_sql.paths import migrations_dir, sql_root

from .conftest import FIXTURES, REPO, Server, cli

LINT = FIXTURES / "lint"
IN_TRANSACTION = (
    "cannot run inside a transaction, and yoyo runs this file in one; move it to a migration "
    "of its own whose header says `-- transactional: false`."
)
ONE_STATEMENT = (
    "a `-- transactional: false` migration must hold one statement, not 2: PostgreSQL "
    "commits each on its own, so a failure part-way leaves it half-applied and its rollback "
    "cannot undo it cleanly; split it into migrations of one statement each."
)

IF_NOT_EXISTS = (
    "CREATE INDEX CONCURRENTLY IF NOT EXISTS skips the INVALID index a failed build leaves, "
    "and the migration would be recorded over it; leave IF NOT EXISTS out (with "
    "`-- squawk-ignore prefer-robust-stmts -- <why>`): a rerun then names the leftover index "
    "instead."
)


def no_reason(comment: str) -> str:
    return (
        f"ignore-without-reason: `{comment}` does not say why; write the reason after the "
        f"rules: `{comment} -- <why it is safe here>`."
    )


EXPECTED = {
    "rollback-missing": [
        "migrations/0002.add-things-note.sql:1: rollback-missing: 0002.add-things-note.sql has "
        "no rollback file 0002.add-things-note.rollback.sql; write one that restores the schema "
        "exactly as it was before.",
    ],
    "concurrently": [
        # squawk does not see these in a file of one statement; our rule does
        "migrations/0002.create-index-things-name.rollback.sql:3: concurrently-in-transaction: "
        f"DROP INDEX CONCURRENTLY {IN_TRANSACTION}",
        "migrations/0002.create-index-things-name.sql:4: concurrently-in-transaction: "
        f"CREATE INDEX CONCURRENTLY {IN_TRANSACTION}",
        "migrations/0002.create-index-things-name.sql:4: prefer-robust-stmts: Missing "
        "`IF NOT EXISTS`, the migration can't be rerun if it fails part way through. Use an "
        "explicit name for a concurrently created index",
        # 0003 is `-- transactional: false` and alone: fine; 0004's string and comment too
        "migrations/0004.reindex-things.sql:7: concurrently-in-transaction: "
        f"REINDEX ... CONCURRENTLY {IN_TRANSACTION}",
    ],
    "multi-statement": [
        "migrations/0002.create-index-things-name.rollback.sql:5: "
        f"non-transactional-multi-statement: {ONE_STATEMENT}",
        "migrations/0002.create-index-things-name.sql:6: concurrently-if-not-exists: "
        + IF_NOT_EXISTS,
        "migrations/0002.create-index-things-name.sql:8: concurrently-if-not-exists: "
        + IF_NOT_EXISTS,
        "migrations/0002.create-index-things-name.sql:8: "
        f"non-transactional-multi-statement: {ONE_STATEMENT}",
    ],
    "squawk": [
        # DROP COLUMN owner (line 6) carries an ignore with a reason
        "migrations/0002.add-things-owner.rollback.sql:3: ban-drop-column: Dropping a column "
        "may break existing clients.",
        "migrations/0002.add-things-owner.sql:5: adding-required-field: Adding a new column "
        "that is `NOT NULL` and has no default value to an existing table effectively makes "
        "it required. Make the field nullable or add a non-VOLATILE DEFAULT",
        # squawk reports line 7 (0-based) of the two-line ALTER TABLE: the type's line
        "migrations/0002.add-things-owner.sql:8: prefer-bigint-over-int: Using 32-bit integer "
        "fields can result in hitting the max `int` limit. Use 64-bit integer values instead "
        "to prevent hitting this limit.",
    ],
    "ignore-without-reason": [
        "migrations/0001.create-things.rollback.sql:3: "
        + no_reason("-- squawk-ignore-file ban-drop-table"),
        "migrations/0001.create-things.rollback.sql:7: "
        + no_reason("-- squawk-ignore ban-drop-column, prefer-robust-stmts"),
        "migrations/0001.create-things.rollback.sql:10: " + no_reason("-- squawk-ignore-file"),
    ],
    "edited": [
        "migrations.sum:5: edited-migration: 0004.add-things-col4.sql is recorded here but no "
        "longer exists; restore it (a migration that may have been applied stays), or, if it "
        "has never been applied outside your machine, delete this line.",
        "migrations.sum:6: edited-migration: expected `<file name> <sha256>` naming each "
        "migration once, found 'not a checksum line'; restore the line as `make schema` "
        "wrote it.",
        # 0001 matches its line; 0003 is not recorded yet (new work)
        "migrations/0002.add-things-col2.sql:1: edited-migration: 0002.add-things-col2.sql was "
        "edited after being recorded in tests/fixtures/lint/edited/migrations.sum; add a new "
        "migration with `defi-sql new` instead, or, if it has never been applied outside your "
        "machine, delete its line from tests/fixtures/lint/edited/migrations.sum and run "
        "`make schema`.",
    ],
}


def lint_lines(tree: Path) -> list[str]:
    return [str(f) for f in lint_migrations(tree / "migrations", manifest_path(tree))]


@pytest.fixture
def in_repo(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)  # report paths are relative to the cwd


@pytest.mark.usefixtures("in_repo")
@pytest.mark.parametrize("name", EXPECTED)
def test_broken_tree(name: str) -> None:
    prefix = f"tests/fixtures/lint/{name}/"
    assert lint_lines(LINT / name) == [prefix + line for line in EXPECTED[name]]


@pytest.mark.usefixtures("in_repo")
def test_the_real_tree_is_clean() -> None:
    assert lint_lines(sql_root()) == []
    assert manifest_path(sql_root()).is_file(), "run `make schema` to write sql/migrations.sum"


def test_lint_command_on_a_broken_tree() -> None:
    result = cli("lint", "--sql-dir", "tests/fixtures/lint/squawk")
    assert result.returncode == 1
    prefix = "tests/fixtures/lint/squawk/"
    assert result.stdout.splitlines() == [prefix + line for line in EXPECTED["squawk"]]
    assert result.stderr == "3 problems in 2 files\n"


def test_lint_command_on_the_real_tree() -> None:
    result = cli("lint")
    assert (result.returncode, result.stderr) == (0, "")
    count = len(list(migrations_dir().glob("*.sql")))
    assert result.stdout == f"migrations: no problems ({count} files)\n"


def test_lint_command_on_a_missing_tree(tmp_path: Path) -> None:
    result = cli("lint", "--sql-dir", str(tmp_path))
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr == (
        f"defi-sql: error: {tmp_path}/migrations is not a folder; point --sql-dir (or "
        "DEFI_SQL_SQL_DIR) at a sql tree containing migrations/.\n"
    )


def test_without_squawk(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(sys, "executable", str(tmp_path / "python"))
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(ConfigError) as caught:
        squawk_path()
    assert str(caught.value) == (
        "cannot find squawk, the SQL migration linter, beside this Python or on PATH; "
        "install it with `pip install squawk-cli`."
    )


def test_a_bad_squawk_config(tmp_path: Path) -> None:
    tree = tmp_path / "sql"
    shutil.copytree(LINT / "squawk", tree)
    (tree / ".squawk.toml").write_text('excluded_rules = ["no-such-rule"]\n', encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        lint_migrations(tree / "migrations", manifest_path(tree))
    assert str(caught.value).startswith(
        "squawk failed (exit status 1): Configuration error: invalid rule name no-such-rule"
    )
    assert str(caught.value).endswith(f"; check {tree / '.squawk.toml'}.")


@pytest.mark.usefixtures("in_repo")
@pytest.mark.parametrize(
    ("comment", "expected"),
    [
        pytest.param(
            "-- squawk-ignore ban-drop-column -- the rollback of an ADD COLUMN must drop it\n",
            [],
            id="with-a-reason",
        ),
        pytest.param(
            "-- squawk-ignore ban-drop-column\n",
            ["6: " + no_reason("-- squawk-ignore ban-drop-column")],  # squawk still ignores it
            id="without-a-reason",
        ),
        pytest.param(
            "",
            ["6: ban-drop-column: Dropping a column may break existing clients."],
            id="no-ignore",
        ),
    ],
)
def test_an_ignore_with_a_reason_silences_the_finding(
    tmp_path: Path, comment: str, expected: list[str]
) -> None:
    tree = tmp_path / "sql"
    shutil.copytree(LINT / "squawk", tree)
    rollback = tree / "migrations" / "0002.add-things-owner.rollback.sql"
    rollback.write_text(
        "-- Undo 0002.add-things-owner.\n\n"
        "-- squawk-ignore ban-drop-column -- the rollback of an ADD COLUMN must drop it\n"
        f"ALTER TABLE things DROP COLUMN count;\n\n{comment}"
        "ALTER TABLE things DROP COLUMN owner;\n",
        encoding="utf-8",
    )
    found = [
        str(f).removeprefix(f"{rollback}:")
        for f in lint_migrations(tree / "migrations", manifest_path(tree))
        if f.path == rollback
    ]
    assert found == expected


def test_update_manifest_appends_and_never_rewrites(tmp_path: Path) -> None:
    tree = tmp_path / "sql"
    shutil.copytree(LINT / "edited", tree)
    manifest = manifest_path(tree)
    before = manifest.read_text(encoding="utf-8")
    col3 = tree / "migrations" / "0003.add-things-col3.sql"
    assert update_manifest(tree / "migrations", manifest) == ["0003.add-things-col3.sql"]
    # the wrong line of 0002 and the bad lines stay as they were
    assert manifest.read_text(encoding="utf-8") == before + f"{col3.name} {checksum(col3)}\n"
    assert update_manifest(tree / "migrations", manifest) == []
    manifest.unlink()
    names = update_manifest(tree / "migrations", manifest)
    assert names == ["0001.create-things.sql", "0002.add-things-col2.sql", col3.name]
    lines = manifest.read_text(encoding="utf-8").removeprefix(MANIFEST_HEADER).splitlines()
    assert lines == [f"{n} {checksum(tree / 'migrations' / n)}" for n in names]
    assert lint_migrations(tree / "migrations", manifest) == []


@pytest.mark.parametrize("server", [f"pg{DUMP_VERSION}"], indirect=True)
def test_schema_command_appends_to_the_manifest(
    server: Server,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    tree = tmp_path / "sql"
    shutil.copytree(LINT / "edited", tree)
    (tree / "migrations" / "0004.add-things-col4.sql").write_text(
        "-- Column 4 of things.\n-- depends: 0003.add-things-col3\n\n"
        "ALTER TABLE things ADD COLUMN col4 text;\n",
        encoding="utf-8",
    )
    manifest = manifest_path(tree)
    before = manifest.read_text(encoding="utf-8")
    monkeypatch.setenv("DEFI_SQL_SQL_DIR", str(tree))
    monkeypatch.setattr(embedded, "start", lambda *_args, **_kwargs: server.admin)
    output = tmp_path / "schema.sql"
    assert main(["schema", "--output", str(output)]) == 0
    assert capsys.readouterr().out == f"wrote {output}\nwrote {manifest}\n"
    col3 = tree / "migrations" / "0003.add-things-col3.sql"
    # 0003 is appended; 0004 is already listed, and the edited 0002 keeps its old line
    assert manifest.read_text(encoding="utf-8") == before + f"{col3.name} {checksum(col3)}\n"
    assert main(["schema", "--output", str(output)]) == 0
    assert capsys.readouterr().out == f"wrote {output}\n"
