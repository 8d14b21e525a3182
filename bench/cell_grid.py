"""The command line of a benchmark that runs a grid of cells (scenario x size x seed)."""

from __future__ import annotations

import argparse
import shlex
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path


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
