"""What ``check`` found: a :class:`Report` of :class:`Problem` s, each with its
``file:line`` (or a database), its severity and the check that found it, and its
shard section: which queries would run on one shard or on all once the per-user
tables are distributed (:mod:`defi_sql.check.shards`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

import psycopg

from defi_sql.check.describe import to_numbered
from defi_sql.paths import display_path
from defi_sql.statements import Statement

if TYPE_CHECKING:
    from defi_sql.check.shards import ShardVerdict

__all__ = ["Problem", "Report", "Severity", "error_line", "location"]

Severity = Literal["error", "warning"]


@dataclass(frozen=True)
class Problem:
    """One finding: where (``file:line`` or a database), how bad, which check, what."""

    where: str
    severity: Severity
    check: str
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.severity}: [{self.check}] {self.message}"


@dataclass
class Report:
    """Everything ``check`` found, and what it looked at."""

    problems: list[Problem] = field(default_factory=list)
    migrations: int = 0
    queries: int = 0
    #: every query that touches a per-user table (or declares ``shards: multi``),
    #: single- or multi-shard, in file order
    shards: list[ShardVerdict] = field(default_factory=list)

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "warning"]

    def error(self, where: str, check: str, message: str) -> None:
        """Record a problem that fails the check."""
        self.problems.append(Problem(where, "error", check, message))

    def warning(self, where: str, check: str, message: str) -> None:
        """Record a problem worth reading that does not fail the check."""
        self.problems.append(Problem(where, "warning", check, message))


def location(stmt: Statement, line: int | None = None) -> str:
    """``file:line`` of the query (or of ``line`` in its file), relative to the cwd."""
    return f"{display_path(stmt.path)}:{line or stmt.line}"


def error_line(stmt: Statement, exc: psycopg.Error) -> int:
    """The file line of the error position the server reports, else the query's line."""
    position = exc.diag.statement_position
    if not position:
        return stmt.line
    numbered, _names = to_numbered(stmt.sql)
    return stmt.body_line + numbered.count("\n", 0, int(position) - 1)
