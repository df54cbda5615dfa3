"""Development replicas of the embedded server: `defi-sql replica start|stop|status`.

Made of the session's embedded server (PostgreSQL 16 and 18), in its temporary
root, never in the developer's ``.pgdata``.
"""

from __future__ import annotations

import hashlib
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from defi_sql.cli import main
from defi_sql.dev import embedded, replicas

from .conftest import Server


@pytest.fixture
def root(server: Server, clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The session server's root as the CLI's data folder; the replica ``cli`` removed after."""
    if server.root is None or server.version is None:
        pytest.skip("replicas are made of the embedded server, not of TEST_DATABASE_URL")
    monkeypatch.setenv("DEFI_SQL_DATA_DIR", str(server.root))
    monkeypatch.setenv("DEFI_SQL_PG_VERSION", str(server.version))
    yield server.root
    replicas.stop("cli", version=server.version, root=server.root)
    shutil.rmtree(replicas.replica_dir("cli", server.version, server.root), ignore_errors=True)


def _fingerprint(pgdata: Path) -> dict[str, str]:
    return {
        name: hashlib.sha256((pgdata / name).read_bytes()).hexdigest()
        for name in ("postgresql.conf", "postgresql.auto.conf", "pg_hba.conf")
    }


def _setting(url: str, name: str) -> str:
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT current_setting(%s)", [name]).fetchone()
        assert row is not None
        return str(row[0])


def test_replica_commands(server: Server, root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    version = server.version
    folder = root / "replicas" / f"pg{version}" / "cli"
    url = f"postgresql://postgres:@/defi_assistant?host={folder}"
    primary = embedded.status(version, root=root).data_dir
    before = _fingerprint(primary)

    assert main(["replica", "start", "--name", "cli", "--delay", "250"]) == 0
    assert capsys.readouterr().out == (
        f"replica cli of PostgreSQL {version} is running (replay delayed 250 ms): {url}\n"
    )
    assert _fingerprint(primary) == before  # the wheel's initdb gave the primary all it needs
    with psycopg.connect(url, autocommit=True) as conn:
        assert conn.execute("SELECT pg_is_in_recovery()").fetchone() == (True,)
        with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
            conn.execute("CREATE TABLE nope (id int)")
    assert _setting(url, "recovery_min_apply_delay") == "250ms"
    assert {p.name for p in folder.glob(".s.PGSQL.*")} == {".s.PGSQL.5432", ".s.PGSQL.5432.lock"}

    assert main(["replica", "status"]) == 0
    (line,) = capsys.readouterr().out.splitlines()
    assert line.startswith(f"cli in {folder} (streaming, replay delayed 250 ms): running (pid ")
    assert line.endswith(f"): {url}")

    assert main(["replica", "start", "--name", "cli", "--delay", "0"]) == 0  # running: reloaded
    assert capsys.readouterr().out == f"replica cli of PostgreSQL {version} is running: {url}\n"
    deadline = time.monotonic() + 30
    while _setting(url, "recovery_min_apply_delay") != "0":
        assert time.monotonic() < deadline
        time.sleep(0.05)

    assert main(["replica", "stop", "--name", "cli"]) == 0
    assert capsys.readouterr().out == "stopped replica cli\n"
    assert main(["replica", "stop", "--name", "cli"]) == 0
    assert capsys.readouterr().out == "replica cli is not running\n"
    assert main(["replica", "status"]) == 0
    assert capsys.readouterr().out == f"cli in {folder} (streaming): stopped\n"

    marker = folder / "base" / "marker"  # started again from its folder, not cloned afresh
    marker.touch()
    assert main(["replica", "start", "--name", "cli"]) == 0
    assert capsys.readouterr().out == f"replica cli of PostgreSQL {version} is running: {url}\n"
    assert marker.exists()
    assert main(["replica", "stop"]) == 0  # every one
    assert capsys.readouterr().out == "stopped replica cli\n"
    assert main(["replica", "stop"]) == 0
    assert capsys.readouterr().out == "no replica is running\n"


def test_a_promoted_replica_says_so(server: Server, root: Path) -> None:
    assert server.version is not None
    replicas.start("cli", version=server.version, root=root)
    folder = replicas.replica_dir("cli", server.version, root)
    done = embedded.run_program(
        server.version, "pg_ctl", ["--wait", "--pgdata", str(folder), "promote"]
    )
    assert done.returncode == 0, done.stderr
    (state,) = [s for s in replicas.status(server.version, root) if s.name == "cli"]
    assert state.running and not state.standby


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param(
            ["replica", "stop", "--delay", "3"],
            "--delay is the replay delay of `replica start`, not of `replica stop`; "
            "run `defi-sql replica start --delay 3`.",
            id="delay-on-stop",
        ),
        pytest.param(
            ["replica", "start", "--name", "Bad Name"],
            "'Bad Name' is not a replica name; use lower-case letters, digits, '-' and '_' "
            "(at most 40, starting with a letter or digit), e.g. replica1.",
            id="bad-name",
        ),
        pytest.param(
            ["replica", "stop", "--name", "../pg18"],
            "'../pg18' is not a replica name; use lower-case letters, digits, '-' and '_' "
            "(at most 40, starting with a letter or digit), e.g. replica1.",
            id="a-path",
        ),
        pytest.param(
            ["replica", "start", "--delay", "-5"],
            "the delay must be from 0 to 2147483647 ms, not -5.",
            id="negative-delay",
        ),
    ],
)
def test_replica_command_errors(
    args: list[str],
    message: str,
    clean_env: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("DEFI_SQL_DATA_DIR", str(clean_env / "pgdata"))
    assert main(args) == 1
    assert capsys.readouterr() == ("", f"defi-sql: error: {message}\n")
    assert not (clean_env / "pgdata").exists()  # refused before any server was started
