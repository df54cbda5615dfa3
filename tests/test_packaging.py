"""The wheel carries the sql/ tree, and the installed package finds it there."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

from defi_sql.paths import internal_sql_dir, migrations_dir, queries_dir, seed_dir

from .conftest import REPO


def test_wheel_bundles_the_sql_tree_and_finds_it(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "hatchling", "build", "-t", "wheel", "-d", str(tmp_path)],
        cwd=REPO,
        check=True,
        capture_output=True,
        timeout=300,
    )
    (wheel,) = tmp_path.glob("defi_sql-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    expected = {
        f"defi_sql/_bundled_sql/migrations/{p.name}" for p in migrations_dir().glob("*.sql")
    } | {f"defi_sql/_bundled_sql/queries/{p.name}" for p in queries_dir().glob("*.sql")}
    expected |= {f"defi_sql/_bundled_sql/seed/{p.name}" for p in seed_dir().glob("*.sql")}
    expected |= {f"defi_sql/sql/{p.name}" for p in internal_sql_dir().glob("*.sql")}
    expected |= {"defi_sql/py.typed", "defi_sql/cli.py"}
    assert expected <= names
    assert not any(name.startswith(("tests/", "sql/")) for name in names)

    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    found = subprocess.run(
        [sys.executable, "-c", "from defi_sql.paths import sql_root; print(sql_root())"],
        env={"PYTHONPATH": str(site)},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert found == str(site / "defi_sql" / "_bundled_sql")
