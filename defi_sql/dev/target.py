"""The database a command works on: the configured one, else the embedded one."""

from __future__ import annotations

from dataclasses import dataclass

from defi_sql.config import DatabaseSettings, mask_conninfo, resolve_settings
from defi_sql.dev import embedded

__all__ = ["Target", "resolve_target"]


@dataclass(frozen=True)
class Target:
    """A database to connect to. ``conninfo`` may hold a password: show ``display``."""

    conninfo: str
    source: str
    embedded: bool

    @property
    def display(self) -> str:
        return mask_conninfo(self.conninfo)


def resolve_target(settings: DatabaseSettings | None = None) -> Target:
    """The configured server (see :mod:`defi_sql.config`), or the embedded one, started."""
    settings = settings or resolve_settings()
    if settings is not None:
        return Target(settings.conninfo, settings.source, embedded=False)
    version = embedded.pg_version()
    return Target(embedded.start(version), f"embedded PostgreSQL {version}", embedded=True)
