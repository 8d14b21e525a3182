"""The ranking bench's goal lines (bench/bench_ranking_quality.py, `render_goals`)."""

from __future__ import annotations

from types import ModuleType
from typing import Any

import pytest

from tests.helpers import load_bench_module


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    return load_bench_module("bench_ranking_quality.py", "bench_ranking_quality_goals")


def _cell(scenario: str, clients: int, seed: int, gain: float, train: float) -> dict[str, Any]:
    return {
        "scenario": scenario,
        "n_clients": clients,
        "seed": seed,
        "gains": {"polku": gain},
        "seconds": {"train": train},
    }


def test_training_line_gives_the_median_and_names_the_slowest_cell(bench: ModuleType) -> None:
    cells = [
        _cell("baseline", 100_000, 0, 0.6, 150.0),
        _cell("baseline", 100_000, 1, 0.7, 30.0),
        _cell("thresholds", 100_000, 2, 0.9, 40.0),
        _cell("baseline", 30_000, 0, 0.5, 500.0),  # another size: not in the line
    ]
    groups: dict[tuple[str, int], list[dict[str, Any]]] = {}
    for cell in cells:
        groups.setdefault((cell["scenario"], cell["n_clients"]), []).append(cell)
    lines = bench.render_goals(groups)
    training = [line for line in lines if line.startswith("- training at 100,000")]
    assert training == [
        "- training at 100,000 clients: median 40.0 s over 3 cells, slowest 150.0 s "
        "(baseline seed 0) (goal <= 120 s at 100,000)."
    ]
    # Family medians per scenario (0.65 and 0.9), then their median: 77.5 %, below 80 %.
    assert any(
        "100,000 clients (2 scenario(s)): 77.5 %" in line and "not met" in line for line in lines
    )
