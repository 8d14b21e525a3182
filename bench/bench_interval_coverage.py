"""Benchmark: do the ranker's uplift intervals hold the true uplift as often as they claim?

On synthetic worlds (`pipeline.synth.world`, default 30,000 clients, seeds 1-3): gate and split
the episodes as `polku train` does, fit the `ServiceRanker` (one BLAS thread, timed), and on
the held-out clients compare every allowed, supported client-service pair's interval on the
six-month objective with the world's true uplift (true probability with the service minus
without, `truth.parquet`; never seen in training). Reported per seed and as medians:
coverage of the nominal 90 % intervals, median width, mean absolute error of the point
estimate, and the share of the oracle's gain over the caseworkers the top-1 captures (so a
change to the intervals cannot quietly cost ranking quality).

Each run compares interval methods on the same fitted worlds: `bootstrap` (the final stage
refitted on bootstrap resamples, nuisances fixed: the method before out-of-fold calibration),
`calibrated` (centred on the uplift recalibrated against out-of-fold pseudo-outcomes, with
that line's error and the bootstrap spread, widened to hold the point estimate) and `shrunk`
(the ranker's default: the shown uplift is the empirical-Bayes shrunk one and the interval is
centred on it; docs/MODEL.md). Besides all pairs, the top-1 suggestions are scored on their
own: coverage, mean shown against mean true uplift (the winner's curse), and the share of
top-1 intervals that include zero. The truth is used here only to score them.

Run: `.venv/bin/python bench/bench_interval_coverage.py [--clients N] [--seeds 1 2 3]`.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks_md import write_section

from models.bundle import PolkuModel
from models.catalog import Catalog, load_catalog
from models.objectives import DEFAULT_OBJECTIVE
from models.ranker import ServiceRanker
from pipeline.data.episodes import prepare_episodes
from pipeline.data.split import SplitSettings
from pipeline.data.world import load_world
from pipeline.evaluation.metrics import interval_honesty
from pipeline.synth.world import SynthConfig, generate_world, write_world
from pipeline.threads import limited_threads

METHODS = ("bootstrap", "calibrated", "shrunk")


def prepared_world(clients: int, seed: int, catalog: Catalog) -> Any:
    """Gate and split a fresh synthetic world as `polku train` does."""
    with tempfile.TemporaryDirectory(prefix="polku-bench-coverage-") as tmp:
        write_world(generate_world(SynthConfig(n_clients=clients, seed=seed), catalog), tmp)
        world = load_world(Path(tmp))
    return prepare_episodes(
        world.episodes,
        world.true_outcomes(DEFAULT_OBJECTIVE, catalog),
        catalog,
        DEFAULT_OBJECTIVE,
        SplitSettings(),
    )


def measure(model: PolkuModel, held_out: Any) -> dict[str, float]:
    """Coverage, width and errors of the intervals against the truth, and the top-1 gain."""
    scores = model.score_frame(held_out.frame, DEFAULT_OBJECTIVE, with_intervals=True)
    assert scores.uplift_low is not None and scores.uplift_high is not None
    truth = held_out.true_outcomes
    true_uplift = truth[:, :-1] - truth[:, -1:]
    allowed = scores.allowed
    low, high = scores.uplift_low[allowed], scores.uplift_high[allowed]
    target, point = true_uplift[allowed], scores.uplift[allowed]
    rows = np.arange(len(truth))
    top = scores.top(1)[:, 0]
    honesty = interval_honesty(
        scores.uplift, scores.uplift_low, scores.uplift_high, allowed, top, true_uplift
    )
    chosen = np.where(top >= 0, top, truth.shape[1] - 1)
    polku = truth[rows, chosen].mean()
    caseworkers = truth[rows, held_out.logged_action].mean()
    options = np.column_stack([held_out.allowed, np.ones(len(rows), dtype=bool)])
    oracle = np.where(options, truth, -np.inf).max(axis=1).mean()
    return {
        "pairs": float(allowed.sum()),
        "coverage": float(((low <= target) & (target <= high)).mean()),
        "below": float((target < low).mean()),
        "above": float((target > high).mean()),
        "median_width": float(np.median(high - low)),
        "mae": float(np.abs(point - target).mean()),
        "gain_captured": float((polku - caseworkers) / (oracle - caseworkers)),
        "top1_coverage": honesty.top1_interval_coverage,
        "top1_ratio": honesty.top1_predicted_vs_true,
        "top1_zero": honesty.top1_interval_includes_zero,
    }


def run_seed(clients: int, seed: int, catalog: Catalog) -> dict[str, Any]:
    print(f"seed {seed}: world of {clients:,} clients", flush=True)
    prepared = prepared_world(clients, seed, catalog)
    train = prepared.train
    ranker = ServiceRanker(services=catalog.ids, random_state=seed)
    with limited_threads():
        started = time.perf_counter()
        ranker.fit(
            train.frame,
            train.service_id,
            train.outcomes,
            propensity=train.propensity,
            allowed=train.allowed,
            groups=train.frame["client_id"].to_numpy(),
        )
        fit_seconds = time.perf_counter() - started
        out: dict[str, Any] = {"seed": seed, "fit_seconds": fit_seconds}
        for method in METHODS:
            ranker.set_params(interval_method=method)
            out[method] = measure(PolkuModel.build(ranker, catalog), prepared.held_out)
            print(f"  {method}: {out[method]}", flush=True)
    print(f"  fit {fit_seconds:.1f} s on {len(train.frame):,} episodes", flush=True)
    return out


def render(results: list[dict[str, Any]], clients: int) -> str:
    lines = [
        f"Nominal 90 % uplift intervals against the synthetic truth: {clients:,}-client worlds, "
        "held-out clients, every allowed and supported client-service pair, six-month "
        "objective. `bootstrap`: final stage refitted on 40 bootstrap resamples with the "
        "nuisances fixed (the method before); `calibrated`: centred on the uplift "
        "recalibrated against out-of-fold pseudo-outcomes, with that line's standard error "
        "and the bootstrap spread, widened to hold the point estimate; `shrunk`: the shown "
        "uplift is the empirical-Bayes shrunk one, the interval centred on it (the default "
        "now; docs/MODEL.md). All from one fit and one ranking, so the top-1's share of the "
        "oracle's gain is the same for all; `shrunk` shows another point (its MAE). Top-1: "
        "the suggestion on top for each held-out client, its interval's coverage, mean shown "
        "over mean true uplift, and the share of its intervals that include zero. Widths and "
        "errors in percentage points.",
        "",
        "| seed | method | pairs | coverage | truth below / above | median width | MAE | "
        "top-1 coverage | top-1 shown / true | top-1 with zero | oracle gain captured | fit |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        for method in METHODS:
            m = r[method]
            lines.append(
                f"| {r['seed']} | {method} | {m['pairs']:,.0f} | {m['coverage']:.1%} | "
                f"{m['below']:.1%} / {m['above']:.1%} | {100 * m['median_width']:.1f} | "
                f"{100 * m['mae']:.2f} | {m['top1_coverage']:.1%} | {m['top1_ratio']:.2f} | "
                f"{m['top1_zero']:.0%} | {m['gain_captured']:.1%} | {r['fit_seconds']:.1f} s |"
            )
    lines.append("")
    for method in METHODS:
        cov = statistics.median(r[method]["coverage"] for r in results)
        width = statistics.median(r[method]["median_width"] for r in results)
        gain = statistics.median(r[method]["gain_captured"] for r in results)
        top1 = statistics.median(r[method]["top1_coverage"] for r in results)
        ratio = statistics.median(r[method]["top1_ratio"] for r in results)
        lines.append(
            f"- **{method}**: median coverage {cov:.1%} (top-1 {top1:.1%}), median width "
            f"{100 * width:.1f} points, top-1 shown / true {ratio:.2f}, oracle gain captured "
            f"{gain:.1%} (medians over seeds)."
        )
    fit = statistics.median(r["fit_seconds"] for r in results)
    lines.append(f"- Fit (one BLAS thread, all methods from one fit): median {fit:.1f} s.")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=30_000)
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--no-write", action="store_true", help="print, do not touch BENCHMARKS.md")
    args = parser.parse_args()
    catalog = load_catalog()
    results = [run_seed(args.clients, seed, catalog) for seed in args.seeds]
    body = render(results, args.clients)
    print(body)
    if not args.no_write:
        seeds = " ".join(str(s) for s in args.seeds)
        command = (
            f".venv/bin/python bench/bench_interval_coverage.py --clients {args.clients} "
            f"--seeds {seeds}"
        )
        write_section("interval_coverage", command, body)


if __name__ == "__main__":
    main()
