"""docs/api.md is the whole API, exactly as the code has it, and its examples run.

What is documented is read from the code: every name in the ``__all__`` of
``defi_sql.sync`` and of each of its public modules (users, positions,
signals, alerts, intents, events, pool, retry), every name of
``defi_sql.models``, and ``Batch`` and ``UnreadableRow``. Each has a
``python signature`` block in the reference that must equal what is rendered
here from the code (a function's ``inspect.signature``, a class's header,
fields and own methods, a constant's assignment), and every such block must
render something that still exists: nothing missing, nothing stale (the way
sqlite-utils tests that its docs cover every command). The ``python`` blocks
are the examples: they run in order, as one script, against a fresh migrated
database, so a wrong example fails here.

``python tests/test_api_reference.py`` prints every block the reference needs.
"""

from __future__ import annotations

import ast
import inspect
import re
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import psycopg
import pytest

from defi_sql import aio, errors, models, sync
from defi_sql.errors import UnreadableRow
from defi_sql.rows import Batch

REPO = Path(__file__).resolve().parent.parent
API_MD = REPO / "docs" / "api.md"
#: The public modules of the query API besides the table modules named in ``__all__``.
EXTRA_MODULES = ("pool", "retry", "router")
#: Lines of a one-line signature stay within this, like the code's own.
WIDTH = 88
#: Members of a class shown besides its public methods.
SHOWN_DUNDERS = ("__init__", "__call__")


class _Raw:
    """An annotation kept as the code spells it (the package uses postponed annotations)."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return self.text


def _spelled(signature: inspect.Signature) -> inspect.Signature:
    def raw(annotation: Any) -> Any:
        return _Raw(annotation) if isinstance(annotation, str) else annotation

    parameters = [p.replace(annotation=raw(p.annotation)) for p in signature.parameters.values()]
    return signature.replace(
        parameters=parameters, return_annotation=raw(signature.return_annotation)
    )


def render_function(display: str, function: Any) -> str:
    """``display(parameters) -> returns``: on one line, or one parameter a line like ruff."""
    signature = _spelled(inspect.signature(function))
    line = f"{display}{signature}"
    if len(line) <= WIDTH:
        return line
    parts: list[str] = []
    parameters = list(signature.parameters.values())
    for index, parameter in enumerate(parameters):
        kind = parameter.kind
        if kind is inspect.Parameter.KEYWORD_ONLY and not any(
            p.kind in (inspect.Parameter.KEYWORD_ONLY, inspect.Parameter.VAR_POSITIONAL)
            for p in parameters[:index]
        ):
            parts.append("*")
        parts.append(str(parameter))
        following = parameters[index + 1] if index + 1 < len(parameters) else None
        if kind is inspect.Parameter.POSITIONAL_ONLY and (
            following is None or following.kind is not inspect.Parameter.POSITIONAL_ONLY
        ):
            parts.append("/")
    returns = signature.return_annotation
    arrow = "" if returns is inspect.Signature.empty else f" -> {returns!r}"
    body = "".join(f"    {part},\n" for part in parts)
    return f"{display}(\n{body}){arrow}"


def _source_of(module: ModuleType) -> tuple[str, ast.Module]:
    source = inspect.getsource(module)
    return source, ast.parse(source)


def render_class(cls: type) -> str:
    """The class statement, its fields (as written) and its own methods' signatures."""
    source = textwrap.dedent(inspect.getsource(cls))
    node = ast.parse(source).body[0]
    assert isinstance(node, ast.ClassDef)
    lines = source.splitlines()
    out = [line.rstrip() for line in lines[: node.body[0].lineno - 1]]
    for statement in node.body:
        if isinstance(statement, ast.AnnAssign):
            end = statement.end_lineno or statement.lineno
            out.extend(line.rstrip() for line in lines[statement.lineno - 1 : end])
        elif isinstance(statement, ast.FunctionDef) and (
            not statement.name.startswith("_") or statement.name in SHOWN_DUNDERS
        ):
            method = cls.__dict__[statement.name]
            if isinstance(method, classmethod | property):  # shown with its decorator
                out.append(f"    @{type(method).__name__}")
                method = method.__func__ if isinstance(method, classmethod) else method.fget
            out.append(f"    def {statement.name}{_spelled(inspect.signature(method))}")
    return "\n".join(out)


def render_assignment(module: ModuleType, name: str, display: str) -> str:
    """A module-level constant or type alias as its module assigns it."""
    source, tree = _source_of(module)
    for statement in tree.body:
        targets = (
            statement.targets
            if isinstance(statement, ast.Assign)
            else [statement.target]
            if isinstance(statement, ast.AnnAssign)
            else []
        )
        if any(isinstance(t, ast.Name) and t.id == name for t in targets):
            segment = ast.get_source_segment(source, statement)
            assert segment is not None
            return display + segment.removeprefix(name)
    raise AssertionError(f"{module.__name__}.{name} is not assigned at the top of its module")


def public_objects() -> dict[str, tuple[Any, ModuleType, str]]:
    """Every public name of the API, as the reference heads it: (object, module, name)."""
    found: dict[str, tuple[Any, ModuleType, str]] = {}
    seen: set[int] = set()

    def add(display: str, obj: Any, module: ModuleType, name: str) -> None:
        if (inspect.isfunction(obj) or inspect.isclass(obj)) and id(obj) in seen:
            return  # the same function exported twice (pool.open_pool is open_pool)
        seen.add(id(obj))
        found[display] = (obj, module, name)

    modules: list[tuple[str, ModuleType]] = []
    for name in sync.__all__:
        obj = getattr(sync, name)
        if isinstance(obj, ModuleType):
            modules.append((name, obj))
        else:
            add(name, obj, sync, name)
    for name, module in modules:
        for member in module.__all__:
            add(f"{name}.{member}", getattr(module, member), module, member)
    for module_name in EXTRA_MODULES:
        module = getattr(sync, module_name)
        for member in module.__all__:
            add(member, getattr(module, member), module, member)
    add("Batch", Batch, sys.modules[Batch.__module__], "Batch")
    add("UnreadableRow", UnreadableRow, errors, "UnreadableRow")
    for member in models.__all__:
        add(member, getattr(models, member), models, member)
    return found


def documented() -> dict[str, str]:
    """Every public name of the API with the block the reference shows for it."""
    blocks: dict[str, str] = {}
    for display, (obj, module, name) in public_objects().items():
        if inspect.isclass(obj):
            blocks[display] = render_class(obj)
        elif inspect.isfunction(obj):
            blocks[display] = render_function(display, obj)
        else:
            blocks[display] = render_assignment(module, name, display)
    return blocks


# -- reading docs/api.md ------------------------------------------------------------


def api_text() -> str:
    return API_MD.read_text(encoding="utf-8")


def fences(text: str, info: str) -> list[tuple[int, str]]:
    """The (line number, body) of every fenced block whose info string is exactly ``info``."""
    pattern = re.compile(rf"^```{re.escape(info)}\n(.*?)^```$", re.DOTALL | re.MULTILINE)
    return [(text.count("\n", 0, m.start()) + 1, m.group(1)) for m in pattern.finditer(text)]


def sections(text: str) -> Iterator[tuple[str, str]]:
    """Each ``### heading`` with the text up to the next heading of any level."""
    parts = re.split(r"^(#{1,3} .*)$", text, flags=re.MULTILINE)
    for heading, body in zip(parts[1::2], parts[2::2], strict=True):
        if heading.startswith("### "):
            yield heading.removeprefix("### ").strip(), body


# -- the tests ------------------------------------------------------------------------


def test_the_async_api_has_the_same_names() -> None:
    assert aio.__all__ == sync.__all__
    for name in [*sync.__all__, *EXTRA_MODULES]:
        sync_module, aio_module = getattr(sync, name), getattr(aio, name)
        if isinstance(sync_module, ModuleType):
            assert aio_module.__all__ == sync_module.__all__, name


def test_every_public_name_is_in_the_reference_as_the_code_has_it() -> None:
    blocks = {body.rstrip("\n") for _, body in fences(api_text(), "python signature")}
    missing = {name: block for name, block in documented().items() if block not in blocks}
    assert not missing, "docs/api.md lacks, or shows an old signature of:\n\n" + "\n\n".join(
        f"### {name}\n\n```python signature\n{block}\n```" for name, block in missing.items()
    )


def test_every_signature_in_the_reference_still_exists() -> None:
    current = set(documented().values())
    stale = [
        f"docs/api.md:{line}:\n{body}"
        for line, body in fences(api_text(), "python signature")
        if body.rstrip("\n") not in current
    ]
    assert not stale, "no longer in the code (or changed):\n\n" + "\n\n".join(stale)


def test_each_name_has_a_heading_over_its_signature() -> None:
    """``### users.create`` heads the block of users.create, and every such heading is real."""
    found = documented()
    headings = {}
    for heading, body in sections(api_text()):
        if re.fullmatch(r"[\w.]+", heading):
            assert heading in found, f"docs/api.md has ### {heading}, which the API has not"
            first = fences(body, "python signature")
            assert first, f"### {heading} has no python signature block"
            assert first[0][1].rstrip("\n") == found[heading], f"### {heading}: not its signature"
            headings[heading] = body
    aliases = {name for name in models.__all__ if not inspect.isclass(getattr(models, name))}
    assert set(found) - set(headings) == aliases  # the Literal types share one section


def test_each_function_has_an_example_that_calls_it() -> None:
    examples = {
        heading: "".join(code for _, code in fences(body, "python"))
        for heading, body in sections(api_text())
    }
    for display, (obj, _, _) in public_objects().items():
        if inspect.isfunction(obj):
            call = f"db.{display}("
            assert call in examples.get(display, ""), f"### {display} has no example calling {call}"


def test_the_error_tree_is_the_one_in_errors_py() -> None:
    docstring = errors.__doc__ or ""
    tree = textwrap.dedent(docstring.split("::\n\n", 1)[1]).strip()
    assert f"```text\n{tree}\n```" in api_text()


def test_the_examples_run_in_order(
    db_url: str, clean_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", db_url)
    namespace: dict[str, Any] = {"__name__": "api_md_examples"}
    try:
        for line, body in fences(api_text(), "python"):
            exec(compile(body, f"docs/api.md (block at line {line})", "exec"), namespace)
    finally:
        conn = namespace.get("conn")
        if isinstance(conn, psycopg.Connection):
            conn.close()


if __name__ == "__main__":
    for display, block in documented().items():
        print(f"### {display}\n\n```python signature\n{block}\n```\n")
