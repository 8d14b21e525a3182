"""Benchmark: Polku's ranking quality and training time on 100,000-client worlds, over seeds.

For each seed: generate a world of 100,000 clients (`pipeline.synth.world`), then do what
`polku train` does before MLflow (load, gate, split by client, fit the ranker, evaluate on
the held-out clients against the baselines and the oracle). Reports, per seed and as the
median over seeds: the share of the oracle's gain over the caseworkers that Polku's top-1
captures (goal >= 60 %), Polku against the imitation model, each group's policy value
against the caseworkers', and the training time (goal < 5 min). One full `polku train`
(MLflow logging and registration included) is timed on the first seed's world.

Run: `.venv/bin/python bench/bench_ranking_quality.py [--clients N] [--seeds 0,1,2]`.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks_md import write_section

from pipeline.data.world import load_world
from pipeline.synth.world import SynthConfig, generate_world, write_world
from pipeline.threads import numeric_threads
from pipeline.training.settings import TrainSettings
from pipeline.training.train import fit_model, train_and_register

GAIN_GOAL = 0.60
OPE_POLICIES = ("polku", "imitation", "popular", "random", "oracle")
TRAIN_GOAL_SECONDS = 300.0


def run_seed(n_clients: int, seed: int, directory: Path) -> dict[str, object]:
    """Generate, load, fit and evaluate one world; the figures of one seed."""
    world_dir = directory / f"world-{seed}"
    started = time.perf_counter()
    write_world(generate_world(SynthConfig(n_clients=n_clients, seed=seed)), world_dir)
    generate_seconds = time.perf_counter() - started
    started = time.perf_counter()
    world = load_world(world_dir)
    load_seconds = time.perf_counter() - started
    trained = fit_model(world, TrainSettings(seed=seed), lambda line: print(f"  {line}"))
    summary = trained.evaluation.summary
    groups = {
        f"{grouping}={label}": (
            entry.n,
            entry.policy_value.polku,
            entry.policy_value.caseworkers,
        )
        for grouping, table in summary.by_group.items()
        for label, entry in table.items()
    }
    return {
        "seed": seed,
        "world_dir": world_dir,
        "episodes": trained.prepared.counts["episodes"],
        "train_episodes": trained.prepared.counts["train_episodes"],
        "held_out_episodes": trained.prepared.counts["held_out_episodes"],
        "values": dict(summary.policy_value.items()),
        "gain": summary.oracle_gain_captured,
        "top3": summary.top3_oracle_coverage,
        "groups": groups,
        "ope": {
            name: {"true": e.true, "ips": e.ips, "snips": e.snips, "dr": e.dr}
            for name, e in summary.ope.items()
            if name in OPE_POLICIES
        },
        "generate_seconds": generate_seconds,
        "load_seconds": load_seconds,
        "train_seconds": load_seconds
        + trained.timings["prepare_seconds"]
        + trained.timings["fit_seconds"],
        "fit_seconds": trained.timings["fit_seconds"],
        "evaluate_seconds": trained.timings["evaluate_seconds"],
    }


def time_full_train(world_dir: Path, seed: int, directory: Path) -> float:
    """Seconds of one whole `polku train` (with MLflow) into a fresh embedded store."""
    os.environ["POLKU_STATE_DIR"] = str(directory / "state")
    os.environ.pop("MLFLOW_TRACKING_URI", None)
    from mlflow import MlflowClient

    from models import registry

    # Migrate the new store first: a one-off cost of the store, not of training.
    uri = registry.tracking_uri()
    (directory / "state").mkdir(parents=True, exist_ok=True)
    MlflowClient(tracking_uri=uri, registry_uri=uri).search_experiments()
    started = time.perf_counter()
    train_and_register(world_dir, TrainSettings(seed=seed))
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=100_000)
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--no-write", action="store_true", help="print, do not touch BENCHMARKS.md")
    args = parser.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]

    results = []
    with tempfile.TemporaryDirectory(prefix="polku-bench-ranking-") as tmp:
        directory = Path(tmp)
        for seed in seeds:
            print(f"seed {seed}: world of {args.clients:,} clients", flush=True)
            results.append(run_seed(args.clients, seed, directory))
        print("one full `polku train` with MLflow on the first world", flush=True)
        full_train = time_full_train(results[0]["world_dir"], seeds[0], directory)  # type: ignore[arg-type]

    body = render(args.clients, results, full_train)
    print(body)
    if not args.no_write:
        command = ".venv/bin/python bench/bench_ranking_quality.py"
        if args.clients != 100_000 or args.seeds != "0,1,2":
            command += f" --clients {args.clients} --seeds {args.seeds}"
        write_section("ranking_quality", command, body)


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.1f} %"


def _ope_row(name: str, results: list[dict]) -> str:
    def median(key: str) -> float:
        return statistics.median(
            float("nan") if r["ope"][name][key] is None else r["ope"][name][key] for r in results
        )

    true = median("true")
    cells = [f"{median(k):.4f} ({median(k) - true:+.4f})" for k in ("ips", "snips", "dr")]
    return f"| {name} | {true:.4f} | " + " | ".join(cells) + " |"


def render(n_clients: int, results: list[dict], full_train: float) -> str:
    """The BENCHMARKS.md section."""
    lines = [
        f"Worlds of {n_clients:,} clients (`pipeline.synth`), one per seed; the ranker trained "
        "on 75 % of the clients (split by a hash of the client id) and judged on the other "
        "25 % with the synthetic truth. Policy value = mean true probability of employment or "
        f"education at 6 months under each policy's top-1 service. BLAS/OpenMP threads: "
        f"{numeric_threads()}.",
        "",
        "| seed | episodes (train / held out) | Polku | caseworkers | imitation | popular "
        "| random | oracle | oracle gain captured | top-3 oracle coverage |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        v = r["values"]
        lines.append(
            f"| {r['seed']} | {r['train_episodes']:,} / {r['held_out_episodes']:,} "
            f"| {v['polku']:.4f} | {v['caseworkers']:.4f} | {v['imitation']:.4f} "
            f"| {v['popular']:.4f} | {v['random']:.4f} | {v['oracle']:.4f} "
            f"| {_pct(r['gain'])} | {_pct(r['top3'])} |"
        )
    gains = [r["gain"] for r in results if r["gain"] is not None]
    median_gain = statistics.median(gains) if gains else None
    beats_imitation = sum(r["values"]["polku"] > r["values"]["imitation"] for r in results)
    margin = statistics.median(r["values"]["polku"] - r["values"]["imitation"] for r in results)
    lines += [
        "",
        f"**Oracle gain captured**: median {_pct(median_gain)} over {len(results)} seeds "
        f"(min {_pct(min(gains) if gains else None)}, max {_pct(max(gains) if gains else None)}); "
        f"goal >= {100 * GAIN_GOAL:.0f} %: "
        + ("met." if median_gain is not None and min(gains) >= GAIN_GOAL else "**not met**.")
        + f" Polku beats imitation in {beats_imitation} of {len(results)} seeds "
        f"(median margin {margin:+.4f} in policy value).",
        "",
        "Each group's policy value, Polku minus caseworkers (per seed), and the group's size in "
        "the first seed's held-out part:",
        "",
        "| group | n (seed "
        + str(results[0]["seed"])
        + ") | "
        + " | ".join(f"seed {r['seed']}" for r in results)
        + " | worst |",
        "|---|---|" + "---|" * len(results) + "---|",
    ]
    worst_overall = float("inf")
    for group in results[0]["groups"]:
        diffs = [
            r["groups"][group][1] - r["groups"][group][2] for r in results if group in r["groups"]
        ]
        worst = min(diffs)
        worst_overall = min(worst_overall, worst)
        lines.append(
            f"| {group} | {results[0]['groups'][group][0]:,} | "
            + " | ".join(f"{d:+.4f}" for d in diffs)
            + f" | {worst:+.4f} |"
        )
    lines += [
        "",
        "Goal: no group below the caseworkers: "
        + (
            "met in every seed."
            if worst_overall >= 0
            else f"**not met** (worst {worst_overall:+.4f})."
        ),
        "",
        "Off-policy estimates from the logged data alone against the true value "
        "(median over seeds; error = estimate - truth):",
        "",
        "| policy | true | IPS | SNIPS | DR |",
        "|---|---|---|---|---|",
        *(_ope_row(name, results) for name in OPE_POLICIES),
        "",
        "| time per seed (s) | " + " | ".join(f"seed {r['seed']}" for r in results) + " | median |",
        "|---|" + "---|" * len(results) + "---|",
    ]
    for key, label in (
        ("generate_seconds", "generate the world"),
        ("load_seconds", "load and validate the register (`pipeline.data.register`)"),
        ("fit_seconds", "fit the ranker"),
        ("train_seconds", "training: load + gate + split + fit"),
        ("evaluate_seconds", "evaluate (6 policies, OPE, calibration, groups)"),
    ):
        values = [r[key] for r in results]
        lines.append(
            f"| {label} | "
            + " | ".join(f"{v:.1f}" for v in values)
            + f" | {statistics.median(values):.1f} |"
        )
    median_train = statistics.median(r["train_seconds"] for r in results)
    worst_train = max(r["train_seconds"] for r in results)
    load_share = statistics.median(r["load_seconds"] / r["train_seconds"] for r in results)
    lines += [
        "",
        f"Training on {n_clients:,} clients: median {median_train:.1f} s, slowest "
        f"{worst_train:.1f} s; one whole `polku train` (load, fit, evaluate, report, MLflow "
        f"logging and registration) took {full_train:.1f} s. Goal < {TRAIN_GOAL_SECONDS:.0f} s: "
        + (
            "met in every run."
            if max(worst_train, full_train) < TRAIN_GOAL_SECONDS
            else "met by the median, **not in every run**."
            if median_train < TRAIN_GOAL_SECONDS
            else "**not met**."
        ),
        f"Loading and validating the register is {100 * load_share:.0f} % of the training time "
        "(median); fitting the ranker itself takes "
        f"{statistics.median(r['fit_seconds'] for r in results):.0f} s.",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
