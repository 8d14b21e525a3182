"""The randomised-logs benchmark's trial worlds and its shared measure."""

from __future__ import annotations

from types import ModuleType

import pytest

from pipeline.synth.scenarios import SCENARIOS, scenario_named
from tests.helpers import load_bench_module


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    return load_bench_module("bench_randomised_logs.py", "bench_randomised_logs_runner")


def test_a_trial_is_its_scenario_with_every_option_at_random(bench) -> None:
    try:
        name = bench.register_trial("thresholds")
        trial, base = scenario_named(name), scenario_named("thresholds")
        assert name == "trial_thresholds" and trial.exploration == 1.0
        assert (trial.effect_shapes, trial.knowledge_weight) == (
            base.effect_shapes,
            base.knowledge_weight,
        )
    finally:
        SCENARIOS.pop("trial_thresholds", None)  # the registry is the whole test run's
    assert "trial_thresholds" not in SCENARIOS


def test_the_share_over_random_is_the_same_policy_measured_from_another_reference(bench) -> None:
    # Values: random 0.20, caseworkers 0.25, ranker 0.28, oracle 0.30.
    gains = {"polku": (0.28 - 0.25) / 0.05, "random": (0.20 - 0.25) / 0.05}
    assert bench.over_random(gains) == pytest.approx((0.28 - 0.20) / (0.30 - 0.20))
    assert bench.over_random({"polku": 0.4, "random": 0.0}) == pytest.approx(0.4)
