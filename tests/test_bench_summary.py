"""The README's benchmark figures are the ones `make bench` wrote, and the
summary is what the runs measured: a median and a range, never one run."""

from __future__ import annotations

import random
from dataclasses import asdict
from typing import Any, cast

from bench import latency, replicas, summary
from defi_sql.sync.router import Session

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


def test_the_set_based_headline_counts_the_set_based_queries_there_are() -> None:
    """Its target was once 5 of a section that holds 4: a figure that could not be met."""
    kinds = [q.kind for q in latency.QUERIES]
    assert kinds.count("set") == summary.SET_BASED
    [headline] = [h for h in summary.HEADLINES if h.label.startswith("set-based queries")]
    assert headline.label.endswith(f"(of {kinds.count('set')})")


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


def replicas_window(ops: int, *, read_ms: float = 0.0, on_primary: int = 0) -> replicas.Window:
    """A one-second window of the replicas section: ``ops`` operations of 10 ms by one
    client, 100 of whose reads the primary served ``on_primary``; with ``read_ms``, each
    a write of 5 ms then a read of ``read_ms``."""
    client = replicas.Client(cast(Session, None), [], "", random.Random(0))
    client.latencies = [0.01] * ops
    client.reads, client.on_primary = 100, on_primary
    if read_ms:
        client.write_latencies = [0.005] * ops
        client.read_latencies = [read_ms / 1000] * ops
    cores = dict.fromkeys(("client", "primary", "replica", "others"), 0.5)
    return replicas.Window(ops, 1.0, cores, [client])


def replicas_run(routed: int) -> list[dict[str, Any]]:
    """One run's results of the replicas section, as bench/replicas.py makes them: 100
    ops/s with the primary alone, ``routed`` with the replica (and the reference)."""
    out = []
    for workload in replicas.WORKLOADS:
        mix = workload.key == "read_your_writes"
        base = [replicas_window(100, read_ms=2.0 if mix else 0.0, on_primary=100)]
        for config in workload.configs:
            windows = base
            if config is not replicas.PRIMARY:
                windows = [replicas_window(routed, read_ms=5.0 if mix else 0.0, on_primary=2)]
            out.append(asdict(replicas.result(workload, config, windows, base)))
    return out


def test_the_replicas_figures_are_informational_a_median_and_range_with_no_verdict() -> None:
    """#12 sets no target for its benchmark: each figure is reported, never judged."""
    rows = summary.summarize([replicas_run(90), replicas_run(80), replicas_run(100)], ["replicas"])
    cells = {row.headline.label: row.cells("abc1234")[1:] for row in rows}
    assert len(cells) == 5
    assert all(c[2:] == ["", "", "abc1234"] for c in cells.values())
    ratios = [c[:2] for label, c in cells.items() if "ops/s" in label or "cycles/s" in label]
    assert ratios == [["0.90x", "0.80-1.00x (3 runs)"]] * 3
    [read] = [c[:2] for label, c in cells.items() if "the read's p50" in label]
    assert read == ["2.50x", "2.50x (3 runs)"]
    [fallback] = [c[:2] for label, c in cells.items() if "primary served" in label]
    assert fallback == ["2.0%", "2.0% (3 runs)"]
