"""Generate the sync API (``defi_sql/sync``) from the async one (``defi_sql/aio``).

The async modules are the source; their sync twins are produced by rewriting
the syntax tree (``async def`` -> ``def``, ``await x`` -> ``x``, ``async
with/for`` -> ``with/for``, ``AsyncConnection`` -> ``Connection``, ...), the
way psycopg keeps its two APIs identical. Run ``make sync`` after editing
``defi_sql/aio``; a test fails while a generated file is stale.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent
SOURCE = PACKAGE / "aio"
TARGET = PACKAGE / "sync"

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
}


class _Unasync(ast.NodeTransformer):
    def visit_AsyncFunctionDef(self, node: ast.AsyncFunctionDef) -> ast.AST:
        self.generic_visit(node)
        return ast.copy_location(
            ast.FunctionDef(**{f: getattr(node, f) for f in node._fields}), node
        )

    def visit_Await(self, node: ast.Await) -> ast.AST:
        value: ast.AST = self.visit(node.value)
        return value

    def visit_AsyncWith(self, node: ast.AsyncWith) -> ast.AST:
        self.generic_visit(node)
        return ast.copy_location(ast.With(**{f: getattr(node, f) for f in node._fields}), node)

    def visit_AsyncFor(self, node: ast.AsyncFor) -> ast.AST:
        self.generic_visit(node)
        return ast.copy_location(ast.For(**{f: getattr(node, f) for f in node._fields}), node)

    def visit_Subscript(self, node: ast.Subscript) -> ast.AST:
        """``AsyncGenerator[T, None]`` -> ``Generator[T, None, None]``."""
        is_generator = isinstance(node.value, ast.Name) and node.value.id == "AsyncGenerator"
        self.generic_visit(node)
        if is_generator and isinstance(node.slice, ast.Tuple) and len(node.slice.elts) == 2:
            node.slice.elts.append(ast.Constant(None))
        return node

    def visit_Name(self, node: ast.Name) -> ast.AST:
        node.id = RENAMES.get(node.id, node.id)
        return node

    def visit_Attribute(self, node: ast.Attribute) -> ast.AST:
        self.generic_visit(node)
        node.attr = RENAMES.get(node.attr, node.attr)
        return node

    def visit_alias(self, node: ast.alias) -> ast.AST:
        node.name = RENAMES.get(node.name, node.name)
        return node

    def visit_ImportFrom(self, node: ast.ImportFrom) -> ast.AST:
        self.generic_visit(node)
        if node.module and node.module.startswith("defi_sql.aio"):
            node.module = "defi_sql.sync" + node.module.removeprefix("defi_sql.aio")
        return node

    def visit_Constant(self, node: ast.Constant) -> ast.AST:
        if isinstance(node.value, str):
            node.value = node.value.replace("defi_sql.aio", "defi_sql.sync").replace("await ", "")
        return node


def generate(source: Path) -> str:
    """The formatted sync twin of one async module."""
    tree = _Unasync().visit(ast.parse(source.read_text(encoding="utf-8")))
    note = f"Generated from defi_sql/aio/{source.name} by defi_sql/_async_to_sync.py: do not edit."
    first = tree.body[0] if tree.body else None
    if (
        isinstance(first, ast.Expr)
        and isinstance(first.value, ast.Constant)
        and isinstance(first.value.value, str)
    ):
        first.value.value = f"{first.value.value.rstrip()}\n\n{note}\n"
    else:
        tree.body.insert(0, ast.Expr(ast.Constant(note)))
    body = ast.unparse(ast.fix_missing_locations(tree))
    code = body + "\n"
    name = str(TARGET / source.name)
    for command in (["check", "--select", "I", "--fix", "--quiet"], ["format"]):
        code = subprocess.run(
            [sys.executable, "-m", "ruff", *command, "--stdin-filename", name, "-"],
            input=code,
            capture_output=True,
            text=True,
            check=True,
            cwd=PACKAGE.parent,
        ).stdout
    return code


def main() -> None:
    TARGET.mkdir(exist_ok=True)
    for source in sorted(SOURCE.glob("*.py")):
        (TARGET / source.name).write_text(generate(source), encoding="utf-8")
        print(f"wrote {TARGET / source.name}")


if __name__ == "__main__":
    main()
