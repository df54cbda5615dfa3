"""Generate the sync API (``defi_sql/sync``) from the async one (``defi_sql/aio``).

The async modules are the source; their sync twins are produced by rewriting
the tokens of each file, the way psycopg keeps its two APIs identical:
``async def`` -> ``def``, ``await x`` -> ``x``, ``async with/for`` ->
``with/for``, ``AsyncConnection`` -> ``Connection``, ``AsyncGenerator[T,
None]`` -> ``Generator[T, None, None]``, ``__aenter__``/``__aexit__`` ->
``__enter__``/``__exit__``, ``defi_sql.aio`` -> ``defi_sql.sync``.
Working on tokens, not on the syntax tree, keeps every comment and the layout
(ruff formats the result). Docstrings, strings and comments are rewritten too
(:func:`prose`): the sync twin speaks of itself as sync, of ``with``, not
``async with``, and of the async API as its twin. Run ``make sync`` after
editing ``defi_sql/aio``; a test fails while a generated file is stale, and
another one if a generated file still mentions async.
"""

from __future__ import annotations

import io
import re
import subprocess
import sys
import tokenize
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT / "defi_sql" / "aio"
TARGET = ROOT / "defi_sql" / "sync"

RENAMES = {
    "AsyncConnection": "Connection",
    "AsyncCursor": "Cursor",
    "AsyncServerCursor": "ServerCursor",
    "AsyncCopy": "Copy",
    "AsyncIterator": "Iterator",
    "AsyncGenerator": "Generator",
    "AsyncConnectionPool": "ConnectionPool",
    "AsyncTransaction": "Transaction",
    "asynccontextmanager": "contextmanager",
    "aclosing": "closing",
    "AbstractAsyncContextManager": "AbstractContextManager",
    "asyncio": "time",  # for asyncio.sleep -> time.sleep, the only use of asyncio in aio/
    "__aenter__": "__enter__",
    "__aexit__": "__exit__",
}

_RENAMED = re.compile(
    r"(?:\b(?P<article>an?|An?)(?P<gap>\s+)(?P<quote>``)?)?\b(?P<name>"
    + "|".join(sorted(RENAMES, key=len, reverse=True))
    + r")\b"
)
#: in docstrings and comments the two APIs trade names: the sync twin calls
#: itself sync, and the async API its twin ("a sync twin" -> "an async twin")
_TWINS = re.compile(
    r"\b(?P<package>defi_sql[./])(?P<module>aio|sync)\b"
    r"|\bimport (?P<imported>aio|sync) as\b"
    r"|\b(?:(?P<article>an?|An?)(?P<gap>\s+))?(?P<word>async|sync|Async|Sync)\b(?![._(])"
)
_SWAP = {"aio": "sync", "sync": "aio"}
_WORDS = {"async": "sync", "sync": "async", "Async": "Sync", "Sync": "Async"}


def _twin(match: re.Match[str]) -> str:
    if match["package"]:
        return match["package"] + _SWAP[match["module"]]
    if match["imported"]:
        return f"import {_SWAP[match['imported']]} as"
    word = _WORDS[match["word"]]
    return _article(match, word) + word


def _article(match: re.Match[str], word: str) -> str:
    """The article before ``word`` (with the blank after it), if the match had one."""
    article = match["article"]
    if article is None:
        return ""
    vowel = word[0] in "aeiouAEIOU"
    if article.islower():
        return ("an" if vowel else "a") + match["gap"]
    return ("An" if vowel else "A") + match["gap"]


def _renamed(match: re.Match[str]) -> str:
    name = RENAMES[match["name"]]
    return _article(match, name) + (match["quote"] or "") + name


def _statements(text: str) -> str:
    """``async with`` -> ``with``, ``await x`` -> ``x``."""
    text = re.sub(r"\basync (with|for|def) ", r"\1 ", text)
    return re.sub(r"\bawait ", "", text)


def prose(text: str) -> str:
    """A docstring or comment of the async API, as its sync twin says it."""
    return _RENAMED.sub(_renamed, _TWINS.sub(_twin, _statements(text)))


def literal(text: str) -> str:
    """Any other string: only what names the async API's own code changes."""
    text = _statements(text.replace("defi_sql.aio", "defi_sql.sync"))
    return _RENAMED.sub(_renamed, text)


def _offsets(source: str) -> list[int]:
    """The offset in ``source`` of the start of each line (1-based, as tokenize counts)."""
    starts = [0, 0]
    for line in source.splitlines(keepends=True):
        starts.append(starts[-1] + len(line))
    return starts


def unasync(source: str) -> str:
    """The sync twin of one async module's text (not yet formatted)."""
    tokens = list(tokenize.generate_tokens(io.StringIO(source).readline))
    lines = _offsets(source)

    def at(position: tuple[int, int]) -> int:
        return lines[position[0]] + position[1]

    edits: list[tuple[int, int, str]] = []  # (start, end, replacement) in source offsets
    code = [t for t in tokens if t.type not in _LAYOUT]
    for index, token in enumerate(tokens):
        start, end = at(token.start), at(token.end)
        if token.type == tokenize.COMMENT or _is_docstring(tokens, index):
            edits.append((start, end, prose(token.string)))
        elif token.type == tokenize.STRING:
            edits.append((start, end, literal(token.string)))
        elif token.type == tokenize.NAME and token.string in ("async", "await"):
            following = tokens[index + 1]  # the keyword and the blank after it go
            edits.append((start, at(following.start), ""))
        elif token.type == tokenize.NAME and token.string in RENAMES:
            edits.append((start, end, RENAMES[token.string]))
            after = code.index(token) + 1
            if token.string == "AsyncGenerator" and code[after].string == "[":
                closing = at(_closing_bracket(code, code.index(token)).start)
                edits.append((closing, closing, ", None"))
        elif token.type == tokenize.NAME and token.string == "aio":
            before = code[code.index(token) - 2 : code.index(token)]
            if [t.string for t in before] == ["defi_sql", "."]:
                edits.append((start, end, "sync"))
    text = source
    for start, end, replacement in sorted(edits, reverse=True):
        text = text[:start] + replacement + text[end:]
    return text


_LAYOUT = (tokenize.NL, tokenize.COMMENT, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT)


def _is_docstring(tokens: list[tokenize.TokenInfo], index: int) -> bool:
    """A string that is a statement of its own (a docstring, or prose where one could be)."""
    if tokens[index].type != tokenize.STRING:
        return False
    before = [t for t in tokens[:index] if t.type not in (tokenize.NL, tokenize.COMMENT)]
    after = [t for t in tokens[index + 1 :] if t.type not in (tokenize.NL, tokenize.COMMENT)]
    starts = not before or before[-1].type in (tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT)
    ends = bool(after) and after[0].type in (tokenize.NEWLINE, tokenize.ENDMARKER)
    return starts and ends


def _closing_bracket(code: list[tokenize.TokenInfo], name: int) -> tokenize.TokenInfo:
    """The ``]`` of ``AsyncGenerator[T, None]``, where ``Generator`` takes a third ``None``."""
    depth, commas = 0, 0
    for token in code[name + 1 :]:
        if token.type == tokenize.OP and token.string in "([{":
            depth += 1
        elif token.type == tokenize.OP and token.string in ")]}":
            depth -= 1
            if depth == 0:
                if commas != 1:
                    break
                return token
        elif token.type == tokenize.OP and token.string == "," and depth == 1:
            commas += 1
        elif depth == 0:
            break
    raise ValueError(f"line {code[name].start[0]}: write AsyncGenerator[T, None], two arguments")


def generate(source: Path) -> str:
    """The formatted sync twin of one async module."""
    text = source.read_text(encoding="utf-8")
    twin = unasync(text)
    note = f"Generated from defi_sql/aio/{source.name} by tools/async_to_sync.py: do not edit."
    docstring = re.match(r'\s*"""(.*?)"""', twin, re.DOTALL)
    if docstring:
        end = docstring.end(1)
        twin = f"{twin[:end].rstrip()}\n\n{note}\n{twin[end:]}"
    else:
        twin = f'"""{note}"""\n\n{twin}'
    name = str(TARGET / source.name)
    for command in (["check", "--select", "I", "--fix", "--quiet"], ["format"]):
        twin = subprocess.run(
            [sys.executable, "-m", "ruff", *command, "--stdin-filename", name, "-"],
            input=twin,
            capture_output=True,
            text=True,
            check=True,
            cwd=ROOT,
        ).stdout
    return twin


def main() -> None:
    TARGET.mkdir(exist_ok=True)
    for source in sorted(SOURCE.glob("*.py")):
        (TARGET / source.name).write_text(generate(source), encoding="utf-8")
        print(f"wrote {TARGET / source.name}")


if __name__ == "__main__":
    main()
