"""Benchmark: `polku score`'s batch path against the per-profile `recommend` loop.

On a synthetic world (`pipeline.synth.world`, default 70,000 clients, some 100,000
assessments), fit the model as `polku train` does (`pipeline.training.train.fit_model`,
default settings: 40 bootstrap replicas), then score 100,000 assessments:

- `score_cohort` (`pipeline/scoring/cohort.py`, through `PolkuModel.rank_frame`): the gate,
  catalog limits, every service's uplift with its interval, the order and the top three
  drivers of every ranked service, as the output table (Parquet writing timed apart);
- the named alternative: `PolkuModel.recommend` once per profile (a loop over rows, as a
  naive nightly job would), timed on a sample and given per assessment.

Throughput is in client-service pairs per second: assessments x the model's services, as
`bench/bench_ranker.py` counts them (the goal of issue 11: >= 1,000,000 with intervals), and
beside it the ranked rows written per second. Medians of three repeats. Prints the results;
it does not touch BENCHMARKS.md.

Run: `.venv/bin/python bench/bench_score.py [--clients N] [--assessments N] [--seed S]`.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks_md import write_section

from models.objectives import Objective
from models.profile_validation import profile_from_row
from pipeline.data.world import load_world
from pipeline.scoring.cohort import Cohort, score_cohort, write_parquet_atomically
from pipeline.synth.world import SynthConfig, generate_world, write_world
from pipeline.training.settings import TrainSettings
from pipeline.training.train import fit_model

REPEATS = 3
LOOP_SAMPLE = 2000
GOAL_PAIRS_PER_S = 1_000_000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=70_000)
    parser.add_argument("--assessments", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-write", action="store_true", help="print, do not touch BENCHMARKS.md")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="polku-bench-score-") as tmp:
        print(f"world of {args.clients:,} clients", flush=True)
        write_world(generate_world(SynthConfig(n_clients=args.clients, seed=args.seed)), tmp)
        world = load_world(Path(tmp))
        settings = TrainSettings(seed=args.seed)
        print("fitting the model as polku train does", flush=True)
        model = fit_model(world, settings, progress=lambda _: None).model
        episodes = world.episodes.reset_index(drop=True)
        replace = len(episodes) < args.assessments
        frame = episodes.sample(
            n=args.assessments, replace=replace, random_state=args.seed
        ).reset_index(drop=True)
        cohort = Cohort(frame, "row_id", np.arange(1, len(frame) + 1))
        objective = Objective.parse(settings.objective)
        n_services = len(model.service_ids)
        pairs = len(frame) * n_services

        print(f"scoring {len(frame):,} assessments x {n_services} services", flush=True)
        seconds, rows = [], 0
        for _ in range(REPEATS):
            table, summary = score_cohort(model, "bench", cohort, objective)
            seconds.append(summary.seconds)
            rows = table.num_rows
        batch = statistics.median(seconds)
        out = Path(tmp) / "scores.parquet"
        started = time.perf_counter()
        write_parquet_atomically(table, out)
        write_seconds = time.perf_counter() - started
        size = os.path.getsize(out)

        print(f"the per-profile recommend loop on {LOOP_SAMPLE:,} assessments", flush=True)
        sample = frame.iloc[:LOOP_SAMPLE]
        loop = []
        for _ in range(REPEATS):
            started = time.perf_counter()
            for i in range(len(sample)):
                model.recommend(profile_from_row(sample.iloc[i]), objective)
            loop.append((time.perf_counter() - started) / len(sample))
        per_assessment = statistics.median(loop)

    load = os.getloadavg()[0]
    lines: list[str] = []
    lines.append(
        f"{len(frame):,} assessments ({summary.n_scored:,} clients), {n_services} services, "
        f"{model.ranker.n_bootstrap} bootstrap replicas; load average {load:.1f} on "
        f"{os.cpu_count()} cores; medians of {REPEATS}"
    )
    lines.append(
        "| path | seconds per 100k assessments | client-service pairs / s | ranked rows / s |"
    )
    lines.append("|---|---|---|---|")
    scale = 100_000 / len(frame)
    lines.append(
        f"| score_cohort (rank_frame, intervals, top-3 drivers, table) | {batch * scale:.2f} | "
        f"{pairs / batch:,.0f} | {rows / batch:,.0f} |"
    )
    loop_total = per_assessment * len(frame)
    lines.append(
        f"| recommend per profile (loop, {LOOP_SAMPLE:,} sampled) | {per_assessment * 1e5:.1f} | "
        f"{pairs / loop_total:,.0f} | {rows / loop_total:,.0f} |"
    )
    lines.append(
        f"writing the Parquet: {write_seconds:.2f} s for {rows:,} rows ({size / 1e6:.1f} MB). "
        f"Batch is {loop_total / batch:.0f}x the loop. Goal >= {GOAL_PAIRS_PER_S:,} pairs/s "
        f"with intervals: {'met' if pairs / batch >= GOAL_PAIRS_PER_S else 'NOT met'}."
    )

    body = "\n".join(lines)
    print(body)
    if not args.no_write:
        write_section("score", ".venv/bin/python bench/bench_score.py", body)


if __name__ == "__main__":
    main()
