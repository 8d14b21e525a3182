"""The grid benchmarks' shared command line (bench/cell_grid.py)."""

from __future__ import annotations

import argparse
from pathlib import Path
from types import ModuleType

import pytest

from tests.helpers import load_bench_module


@pytest.fixture(scope="module")
def grid() -> ModuleType:
    return load_bench_module("cell_grid.py", "bench_cell_grid")


def _parser(grid: ModuleType) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser()
    grid.add_grid_arguments(
        parser, results=Path("cells.jsonl"), section="a_section", sizes="100,200", seeds="0"
    )
    return parser


def test_cells_run_by_size_then_scenario_then_seed(grid) -> None:
    args = _parser(grid).parse_args(["--scenarios", "a,b", "--seeds", "1,2"])
    assert list(grid.cells(args)) == [
        ("a", 100, 1), ("a", 100, 2), ("b", 100, 1), ("b", 100, 2),
        ("a", 200, 1), ("a", 200, 2), ("b", 200, 1), ("b", 200, 2),
    ]  # fmt: skip
    assert args.results == Path("cells.jsonl") and args.section == "a_section"
    assert not args.render_only


def test_the_quoted_command_reruns_as_given(grid) -> None:
    line = grid.command_line("bench_x.py", ["--scenarios", "a b", "--render-only"])
    assert line == "nice -n 10 .venv/bin/python bench/bench_x.py --scenarios 'a b' --render-only"


def test_a_rerun_cell_replaces_its_row_and_the_file_is_written_whole(grid, tmp_path) -> None:
    path = tmp_path / "cells.jsonl"
    assert grid.load_results(path) == []  # no file yet: no rows
    first = {"scenario": "b", "n_clients": 10, "seed": 0, "gain": 0.1}
    other = {"scenario": "a", "n_clients": 10, "seed": 0, "gain": 0.2}
    grid.save_results(path, [first, other], grid.cell_key)
    rerun = {**first, "gain": 0.3}
    kept = grid.save_results(path, [*grid.load_results(path), rerun], grid.cell_key)
    assert kept == [other, rerun]  # in key order, the rerun in place of the first
    assert grid.load_results(path) == kept
    assert [p.name for p in tmp_path.iterdir()] == ["cells.jsonl"]  # no temporary left


def test_a_share_reads_as_a_percentage_and_a_missing_one_as_na(grid) -> None:
    assert grid.pct(0.4567) == "45.7"
    assert grid.pct(None) == "n/a" and grid.pct(float("nan")) == "n/a"
