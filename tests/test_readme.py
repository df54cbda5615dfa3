"""The README tells the truth: its Python runs as shown, its commands exist."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from defi_sql.cli import build_parser

from .conftest import REPO, Server
from .helpers import caught_up, replica_of

README = (REPO / "README.md").read_text(encoding="utf-8")
PYTHON_BLOCKS = re.findall(r"```python\n(.*?)```", README, re.DOTALL)


def test_readme_opens_with_the_two_commands() -> None:
    first_block = re.search(r"```sh\n(.*?)```", README, re.DOTALL)
    assert first_block is not None
    commands = [line.split("#")[0].strip() for line in first_block.group(1).splitlines()]
    assert commands == ["make migrate", "make test"]


@pytest.fixture(scope="module")
def readme_replica(server: Server) -> Iterator[str | None]:
    """A streaming replica for the block that takes REPLICA_URLS (none on an external server)."""
    if server.root is None:
        yield None
        return
    yield from replica_of(server, "readme", 0)


@pytest.mark.parametrize("index", range(len(PYTHON_BLOCKS)))
def test_python_block_runs_as_shown(
    index: int,
    db_url: str,
    clean_env: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    request: pytest.FixtureRequest,
) -> None:
    monkeypatch.setenv("DATABASE_URL", db_url)
    if "REPLICA_URLS" in PYTHON_BLOCKS[index]:
        replica = request.getfixturevalue("readme_replica")
        if replica is not None:
            monkeypatch.setenv("REPLICA_URLS", " ".join(caught_up(db_url, replica)))
    namespace: dict[str, Any] = {"__name__": f"readme_block_{index}"}
    try:
        exec(compile(PYTHON_BLOCKS[index], f"README.md python block {index}", "exec"), namespace)
    finally:
        conn = namespace.get("conn")
        if isinstance(conn, psycopg.Connection):
            conn.close()
    out = capsys.readouterr().out
    with psycopg.connect(db_url) as check:
        if index == 0:
            assert out.splitlines() == ["aave 2.5"]  # no pending alert yet, one position
            row = check.execute(
                "SELECT u.wallet_address, count(a.id)"
                "  FROM users u JOIN alerts a ON a.user_id = u.id GROUP BY 1"
            ).fetchone()
            assert row == ("0x1234567890abcdef1234567890abcdef12345678", 1)
        elif index == 1:
            assert out == "0xabcdef0123456789abcdef0123456789abcdef01 0\n"
        elif index == 2:
            assert out.splitlines() == ["1 pending", "send email HF 1.1 key True", "1 sent"]
            assert check.execute("SELECT status, attempts FROM alerts").fetchall() == [("sent", 1)]
        elif index == 3:  # the projection followed the store, its checkpoint kept in the database
            assert out == "1.4 1\n"
            assert check.execute(
                "SELECT name, events_handled FROM event_subscriptions"
            ).fetchall() == [("health-projection", 1)]
        elif index == 4:  # written on the primary, read back through the router
            assert out == "4242\n"
            assert check.execute("SELECT telegram_chat_id FROM users").fetchall() == [("4242",)]
        else:
            raise AssertionError(f"README python block {index} has no check here: add one")


def test_every_cli_command_is_in_the_readme() -> None:
    subparsers = next(a for a in build_parser()._actions if a.dest == "command")
    for name in subparsers.choices:  # type: ignore[union-attr]
        assert f"`defi-sql {name}" in README, f"defi-sql {name} is not documented"


def test_every_make_target_in_the_readme_exists() -> None:
    targets = set(re.findall(r"`make ([a-z-]+)", README))
    assert {"migrate", "rollback", "fresh", "status", "new", "seed"} <= targets
    help_text = subprocess.run(
        ["make", "-s", "help"], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout
    listed = set(re.findall(r"make ([a-z-]+)", help_text))
    assert targets <= listed, f"README mentions unknown targets {targets - listed}"
