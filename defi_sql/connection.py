"""Opening connections, with driver errors turned into our own.

A refused or failed connection becomes :class:`DatabaseUnavailable` whose
message names the host, port and database, never the password.
"""

from __future__ import annotations

import os
from typing import Any

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from defi_sql.config import mask_conninfo
from defi_sql.errors import ConfigError, DatabaseUnavailable

__all__ = ["client_arguments", "connect", "describe_failure", "scrub"]


def scrub(text: str, conninfo: str) -> str:
    """Remove the password of ``conninfo`` from ``text``, wherever it appears."""
    try:
        password = conninfo_to_dict(conninfo).get("password")
    except psycopg.ProgrammingError:
        return text
    if password:
        text = text.replace(str(password), "***")
    return text


def describe_failure(exc: psycopg.Error, conninfo: str) -> str:
    """One line saying why the server could not be used, without secrets."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    reason = lines[0] if lines else type(exc).__name__
    reason = reason.removeprefix("connection failed:").strip()
    return scrub(reason, conninfo)


def connect(conninfo: str, **kwargs: Any) -> psycopg.Connection[Any]:
    """``psycopg.connect`` that raises :class:`DatabaseUnavailable` on failure."""
    kwargs.setdefault("connect_timeout", 10)
    try:
        return psycopg.connect(conninfo, **kwargs)
    except psycopg.OperationalError as exc:
        raise DatabaseUnavailable(
            f"cannot connect to {mask_conninfo(conninfo)}: {describe_failure(exc, conninfo)}; "
            "check that the server is running and that DATABASE_URL (or DB_*) is right."
        ) from None
    except psycopg.ProgrammingError:
        raise ConfigError(
            f"the connection settings {mask_conninfo(conninfo)} are not valid; "
            "write DATABASE_URL as postgresql://user:password@host:5432/database."
        ) from None


def client_arguments(conninfo: str) -> tuple[str, dict[str, str]]:
    """A conninfo without its password, and an environment carrying it as PGPASSWORD,
    for running a libpq client tool (psql, pg_dump): never a password on a command
    line, where ``ps`` shows it."""
    params = conninfo_to_dict(conninfo)
    password = params.pop("password", None)
    env = dict(os.environ)
    if password:
        env["PGPASSWORD"] = str(password)
    return make_conninfo("", **params), env
