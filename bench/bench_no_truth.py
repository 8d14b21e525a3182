"""Benchmark: training and evaluation on a register without truth or logged propensities.

For each seed: generate a world (`pipeline.synth.world`) and a copy of it without the truth
file and without the `propensity` column (what a real register extract gives). Fit and
evaluate Polku on both, in process as `polku train` does before MLflow
(`pipeline.training.train.fit_model`, same split). On the copy the evaluation estimates the
propensities and gives the doubly robust (DR) difference of Polku minus the caseworkers with
its client-clustered 95 % interval. The withheld truth then judges that model on the same
held-out episodes (`pipeline.evaluation.version.evaluate_model` on the preparation with the
truth): its true difference (true value of Polku's top-1 minus the true value of the logged
choices) is what the interval should hold (goal: in >= 90 % of seeds), and its true gain is
set beside the true gain of the model trained with the logged propensities.

Run: `.venv/bin/python bench/bench_no_truth.py [--clients N] [--seeds 100,...,109]`.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks_md import write_section

from models.catalog import load_catalog
from pipeline.data.world import load_world
from pipeline.evaluation.version import PROPENSITY_FLOOR, evaluate_model
from pipeline.synth.world import (
    EPISODES_FILE,
    TRUTH_FILE,
    SynthConfig,
    generate_world,
    write_world,
)
from pipeline.threads import numeric_threads
from pipeline.training.settings import TrainSettings
from pipeline.training.train import fit_model

COVERAGE_GOAL = 0.90
DEFAULT_CLIENTS = 20_000
DEFAULT_SEEDS = ",".join(str(s) for s in range(100, 120))


def strip_world(world_dir: Path, out_dir: Path) -> None:
    """Copy a world without its truth file and without the propensity column."""
    shutil.copytree(world_dir, out_dir)
    for truth in out_dir.glob(f"{TRUTH_FILE}.*"):
        truth.unlink()
    episodes_path = out_dir / f"{EPISODES_FILE}.parquet"
    episodes = pd.read_parquet(episodes_path)
    episodes.drop(columns=["propensity"]).to_parquet(episodes_path, index=False)


def run_seed(n_clients: int, seed: int, directory: Path) -> dict[str, object]:
    """One seed: the no-truth run's DR difference against the truth, and both true gains."""
    world_dir = directory / f"world-{seed}"
    bare_dir = directory / f"bare-{seed}"
    started = time.perf_counter()
    write_world(generate_world(SynthConfig(n_clients=n_clients, seed=seed)), world_dir)
    strip_world(world_dir, bare_dir)
    generate_seconds = time.perf_counter() - started
    settings = TrainSettings(seed=seed)

    started = time.perf_counter()
    full = fit_model(load_world(world_dir), settings)
    full_seconds = time.perf_counter() - started

    started = time.perf_counter()
    bare_world = load_world(bare_dir)
    assert bare_world.truth is None and not bare_world.has_propensity
    bare = fit_model(bare_world, settings)
    bare_seconds = time.perf_counter() - started
    bare_difference = bare.evaluation.summary.ope_difference
    assert bare_difference is not None
    assert bare.evaluation.summary.evaluation_kind == "off_policy"

    # The withheld truth judges the no-truth model on the same held-out episodes.
    assert bare.prepared.counts["held_out_episodes"] == full.prepared.counts["held_out_episodes"]
    judged = evaluate_model(bare.model, full.prepared, load_catalog(), settings.objective, seed)
    true_difference = judged.summary.ope_difference.true  # type: ignore[union-attr]
    full_difference = full.evaluation.summary.ope_difference
    assert true_difference is not None and full_difference is not None
    assert full_difference.true is not None
    propensity = bare.evaluation.summary.propensity or {}
    return {
        "seed": seed,
        "held_out": full.prepared.counts["held_out_episodes"],
        "estimate": bare_difference.estimate,
        "ci_low": bare_difference.ci_low,
        "ci_high": bare_difference.ci_high,
        "true": true_difference,
        "covered": bare_difference.ci_low <= true_difference <= bare_difference.ci_high,
        "gain_with_propensities": full_difference.true,
        "estimate_with_propensities": full_difference.estimate,
        "ci_with_propensities": (full_difference.ci_low, full_difference.ci_high),
        "covered_with_propensities": full_difference.ci_low
        <= full_difference.true
        <= full_difference.ci_high,
        "floored_share": propensity.get("share_floored"),
        "generate_seconds": generate_seconds,
        "full_seconds": full_seconds,
        "bare_seconds": bare_seconds,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=DEFAULT_CLIENTS)
    parser.add_argument("--seeds", default=DEFAULT_SEEDS)
    parser.add_argument("--no-write", action="store_true", help="print, do not touch BENCHMARKS.md")
    args = parser.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]

    results = []
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="polku-bench-no-truth-") as tmp:
        for seed in seeds:
            print(f"seed {seed}: world of {args.clients:,} clients", flush=True)
            result = run_seed(args.clients, seed, Path(tmp))
            print(
                f"  DR {result['estimate']:+.4f} [{result['ci_low']:+.4f}, "
                f"{result['ci_high']:+.4f}], true {result['true']:+.4f}, "
                f"covered {result['covered']}; true gain with propensities "
                f"{result['gain_with_propensities']:+.4f}",
                flush=True,
            )
            results.append(result)
    total = time.perf_counter() - started

    body = render(args.clients, results, total)
    print(body)
    if not args.no_write:
        command = ".venv/bin/python bench/bench_no_truth.py"
        if args.clients != DEFAULT_CLIENTS or args.seeds != DEFAULT_SEEDS:
            command += f" --clients {args.clients} --seeds {args.seeds}"
        write_section("no_truth", command, body)


def _pts(value: float) -> str:
    return f"{100 * value:+.2f}"


def render(n_clients: int, results: list[dict], total_seconds: float) -> str:
    """The BENCHMARKS.md section."""
    n = len(results)
    covered = sum(bool(r["covered"]) for r in results)
    coverage = covered / n
    bias = [r["estimate"] - r["true"] for r in results]
    width = [r["ci_high"] - r["ci_low"] for r in results]
    gain_gap = [r["true"] - r["gain_with_propensities"] for r in results]
    covered_logged = sum(bool(r["covered_with_propensities"]) for r in results)
    width_logged = [r["ci_with_propensities"][1] - r["ci_with_propensities"][0] for r in results]
    bias_logged = [r["estimate_with_propensities"] - r["gain_with_propensities"] for r in results]
    above_zero = sum(r["ci_low"] > 0 for r in results)
    verdict = (
        f"**Goal met**: the interval held the true difference in {covered} of {n} seeds "
        f"({100 * coverage:.0f} % >= {100 * COVERAGE_GOAL:.0f} %)."
        if coverage >= COVERAGE_GOAL
        else f"**Goal missed**: the interval held the true difference in only {covered} of "
        f"{n} seeds ({100 * coverage:.0f} % < {100 * COVERAGE_GOAL:.0f} %)."
    )
    lines = [
        f"Worlds of {n_clients:,} clients (`pipeline.synth`), one per seed, each also copied "
        "without `truth.parquet` and without the `propensity` column. Polku is trained on both "
        "with the same client split (75 / 25 %); on the copy the evaluation estimates the "
        f"propensities (imitation model, calibrated, floored at {PROPENSITY_FLOOR}) and gives "
        "the doubly robust (DR) estimate of Polku minus the caseworkers with its "
        "client-clustered 95 % interval. The withheld truth then judges that model on the same "
        "held-out episodes: the true difference is the mean true probability of employment or "
        "education at 6 months under Polku's top-1 minus that under the logged choices. "
        f"Figures in percentage points. BLAS/OpenMP threads: {numeric_threads()}.",
        "",
        verdict,
        "",
        "| seed | held-out episodes | DR estimate (no truth, no propensities) | 95 % interval "
        "| true difference | held | true gain, model trained with propensities | "
        "no-truth minus with |",
        "|---:|---:|---:|---|---:|:---:|---:|---:|",
    ]
    for r, gap in zip(results, gain_gap, strict=True):
        lines.append(
            f"| {r['seed']} | {r['held_out']:,} | {_pts(r['estimate'])} | "
            f"[{_pts(r['ci_low'])}, {_pts(r['ci_high'])}] | {_pts(r['true'])} | "
            f"{'yes' if r['covered'] else '**no**'} | {_pts(r['gain_with_propensities'])} | "
            f"{_pts(gap)} |"
        )
    lines += [
        "",
        "| over the seeds | value |",
        "|---|---:|",
        f"| coverage of the true difference by the DR 95 % interval | {covered} of {n} "
        f"({100 * coverage:.0f} %) |",
        f"| mean bias of the DR estimate (estimate - truth) | {_pts(statistics.mean(bias))} |",
        f"| median bias | {_pts(statistics.median(bias))} |",
        f"| mean interval width | {100 * statistics.mean(width):.2f} |",
        f"| median interval width | {100 * statistics.median(width):.2f} |",
        "| median true gain over the caseworkers, model trained without truth or propensities "
        f"| {_pts(statistics.median(r['true'] for r in results))} |",
        "| median true gain over the caseworkers, model trained with the logged propensities "
        f"| {_pts(statistics.median(r['gain_with_propensities'] for r in results))} |",
        f"| mean gap of the true gains (no-truth minus with) | {_pts(statistics.mean(gain_gap))} |",
        f"| largest gap of the true gains (absolute) | {100 * max(abs(g) for g in gain_gap):.2f} |",
        "| median seconds per seed: generate + copy / fit + evaluate with propensities / "
        "without | "
        f"{statistics.median(r['generate_seconds'] for r in results):.0f} / "
        f"{statistics.median(r['full_seconds'] for r in results):.0f} / "
        f"{statistics.median(r['bare_seconds'] for r in results):.0f} |",
        f"| whole benchmark | {total_seconds / 60:.1f} min |",
        "",
        "For comparison, the same figures of the run with the logged propensities (its own "
        f"model, judged by the truth): coverage {covered_logged} of {n}, mean bias "
        f"{_pts(statistics.mean(bias_logged))}, mean interval width "
        f"{100 * statistics.mean(width_logged):.2f}.",
        "",
        "Read with care: the no-truth interval is about "
        f"{100 * statistics.mean(width):.0f} points wide while the true gain "
        f"is about {100 * statistics.median(r['true'] for r in results):.1f} points: honest "
        "(about nominal coverage) but wide; its lower end was above zero in "
        f"{above_zero} of {n} seeds, i.e. on a register of this size the off-policy "
        "evaluation alone cannot tell that Polku beats the caseworkers, though the model "
        "trained without truth or propensities does, judged by the truth, about as well as "
        "the one trained with them. With this many seeds a coverage figure is itself "
        "uncertain by several points (binomial).",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
