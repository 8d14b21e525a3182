"""Benchmark: the outcome model's interaction penalty chosen by its own out-of-fold log loss.

The served outcome model shrinks each service's slopes by one fixed `interaction_scale`
(0.3, the best of 0.1 / 0.3 / 1.0 in the median of six 30,000-client worlds; docs/MODEL.md).
Where the client-level deviations lose most of the gain, the right amount of shrinkage
should depend on the data: stronger with fewer episodes a service, weaker with more. The
generic, data-driven choice is cross-validation of the outcome model itself: the ranker
already predicts every training row out of fold, so the log loss of the logged outcome
under the logged action (`cross_fit_outcomes`' `mu`) costs nothing to read.

For each cell this fits Polku as `polku train` does (`bench_ranking_quality.run_cell`, no
peers) once per scale, records the out-of-fold log loss (all rows, and the treated rows
only, summed over the targets) and the gain the truth gives each fit. The rule judged is
fixed in advance: serve the scale with the lowest out-of-fold log loss over all rows.
Its adoption test was also set before the first run (seven worlds, 10,000 and 30,000
clients, seeds 20-21, never used before; scales 0.15 / 0.3 / 0.6): at each size the chosen
rule's median at least the served one's, and at least 1 point above it at 30,000; no more
cells below imitation than served at either size; no cell more than 10 points lower.

Cells go to `bench/results/outcome_penalty.jsonl` (a rerun of a cell and scale replaces
it); the BENCHMARKS.md section `outcome_penalty` is rendered from all of them.

Run: `nice -n 10 .venv/bin/python bench/bench_outcome_penalty.py --scenarios baseline
--sizes 10000 --seeds 20 --scales 0.15,0.3,0.6`
"""

from __future__ import annotations

import argparse
import functools
import inspect
import math
import statistics
import sys
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Final

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np
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

import models.ranker.service_ranker as service_ranker_module
import pipeline.training.train as train_module
from models.ranker import ServiceRanker

RESULTS_JSONL: Final = Path(__file__).resolve().parent / "results" / "outcome_penalty.jsonl"
SERVED_SCALE: Final = 0.3
EPS: Final = 1e-12


def out_of_fold_log_loss(
    mu: np.ndarray, action_index: np.ndarray, y: np.ndarray
) -> tuple[float, float]:
    """Mean log loss of the logged outcomes under the logged action: all rows, treated rows.

    `mu` is (n, targets, services + 1) with "no service" last; each is summed over targets.
    """
    n, _, n_actions = mu.shape
    p = np.clip(mu[np.arange(n), :, action_index], EPS, 1 - EPS)  # (n, targets)
    loss = -(y * np.log(p) + (1 - y) * np.log(1 - p)).sum(axis=1)
    treated = action_index < n_actions - 1
    return float(loss.mean()), float(loss[treated].mean())


@contextmanager
def outcome_scale(scale: float) -> Iterator[list[tuple[float, float]]]:
    """Train with `interaction_scale=scale`; collect each outcome fit's out-of-fold log loss."""
    losses: list[tuple[float, float]] = []
    original_fit = service_ranker_module.cross_fit_outcomes
    signature = inspect.signature(original_fit)
    original_ranker = train_module.ServiceRanker

    def spy(*args: Any, **kwargs: Any) -> Any:
        bound = signature.bind(*args, **kwargs).arguments
        if bound["interaction_scale"] != scale:
            raise AssertionError("the ranker did not take the scale under test")
        fit = original_fit(*args, **kwargs)
        losses.append(out_of_fold_log_loss(fit.mu, bound["action_index"], bound["y"]))
        return fit

    service_ranker_module.cross_fit_outcomes = spy  # type: ignore[assignment]
    train_module.ServiceRanker = functools.partial(  # type: ignore[misc]
        ServiceRanker, interaction_scale=scale
    )
    try:
        yield losses
    finally:
        service_ranker_module.cross_fit_outcomes = original_fit
        train_module.ServiceRanker = original_ranker  # type: ignore[misc]


def run_scale(scenario: str, n_clients: int, seed: int, scale: float, directory: Path) -> dict:
    with outcome_scale(scale) as losses:
        cell = run_cell(scenario, n_clients, seed, [], directory, print)
    if len(losses) != 1:
        raise AssertionError(f"expected one outcome fit, saw {len(losses)}")
    all_rows, treated = losses[0]
    return {
        "scenario": scenario,
        "n_clients": n_clients,
        "seed": seed,
        "scale": scale,
        "log_loss": all_rows,
        "log_loss_treated": treated,
        "gains": cell["gains"],
        "top1_shown_over_true": _finite(cell["honesty"]["top1_ratio"]),
        "worst_group_margin": cell["polku_worst_group_margin"],
        "fit_seconds": cell["seconds"]["fit"],
    }


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None  # NaN is not JSON


def _key(row: dict[str, Any]) -> tuple[str, int, int, float]:
    return (*cell_key(row), row["scale"])


def cells_of(rows: list[dict[str, Any]]) -> dict[tuple[str, int, int], dict[float, dict]]:
    """Rows grouped by cell, keeping cells that have the served scale and at least one other."""
    grouped: dict[tuple[str, int, int], dict[float, dict]] = {}
    for row in rows:
        grouped.setdefault(cell_key(row), {})[row["scale"]] = row
    return {k: v for k, v in grouped.items() if SERVED_SCALE in v and len(v) > 1}


def chosen_scale(by_scale: dict[float, dict]) -> float:
    """The rule judged: the scale whose outcome model had the lowest out-of-fold log loss."""
    return min(by_scale, key=lambda s: by_scale[s]["log_loss"])


def render(rows: list[dict[str, Any]], commands: Sequence[str]) -> str:
    grouped = cells_of(rows)
    scales = sorted({r["scale"] for r in rows})
    lines = [
        "The outcome model's interaction penalty chosen by its own out-of-fold log loss "
        "(`bench/bench_outcome_penalty.py`). Each cell is fitted once per `interaction_scale`; "
        "*chosen* serves the scale with the lowest out-of-fold log loss over all training rows "
        f"(the served scale is {SERVED_SCALE}). Oracle gain captured on held-out clients (%).",
        "",
        "Commands:",
        "",
        *[f"    {c}" for c in commands],
        "",
        "| clients | cells | served median | chosen median | chosen - served, median / min / max "
        "| cells below imitation: served / chosen | scale chosen (count) |",
        "|---|---|---|---|---|---|---|",
    ]
    for size in sorted({k[1] for k in grouped}):
        group = {k: v for k, v in grouped.items() if k[1] == size}
        served = [v[SERVED_SCALE]["gains"]["polku"] for v in group.values()]
        chosen_rows = [v[chosen_scale(v)] for v in group.values()]
        chosen = [r["gains"]["polku"] for r in chosen_rows]
        diffs = [c - s for c, s in zip(chosen, served, strict=True)]
        imitation = [v[SERVED_SCALE]["gains"]["imitation"] for v in group.values()]
        below_served = sum(s < i for s, i in zip(served, imitation, strict=True))
        below_chosen = sum(c < i for c, i in zip(chosen, imitation, strict=True))
        counts = {s: sum(r["scale"] == s for r in chosen_rows) for s in scales}
        lines.append(
            f"| {size:,} | {len(group)} | {pct(statistics.median(served))} | "
            f"{pct(statistics.median(chosen))} | {pct(statistics.median(diffs))} / "
            f"{pct(min(diffs))} / {pct(max(diffs))} | {below_served} / {below_chosen} | "
            + ", ".join(f"{s}: {n}" for s, n in counts.items())
            + " |"
        )
    lines += [
        "",
        "| scenario | clients | seed | imitation | "
        + " | ".join(f"scale {s}: gain / log loss" for s in scales)
        + " | chosen |",
        "|---|---|---|---|" + "---|" * len(scales) + "---|",
    ]
    for (scenario, size, seed), by_scale in sorted(grouped.items()):
        parts = [
            f"{pct(by_scale[s]['gains']['polku'])} / {by_scale[s]['log_loss']:.5f}"
            if s in by_scale
            else "n/a"
            for s in scales
        ]
        lines.append(
            f"| {scenario} | {size:,} | {seed} | "
            f"{pct(by_scale[SERVED_SCALE]['gains']['imitation'])} | "
            + " | ".join(parts)
            + f" | {chosen_scale(by_scale)} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_grid_arguments(
        parser, results=RESULTS_JSONL, section="outcome_penalty", sizes="10000", seeds="20"
    )
    parser.add_argument("--scales", default="0.15,0.3,0.6")
    args = parser.parse_args(argv)
    command = command_line("bench_outcome_penalty.py", argv)
    rows = load_results(args.results)
    if not args.render_only:
        with tempfile.TemporaryDirectory() as tmp:
            for scenario, size, seed in cells(args):
                for scale in (float(s) for s in args.scales.split(",")):
                    print(f"{scenario} {size:,} seed {seed} scale {scale}", flush=True)
                    row = run_scale(scenario, size, seed, scale, Path(tmp))
                    rows = save_results(args.results, [*rows, {**row, "command": command}], _key)
    # Rows of one scale only (the served fit, for another bench to pair with) show no
    # comparison here, so their commands are not quoted either.
    shown = [r for by_scale in cells_of(rows).values() for r in by_scale.values()]
    commands = list(dict.fromkeys(r["command"] for r in shown))
    write_section(args.section, commands[-1], render(rows, commands))


if __name__ == "__main__":
    main()
