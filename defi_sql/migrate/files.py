"""The files of ``sql/migrations``, read as one set and refused whole when any is wrong.

yoyo would run any ``*.sql`` (and ``*.py``) of the folder as a migration, let a
misspelt directive through to a ``KeyError``, a dependency cycle to a
``CycleError`` and an empty file to an empty migration, all discovered while
migrating. Here the whole set is checked before anything runs, and each problem
is one line naming the file and line:

* **names**: ``NNNN.verb-object.sql`` and its ``NNNN.verb-object.rollback.sql``;
  any other ``.sql`` or ``.py`` file (a ``.undo.sql``, a ``.rolback.sql`` typo)
  is refused, since yoyo would run it;
* **directives**: ``-- transactional:`` is ``true`` or ``false`` (any letter
  case, nothing around it); ``-- depends:`` names migrations of the folder that
  come before it (so no cycle, and number order is the order of applying);
* **statements**: a file holds at least one statement, and no statement that
  ends or opens a transaction (``BEGIN``, ``COMMIT``, ``ROLLBACK``, savepoints,
  two-phase commit): each migration runs in one transaction the migrator owns,
  and its bookkeeping is written in that same transaction;
* **numbers**: two migrations sharing a number (two branches merged) are
  reported by :func:`duplicate_numbers`; the migrator refuses them unless both
  are applied already.

Writing a new pair (``defi-sql new``) is :mod:`defi_sql.migrate.new`. Statements
are split exactly as yoyo splits them (``read_sql_migration``, with sqlparse), so
what is checked is what runs.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from yoyo.migrations import get_migration_hash, read_sql_migration

from defi_sql.errors import MigrationError
from defi_sql.migrate.sqltext import line_of, scan
from defi_sql.paths import display_path

__all__ = [
    "MigrationFile",
    "Problem",
    "Statement",
    "duplicate_numbers",
    "forward_paths",
    "migration_set",
    "problems",
    "read_migration_set",
    "rollback_path",
    "rollback_problems",
    "rollback_statements",
    "statements_of",
]

#: The sentence of `defi-sql new`'s template that lint refuses until it is replaced.
_FORWARD = re.compile(r"^(?P<number>\d{4})\.[a-z0-9]+(?:-[a-z0-9]+)*\.sql$")
_ROLLBACK = re.compile(r"^(?P<id>\d{4}\.[a-z0-9]+(?:-[a-z0-9]+)*)\.rollback\.sql$")
_DIRECTIVE = re.compile(r"^\s*--\s*(transactional|depends)\s*:\s*(.*)$")
#: Statements that end, open or split the migration's transaction.
_TRANSACTION_CONTROL = re.compile(
    r"^\s*(?P<word>BEGIN|START\s+TRANSACTION|COMMIT(?:\s+PREPARED)?|END|ROLLBACK(?:\s+PREPARED)?"
    r"|ABORT|SAVEPOINT|RELEASE|PREPARE\s+TRANSACTION)\b",
    re.IGNORECASE,
)
_WHY = {
    "BEGIN": "opens a transaction inside the one the migration already runs in",
    "START TRANSACTION": "opens a transaction inside the one the migration already runs in",
    "COMMIT": "commits the statements before it on their own, whatever happens after",
    "END": "commits the statements before it on their own, whatever happens after",
    "ROLLBACK": "silently undoes the statements before it, and the migration would "
    "still be recorded as applied",
    "ABORT": "silently undoes the statements before it, and the migration would "
    "still be recorded as applied",
    "SAVEPOINT": "splits the transaction the migration runs in",
    "RELEASE": "splits the transaction the migration runs in",
}


@dataclass(frozen=True)
class Problem:
    """One reason a migration set cannot run, at one line of one file."""

    path: Path
    line: int  # 1-based
    rule: str
    message: str

    def __str__(self) -> str:
        return f"{display_path(self.path)}:{self.line}: {self.message}"


@dataclass(frozen=True)
class Statement:
    """One statement as yoyo runs it: ``start``, the line of the file its text begins
    on (comments before it included), and ``line``, the line of its first keyword."""

    start: int
    line: int
    text: str


@dataclass(frozen=True)
class MigrationFile:
    """A forward migration of the set, read and checked."""

    id: str
    path: Path
    transactional: bool
    depends: tuple[str, ...]
    statements: tuple[Statement, ...]
    #: SHA-256 of the text the statements were read from (line ends as LF): what
    #: the bookkeeping records, whatever the file holds by the time it runs
    checksum: str

    @property
    def number(self) -> int:
        return int(self.id[:4])

    @property
    def rollback_path(self) -> Path:
        return rollback_path(self.path)

    @property
    def hash(self) -> str:
        """yoyo's key of the migration in ``_yoyo_migration``: SHA-256 of its id."""
        return str(get_migration_hash(self.id))


def forward_paths(directory: Path) -> list[Path]:
    """Every ``*.sql`` of ``directory`` but the rollbacks, by name (whatever their names:
    :func:`migration_set` and lint judge those)."""
    return sorted(p for p in directory.glob("*.sql") if not p.name.endswith(".rollback.sql"))


def rollback_path(forward: Path) -> Path:
    """``NNNN.name.rollback.sql`` beside ``NNNN.name.sql``."""
    return forward.with_name(forward.name.removesuffix(".sql") + ".rollback.sql")


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8").replace("\r\n", "\n")
    except UnicodeDecodeError:
        raise MigrationError(
            f"{display_path(path)}:1: is not UTF-8 text; save it as UTF-8."
        ) from None


def statements_of(path: Path, text: str) -> tuple[dict[str, str], list[tuple[int, int, str]]]:
    """yoyo's directives of ``path`` and the statements it runs, as (offset of the text,
    offset of its first keyword, statement), comment-only ones left out."""
    directives, _comment, statements = read_sql_migration(str(path))
    masked = scan(text)[0]
    found, position = [], 0
    for statement in statements:
        statement = statement.replace("\r\n", "\n")
        offset = text.find(statement, position)
        if offset < 0:  # not verbatim (never seen); count it at the last position
            offset = position
        else:
            position = offset + len(statement)
        body = masked[offset : offset + len(statement)]
        if body.strip():
            start = offset + len(body) - len(body.lstrip())
            found.append((offset, start, statement))
    return directives, found


def _directive_line(text: str, name: str) -> int:
    for number, line in enumerate(text.splitlines(), 1):
        match = _DIRECTIVE.match(line)
        if match and match.group(1) == name:
            return number
    return 1


def _transaction_control(
    path: Path, text: str, found: list[tuple[int, int, str]]
) -> Iterator[Problem]:
    masked = scan(text)[0]
    for offset, _start, statement in found:
        body = masked[offset : offset + len(statement)]
        position = 0
        for piece in body.split(";"):
            match = _TRANSACTION_CONTROL.match(piece)
            if match:
                word = " ".join(match.group("word").upper().split())
                why = _WHY.get(word, "is two-phase commit, which a migration cannot take part in")
                at = offset + position + match.start("word")
                yield Problem(
                    path,
                    line_of(text, at),
                    "transaction-control",
                    f"{word} {why}; remove it: each migration runs in one transaction of "
                    "its own, recorded as applied in that same transaction (a statement "
                    "that cannot run in a transaction goes alone in a "
                    "`-- transactional: false` migration).",
                )
            position += len(piece) + 1


def _file_problems(
    path: Path, *, rollback_of: str | None = None
) -> tuple[dict[str, str], list[tuple[int, int, str]], list[Problem]]:
    text = _read(path)
    directives, found = statements_of(path, text)
    found_problems: list[Problem] = []
    if rollback_of is None:
        raw = directives.get("transactional")
        if raw is not None and raw.lower() not in ("true", "false"):
            hint = " (mind the space around it)" if raw.strip().lower() in ("true", "false") else ""
            found_problems.append(
                Problem(
                    path,
                    _directive_line(text, "transactional"),
                    "bad-directive",
                    f"`-- transactional: {raw}` is neither true nor false{hint}; write "
                    "`-- transactional: false`, or leave the line out for a migration that "
                    "runs in one transaction.",
                )
            )
    if not found:
        if rollback_of is None:
            message = (
                f"{path.name} holds no SQL statement, only comments, yet it would be recorded "
                "as applied; write its statements, or delete it with its rollback."
            )
        else:
            message = (
                f"{path.name} holds no SQL statement, so rolling back {rollback_of} would "
                "change nothing and forget it; write the statements that undo it."
            )
        found_problems.append(Problem(path, 1, "empty-migration", message))
    found_problems += _transaction_control(path, text, found)
    return directives, found, found_problems


# -- the set -------------------------------------------------------------------


def _stray(directory: Path) -> Iterator[Problem]:
    shown = display_path(directory)
    for path in sorted(directory.iterdir()):
        if not path.is_file() or path.suffix not in (".sql", ".py"):
            continue
        if _FORWARD.match(path.name) and not path.name.endswith(".rollback.sql"):
            continue
        rollback = _ROLLBACK.match(path.name)
        if rollback:
            if not (directory / f"{rollback.group('id')}.sql").is_file():
                yield Problem(
                    path,
                    1,
                    "rollback-without-migration",
                    f"{path.name} has no migration {rollback.group('id')}.sql to undo; "
                    "rename it to match its migration, or delete it.",
                )
            continue
        yield Problem(
            path,
            1,
            "not-a-migration",
            f"{path.name} is neither a migration (NNNN.verb-object.sql) nor a rollback "
            f"(NNNN.verb-object.rollback.sql), yet yoyo would run it as a migration; "
            f"rename it, or move it out of {shown}.",
        )


def _cycles(graph: dict[str, tuple[str, ...]]) -> list[list[str]]:
    """Each dependency cycle once, as the ids along it, starting at its smallest id."""
    cycles: list[list[str]] = []
    seen: set[frozenset[str]] = set()
    state: dict[str, int] = {}  # 1: on the path, 2: done

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        path.append(node)
        for dep in graph.get(node, ()):
            if state.get(dep) == 1:
                cycle = path[path.index(dep) :]
                start = cycle.index(min(cycle))
                cycle = cycle[start:] + cycle[:start]
                if frozenset(cycle) not in seen:
                    seen.add(frozenset(cycle))
                    cycles.append(cycle)
            elif dep in graph and state.get(dep) is None:
                visit(dep, path)
        path.pop()
        state[node] = 2

    for node in sorted(graph):
        if state.get(node) is None:
            visit(node, [])
    return cycles


def migration_set(directory: Path) -> tuple[list[MigrationFile], list[Problem]]:
    """The forward migrations of ``directory`` in the order they apply (by number),
    and every problem of the set except shared numbers (see :func:`duplicate_numbers`)."""
    if not directory.is_dir():
        raise MigrationError(
            f"{display_path(directory)} does not exist; create it or set DEFI_SQL_SQL_DIR."
        )
    found: list[Problem] = list(_stray(directory))
    files: list[MigrationFile] = []
    forwards = sorted(
        p
        for p in directory.glob("*.sql")
        if _FORWARD.match(p.name) and not p.name.endswith(".rollback.sql")
    )
    for path in forwards:
        directives, statements, file_problems = _file_problems(path)
        found += file_problems
        text = _read(path)
        files.append(
            MigrationFile(
                id=path.name.removesuffix(".sql"),
                path=path,
                transactional=directives.get("transactional", "true").lower() != "false",
                depends=tuple(directives.get("depends", "").split()),
                statements=_as_statements(text, statements),
                checksum=hashlib.sha256(text.encode("utf-8")).hexdigest(),
            )
        )
    ids = {m.id: m for m in files}
    graph = {m.id: tuple(d for d in m.depends if d in ids) for m in files}
    in_cycle: set[str] = set()
    for cycle in _cycles(graph):
        in_cycle.update(cycle)
        first = ids[cycle[0]]
        chain = " -> ".join([*cycle, cycle[0]])
        found.append(
            Problem(
                first.path,
                _directive_line(_read(first.path), "depends"),
                "dependency-cycle",
                f"{chain}: these migrations depend on each other in a circle, so none can "
                "run first; a migration depends only on earlier ones: fix their "
                "`-- depends:` lines.",
            )
        )
    for m in files:
        for dep in m.depends:
            line = _directive_line(_read(m.path), "depends")
            if dep not in ids:
                found.append(
                    Problem(
                        m.path,
                        line,
                        "unknown-dependency",
                        f"{m.id} depends on {dep}, which is not in {display_path(directory)}; "
                        "fix the `-- depends:` line (`defi-sql status` lists the migrations).",
                    )
                )
            elif dep >= m.id and m.id not in in_cycle:
                found.append(
                    Problem(
                        m.path,
                        line,
                        "depends-on-later",
                        f"{m.id} depends on {dep}, which comes after it; migrations apply in "
                        "number order, so a migration depends only on earlier ones: fix the "
                        "`-- depends:` line, or renumber the files.",
                    )
                )
    return files, sorted(found, key=lambda p: (str(p.path), p.line, p.rule))


def duplicate_numbers(files: Iterable[MigrationFile]) -> list[list[MigrationFile]]:
    """Groups of two or more migrations sharing a number, in order."""
    groups: dict[int, list[MigrationFile]] = {}
    for m in files:
        groups.setdefault(m.number, []).append(m)
    return [group for _n, group in sorted(groups.items()) if len(group) > 1]


def duplicate_problem(group: list[MigrationFile], free: int) -> Problem:
    names = " and ".join(m.path.name for m in group)
    return Problem(
        group[-1].path,
        1,
        "duplicate-number",
        f"{names} share the number {group[0].number:04d} (two branches merged?); give the "
        f"one no database has applied yet the next free number, {free:04d} (`git mv` it and "
        "its rollback), and make it depend on the newest migration.",
    )


def problems(directory: Path) -> list[Problem]:
    """Every problem of the set, shared numbers included (for ``defi-sql lint``)."""
    files, found = migration_set(directory)
    free = max((m.number for m in files), default=0) + 1
    for group in duplicate_numbers(files):
        found.append(duplicate_problem(group, free))
    for m in files:
        if m.rollback_path.is_file():
            found += rollback_problems(m)
    return sorted(found, key=lambda p: (str(p.path), p.line, p.rule))


def read_migration_set(directory: Path) -> list[MigrationFile]:
    """The forward migrations in order; :class:`MigrationError` naming the first file
    and line of a problem (and how many others there are) when the set is not sound."""
    files, found = migration_set(directory)
    if found:
        message = str(found[0])
        if len(found) > 1:
            more = len(found) - 1
            message = f"{message.rstrip('.')} ({more} more problem(s): `defi-sql lint` lists them)."
        raise MigrationError(message)
    return files


def rollback_problems(migration: MigrationFile) -> list[Problem]:
    """What is wrong with ``migration``'s rollback file (empty, transaction control)."""
    return _file_problems(migration.rollback_path, rollback_of=migration.id)[2]


def rollback_statements(migration: MigrationFile) -> tuple[Statement, ...]:
    """The statements of ``migration``'s rollback file, as yoyo runs them."""
    path = migration.rollback_path
    text = _read(path)
    return _as_statements(text, statements_of(path, text)[1])


def _as_statements(text: str, found: list[tuple[int, int, str]]) -> tuple[Statement, ...]:
    return tuple(Statement(line_of(text, o), line_of(text, k), s) for o, k, s in found)
