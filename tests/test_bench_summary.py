"""The README's benchmark figures are the ones `make bench` wrote, and the
summary is what the runs measured: a median and a range, never one run."""

from __future__ import annotations

from typing import Any

from bench import summary

from .conftest import REPO


def run(dict_row: float, typed: float = 1.0) -> list[dict[str, Any]]:
    """One run's results for the typed-reads section, 100 rows each."""
    return [
        {"section": "r", "name": "defi-sql typed (msgspec structs)", "seconds": typed,
         "rows": 100, "baseline": "", "extra": {}},
        {"section": "r", "name": "psycopg dict_row (untyped)", "seconds": dict_row,
         "rows": 100, "baseline": "", "extra": {}},
    ]  # fmt: skip


def test_the_readme_shows_exactly_the_committed_summary() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    written = (REPO / "bench" / "summary.md").read_text(encoding="utf-8")
    block = summary.readme_block(readme)
    assert block.strip(), "the README's bench:summary block is empty: run make bench"
    assert block in written
    rows = summary.parse(block)
    assert rows, "no figure in the README's summary"
    for cells in rows.values():
        assert cells[2].endswith(" runs)")
        assert int(cells[2].rsplit("(", 1)[1].split()[0]) >= summary.MIN_RUNS


def test_a_figure_is_the_median_of_the_runs_with_their_range() -> None:
    rows = summary.summarize([run(3.0), run(2.0), run(2.6)], ["reads"])
    [row] = [r for r in rows if r.headline.label.endswith("dict_row")]
    cells = row.cells("abc1234")
    assert cells[1:] == ["2.60x", "2.00-3.00x (3 runs)", "≥ 1.5x", "met", "abc1234"]


def test_a_missed_target_is_said_and_other_sections_keep_their_figures() -> None:
    old = summary.table([["delivery, 1 worker", "6,000 alerts/s", "x", "", "", "0ld"]])
    rows = summary.summarize([run(1.2), run(1.1), run(1.3)], ["reads"])
    merged = summary.parse(summary.merge(old, rows, "new"))
    assert merged["typed reads: faster than psycopg dict_row"][4] == "**missed**"
    assert merged["delivery, 1 worker"][5] == "0ld"
