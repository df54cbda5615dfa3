"""The embedded server: started on demand, left running, managed by `defi-sql db`."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from defi_sql.cli import main
from defi_sql.dev import embedded

from .conftest import cli


@pytest.fixture
def data_dir(clean_env: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Path]:
    root = tmp_path / "pgdata"
    monkeypatch.setenv("DEFI_SQL_DATA_DIR", str(root))
    monkeypatch.setenv("DEFI_SQL_PG_VERSION", "18")
    yield root
    embedded.stop(18, root=root)


def test_db_commands_and_migrate_on_the_embedded_server(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["db", "status"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        f"PostgreSQL 18 in {data_dir / 'pg18'}",
        "not running (it starts on demand; `defi-sql db start` starts it now)",
    ]

    assert main(["migrate"]) == 0  # nothing configured: the embedded server starts on demand
    out = capsys.readouterr().out
    url = f"postgresql://postgres@/defi_assistant?host={data_dir / 'pg18'}"
    assert out.splitlines()[0] == f"database: {url} (embedded PostgreSQL 18)"
    assert out.splitlines()[-1].startswith("batch applied: ")

    assert main(["db", "start"]) == 0  # already running: finds it
    assert capsys.readouterr().out == (
        f"embedded PostgreSQL 18 is running: postgresql://postgres:@/defi_assistant?host="
        f"{data_dir / 'pg18'}\n"
    )
    assert main(["db", "url"]) == 0
    assert (
        capsys.readouterr().out
        == f"postgresql://postgres:@/defi_assistant?host={data_dir / 'pg18'}\n"
    )
    assert main(["db", "status"]) == 0
    assert capsys.readouterr().out.splitlines()[1].startswith("running (pid ")

    psql = cli(
        "db",
        "psql",
        env={"DEFI_SQL_DATA_DIR": str(data_dir), "DEFI_SQL_PG_VERSION": "18"},
        stdin="SELECT count(*) AS tables FROM pg_tables WHERE schemaname = 'public';\n",
    )
    assert psql.returncode == 0, psql.stderr
    assert " tables \n--------\n     16\n(1 row)" in psql.stdout  # 10 of ours + 6 bookkeeping

    assert main(["db", "stop"]) == 0
    assert capsys.readouterr().out == "stopped the embedded server\n"
    assert main(["db", "stop"]) == 0
    assert capsys.readouterr().out == "the embedded server is not running\n"
    assert not embedded.status(18, root=data_dir).running


def test_unsupported_version_is_a_one_line_error(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DEFI_SQL_PG_VERSION", "15")
    assert main(["migrate"]) == 1
    assert capsys.readouterr().err == (
        "defi-sql: error: DEFI_SQL_PG_VERSION='15' is not supported; use one of 16, 18.\n"
    )
    assert not data_dir.exists()


def test_restart_applies_a_setting_that_needs_it(data_dir: Path) -> None:
    url = embedded.start(18, root=data_dir)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("ALTER SYSTEM SET shared_buffers = '160MB'")
    assert embedded.restart(18, root=data_dir)
    with psycopg.connect(url) as conn:
        assert conn.execute("SHOW shared_buffers").fetchone() == ("160MB",)
    assert embedded.stop(18, root=data_dir)
    assert not embedded.restart(18, root=data_dir)  # nothing running, nothing to restart


def test_start_again_in_the_same_process_after_a_stop(data_dir: Path) -> None:
    """pgserver caches the handle of a server this process started; ``start`` must not
    trust it once that server has stopped (or been killed)."""
    url = embedded.start(18, root=data_dir)
    assert embedded.stop(18, root=data_dir)
    assert not embedded.status(18, root=data_dir).running
    assert embedded.start(18, root=data_dir) == url
    assert embedded.status(18, root=data_dir).running
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)
