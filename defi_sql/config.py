"""Which database to use, and how to show it without its password.

Precedence, first match wins; each source is taken whole, never mixed:

1. ``DATABASE_URL`` in the process environment;
2. the seed's ``DB_HOST``/``DB_PORT``/``DB_USER``/``DB_PASSWORD``/``DB_DATABASE``
   in the process environment (any one of them present selects this source);
3. ``DATABASE_URL`` in a ``.env`` file of the current directory;
4. the ``DB_*`` variables in that ``.env`` file;
5. the embedded PostgreSQL (``defi_sql.dev.embedded``), started on demand.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import psycopg
from dotenv import dotenv_values
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from defi_sql.errors import ConfigError

__all__ = [
    "DB_VARIABLES",
    "DatabaseSettings",
    "environment_name",
    "mask_conninfo",
    "parse_url",
    "resolve_settings",
]

DB_VARIABLES = ("DB_HOST", "DB_PORT", "DB_USER", "DB_PASSWORD", "DB_DATABASE")
_SCHEMES = ("postgresql://", "postgres://")
_DRIVER_SCHEMES = ("postgresql+psycopg://", "postgresql+psycopg2://", "postgresql+asyncpg://")


@dataclass(frozen=True)
class DatabaseSettings:
    """A configured server. ``conninfo`` holds the password: never print it."""

    conninfo: str
    source: str

    @property
    def display(self) -> str:
        """The connection as a URL with the password replaced by ``***``."""
        return mask_conninfo(self.conninfo)

    def __repr__(self) -> str:
        return f"DatabaseSettings({self.display!r}, source={self.source!r})"


def mask_conninfo(conninfo: str) -> str:
    """Render a conninfo string or URL as a URL with any password masked."""
    try:
        params = conninfo_to_dict(conninfo)
    except psycopg.ProgrammingError:
        return "<unparseable connection string>"
    user = params.get("user")
    password = "***" if params.get("password") else None
    host = str(params.get("host") or "")
    port = params.get("port")
    dbname = params.get("dbname") or ""
    auth = ""
    if user:
        auth = f"{user}:{password}@" if password else f"{user}@"
    if host.startswith("/"):  # a unix socket directory
        location = f"/{dbname}?host={host}"
        return f"postgresql://{auth}{location}"
    netloc = f"{host}:{port}" if port else host
    return f"postgresql://{auth}{netloc}/{dbname}"


def _refuse_nul(value: str, source: str) -> None:
    # libpq reads C strings: it would silently cut the value at the NUL byte
    if "\x00" in value:
        raise ConfigError(f"{source} contains a NUL byte; remove it.")


def _from_url(url: str, source: str) -> DatabaseSettings:
    url = url.strip()
    _refuse_nul(url, source)
    for driver_scheme in _DRIVER_SCHEMES:
        if url.startswith(driver_scheme):
            url = "postgresql://" + url[len(driver_scheme) :]
    is_keyword_form = "=" in url and "://" not in url  # libpq's "host=... dbname=..."
    if not url.startswith(_SCHEMES) and not is_keyword_form:
        raise ConfigError(
            f"{source} does not start with postgresql://; "
            "write it as postgresql://user:password@host:5432/database."
        )
    try:
        params = conninfo_to_dict(url)
    except psycopg.ProgrammingError:
        raise ConfigError(
            f"{source} is not a valid PostgreSQL URL; "
            "write it as postgresql://user:password@host:5432/database "
            "(percent-encode special characters in the password)."
        ) from None
    port = str(params.get("port") or "5432")
    if not all(part.isdigit() for part in port.split(",")):
        raise ConfigError(f"{source} has a port that is not a number; use e.g. :5432.")
    return DatabaseSettings(make_conninfo(url), source)


def parse_url(url: str, source: str) -> str:
    """``url`` as a libpq conninfo; :class:`ConfigError` naming ``source`` if it is not one."""
    return _from_url(url, source).conninfo


def _from_db_variables(values: Mapping[str, str | None], source: str) -> DatabaseSettings:
    for name in DB_VARIABLES:
        _refuse_nul(values.get(name) or "", f"{name} ({source})")
    port = values.get("DB_PORT") or "5432"
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigError(
            f"DB_PORT={port!r} ({source}) is not a port number; use e.g. DB_PORT=5432."
        )
    params = {
        "host": values.get("DB_HOST") or "localhost",
        "port": port,
        "user": values.get("DB_USER") or "postgres",
        "dbname": values.get("DB_DATABASE") or "defi_assistant",
    }
    password = values.get("DB_PASSWORD")
    if password:
        params["password"] = password
    return DatabaseSettings(make_conninfo("", **params), source)


def _dotenv(path: Path | None) -> dict[str, str | None]:
    path = Path(".env") if path is None else path
    return dict(dotenv_values(path)) if path.is_file() else {}


def environment_name(
    environ: Mapping[str, str] | None = None, dotenv_path: Path | None = None
) -> str:
    """``DEFI_SQL_ENV`` (environment, then ``.env``), default ``development``."""
    env = os.environ if environ is None else environ
    value = env.get("DEFI_SQL_ENV") or _dotenv(dotenv_path).get("DEFI_SQL_ENV")
    return (value or "development").strip().lower()


def resolve_settings(
    environ: Mapping[str, str] | None = None, dotenv_path: Path | None = None
) -> DatabaseSettings | None:
    """The configured server, or ``None`` when the embedded one should be used."""
    env = os.environ if environ is None else environ
    layers: list[tuple[Mapping[str, str | None], str]] = [
        (env, "environment"),
        (_dotenv(dotenv_path), str(dotenv_path or ".env")),
    ]
    for values, origin in layers:
        if values.get("DATABASE_URL"):
            return _from_url(str(values["DATABASE_URL"]), f"DATABASE_URL ({origin})")
        if any(values.get(name) for name in DB_VARIABLES):
            return _from_db_variables(values, f"DB_* variables ({origin})")
    return None
