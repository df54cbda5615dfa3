"""A position in the primary's WAL, the token of read-your-writes.

A router session's ``write()`` (:mod:`defi_sql.aio.router`) ends by reading
where the primary's WAL stands; a replica may serve that caller's next read
once it has replayed up to there. The token is a plain value: ordered, comparable
across the sync and async APIs and across processes, and written as PostgreSQL
writes a ``pg_lsn`` (``16/B374D848``), so a web app can keep it in the user's
session or a cookie (``str(token)``) and read it back (``Token.parse``).
"""

from __future__ import annotations

import re

import msgspec

from defi_sql.errors import InvalidInput

__all__ = ["Token"]

_PG_LSN = re.compile(r"([0-9A-Fa-f]{1,8})/([0-9A-Fa-f]{1,8})")


class Token(msgspec.Struct, frozen=True, order=True):
    """A WAL position: ``lsn`` is its byte offset, as ``pg_lsn - '0/0'`` gives it."""

    lsn: int

    @classmethod
    def parse(cls, text: str) -> Token:
        """The token PostgreSQL writes as ``text`` (``pg_lsn``'s form, e.g. ``16/B374D848``)."""
        found = _PG_LSN.fullmatch(text.strip()) if isinstance(text, str) else None
        if found is None:
            raise InvalidInput(
                f"{text!r} is not a WAL position; pass one as PostgreSQL writes a pg_lsn, "
                "e.g. '16/B374D848' (str() of a Token)."
            )
        return cls((int(found.group(1), 16) << 32) | int(found.group(2), 16))

    def __str__(self) -> str:
        return f"{self.lsn >> 32:X}/{self.lsn & 0xFFFFFFFF:X}"
