"""A benchmark over a grid of cells (scenario x size x seed): its command line and results.

The results are a JSON-lines file, a row per cell (or per cell and variant), so a long run
keeps every cell it finished and a rerun of a cell replaces it.
"""

from __future__ import annotations

import argparse
import json
import math
import shlex
import sys
from collections.abc import Callable, Hashable, Iterator, Sequence
from pathlib import Path
from typing import Any


def add_grid_arguments(
    parser: argparse.ArgumentParser, *, results: Path, section: str, sizes: str, seeds: str
) -> None:
    """--scenarios, --sizes, --seeds, --results, --section and --render-only."""
    parser.add_argument("--scenarios", default="baseline", help="comma list of worlds")
    parser.add_argument("--sizes", default=sizes, help="comma list of client counts")
    parser.add_argument("--seeds", default=seeds, help="comma list of seeds")
    parser.add_argument("--results", type=Path, default=results)
    parser.add_argument("--section", default=section, help="BENCHMARKS.md section")
    parser.add_argument(
        "--render-only", action="store_true", help="rewrite the section from the results file"
    )


def command_line(script: str, argv: Sequence[str] | None) -> str:
    """The command as BENCHMARKS.md quotes it, so a reader can rerun it."""
    arguments = sys.argv[1:] if argv is None else list(argv)
    return f"nice -n 10 .venv/bin/python bench/{script} " + shlex.join(arguments)


def cells(args: argparse.Namespace) -> Iterator[tuple[str, int, int]]:
    """(scenario, clients, seed) in run order: by size, then scenario, then seed."""
    for size in (int(s) for s in args.sizes.split(",")):
        for scenario in args.scenarios.split(","):
            for seed in (int(s) for s in args.seeds.split(",")):
                yield scenario, size, seed


def load_results(path: Path) -> list[dict[str, Any]]:
    """The rows of a results file (none if it does not exist yet)."""
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def save_results(
    path: Path, rows: Sequence[dict[str, Any]], key: Callable[[dict[str, Any]], Hashable]
) -> list[dict[str, Any]]:
    """Write the rows in key order, a later row of a key replacing an earlier; return them."""
    merged = {key(row): row for row in rows}
    ordered = [merged[k] for k in sorted(merged)]  # type: ignore[type-var]
    tmp = path.with_suffix(".tmp")
    tmp.write_text("".join(json.dumps(row, sort_keys=True) + "\n" for row in ordered))
    tmp.replace(path)  # never half a file
    return ordered


def cell_key(row: dict[str, Any]) -> tuple[str, int, int]:
    """A row's cell: (scenario, clients, seed)."""
    return row["scenario"], row["n_clients"], row["seed"]


def pct(value: float | None) -> str:
    """A share as a percentage with one decimal; n/a when missing or not finite."""
    return "n/a" if value is None or not math.isfinite(value) else f"{100 * value:.1f}"
