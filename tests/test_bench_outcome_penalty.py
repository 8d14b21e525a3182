"""The outcome-penalty benchmark's own parts: its log loss, its choice and its patching."""

from __future__ import annotations

import math
from types import ModuleType

import numpy as np
import pytest

import models.ranker.service_ranker as service_ranker_module
import pipeline.training.train as train_module
from models.ranker import ServiceRanker
from tests.helpers import load_bench_module


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    return load_bench_module("bench_outcome_penalty.py", "bench_outcome_penalty_runner")


def test_the_log_loss_reads_the_logged_action_and_splits_out_the_treated_rows(bench) -> None:
    # Two targets, one service plus "none" (last). Row 0 took the service, row 1 none.
    mu = np.array(
        [
            [[0.8, 0.1], [0.5, 0.9]],
            [[0.1, 0.25], [0.9, 0.6]],
        ]
    )
    action = np.array([0, 1])
    y = np.array([[1.0, 0.0], [0.0, 1.0]])
    all_rows, treated = bench.out_of_fold_log_loss(mu, action, y)
    row0 = -math.log(0.8) - math.log(0.5)
    row1 = -math.log(0.75) - math.log(0.6)
    assert all_rows == pytest.approx((row0 + row1) / 2)
    assert treated == pytest.approx(row0)


def test_the_rule_serves_the_lowest_loss_and_cells_need_the_served_scale(bench) -> None:
    def row(scale: float, loss: float, seed: int = 0) -> dict:
        return {"scenario": "w", "n_clients": 10, "seed": seed, "scale": scale, "log_loss": loss}

    rows = [row(0.15, 1.02), row(0.3, 1.01), row(0.6, 1.03), row(0.6, 1.0, seed=1)]
    cells = bench.cells_of(rows)
    assert list(cells) == [("w", 10, 0)]  # seed 1 has no served scale to compare with
    assert bench.chosen_scale(cells[("w", 10, 0)]) == 0.3


def test_the_scale_patch_reaches_the_ranker_and_is_undone_even_on_failure(bench) -> None:
    original_fit = service_ranker_module.cross_fit_outcomes
    with pytest.raises(RuntimeError), bench.outcome_scale(0.15):
        ranker = train_module.ServiceRanker(services=["a"])
        assert isinstance(ranker, ServiceRanker)
        assert ranker.interaction_scale == 0.15
        raise RuntimeError("a cell failed")
    assert train_module.ServiceRanker is ServiceRanker
    assert service_ranker_module.cross_fit_outcomes is original_fit
