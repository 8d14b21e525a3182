"""Benchmark: the served ranker on logs where every option was given at random (a trial).

The served ranker's own class, fitted on the truth, holds 83-97 % of the oracle gain
(BENCHMARKS.md `policy_trees`), yet fitted on the logs it captures about half. Two things
separate the logs from the truth: confounding and thin overlap (today's caseworkers give
most services to a few per cent of the clients they suit, and steer by what they know),
and the number of episodes a service. A world whose caseworkers chose uniformly at random
among each client's options (the scenario's `exploration` = 1: a randomised trial with the
same clients, effects and catalog) removes the first and keeps the second. Where the
ranker then comes near its class's ceiling, the gap is the logs' design, which logged
propensities and exploration could close; where it stays far, the gap is the data's size.

Each trial world is its scenario with `exploration` = 1, registered for this process only
(`trial_<scenario>`); the cell is fitted and judged as `bench_ranking_quality.run_cell`
does (no peers). Cells go to `bench/results/randomised_logs.jsonl`; the BENCHMARKS.md
section `randomised_logs` sets each beside the same scenario, size and seed fitted on
today's practice (from `bench/results/outcome_penalty.jsonl`, served scale), where it has one.

Run: `nice -n 10 .venv/bin/python bench/bench_randomised_logs.py --scenarios baseline
--sizes 30000 --seeds 20`
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench_outcome_penalty import RESULTS_JSONL as PRACTICE_JSONL
from bench_outcome_penalty import SERVED_SCALE
from bench_ranking_quality import run_cell
from benchmarks_md import write_section
from cell_grid import (
    add_grid_arguments,
    cell_key,
    cells,
    command_line,
    load_results,
    pct,
    save_results,
)

from pipeline.synth.scenarios import SCENARIOS, scenario_named

RESULTS_JSONL: Final = Path(__file__).resolve().parent / "results" / "randomised_logs.jsonl"
TRIAL_PREFIX: Final = "trial_"


def register_trial(scenario: str) -> str:
    """Register `trial_<scenario>` (every option given at random) for this process."""
    name = TRIAL_PREFIX + scenario
    SCENARIOS[name] = dataclasses.replace(
        scenario_named(scenario),
        name=name,
        description=f"{scenario}, every option given at random (a trial)",
        exploration=1.0,
    )
    return name


def over_random(gains: dict[str, float]) -> float:
    """The ranker's share of the oracle's gain over random choice.

    `gains` are shares of the oracle's gain over the world's caseworkers; in a trial the
    caseworkers are random, so the share over random is the one measure both worlds share.
    """
    return (gains["polku"] - gains["random"]) / (1.0 - gains["random"])


def practice_cells(path: Path) -> dict[tuple[str, int, int], dict[str, Any]]:
    """The served ranker's cells on today's practice logs (the served scale), by cell."""
    return {cell_key(r): r for r in load_results(path) if r["scale"] == SERVED_SCALE}


def render(
    rows: list[dict[str, Any]], practice: dict[tuple[str, int, int], dict], commands: Sequence[str]
) -> str:
    """The section; `practice` holds the practice cells the trial rows are set beside."""

    def paired(row: dict[str, Any]) -> float | None:
        cell = practice.get((row["base"], row["n_clients"], row["seed"]))
        return None if cell is None else over_random(cell["gains"])

    paired_commands = list(
        dict.fromkeys(
            practice[key]["command"]
            for key in ((r["base"], r["n_clients"], r["seed"]) for r in rows)
            if key in practice
        )
    )
    lines = [
        "The served ranker on logs where every option was given at random "
        "(`bench/bench_randomised_logs.py`: the scenario with `exploration` = 1, same "
        "clients' distribution, effects and catalog), beside the same cell fitted on today's "
        "practice (`outcome_penalty`, served scale). The share of the oracle's gain over "
        "random choice captured on held-out clients (%): in a trial the caseworkers are "
        "random, so this is the measure the two worlds share (the usual oracle gain is over "
        "each world's caseworkers).",
        "",
        "Commands:",
        "",
        *[f"    {c}" for c in commands],
        "",
        *(
            ["The practice cells:", "", *[f"    {c}" for c in paired_commands], ""]
            if paired_commands
            else []
        ),
        "| clients | cells | trial median | practice median (same cells) |",
        "|---|---|---|---|",
    ]
    for size in sorted({r["n_clients"] for r in rows}):
        group = [r for r in rows if r["n_clients"] == size]
        known = [p for p in map(paired, group) if p is not None]
        lines.append(
            f"| {size:,} | {len(group)} | "
            f"{pct(statistics.median(over_random(r['gains']) for r in group))} | "
            f"{pct(statistics.median(known)) if known else 'n/a'} |"
        )
    lines += [
        "",
        "| scenario | clients | seed | trial | practice | training episodes |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['base']} | {r['n_clients']:,} | {r['seed']} | {pct(over_random(r['gains']))} | "
            f"{pct(paired(r))} | "
            f"{r['train_episodes']:,} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_grid_arguments(
        parser, results=RESULTS_JSONL, section="randomised_logs", sizes="30000", seeds="20"
    )
    args = parser.parse_args(argv)
    command = command_line("bench_randomised_logs.py", argv)
    rows = load_results(args.results)
    if not args.render_only:
        with tempfile.TemporaryDirectory() as tmp:
            for scenario, size, seed in cells(args):
                trial = register_trial(scenario)
                print(f"{trial} {size:,} seed {seed}", flush=True)
                cell = run_cell(trial, size, seed, [], Path(tmp), print)
                row = {
                    "scenario": trial,
                    "base": scenario,
                    "n_clients": size,
                    "seed": seed,
                    "gains": cell["gains"],
                    "train_episodes": cell["train_episodes"],
                    "honesty": cell["honesty"],
                    "command": command,
                }
                rows = save_results(args.results, [*rows, row], cell_key)
    commands = list(dict.fromkeys(r["command"] for r in rows))
    practice = practice_cells(PRACTICE_JSONL)
    write_section(args.section, commands[-1], render(rows, practice, commands))


if __name__ == "__main__":
    main()
