"""No SQL is assembled by string formatting anywhere in defi_sql/.

The rule, checked on the AST of every module of the package (``sync/`` and
``aio/`` included):

* The SQL argument of every SQL-running call is classified. The calls are
  ``execute``, ``executemany``, ``copy``, ``stream``, ``prepare`` (psycopg's
  connection and cursor), and libpq's ``pgconn.exec_``, ``pgconn.exec_params``
  and ``pgconn.prepare(name, command)``; the SQL argument is the first
  positional one (the second for a two-argument ``prepare``) or the
  ``query=``/``command=`` keyword. ``shutil.copy`` and friends are not SQL.
* *Clean* SQL is: a string/bytes literal; SQL read from the SQL files (any
  ``<x>.sql`` attribute, i.e. ``statement(name).sql`` or a ``Statement``'s
  ``.sql``); a ``psycopg.sql`` composition (``sql.SQL("literal")``,
  ``sql.Identifier``/``Literal``/``Placeholder``, ``sql.SQL(...).format(...)``,
  ``sql.SQL(...).join(...)``); the result of ``to_numbered(...)`` or
  ``.encode()`` of clean SQL (placeholder renumbering, bytes for libpq); ``+``
  of two clean operands; a local name every assignment of which is clean.
* *Formatted* SQL, always a failure: an f-string, ``%`` formatting, ``.format``
  or ``.join`` on anything that is not a ``psycopg.sql`` object, and ``+``
  with an operand that is neither clean nor itself formatted, such as a
  function parameter or a call result. A local name is formatted when any of
  its assignments is.
* Anything else (a function parameter, an unknown call's result) passed as
  the whole SQL argument is *unknown* and allowed: it was not assembled here.
  Such a call is ``conn.execute(current.text)`` in migrate/running.py, which
  runs the statements yoyo split from a migration file.
* ``sql.SQL(...)`` anywhere (not only inside a call above) must get a string
  literal: a ``psycopg.sql.SQL`` built from a variable would defeat
  ``Identifier`` quoting.

So ``"EXPLAIN (GENERIC_PLAN, VERBOSE, FORMAT JSON) " + numbered`` in
check/queries.py passes: a constant prefix plus ``to_numbered(stmt.sql)``, the text of
a query file. ``psycopg.sql.SQL("DROP DATABASE {}").format(sql.Identifier(n))``
passes: that ``format`` quotes ``n`` as an identifier; ``"...{}".format(n)``
on a plain string does not.

``exec`` in rows.py runs *Python* source generated from msgspec struct field
names (a row-decoder); it sends nothing to PostgreSQL, so it is not an
SQL-running call here and is deliberately left to its own comment there.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

import defi_sql

PACKAGE = Path(defi_sql.__file__).resolve().parent
SQL_METHODS = {"execute", "executemany", "copy", "stream", "prepare", "exec_", "exec_params"}
NOT_A_DATABASE = {"shutil", "os", "copy", "subprocess"}  # shutil.copy(a, b) is not SQL
SQL_KEYWORDS = ("query", "command")
COMPOSABLES = {"SQL", "Identifier", "Literal", "Placeholder", "Composed"}


@dataclass(frozen=True)
class Kind:
    """How an SQL expression was built: ``clean``, ``unknown`` or ``formatted``."""

    name: str
    why: str = ""

    @property
    def clean(self) -> bool:
        return self.name == "clean"


CLEAN = Kind("clean")
UNKNOWN = Kind("unknown")


def _is_composable_call(node: ast.expr, name: str | None = None) -> bool:
    """``sql.SQL(...)``, ``psycopg.sql.Identifier(...)``, ``SQL(...)`` and so on."""
    if not isinstance(node, ast.Call):
        return False
    func = node.func
    attr = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
    return attr in COMPOSABLES and (name is None or attr == name)


class _Scope:
    """The assignments of one function (or the module body): name -> values."""

    def __init__(self, body: ast.AST, module: _Scope | None = None) -> None:
        self.assigned: dict[str, list[ast.expr]] = {}
        if isinstance(body, ast.FunctionDef | ast.AsyncFunctionDef):
            for arg in ast.walk(body.args):
                if isinstance(arg, ast.arg):  # a parameter: unknown, whatever else is assigned
                    self.assigned[arg.arg] = [ast.Constant(None)]
        for node in _walk_own(body):
            if isinstance(node, ast.Assign):
                for target in node.targets:
                    self._bind(target, node.value)
            elif isinstance(node, ast.AnnAssign) and node.value is not None:
                self._bind(node.target, node.value)
            elif isinstance(node, ast.AugAssign) and isinstance(node.target, ast.Name):
                value = ast.BinOp(ast.Name(node.target.id, ast.Load()), node.op, node.value)
                self.assigned.setdefault(node.target.id, []).append(value)
            elif isinstance(node, ast.NamedExpr):
                self._bind(node.target, node.value)
        if module is not None:  # module constants, e.g. a literal prefix
            for name, values in module.assigned.items():
                self.assigned.setdefault(name, values)

    def _bind(self, target: ast.expr, value: ast.expr) -> None:
        if isinstance(target, ast.Name):
            self.assigned.setdefault(target.id, []).append(value)
        elif isinstance(target, ast.Tuple | ast.List):
            # `numbered, names = to_numbered(stmt.sql)`: each name gets the whole value
            for element in target.elts:
                self._bind(element, value)


def _walk_own(node: ast.AST) -> list[ast.AST]:
    """The nodes of ``node`` without those of nested functions and classes."""
    found: list[ast.AST] = []
    stack = list(ast.iter_child_nodes(node))
    while stack:
        child = stack.pop()
        found.append(child)
        if not isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            stack.extend(ast.iter_child_nodes(child))
    return found


def classify(node: ast.expr, scope: _Scope, seen: frozenset[str] = frozenset()) -> Kind:
    """How ``node``, used as SQL, was built (see the module docstring)."""
    if isinstance(node, ast.Constant):
        return CLEAN if isinstance(node.value, str | bytes) else UNKNOWN
    if isinstance(node, ast.JoinedStr):
        return Kind("formatted", "an f-string")
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mod):
        return Kind("formatted", "% formatting")
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left, right = classify(node.left, scope, seen), classify(node.right, scope, seen)
        for side in (left, right):
            if side.name == "formatted":
                return side
        if left.clean and right.clean:
            return CLEAN
        return Kind("formatted", "+ concatenation with a value not from the SQL files")
    if isinstance(node, ast.IfExp):
        kinds = [classify(node.body, scope, seen), classify(node.orelse, scope, seen)]
        return _join(kinds)
    if isinstance(node, ast.Attribute) and node.attr == "sql":
        return CLEAN  # statement(name).sql, stmt.sql: the text of a query file
    if isinstance(node, ast.Name):
        if node.id in seen:
            return CLEAN  # `s += ...`: s is judged by its other assignments
        if node.id not in scope.assigned:
            return UNKNOWN  # a global, a loop variable
        values = scope.assigned[node.id]
        return _join([classify(v, scope, seen | {node.id}) for v in values])
    if isinstance(node, ast.Call):
        return _classify_call(node, scope, seen)
    return UNKNOWN


def _join(kinds: list[Kind]) -> Kind:
    for kind in kinds:
        if kind.name == "formatted":
            return kind
    return CLEAN if all(k.clean for k in kinds) else UNKNOWN


def _classify_call(node: ast.Call, scope: _Scope, seen: frozenset[str]) -> Kind:
    func = node.func
    if _is_composable_call(node, "SQL"):
        if node.args and isinstance(node.args[0], ast.Constant):
            return CLEAN
        return Kind("formatted", "sql.SQL() of a non-literal")
    if _is_composable_call(node):
        return CLEAN  # Identifier, Literal, Placeholder: quoted by psycopg
    if isinstance(func, ast.Name) and func.id == "to_numbered" and node.args:
        return classify(node.args[0], scope, seen)
    if isinstance(func, ast.Attribute):
        receiver = classify(func.value, scope, seen)
        if func.attr in ("format", "join"):
            if receiver.clean and _composes(func.value, scope):
                return CLEAN
            return Kind("formatted", f"str.{func.attr}")
        if func.attr == "encode":
            return receiver
    return UNKNOWN


def _composes(node: ast.expr, scope: _Scope, seen: frozenset[str] = frozenset()) -> bool:
    """Whether ``node`` is a ``psycopg.sql`` object (so its ``format`` quotes)."""
    if _is_composable_call(node):
        return True
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
        return node.func.attr in ("format", "join") and _composes(node.func.value, scope, seen)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        return _composes(node.left, scope, seen) or _composes(node.right, scope, seen)
    if isinstance(node, ast.Name) and node.id in scope.assigned and node.id not in seen:
        values = scope.assigned[node.id]
        return all(_composes(v, scope, seen | {node.id}) for v in values)
    return False


def _sql_argument(call: ast.Call) -> ast.expr | None:
    func = call.func
    if not isinstance(func, ast.Attribute) or func.attr not in SQL_METHODS:
        return None
    if isinstance(func.value, ast.Name) and func.value.id in NOT_A_DATABASE:
        return None
    for keyword in call.keywords:
        if keyword.arg in SQL_KEYWORDS:
            return keyword.value
    if func.attr == "prepare" and len(call.args) >= 2:
        return call.args[1]  # libpq: pgconn.prepare(name, command)
    return call.args[0] if call.args else None


def violations(source: str, filename: str = "<snippet>") -> list[str]:
    """``file:line: why`` for each SQL built by formatting in ``source``."""
    tree = ast.parse(source, filename)
    found: list[str] = []
    scopes: list[ast.AST] = [tree]
    scopes += [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)]
    module = _Scope(tree)
    for body in scopes:
        scope = module if body is tree else _Scope(body, module)
        for node in _walk_own(body):
            if not isinstance(node, ast.Call):
                continue
            if _is_composable_call(node, "SQL") and not (
                node.args and isinstance(node.args[0], ast.Constant)
            ):
                found.append(f"{filename}:{node.lineno}: sql.SQL() of a non-literal")
                continue
            argument = _sql_argument(node)
            if argument is None:
                continue
            kind = classify(argument, scope)
            if kind.name == "formatted":
                call = ast.unparse(node.func)
                found.append(f"{filename}:{node.lineno}: {call}() gets SQL built by {kind.why}")
    first_per_line: dict[str, str] = {}
    for line in sorted(set(found)):
        first_per_line.setdefault(line.split(": ", 1)[0], line)
    return sorted(first_per_line.values())


def _modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def test_the_package_builds_no_sql_by_formatting() -> None:
    modules = _modules()
    names = {p.relative_to(PACKAGE).as_posix() for p in modules}
    assert {"sync/_execute.py", "aio/_execute.py", "check/queries.py", "check/describe.py"} <= names
    found = [
        v
        for path in modules
        for v in violations(path.read_text(encoding="utf-8"), path.relative_to(PACKAGE).as_posix())
    ]
    assert found == []


def test_the_checker_sees_the_package_sql_calls() -> None:
    """The rule is not vacuous: the calls it classifies exist, and are clean."""
    checked: list[str] = []
    for path in _modules():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and _sql_argument(node) is not None:
                checked.append(f"{path.name}:{ast.unparse(node.func)}")
    for expected in (
        "queries.py:conn.execute",
        "describe.py:pgconn.prepare",
        "describe.py:pgconn.exec_",
        "dump.py:conn.execute",
        "embedded.py:conn.execute",
        "_execute.py:cur.execute",
        "positions.py:cur.copy",
        "running.py:conn.execute",
    ):
        assert expected in checked


GOOD = [
    pytest.param('cur.execute(statement("users_get").sql, params)', id="statement-sql"),
    pytest.param("await cur.execute(statement(name).sql, params)", id="await-statement-sql"),
    pytest.param("cur.execute(stmt.sql)", id="a-statements-sql"),
    pytest.param('conn.execute("SELECT 1")', id="literal"),
    pytest.param('pgconn.exec_(b"DEALLOCATE defi_sql_describe")', id="bytes-literal"),
    pytest.param(
        'conn.execute(sql.SQL("DROP DATABASE {}").format(sql.Identifier(name)))',
        id="psycopg-sql-format-identifier",
    ),
    pytest.param(
        's = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(db))\n'
        'if t:\n    s += sql.SQL(" TEMPLATE {}").format(sql.Identifier(t))\n'
        "conn.execute(s)",
        id="psycopg-sql-augmented",
    ),
    pytest.param(
        'conn.execute(sql.SQL(", ").join(map(sql.Identifier, cols)))', id="psycopg-sql-join"
    ),
    pytest.param(
        "numbered, _ = to_numbered(stmt.sql)\n"
        'conn.execute("EXPLAIN (GENERIC_PLAN, VERBOSE, FORMAT JSON) " + numbered)',
        id="literal-plus-file-sql",
    ),
    pytest.param(
        "sql, _names = to_numbered(stmt.sql)\npgconn.prepare(name, sql.encode())",
        id="libpq-prepare-file-sql",
    ),
    pytest.param("def execute(self, query):\n    return self._cursor.execute(query)", id="pass"),
    pytest.param("shutil.copy(f'{a}.sql', chain)", id="shutil-copy-is-not-sql"),
    pytest.param('with cur.copy(statement("positions_ingest").sql) as copy: pass', id="copy"),
    pytest.param(
        "exec(f'def decode(row): return {fields}', namespace)", id="exec-is-python-not-sql"
    ),
    pytest.param('print(f"SELECT {x}")', id="not-executed"),
    pytest.param(
        '_PREFIX = "EXPLAIN "\ndef plan(conn, stmt):\n    conn.execute(_PREFIX + stmt.sql)',
        id="module-constant-plus-file-sql",
    ),
]

BAD = [
    pytest.param('cur.execute(f"SELECT {x}")', "an f-string", id="f-string"),
    pytest.param('cur.execute("SELECT %s" % x)', "% formatting", id="percent"),
    pytest.param('cur.execute("SELECT {}".format(x))', "str.format", id="str-format"),
    pytest.param('q = "SELECT {}"\ncur.execute(q.format(x))', "str.format", id="name-format"),
    pytest.param('cur.execute(", ".join(cols))', "str.join", id="str-join"),
    pytest.param(
        'cur.execute("SELECT * FROM " + table)',
        "+ concatenation with a value not from the SQL files",
        id="plus-parameter",
    ),
    pytest.param(
        'cur.execute(statement("x").sql + " WHERE id = " + str(x))',
        "+ concatenation with a value not from the SQL files",
        id="file-sql-plus-value",
    ),
    pytest.param(
        'def f(conn, t):\n    q = f"DROP TABLE {t}"\n    conn.execute(q)',
        "an f-string",
        id="f-string-through-a-name",
    ),
    pytest.param(
        'q = "SELECT 1"\nif x:\n    q += f" WHERE {x}"\ncur.execute(q)',
        "an f-string",
        id="augmented-f-string",
    ),
    pytest.param(
        'cur.executemany(f"INSERT INTO {t} VALUES (%s)", rows)', "an f-string", id="executemany"
    ),
    pytest.param('cur.copy(f"COPY {t} FROM STDIN")', "an f-string", id="copy"),
    pytest.param('cur.stream("SELECT %s" % x)', "% formatting", id="stream"),
    pytest.param('pgconn.exec_(f"DROP {x}".encode())', "an f-string", id="libpq-exec"),
    pytest.param(
        'pgconn.exec_params(b"SELECT " + x, [])',
        "+ concatenation with a value not from the SQL files",
        id="libpq-exec-params",
    ),
    pytest.param('pgconn.prepare(b"n", f"SELECT {x}".encode())', "an f-string", id="libpq-prep"),
    pytest.param('conn.execute(query=f"SELECT {x}")', "an f-string", id="keyword-argument"),
    pytest.param(
        'conn.execute(sql.SQL(f"DROP DATABASE {name}"))',
        "sql.SQL() of a non-literal",
        id="psycopg-sql-of-f-string",
    ),
    pytest.param(
        'WHERE = " WHERE id = %s" % x\ndef get(cur):\n    cur.execute("SELECT 1" + WHERE)',
        "% formatting",
        id="module-formatted-constant",
    ),
    pytest.param("stmt = sql.SQL(text)", "sql.SQL() of a non-literal", id="psycopg-sql-of-name"),
    pytest.param(
        'conn.execute(psycopg.sql.SQL("DROP " + kind))',
        "sql.SQL() of a non-literal",
        id="psycopg-sql-of-concatenation",
    ),
]


@pytest.mark.parametrize("source", GOOD)
def test_checker_allows(source: str) -> None:
    assert violations(source) == []


@pytest.mark.parametrize(("source", "why"), BAD)
def test_checker_catches(source: str, why: str) -> None:
    found = violations(source)
    assert len(found) == 1, found
    assert found[0].endswith(why), found
