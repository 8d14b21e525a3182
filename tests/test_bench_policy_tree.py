"""The exact policy tree the policy-tree benchmark fits (bench/policy_tree.py)."""

from __future__ import annotations

import itertools
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

from tests.helpers import load_bench_module


@pytest.fixture(scope="module")
def trees() -> ModuleType:
    return load_bench_module("policy_tree.py", "bench_policy_tree_module")


def _world(n: int = 4000, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Three services; 0 helps where x0 > 0 and x1 > 0, 1 where x0 <= 0, 2 never helps.
    x2 is noise. Returns features, noisy scores and the true effects."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3))
    effect = np.column_stack(
        [
            np.where((x[:, 0] > 0) & (x[:, 1] > 0), 0.3, -0.2),
            np.where(x[:, 0] <= 0, 0.2, -0.1),
            np.full(n, -0.05),
        ]
    )
    return x, effect + rng.normal(scale=0.3, size=effect.shape), effect


def _leaves(node):  # type: ignore[no-untyped-def]
    if hasattr(node, "ranking"):
        return [node]
    return _leaves(node.left) + _leaves(node.right)


def test_depth_two_finds_the_interaction_and_each_leafs_service(trees) -> None:
    x, scores, _ = _world()
    tree = trees.fit_policy_tree(x, scores, depth=2, min_leaf=100)
    x_new, _, effect_new = _world(seed=1)
    choice = tree.choose(x_new, np.ones(effect_new.shape, dtype=bool))
    best = np.where(effect_new.max(axis=1) > 0, effect_new.argmax(axis=1), trees.NO_SERVICE)
    # The true regions' edges at 0 are bin edges (the median): the tree can be exact.
    assert np.mean(choice == best) > 0.97
    assert tree.depth() == 2


def test_deeper_trees_never_fit_worse_and_depth_zero_is_the_best_single_service(trees) -> None:
    x, scores, _ = _world(n=1500)
    values = [trees.fit_policy_tree(x, scores, depth=d, min_leaf=50).value for d in (0, 1, 2)]
    assert values[0] <= values[1] <= values[2]
    assert values[0] == pytest.approx(max(scores.sum(axis=0).max(), 0.0))


@pytest.mark.parametrize(("seed", "min_leaf"), [(3, 1), (3, 40), (7, 90), (8, 130)])
def test_depth_one_is_the_best_split_by_brute_force(trees, seed: int, min_leaf: int) -> None:
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 5, size=(300, 3)).astype(float)
    scores = rng.normal(size=(300, 4)) + (x[:, [0]] - 2) * np.array([0.3, -0.3, 0.0, 0.1])
    tree = trees.fit_policy_tree(x, scores, depth=1, min_leaf=min_leaf)

    def side(mask: np.ndarray) -> float:
        return max(scores[mask].sum(axis=0).max(), 0.0)

    best = side(np.ones(len(x), dtype=bool))
    for j, cut in itertools.product(range(3), np.arange(0.5, 4.0, 1.0)):
        left = x[:, j] <= cut
        if min(left.sum(), (~left).sum()) >= min_leaf:
            best = max(best, side(left) + side(~left))
    assert tree.value == pytest.approx(best)


def test_every_leaf_holds_at_least_min_leaf_rows(trees) -> None:
    x, scores, _ = _world(n=2000, seed=4)
    for min_leaf in (30, 400, 900):
        tree = trees.fit_policy_tree(x, scores, depth=2, min_leaf=min_leaf)
        leaves = _leaves(tree.root)
        assert all(leaf.rows >= min_leaf for leaf in leaves)
        assert sum(leaf.rows for leaf in leaves) == len(x)
    # No split leaves two sides of 1,001 rows out of 2,000: one leaf.
    assert trees.fit_policy_tree(x, scores, depth=2, min_leaf=1001).depth() == 0


def test_a_small_group_with_a_large_gain_gets_no_leaf_of_its_own_below_min_leaf(trees) -> None:
    rng = np.random.default_rng(5)
    x = rng.integers(0, 8, size=(1000, 2)).astype(float)  # 8 values: each its own bin
    scores = np.column_stack([np.full(1000, 0.1), np.where(x[:, 0] == 0, 5.0, -0.1)])
    # Unconstrained, x0 == 0 (about 125 rows) is worth a leaf of its own.
    assert trees.fit_policy_tree(x, scores, depth=1, min_leaf=50).depth() == 1
    tree = trees.fit_policy_tree(x, scores, depth=2, min_leaf=150)
    assert all(leaf.rows >= 150 for leaf in _leaves(tree.root))


def test_each_client_gets_the_best_service_its_catalog_allows_in_its_leaf(trees) -> None:
    rng = np.random.default_rng(6)
    x = rng.normal(size=(500, 2))
    scores = np.column_stack([np.full(500, 0.3), np.full(500, 0.2), np.full(500, 0.1)])
    tree = trees.fit_policy_tree(x, scores, depth=1, min_leaf=50)
    allowed = np.ones((500, 3), dtype=bool)
    allowed[:250, 0] = False
    allowed[:100, 1] = False
    choice = tree.choose(x, allowed)
    assert np.array_equal(choice, np.repeat([2, 1, 0], [100, 150, 250]))


def test_a_closed_service_falls_to_the_leafs_next_and_never_to_a_harmful_one(trees) -> None:
    x, scores, _ = _world()
    tree = trees.fit_policy_tree(x, scores, depth=2, min_leaf=100)
    allowed = np.ones((len(x), 3), dtype=bool)
    allowed[:, 0] = False
    choice = tree.choose(x, allowed)
    assert not np.any(choice == 0)
    assert not np.any(choice == 2)  # service 2 harms everywhere: no leaf ranks it
    assert np.all(choice[x[:, 0] < -0.1] == 1)  # clear of the sample median


def test_closed_pairs_given_as_nan_count_as_no_service(trees) -> None:
    x, scores, _ = _world(n=1000)
    closed = scores.copy()
    closed[:, 1] = np.nan
    tree = trees.fit_policy_tree(x, closed, depth=1, min_leaf=50)
    assert all(1 not in leaf.ranking for leaf in _leaves(tree.root))


def test_bad_arguments_are_refused(trees) -> None:
    x, scores, _ = _world(n=200)
    with pytest.raises(ValueError, match="depth"):
        trees.fit_policy_tree(x, scores, depth=3, min_leaf=10)
    with pytest.raises(ValueError, match="min_leaf"):
        trees.fit_policy_tree(x, scores, depth=1, min_leaf=0)
    with pytest.raises(ValueError, match="rows of x"):
        trees.fit_policy_tree(x, scores[:-1], depth=1, min_leaf=10)
    tree = trees.fit_policy_tree(x, scores, depth=1, min_leaf=10)
    with pytest.raises(ValueError, match="3 columns"):
        tree.choose(x[:, :2], np.ones((len(x), 3), dtype=bool))


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    return load_bench_module("bench_policy_tree.py", "bench_policy_tree_runner")


def test_the_pseudo_outcome_spy_restores_the_ranker_even_on_failure(bench) -> None:
    from models.ranker import ServiceRanker

    original = ServiceRanker._fit_stack
    with pytest.raises(RuntimeError, match="inside"), bench.captured_pseudo_outcomes():
        assert ServiceRanker._fit_stack is not original
        raise RuntimeError("inside")
    assert ServiceRanker._fit_stack is original


def test_a_cell_runs_on_polkus_own_scores_and_the_truth_fitted_tree_captures_most_gain(
    bench, tmp_path: Path
) -> None:
    cell = bench.run_cell("baseline", 3000, 0, tmp_path, lambda line: None)
    assert cell["train_episodes"] > 0 and cell["features"] > 0
    assert set(cell["trees"]) == {"depth0", "depth1", "depth2"}
    # With the truth, four groups capture most of the oracle's gain; the estimated trees,
    # learning from noisy scores, capture less than the truth-fitted one.
    assert 0.5 < cell["depth2_on_truth_gain"] <= 1.0
    assert 0.5 < cell["linear_on_truth_gain"] <= 1.0
    assert all(t["gain"] < cell["depth2_on_truth_gain"] for t in cell["trees"].values())
    # Each tree claims at least as much as it truly delivers (the winner's curse).
    assert all(t["claimed_uplift"] > t["true_uplift"] for t in cell["trees"].values())
    table = bench.render([{**cell, "command": "cmd"}], ["cmd"])
    assert "| baseline | 3,000 | 0 |" in table and "`cmd`" in table


def test_the_linear_ceiling_recovers_a_linear_truth_and_keeps_closed_services_closed(
    bench,
) -> None:
    rng = np.random.default_rng(9)
    x = rng.normal(size=(2000, 3))
    true_uplift = x @ np.array([[0.1, -0.1, 0.0], [0.0, 0.05, -0.2], [0.02, 0.0, 0.1]])
    true_uplift -= 0.05
    rankable = np.ones_like(true_uplift, dtype=bool)
    rankable[:500, 0] = False
    halves = bench.client_halves(np.arange(2000) // 2, seed=0)
    assert set(np.unique(halves[::2] == halves[1::2])) == {True}  # a client's rows together
    actions = bench.linear_ceiling(x, true_uplift, rankable, halves)
    open_uplift = np.where(rankable, true_uplift, -np.inf)
    best = np.argmax(open_uplift, axis=1)
    expected = np.where(open_uplift.max(axis=1) > 0, best, 3)
    assert np.array_equal(actions, expected)
    assert not np.any(actions[:500] == 0)
