"""Streaming replicas of the embedded server, for development and tests: ``defi-sql replica``.

:func:`start` makes a hot standby of the embedded primary
(:mod:`defi_sql.dev.embedded`, started first when it is not running) with the
wheel's own ``pg_basebackup``, run as the server's system user, into
``replicas/pg<version>/<name>`` beside the primary's ``pg<version>`` (in
``.pgdata`` of a checkout), and starts it listening on a unix socket in its own
folder only, streaming from the primary over the primary's socket. A replica
that exists is only started (and given its new settings); ``stop`` leaves its
folder, so the next ``start`` takes up where it stopped.

The primary is left as the wheel's ``initdb`` made it, which is all a replica
on the same machine needs: ``wal_level = replica``, ``max_wal_senders = 10``
and ``local replication all trust`` in ``pg_hba.conf``. No replication slot
either: a stopped or forgotten replica never makes the primary keep WAL for
it. The price: a replica stopped while the primary wrote more WAL than it
keeps cannot catch up, and its log says so; stop it, remove its folder and
start it again to clone it afresh.

``delay_ms`` sets ``recovery_min_apply_delay``: the replica receives the WAL at
once but replays each commit only that long after it happened, which is how
tests make a lagging replica. A replica's own settings are in ``replica.conf``
of its folder (included by its ``postgresql.conf``), rewritten on each start
and reloaded by a running replica.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from psycopg.conninfo import make_conninfo

from defi_sql.dev import embedded
from defi_sql.errors import ConfigError, DatabaseUnavailable, first_line
from defi_sql.paths import data_dir

__all__ = ["DEFAULT_NAME", "ReplicaStatus", "replica_dir", "start", "status", "stop"]

DEFAULT_NAME = "replica1"
_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,39}")
_SETTINGS = "replica.conf"
_INCLUDE = f"include_if_exists = '{_SETTINGS}'  # defi-sql replica: this replica's own settings"
_DELAY = re.compile(r"^recovery_min_apply_delay = '(\d+)ms'$", re.MULTILINE)
#: what pg_basebackup copies from the primary's folder that belongs to the primary's
#: process only: the wheel's log and handle list, the lock file of its socket
_NOT_COPIED = ("log", ".handle_pids.json", ".s.PGSQL.*.lock")


@dataclass(frozen=True)
class ReplicaStatus:
    name: str
    version: int
    data_dir: Path
    running: bool
    pid: int | None
    conninfo: str | None
    #: ``recovery_min_apply_delay`` in milliseconds
    delay_ms: int
    #: False once promoted (its ``standby.signal`` is gone): it no longer follows the primary
    standby: bool


def replica_dir(name: str, version: int, root: Path | None = None) -> Path:
    """The folder of replica ``name`` of the embedded PostgreSQL ``version``."""
    return (root or data_dir()) / "replicas" / f"pg{version}" / name


def _checked_name(name: str) -> str:
    if not _NAME.fullmatch(name):
        raise ConfigError(
            f"{name!r} is not a replica name; use lower-case letters, digits, '-' and '_' "
            f"(at most 40, starting with a letter or digit), e.g. {DEFAULT_NAME}."
        )
    return name


def start(
    name: str = DEFAULT_NAME,
    *,
    version: int | None = None,
    delay_ms: int | None = None,
    root: Path | None = None,
    database: str = embedded.DEFAULT_DATABASE,
) -> str:
    """Start replica ``name`` (cloning the primary first when it has no folder yet);
    return a conninfo for ``database`` on it.

    ``delay_ms`` sets the replay delay (None keeps the replica's own, 0 for a new one).
    """
    version = embedded.pg_version() if version is None else version
    pgdata = replica_dir(_checked_name(name), version, root)
    if delay_ms is not None and (isinstance(delay_ms, bool) or not 0 <= delay_ms <= 2**31 - 1):
        raise ConfigError(f"the delay must be from 0 to 2147483647 ms, not {delay_ms}.")
    embedded.start(version, database=database, root=root)
    primary = embedded.status(version, root=root)
    socket_dir = _socket_dir(primary.data_dir)
    if not (pgdata / "PG_VERSION").is_file():
        _clone(version, primary.data_dir, socket_dir, pgdata)
    delay = _delay(pgdata) if delay_ms is None else delay_ms
    _write_settings(pgdata, name, socket_dir, delay)
    if _running(pgdata, version):
        _pg_ctl(version, pgdata, "reload")
    else:
        _start(version, name, pgdata)
    state = _status(name, version, pgdata, database)
    assert state.conninfo is not None  # it is running: pg_ctl start waited for it
    return state.conninfo


def stop(
    name: str | None = None, *, version: int | None = None, root: Path | None = None
) -> list[str]:
    """Stop replica ``name`` (every replica when None); return the names of those that
    were running. Their folders stay, for the next :func:`start`."""
    version = embedded.pg_version() if version is None else version
    names = [_checked_name(name)] if name is not None else [s.name for s in status(version, root)]
    stopped = []
    for each in names:
        pgdata = replica_dir(each, version, root)
        if _running(pgdata, version):
            _pg_ctl(version, pgdata, "stop")
            stopped.append(each)
    return stopped


def status(version: int | None = None, root: Path | None = None) -> list[ReplicaStatus]:
    """Every replica of the embedded PostgreSQL ``version``, by name."""
    version = embedded.pg_version() if version is None else version
    folder = replica_dir(DEFAULT_NAME, version, root).parent
    if not folder.is_dir():
        return []
    return [
        _status(path.name, version, path)
        for path in sorted(folder.iterdir())
        if (path / "PG_VERSION").is_file()
    ]


def _status(
    name: str, version: int, pgdata: Path, database: str = embedded.DEFAULT_DATABASE
) -> ReplicaStatus:
    info = embedded.postmaster_info(pgdata)
    running = bool(info is not None and info.is_running() and info.status == "ready")
    return ReplicaStatus(
        name=name,
        version=version,
        data_dir=pgdata,
        running=running,
        pid=info.pid if running and info is not None else None,
        conninfo=str(info.get_uri(database=database)) if running and info is not None else None,
        delay_ms=_delay(pgdata),
        standby=(pgdata / "standby.signal").is_file(),
    )


def _running(pgdata: Path, version: int) -> bool:
    return _status(pgdata.name, version, pgdata).running


def _delay(pgdata: Path) -> int:
    try:
        found = _DELAY.search((pgdata / _SETTINGS).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return 0
    return int(found.group(1)) if found else 0


def _socket_dir(pgdata: Path) -> Path:
    """Where the server of ``pgdata`` listens (as the wheel chooses: its folder, or a
    shorter one when that path is too long for a unix socket)."""
    info = embedded.postmaster_info(pgdata)
    if info is None or info.socket_dir is None:
        raise DatabaseUnavailable(
            f"the embedded PostgreSQL in {pgdata} is not listening on a unix socket; "
            "run `defi-sql db stop` and start the replica again."
        )
    return Path(info.socket_dir)


def _clone(version: int, primary: Path, socket_dir: Path, pgdata: Path) -> None:
    """A base backup of the primary in ``pgdata``, owned by the server's system user."""
    embedded.prepare_folder(pgdata.parent)
    done = embedded.run_program(
        version,
        "pg_basebackup",
        [
            "--pgdata",
            str(pgdata),
            "--dbname",
            make_conninfo("", host=str(socket_dir), user="postgres", dbname="postgres"),
            "--wal-method=stream",
            "--checkpoint=fast",
            "--no-sync",  # a development replica: cloned again if the machine crashes
            "--no-password",
        ],
        timeout=600,
    )
    if done.returncode != 0:
        shutil.rmtree(pgdata, ignore_errors=True)
        raise DatabaseUnavailable(
            f"pg_basebackup could not clone the embedded PostgreSQL {version} in {primary} "
            f"({first_line(done.stderr, last=True)}); see {primary / 'log'}."
        )
    for pattern in _NOT_COPIED:
        for path in pgdata.glob(pattern):
            path.unlink()
    (pgdata / "standby.signal").touch()
    embedded.give_to_server(pgdata / "standby.signal")
    conf = pgdata / "postgresql.conf"
    with conf.open("a", encoding="utf-8") as file:
        file.write(f"\n{_INCLUDE}\n")


def _quoted(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _write_settings(pgdata: Path, name: str, socket_dir: Path, delay_ms: int) -> None:
    primary = make_conninfo(
        "", host=str(socket_dir), user="postgres", application_name=name, connect_timeout=10
    )
    path = pgdata / _SETTINGS
    path.write_text(
        "# Written by `defi-sql replica start` on each start: edits are lost.\n"
        f"primary_conninfo = {_quoted(primary)}\n"
        f"recovery_min_apply_delay = '{delay_ms}ms'\n",
        encoding="utf-8",
    )
    embedded.give_to_server(path)


def _start(version: int, name: str, pgdata: Path) -> None:
    socket_dir = embedded.socket_dir_for(pgdata)
    done = embedded.run_program(
        version,
        "pg_ctl",
        [
            "--wait",
            "--timeout=60",
            "--pgdata",
            str(pgdata),
            "--log",
            str(pgdata / "log"),
            # no TCP address, a unix socket in its own folder (as the wheel starts a server)
            "--options",
            f'-h "" -k "{socket_dir}"',
            "start",
        ],
    )
    if done.returncode != 0:
        raise DatabaseUnavailable(
            f"replica {name} of the embedded PostgreSQL {version} failed to start "
            f"({first_line(done.stderr, last=True)}); see {pgdata / 'log'}, or stop it, "
            f"remove {pgdata} and start it again to clone it afresh."
        )


def _pg_ctl(version: int, pgdata: Path, action: str) -> None:
    mode = ["--mode=fast"] if action == "stop" else []
    done = embedded.run_program(
        version, "pg_ctl", ["--wait", "--pgdata", str(pgdata), *mode, action]
    )
    if done.returncode != 0:
        raise DatabaseUnavailable(
            f"pg_ctl {action} of the replica in {pgdata} failed "
            f"({first_line(done.stderr, last=True)}); see {pgdata / 'log'}."
        )
