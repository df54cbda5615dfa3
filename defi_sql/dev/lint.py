"""Linting ``sql/migrations``: squawk's rules and our own, as one sorted list of findings.

``defi-sql lint`` (and ``make lint``) runs :func:`lint_migrations`. The rules:

* **squawk** (the ``squawk`` binary of the ``squawk-cli`` package) over every
  migration and rollback, configured by the tree's ``.squawk.toml``, with
  ``--assume-in-transaction`` unless the migration says ``-- transactional: false``;
* **ignore-without-reason**: a ``-- squawk-ignore rule-a, rule-b`` (or
  ``squawk-ignore-file``) comment must say why after the rules, as in
  ``-- squawk-ignore-file ban-drop-table -- the rollback of a CREATE TABLE drops it``;
* **rollback-missing**: every ``NNNN.name.sql`` has its ``NNNN.name.rollback.sql``;
* **concurrently-in-transaction**: ``CREATE INDEX CONCURRENTLY`` and its kin
  cannot run in a transaction, so only in a ``-- transactional: false`` migration;
* **non-transactional-multi-statement**: such a migration holds exactly one
  statement, since PostgreSQL commits each statement of it on its own;
* **concurrently-if-not-exists**: ``CREATE INDEX CONCURRENTLY IF NOT EXISTS``
  skips the INVALID index a failed build left, so it is refused;
* **template-placeholder**: the opening comment of ``defi-sql new``'s template
  was replaced by the reason for the migration;
* **edited-migration**: a migration recorded in ``migrations.sum`` (written by
  ``defi-sql schema``, append-only) still has the recorded checksum;
* and every rule the migrator checks before it runs anything
  (:mod:`defi_sql.migrate.files`): file names, ``-- transactional:`` values,
  dependencies (unknown, later, cycles), empty files, transaction-control
  statements, shared numbers.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from yoyo.migrations import read_sql_migration

from defi_sql.errors import ConfigError, first_line
from defi_sql.migrate.bookkeeping import checksum
from defi_sql.migrate.files import (
    Problem,
    forward_paths,
    problems,
    rollback_path,
    statements_of,
)
from defi_sql.migrate.new import TEMPLATE_PLACEHOLDER
from defi_sql.migrate.sqltext import scan
from defi_sql.paths import display_path

__all__ = [
    "MANIFEST_HEADER",
    "Finding",
    "display_path",
    "lint_migrations",
    "manifest_path",
    "read_manifest",
    "squawk_path",
    "update_manifest",
]

#: The oldest PostgreSQL the project supports (and tests on); squawk's rules depend on it.
PG_VERSION = "16"

MANIFEST_HEADER = """\
# The SHA-256 of every forward migration, recorded by `make schema` (defi-sql schema)
# when it first sees the file; lines are only ever appended, never rewritten.
# `make lint` reports a recorded migration whose content changed since: an applied
# migration is never edited, add a new one with `defi-sql new` instead.
"""

_SUM_LINE = re.compile(r"^(\S+\.sql) ([0-9a-f]{64})$")
_IGNORE = re.compile(r"^squawk-ignore(-file)?")
_CONCURRENTLY = re.compile(
    r"(?:"
    r"(?P<index>(?:CREATE\s+(?:UNIQUE\s+)?|DROP\s+)INDEX\s+CONCURRENTLY)\b"
    r"|(?P<reindex>REINDEX)\b.*?\bCONCURRENTLY\b"
    r"|ALTER\s+TABLE\b.*?\b(?P<detach>DETACH\s+PARTITION)\b.*?\bCONCURRENTLY\b"
    r")",
    re.IGNORECASE | re.DOTALL,
)


@dataclass(frozen=True)
class Finding(Problem):
    """One problem at one line of one file, reported with its rule."""

    def __str__(self) -> str:
        return f"{display_path(self.path)}:{self.line}: {self.rule}: {self.message}"


# -- the files ----------------------------------------------------------------


@dataclass(frozen=True)
class _File:
    path: Path
    transactional: bool  # yoyo runs it in a transaction


def _is_transactional(forward: Path) -> bool:
    """What yoyo decides: its ``-- transactional:`` directive of the forward file.

    yoyo reads directives from the leading comment block of the forward file only
    (a rollback runs as its forward file says) and accepts ``true``/``false``.
    """
    if not forward.is_file():
        return True
    directives, _comment, _statements = read_sql_migration(str(forward))
    return str(directives.get("transactional", "true")).lower() != "false"


def _files(directory: Path) -> list[_File]:
    files = []
    for path in sorted(directory.glob("*.sql")):
        forward = path
        if path.name.endswith(".rollback.sql"):
            forward = path.with_name(path.name.removesuffix(".rollback.sql") + ".sql")
        files.append(_File(path, _is_transactional(forward)))
    return files


# -- squawk ---------------------------------------------------------------------


def squawk_path() -> Path:
    """The ``squawk`` binary beside this Python (the venv's), else the one on PATH."""
    beside = Path(sys.executable).parent / "squawk"
    if beside.is_file():
        return beside
    found = shutil.which("squawk")
    if found:
        return Path(found)
    raise ConfigError(
        "cannot find squawk, the SQL migration linter, beside this Python or on PATH; "
        "install it with `pip install squawk-cli`."
    )


def _squawk(files: list[Path], *, in_transaction: bool, config: Path | None) -> list[Finding]:
    if not files:
        return []
    by_name = {str(path): path for path in files}
    command = [
        str(squawk_path()),
        "--reporter",
        "json",
        "--pg-version",
        PG_VERSION,
        # without a config of the tree, none at all (squawk would look upwards from the cwd)
        "--config",
        str(config) if config else os.devnull,
        "--assume-in-transaction" if in_transaction else "--no-assume-in-transaction",
        *by_name,
    ]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    try:
        reports: list[dict[str, Any]] = json.loads(result.stdout)
    except json.JSONDecodeError:
        detail = (
            first_line(result.stderr)
            if result.stderr.strip()
            else first_line(result.stdout, otherwise="no output")
        )
        raise ConfigError(
            f"squawk failed (exit status {result.returncode}): {detail}; "
            f"check {display_path(config) if config else 'its installation'}."
        ) from None
    findings = []
    for report in reports:
        message = " ".join(str(part) for part in (report["message"], report.get("help")) if part)
        findings.append(
            Finding(
                by_name.get(report["file"], Path(report["file"])),
                int(report["line"]) + 1,  # squawk's json (and gcc) lines are 0-based
                str(report["rule_name"]),
                message,
            )
        )
    return findings


# -- our rules ------------------------------------------------------------------


def _line(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1


def _ignores_without_reason(path: Path, text: str) -> Iterable[Finding]:
    """``squawk-ignore`` comments that give no reason after their rule list.

    squawk reads the comment as ``squawk-ignore[-file] <rules>`` up to the first
    ``--``; we require a reason after that ``--``.
    """
    for offset, body in scan(text)[1]:
        directive, _dashes, reason = body.strip().partition("--")
        match = _IGNORE.match(directive)
        if match is None or reason.strip():
            continue
        comment = f"-- {match.group(0)} {directive[match.end() :].strip()}".rstrip()
        yield Finding(
            path,
            _line(text, offset),
            "ignore-without-reason",
            f"`{comment}` does not say why; write the reason after the rules: "
            f"`{comment} -- <why it is safe here>`.",
        )


def _statements(path: Path, text: str) -> list[tuple[int, str]]:
    """The statements yoyo runs, as (offset in ``text``, statement), comments-only ones left out."""
    return [(offset, statement) for offset, _start, statement in statements_of(path, text)[1]]


def _transaction_rules(file: _File, text: str) -> Iterable[Finding]:
    masked = scan(text)[0]
    statements = _statements(file.path, text)
    for offset, statement in statements:
        match = _CONCURRENTLY.match(masked[offset : offset + len(statement)])
        if match is None or not file.transactional:
            continue
        if match.group("index"):
            what = " ".join(match.group("index").upper().split())
        elif match.group("reindex"):
            what = "REINDEX ... CONCURRENTLY"
        else:
            what = "DETACH PARTITION ... CONCURRENTLY"
        yield Finding(
            file.path,
            _line(text, offset),
            "concurrently-in-transaction",
            f"{what} cannot run inside a transaction, and yoyo runs this file in one; move it "
            "to a migration of its own whose header says `-- transactional: false`.",
        )
    if not file.transactional and len(statements) > 1:
        offset = statements[1][0]
        yield Finding(
            file.path,
            _line(text, offset),
            "non-transactional-multi-statement",
            f"a `-- transactional: false` migration must hold one statement, not "
            f"{len(statements)}: PostgreSQL commits each on its own, so a failure part-way "
            "leaves it half-applied and its rollback cannot undo it cleanly; split it into "
            "migrations of one statement each.",
        )


_IF_NOT_EXISTS = re.compile(
    r"CREATE\s+(?:UNIQUE\s+)?INDEX\s+CONCURRENTLY\s+IF\s+NOT\s+EXISTS\b", re.IGNORECASE
)


def _if_not_exists(path: Path, text: str) -> Iterable[Finding]:
    masked = scan(text)[0]
    for match in _IF_NOT_EXISTS.finditer(masked):
        yield Finding(
            path,
            _line(text, match.start()),
            "concurrently-if-not-exists",
            "CREATE INDEX CONCURRENTLY IF NOT EXISTS skips the INVALID index a failed build "
            "leaves, and the migration would be recorded over it; leave IF NOT EXISTS out "
            "(with `-- squawk-ignore prefer-robust-stmts -- <why>`): a rerun then names the "
            "leftover index instead.",
        )


def _placeholder(path: Path, text: str) -> Iterable[Finding]:
    for offset, body in scan(text)[1]:
        if TEMPLATE_PLACEHOLDER in body:
            yield Finding(
                path,
                _line(text, offset),
                "template-placeholder",
                f"the template's `{TEMPLATE_PLACEHOLDER}` is still here; replace it with the "
                "reason for this migration, in one or two sentences.",
            )


def _missing_rollbacks(directory: Path) -> Iterable[Finding]:
    for forward in forward_paths(directory):
        rollback = rollback_path(forward)
        if not rollback.is_file():
            yield Finding(
                forward,
                1,
                "rollback-missing",
                f"{forward.name} has no rollback file {rollback.name}; write one that restores "
                "the schema exactly as it was before.",
            )


# -- the manifest of checksums ----------------------------------------------------------


def manifest_path(sql_dir: Path) -> Path:
    """``migrations.sum`` of a sql tree (beside its ``migrations/`` folder)."""
    return sql_dir / "migrations.sum"


def read_manifest(manifest: Path) -> tuple[dict[str, tuple[int, str]], list[Finding]]:
    """``{file name: (line, sha256)}`` of ``manifest`` (empty when there is none), and
    a finding for every line that is neither that nor a ``#`` comment."""
    recorded: dict[str, tuple[int, str]] = {}
    problems: list[Finding] = []
    if not manifest.is_file():
        return recorded, problems
    for number, line in enumerate(manifest.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        match = _SUM_LINE.match(line.strip())
        if match is None or match.group(1) in recorded:
            problems.append(
                Finding(
                    manifest,
                    number,
                    "edited-migration",
                    f"expected `<file name> <sha256>` naming each migration once, found {line!r}; "
                    "restore the line as `make schema` wrote it.",
                )
            )
            continue
        recorded[match.group(1)] = (number, match.group(2))
    return recorded, problems


def update_manifest(directory: Path, manifest: Path) -> list[str]:
    """Append a line for every forward migration ``manifest`` does not list yet; never
    rewrite a line. Return the names appended."""
    recorded, _problems = read_manifest(manifest)
    new = [p for p in forward_paths(directory) if p.name not in recorded]
    if not new:
        return []
    existing = manifest.read_text(encoding="utf-8") if manifest.is_file() else ""
    lines = "".join(f"{p.name} {checksum(p)}\n" for p in new)
    with manifest.open("a", encoding="utf-8", newline="\n") as out:
        if not existing:
            out.write(MANIFEST_HEADER)
        elif not existing.endswith("\n"):
            out.write("\n")
        out.write(lines)
    return [p.name for p in new]


def _edited(directory: Path, manifest: Path) -> Iterable[Finding]:
    recorded, problems = read_manifest(manifest)
    yield from problems
    where = display_path(manifest)
    for name, (number, digest) in recorded.items():
        path = directory / name
        if not path.is_file():
            yield Finding(
                manifest,
                number,
                "edited-migration",
                f"{name} is recorded here but no longer exists; restore it (a migration "
                "that may have been applied stays), or, if it has never been applied outside "
                "your machine, delete this line.",
            )
        elif checksum(path) != digest:
            yield Finding(
                path,
                1,
                "edited-migration",
                f"{name} was edited after being recorded in {where}; add a new migration with "
                "`defi-sql new` instead, or, if it has never been applied outside your "
                f"machine, delete its line from {where} and run `make schema`.",
            )


# -- all of it ------------------------------------------------------------------


def lint_migrations(
    directory: Path, sums: Path, *, squawk_config: Path | None = None
) -> list[Finding]:
    """Every finding over the migrations of ``directory``, sorted by file and line.

    ``sums`` is the manifest of recorded checksums (it may not exist yet);
    ``squawk_config`` defaults to the ``.squawk.toml`` beside ``directory``.
    """
    if not directory.is_dir():
        raise ConfigError(
            f"{display_path(directory)} is not a folder; point --sql-dir (or DEFI_SQL_SQL_DIR) "
            "at a sql tree containing migrations/."
        )
    if squawk_config is None and (directory.parent / ".squawk.toml").is_file():
        squawk_config = directory.parent / ".squawk.toml"
    files = _files(directory)
    findings: list[Finding] = []
    for in_transaction in (True, False):
        chosen = [f.path for f in files if f.transactional is in_transaction]
        findings += _squawk(chosen, in_transaction=in_transaction, config=squawk_config)
    for file in files:
        text = file.path.read_text(encoding="utf-8")
        findings += _ignores_without_reason(file.path, text)
        findings += _transaction_rules(file, text)
        findings += _if_not_exists(file.path, text)
        findings += _placeholder(file.path, text)
    findings += (Finding(p.path, p.line, p.rule, p.message) for p in problems(directory))
    findings += _missing_rollbacks(directory)
    findings += _edited(directory, sums)
    return sorted(findings, key=lambda f: (display_path(f.path), f.line, f.rule, f.message))
