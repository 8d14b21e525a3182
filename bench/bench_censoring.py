"""Benchmark: training on a censored register, against the two ways round it a pipeline takes.

A real register extract is censored: an episode assessed less than six months before the
extract has no six-month outcomes yet, one assessed less than twelve months before has no
twelve-month outcome (`pipeline.synth.censoring`). For each world (scenario x seed) Polku is
trained, as `polku train` does before MLflow (`fit_model`, same client split), on four
registers of the same episodes:

- **all outcomes**: the uncensored register (what no real extract holds; the reference);
- **censored, weighted**: the censored register as it is; the ranker learns each target
  from its known outcomes, the unknown ones weighted out (`models.ranker.nuisances`
  `observation_weights`);
- **complete episodes only**: the censored register less every episode with a blank
  outcome (what a register had to be cut to before Polku read blanks);
- **blanks read as 0**: the censored register with each blank filled with 0 ("not
  employed"), the usual extract-to-table mistake.

Each model is then judged by the truth on the same held-out episodes (those of the
uncensored register, recent ones included): the oracle gain captured, and the top-1
honesty (`top1_honesty`). Objectives: the default six-month one (about a quarter of the
episodes censored) and the twelve-month one (about half).

Run: `nice -n 10 .venv/bin/python bench/bench_censoring.py [--clients N] [--seeds 0,1,2,3,4]
[--scenarios baseline,alien]`.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Final

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np
import pandas as pd
from benchmarks_md import write_section
from top1_honesty import top1_honesty
from worlds import draw_world

from models.objectives import EPISODE_OUTCOMES
from pipeline.data.world import load_world
from pipeline.evaluation import metrics
from pipeline.evaluation.version import evaluate_model
from pipeline.synth.censoring import censor_outcomes
from pipeline.synth.world import EPISODES_FILE, TRUTH_FILE, write_world
from pipeline.threads import numeric_threads
from pipeline.training.settings import TrainSettings
from pipeline.training.train import fit_model

RESULTS_JSON: Final = Path(__file__).resolve().parent / "results" / "censoring.json"
VARIANTS: Final = ("all outcomes", "censored, weighted", "complete episodes only", "blanks as 0")
OBJECTIVES: Final = ("employment_or_education_6m", "employment_12m")
# The variants whose top-1 honesty the table shows.
SHOWN: Final = ("all outcomes", "censored, weighted", "blanks as 0")
DEFAULT_CLIENTS: Final = 20_000
DEFAULT_SEEDS: Final = "0,1,2,3,4"
DEFAULT_SCENARIOS: Final = "baseline,alien"


def variant_episodes(censored: pd.DataFrame, variant: str) -> pd.DataFrame:
    """The censored episodes as one variant's register holds them."""
    if variant == "censored, weighted":
        return censored
    if variant == "complete episodes only":
        complete = censored[list(EPISODE_OUTCOMES)].notna().all(axis=1)
        return censored.loc[complete].reset_index(drop=True)
    if variant == "blanks as 0":
        filled = censored.copy()
        for outcome in EPISODE_OUTCOMES:
            filled[outcome] = filled[outcome].fillna(0).astype(np.int8)
        return filled
    raise ValueError(f"unknown variant {variant!r}")


def run_world(scenario: str, n_clients: int, seed: int, directory: Path) -> list[dict[str, Any]]:
    """One world: every variant under every objective, judged on the full register's truth."""
    generated = draw_world(scenario, n_clients, seed)
    catalog = generated.catalog
    full_dir = directory / f"{scenario}-{seed}-full"
    write_world(generated, full_dir)
    censored = censor_outcomes(generated.episodes)
    shares = {o: float(censored[o].isna().mean()) for o in EPISODE_OUTCOMES}
    dirs = {"all outcomes": full_dir}
    for variant in VARIANTS[1:]:
        path = directory / f"{scenario}-{seed}-{variant.replace(' ', '_').replace(',', '')}"
        episodes = variant_episodes(censored, variant)
        write_world(dataclasses.replace(generated, episodes=episodes), path)
        # The truth is the judge's alone (and would not match the cut register's rows).
        for truth in path.glob(f"{TRUTH_FILE}.*"):
            truth.unlink()
        assert (path / f"{EPISODES_FILE}.parquet").exists()
        dirs[variant] = path
    del generated
    cells = []
    for objective in OBJECTIVES:
        settings = TrainSettings(seed=seed, objective=objective)
        reference = fit_model(load_world(full_dir, catalog=catalog), settings, catalog=catalog)
        held_out = reference.prepared.held_out
        assert held_out.true_outcomes is not None
        cell: dict[str, Any] = {
            "scenario": scenario,
            "n_clients": n_clients,
            "seed": seed,
            "objective": objective,
            "censored_share": shares,
            "held_out_episodes": reference.prepared.counts["held_out_episodes"],
            "variants": {},
        }
        for variant, path in dirs.items():
            started = time.perf_counter()
            if variant == "all outcomes":
                trained = reference
            else:
                trained = fit_model(load_world(path, catalog=catalog), settings, catalog=catalog)
            seconds = time.perf_counter() - started
            judged = evaluate_model(trained.model, reference.prepared, catalog, objective, seed)
            values = dict(judged.summary.policy_value.items())
            gain = metrics.oracle_gain_captured(
                values["polku"], values["caseworkers"], values["oracle"]
            )
            honesty = top1_honesty(
                trained.model, held_out.frame, held_out.true_outcomes, catalog.ids, objective
            )
            cell["variants"][variant] = {
                "gain": gain,
                "imitation_gain": metrics.oracle_gain_captured(
                    values["imitation"], values["caseworkers"], values["oracle"]
                ),
                "train_episodes": trained.prepared.counts["train_episodes"],
                "seconds": seconds,
                "honesty": honesty,
            }
            print(
                f"  {scenario} seed {seed} {objective}: {variant}: gain {100 * gain:.1f} %, "
                f"top-1 shown/true {honesty['top1_ratio']:.2f}, coverage "
                f"{100 * honesty['top1_coverage']:.1f} %",
                flush=True,
            )
        cells.append(cell)
    return cells


def _median(values: list[float]) -> float:
    finite = [v for v in values if v == v]
    return statistics.median(finite) if finite else float("nan")


def render(cells: list[dict[str, Any]]) -> str:
    """The BENCHMARKS.md section: medians over seeds per scenario and objective."""
    n_clients = cells[0]["n_clients"]
    seeds = sorted({c["seed"] for c in cells})
    lines = [
        f"Worlds of {n_clients:,} clients, seeds {', '.join(map(str, seeds))}; each register "
        "censored as an extract taken on its last assessment date holds it. Four registers "
        "of the same episodes, each model judged by the truth on the same held-out episodes "
        "(the uncensored register's, recent ones included). Medians over seeds; oracle gain "
        "captured = (value - caseworkers) / (oracle - caseworkers). BLAS/OpenMP threads: "
        f"{numeric_threads()}.",
        "",
        "| scenario | objective | censored (6 m / 12 m) | "
        + " | ".join(VARIANTS)
        + " | imitation | top-1 shown/true: all / weighted / blanks as 0 "
        "| top-1 coverage: all / weighted / blanks as 0 |",
        "|---|---|---|" + "---:|" * len(VARIANTS) + "---:|---|---|",
    ]
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for cell in cells:
        groups.setdefault((cell["scenario"], cell["objective"]), []).append(cell)
    for (scenario, objective), group in groups.items():

        def med(variant: str, key: str, group: list[dict[str, Any]] = group) -> float:
            return _median([c["variants"][variant][key] for c in group])

        def hon(variant: str, key: str, group: list[dict[str, Any]] = group) -> float:
            return _median([c["variants"][variant]["honesty"][key] for c in group])

        six = _median([c["censored_share"]["employed_6m"] for c in group])
        twelve = _median([c["censored_share"]["employed_12m"] for c in group])
        gains = " | ".join(f"{100 * med(v, 'gain'):.1f} %" for v in VARIANTS)
        lines.append(
            f"| {scenario} | {objective} | {100 * six:.0f} % / {100 * twelve:.0f} % | {gains} | "
            f"{100 * med('all outcomes', 'imitation_gain'):.1f} % | "
            + " / ".join(f"{hon(v, 'top1_ratio'):.2f}" for v in SHOWN)
            + " | "
            + " / ".join(f"{100 * hon(v, 'top1_coverage'):.1f}" for v in SHOWN)
            + " % |"
        )
    wins = sum(
        c["variants"]["censored, weighted"]["gain"] >= c["variants"][v]["gain"]
        for c in cells
        for v in ("complete episodes only", "blanks as 0")
    )
    lines += [
        "",
        f"Censored, weighted at or above each of the two alternatives in {wins} of "
        f"{2 * len(cells)} world x objective comparisons.",
    ]
    return "\n".join(lines)


def _key(cell: dict[str, Any]) -> tuple[str, int, int, str]:
    return (cell["scenario"], cell["n_clients"], cell["seed"], cell["objective"])


def save_cells(new: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Merge `new` into the results file (a rerun of a cell replaces it); all cells kept."""
    old = json.loads(RESULTS_JSON.read_text()) if RESULTS_JSON.exists() else []
    merged = {_key(c): c for c in old} | {_key(c): c for c in new}
    cells = sorted(merged.values(), key=_key)
    RESULTS_JSON.parent.mkdir(exist_ok=True)
    RESULTS_JSON.write_text(json.dumps(cells, indent=1, default=float))
    return cells


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=DEFAULT_CLIENTS)
    parser.add_argument("--seeds", default=DEFAULT_SEEDS)
    parser.add_argument("--scenarios", default=DEFAULT_SCENARIOS)
    parser.add_argument("--no-write", action="store_true", help="print, do not touch BENCHMARKS.md")
    parser.add_argument(
        "--render", action="store_true", help="only render the results file into BENCHMARKS.md"
    )
    args = parser.parse_args()
    if args.render:
        body = render(json.loads(RESULTS_JSON.read_text()))
        print(body)
        write_section("censoring", _command(args) + " (cells of earlier runs kept)", body)
        return
    cells: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="polku-bench-censoring-") as tmp:
        for scenario in args.scenarios.split(","):
            for seed in (int(s) for s in args.seeds.split(",")):
                world = run_world(scenario, args.clients, seed, Path(tmp))
                # Each world is kept as it ends: a long run stopped half-way loses one.
                cells = cells + world if args.no_write else save_cells(world)
    body = render([c for c in cells if c["n_clients"] == args.clients])
    print(body)
    if not args.no_write:
        write_section("censoring", _command(args) + " (cells of earlier runs kept)", body)


def _command(args: argparse.Namespace) -> str:
    command = "nice -n 10 .venv/bin/python bench/bench_censoring.py"
    defaults = (DEFAULT_CLIENTS, DEFAULT_SEEDS, DEFAULT_SCENARIOS)
    if (args.clients, args.seeds, args.scenarios) != defaults:
        command += f" --clients {args.clients} --seeds {args.seeds} --scenarios {args.scenarios}"
    return command


if __name__ == "__main__":
    main()
