"""Benchmark: a policy learned directly for value (shallow policy trees) against Polku's ranker.

Issue 12 names "a policy learned directly for value" among the ways a ranker could learn the
shapes itself. For each cell (scenario x size x seed) this fits Polku as `polku train` does
(`bench_ranking_quality.fit_cell`), keeps the doubly robust pseudo-outcomes Polku's own
final stage learns from (the AIPW scores with the served propensity floor, read where the
ranker passes them to its stacking), and fits on them, over the ranker's own encoded
features of the training clients, the exact policy tree of depth 0, 1 and 2
(`bench/policy_tree.py`; 8 quantile bins, leaves of at least max(100, n/100) rows). Each is
scored as Polku is: its top-1 on the held-out clients (services the catalog allows and the
ranker supports) against the truth, as oracle gain captured.

A ceiling for the class: the depth-2 tree fitted on the held-out clients' true uplift
(two folds of held-out clients, each scored on the other) shows how much of the oracle's
gain any tree of four leaves can capture, however well its scores are estimated.

Cells go to `bench/results/policy_trees.jsonl` (a rerun of a cell replaces it); the
BENCHMARKS.md section `policy_trees` is rendered from all of them, with their commands.

Run: `nice -n 10 .venv/bin/python bench/bench_policy_tree.py --scenarios baseline,alien
--sizes 30000 --seeds 0`
"""

from __future__ import annotations

import argparse
import inspect
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Final

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np
from bench_ranking_quality import Progress, fit_cell
from benchmarks_md import write_section
from cell_grid import add_grid_arguments, cell_key, command_line, load_results, pct, save_results
from cell_grid import cells as grid_cells
from policy_tree import NO_SERVICE, PolicyTree, fit_policy_tree
from worlds import ALIEN

from models.actions import uplift_over_no_service
from models.objectives import TARGETS, objective_weights
from models.ranker import ServiceRanker
from pipeline.evaluation import metrics

RESULTS_JSONL: Final = Path(__file__).resolve().parent / "results" / "policy_trees.jsonl"
DEPTHS: Final = (0, 1, 2)
N_BINS: Final = 8


@contextmanager
def captured_pseudo_outcomes() -> Iterator[list[np.ndarray]]:
    """The pseudo-outcomes (n, targets, services) each `ServiceRanker.fit` stacks on."""
    captured: list[np.ndarray] = []
    original = ServiceRanker._fit_stack
    signature = inspect.signature(original)  # by name: a reordered signature still binds

    def spy(self: ServiceRanker, *args: Any, **kwargs: Any) -> np.ndarray:
        pseudo = signature.bind(self, *args, **kwargs).arguments["pseudo"]
        captured.append(np.array(pseudo, copy=True))
        return original(self, *args, **kwargs)

    ServiceRanker._fit_stack = spy  # type: ignore[method-assign]
    try:
        yield captured
    finally:
        ServiceRanker._fit_stack = original  # type: ignore[method-assign]


def tree_actions(tree: PolicyTree, x: np.ndarray, rankable: np.ndarray) -> np.ndarray:
    """The tree's choice as an action index (services, then none last)."""
    choice = tree.choose(x, rankable)
    return np.where(choice == NO_SERVICE, rankable.shape[1], choice)


def client_halves(clients: np.ndarray, seed: int) -> np.ndarray:
    """0/1 per row: a seeded half of the clients each, all of a client's rows together."""
    unique, client_index = np.unique(clients, return_inverse=True)
    return np.random.default_rng(seed).integers(0, 2, size=len(unique))[client_index]


def class_ceiling(
    x: np.ndarray, true_uplift: np.ndarray, rankable: np.ndarray, halves: np.ndarray
) -> np.ndarray:
    """Actions of the depth-2 tree fitted on the truth, two-fold over held-out clients."""
    scores = np.where(rankable, true_uplift, np.nan)
    actions = np.empty(len(x), dtype=np.int64)
    for k in (0, 1):
        fit_rows, score_rows = halves != k, halves == k
        tree = fit_policy_tree(
            x[fit_rows],
            scores[fit_rows],
            depth=2,
            min_leaf=max(50, int(fit_rows.sum()) // 400),
            n_bins=N_BINS,
        )
        actions[score_rows] = tree_actions(tree, x[score_rows], rankable[score_rows])
    return actions


def linear_ceiling(
    x: np.ndarray, true_uplift: np.ndarray, rankable: np.ndarray, halves: np.ndarray
) -> np.ndarray:
    """Actions of the served ranker's own class fitted on the truth, two-fold.

    Polku's uplift is linear in its encoded features, per service; here each service's true
    uplift is fitted by least squares on one half's clients allowed it and ranks the other
    half's (no service where every prediction is below zero): how much of the oracle gain
    that class can capture with the truth in hand.
    """
    design = np.column_stack([np.ones(len(x)), x])
    predicted = np.full(true_uplift.shape, -np.inf)
    for k in (0, 1):
        fit_rows, score_rows = halves != k, halves == k
        for service in range(true_uplift.shape[1]):
            rows = fit_rows & rankable[:, service]
            if rows.sum() < design.shape[1]:
                continue
            coef, *_ = np.linalg.lstsq(design[rows], true_uplift[rows, service], rcond=None)
            predicted[score_rows, service] = design[score_rows] @ coef
    predicted[~rankable] = -np.inf
    best = np.argmax(predicted, axis=1)
    none = predicted[np.arange(len(x)), best] <= 0.0
    return np.where(none, true_uplift.shape[1], best)


def run_cell(
    scenario: str, n_clients: int, seed: int, directory: Path, progress: Progress
) -> dict[str, Any]:
    with captured_pseudo_outcomes() as captured:
        fitted = fit_cell(scenario, n_clients, seed, directory, progress)
    trained = fitted.trained
    model, prepared = trained.model, trained.prepared
    train, held_out = prepared.train, prepared.held_out
    truth = held_out.true_outcomes
    assert truth is not None, "a generated world has a truth"
    pseudo = captured[-1]
    if pseudo.shape != (len(train.frame), len(TARGETS), len(fitted.catalog)):
        raise RuntimeError(f"captured pseudo-outcomes of shape {pseudo.shape}, not the training's")
    ranker = model.ranker
    supported = np.asarray(ranker.supported_, dtype=bool)
    objective = fitted.settings.objective
    train_scores = np.einsum("nts,t->ns", pseudo, objective_weights(objective))
    train_open = np.asarray(train.allowed, dtype=bool) & supported
    train_scores[~train_open] = np.nan
    x_train = ranker.encoder_.transform(train.frame)
    x_test = ranker.encoder_.transform(held_out.frame)
    rankable = np.asarray(held_out.allowed, dtype=bool) & supported
    values = dict(trained.evaluation.summary.policy_value.items())

    def gain(actions: np.ndarray) -> float:
        value = metrics.policy_value(truth, actions)
        return metrics.oracle_gain_captured(value, values["caseworkers"], values["oracle"])

    gains = {
        name: metrics.oracle_gain_captured(values[name], values["caseworkers"], values["oracle"])
        for name in ("polku", "imitation", "popular")
    }
    trees: dict[str, Any] = {}
    min_leaf = max(100, len(x_train) // 100)
    for depth in DEPTHS:
        started = time.perf_counter()
        tree = fit_policy_tree(x_train, train_scores, depth=depth, min_leaf=min_leaf, n_bins=N_BINS)
        seconds = time.perf_counter() - started
        actions = tree_actions(tree, x_test, rankable)
        trees[f"depth{depth}"] = {
            "gain": gain(actions),
            "fit_seconds": seconds,
            "services_chosen": len(np.unique(actions)),
            # What the tree claims per training row for its own choice (its winner's curse).
            "claimed_uplift": tree.value / len(x_train),
            "true_uplift": float(
                np.mean(metrics.chosen_outcomes(uplift_with_none(truth), actions))
            ),
        }
        progress(
            f"    depth {depth}: gain {pct(trees[f'depth{depth}']['gain'])} in {seconds:.1f} s"
        )
    halves = client_halves(held_out.frame["client_id"].to_numpy(), seed)
    true_uplift = uplift_over_no_service(truth)
    ceiling = class_ceiling(x_test, true_uplift, rankable, halves)
    linear = linear_ceiling(x_test, true_uplift, rankable, halves)
    cell = {
        "scenario": scenario,
        "n_clients": n_clients,
        "seed": seed,
        "train_episodes": len(x_train),
        "held_out_episodes": len(x_test),
        "features": x_train.shape[1],
        "min_leaf": min_leaf,
        "gains": gains,
        "trees": trees,
        "depth2_on_truth_gain": gain(ceiling),
        "linear_on_truth_gain": gain(linear),
    }
    progress(
        f"    Polku {pct(gains['polku'])}, imitation {pct(gains['imitation'])}, "
        f"depth 2 on the truth {pct(cell['depth2_on_truth_gain'])}, linear on the truth "
        f"{pct(cell['linear_on_truth_gain'])}"
    )
    return cell


def uplift_with_none(truth: np.ndarray) -> np.ndarray:
    """True uplift per action against none, none's own column 0."""
    return np.column_stack([uplift_over_no_service(truth), np.zeros(len(truth))])


# -- results -----------------------------------------------------------------------------------


def render(cells: list[dict[str, Any]], commands: Sequence[str]) -> str:
    lines = [
        "**Policy trees, a policy learned directly for value, on Polku's own doubly robust "
        "scores** (issue 12; docs/MODEL.md).",
        "",
        "Oracle gain captured on held-out clients (%). Trees: exact depth 0 / 1 / 2 over the",
        "ranker's encoded features (8 quantile bins), fitted on the AIPW pseudo-outcomes Polku's",
        "final stage learns from. *Depth 2 on the truth*: the same class fitted on the held-out",
        "clients' true uplift (two-fold), the class's ceiling. *Claimed / true*: the depth-2",
        "tree's mean doubly robust score of its own choice on the training clients, against the",
        "mean true uplift of its choice on the held-out clients (its winner's curse). *Linear on",
        "the truth*: the served ranker's own class (uplift linear in the encoded features, per",
        "service) fitted by least squares on the held-out clients' true uplift, two-fold.",
        "",
        *render_summary(cells),
        "",
        "| scenario | clients | seed | Polku | imitation | popular | depth 0 | depth 1 | depth 2 "
        "| depth 2 on the truth | linear on the truth | depth 2 claimed / true uplift |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for cell in sorted(cells, key=lambda c: (c["n_clients"], c["scenario"], c["seed"])):
        trees, gains = cell["trees"], cell["gains"]
        deepest = trees["depth2"]
        lines.append(
            f"| {cell['scenario']} | {cell['n_clients']:,} | {cell['seed']} | "
            f"{pct(gains['polku'])} | {pct(gains['imitation'])} | {pct(gains['popular'])} | "
            + " | ".join(pct(trees[f"depth{d}"]["gain"]) for d in DEPTHS)
            + f" | {pct(cell['depth2_on_truth_gain'])} | "
            f"{pct(cell.get('linear_on_truth_gain'))} | "
            f"{deepest['claimed_uplift']:+.3f} / {deepest['true_uplift']:+.3f} |"
        )
    lines += ["", "Commands:", ""] + [f"- `{c}`" for c in commands]
    return "\n".join(lines)


def render_summary(cells: list[dict[str, Any]]) -> list[str]:
    """Per size and world set: medians over the cells, and how often a tree beat Polku."""
    lines = [
        "**Summary**: medians over the cells (%), and the cells where a tree's gain is above "
        "the served ranker's.",
        "",
        "| clients | worlds | cells | Polku | imitation | depth 0 | depth 1 | depth 2 "
        "| depth 2 on the truth | linear on the truth | depth 0 / 1 / 2 above Polku |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for size in sorted({c["n_clients"] for c in cells}):
        for worlds, alien in (("family", False), ("alien", True)):
            group = [
                c for c in cells if c["n_clients"] == size and (c["scenario"] == ALIEN) == alien
            ]
            if not group:
                continue

            def median(values: list[float | None]) -> str:
                known = [v for v in values if v is not None]
                return pct(float(np.median(known))) if known else "n/a"

            depth_gains = {d: [c["trees"][f"depth{d}"]["gain"] for c in group] for d in DEPTHS}
            above = [
                sum(t > c["gains"]["polku"] for t, c in zip(depth_gains[d], group, strict=True))
                for d in DEPTHS
            ]
            lines.append(
                f"| {size:,} | {worlds} | {len(group)} | "
                f"{median([c['gains']['polku'] for c in group])} | "
                f"{median([c['gains']['imitation'] for c in group])} | "
                + " | ".join(median(depth_gains[d]) for d in DEPTHS)
                + f" | {median([c['depth2_on_truth_gain'] for c in group])} | "
                f"{median([c.get('linear_on_truth_gain') for c in group])} | "
                + " / ".join(str(a) for a in above)
                + " |"
            )
    return lines


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_grid_arguments(
        parser, results=RESULTS_JSONL, section="policy_trees", sizes="30000", seeds="0"
    )
    args = parser.parse_args(argv)
    command = command_line("bench_policy_tree.py", argv)
    cells = load_results(args.results)
    if not args.render_only:
        with tempfile.TemporaryDirectory() as tmp:
            for scenario, size, seed in grid_cells(args):
                print(f"{scenario} {size:,} seed {seed}", flush=True)
                cell = run_cell(scenario, size, seed, Path(tmp), print)
                cells = save_results(args.results, [*cells, {**cell, "command": command}], cell_key)
    commands = list(dict.fromkeys(c["command"] for c in cells))
    write_section(args.section, commands[-1], render(cells, commands))


if __name__ == "__main__":
    main()
