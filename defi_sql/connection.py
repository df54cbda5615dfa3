"""Opening connections, with driver errors turned into our own.

A refused or failed connection becomes :class:`DatabaseUnavailable` whose
message names the host, port and database, never the password.
"""

from __future__ import annotations

import os
import re
from typing import Any

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from defi_sql.config import mask_conninfo
from defi_sql.errors import ConfigError, DatabaseUnavailable

__all__ = ["client_arguments", "connect", "describe_failure", "scrub"]


#: A password where it is a credential, never elsewhere: a password spelling a word of
#: the message ("e", "port", "connection") must leave the message readable.
_CREDENTIALS = (
    # postgresql://user:PASSWORD@host (libpq ends the userinfo at the first @ or /)
    (re.compile(r"(\b[a-z][a-z0-9+.-]*://[^\s:/@]*:)[^\s/@]+(@)", re.IGNORECASE), r"\1***\2"),
    # ...?password=PASSWORD&... in a URL's query
    (re.compile(r"([?&]password=)[^\s&#]+", re.IGNORECASE), r"\1***"),
    # password=PASSWORD or password='PASS WORD' in libpq's keyword form, PGPASSWORD=...
    (
        re.compile(
            r"(?<![?&\w])((?:PG)?password\s*=\s*)('(?:[^'\\]|\\.)*'?|[^\s']\S*)", re.IGNORECASE
        ),
        r"\1***",
    ),
)


def scrub(text: str) -> str:
    """``text`` with every password that appears as a credential (a URL's userinfo or
    query, ``password=`` in a conninfo) replaced by ``***``; the rest left as written."""
    for pattern, replacement in _CREDENTIALS:
        text = pattern.sub(replacement, text)
    return text


def describe_failure(exc: psycopg.Error) -> str:
    """One line saying why the server could not be used, without secrets."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    reason = lines[0] if lines else type(exc).__name__
    reason = reason.removeprefix("connection failed:").strip()
    return scrub(reason)


def connect(conninfo: str, **kwargs: Any) -> psycopg.Connection[Any]:
    """``psycopg.connect`` that raises :class:`DatabaseUnavailable` on failure."""
    kwargs.setdefault("connect_timeout", 10)
    try:
        return psycopg.connect(conninfo, **kwargs)
    except psycopg.OperationalError as exc:
        raise DatabaseUnavailable(
            f"cannot connect to {mask_conninfo(conninfo)}: {describe_failure(exc)}; "
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
