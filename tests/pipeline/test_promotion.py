"""The promotion rule on hand-made evaluation summaries."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pipeline.evaluation.metrics import ReliabilityBins
from pipeline.evaluation.promote import PromotionResult
from pipeline.evaluation.promotion import compare_evaluations
from pipeline.evaluation.results import (
    ByPolicy,
    Calibration,
    EvaluationSummary,
    GroupResult,
    OffPolicyEstimates,
    OracleGainByPolicy,
    UpliftSummary,
)


def _values(polku: float) -> ByPolicy[float]:
    """Polku's value; the other policies' do not enter the promotion rule."""
    return ByPolicy(polku, caseworkers=0.0, random=0.0, popular=0.0, imitation=0.0, oracle=0.0)


def _summary(overall: float, groups: dict[str, float], n: int = 1000) -> EvaluationSummary:
    """A summary where only what the rule reads is meaningful: n and Polku's values."""
    estimates = OffPolicyEstimates(0.0, 0.0, None, 0.0, 0.0, 0)
    empty_bins = ReliabilityBins(np.zeros(1), np.zeros(0), np.zeros(0), np.zeros(0))
    return EvaluationSummary(
        n_episodes=n,
        policy_value=_values(overall),
        oracle_gain_captured=None,
        oracle_gain_captured_by_policy=OracleGainByPolicy(None, None, None, None),
        top3_oracle_coverage=0.0,
        ope=ByPolicy(*[estimates] * 6),
        calibration=Calibration(0.0, 0.0, empty_bins, 0.0, 0.0),
        uplift=UpliftSummary(0.0, None, 0.0, 0.0),
        by_group={
            "age_band": {
                label: GroupResult(100, _values(value), None, 0.0, 0.0)
                for label, value in groups.items()
            }
        },
    )


def test_compare_promotes_a_better_challenger():
    decision = compare_evaluations(
        _summary(0.40, {"under_25": 0.30, "55_plus": 0.50}),
        _summary(0.42, {"under_25": 0.31, "55_plus": 0.52}),
    )
    assert decision.promote
    assert "not below" in decision.reasons[0]


def test_compare_promotes_an_equal_challenger():
    same = _summary(0.40, {"under_25": 0.30})
    assert compare_evaluations(same, same).promote


def test_compare_refuses_a_worse_challenger_overall():
    decision = compare_evaluations(_summary(0.40, {"a": 0.3}), _summary(0.39, {"a": 0.3}))
    assert not decision.promote
    assert decision.reasons == (
        "the challenger's policy value 0.3900 is below the champion's 0.4000",
    )


def test_compare_refuses_when_a_group_loses_more_than_tolerance():
    decision = compare_evaluations(
        _summary(0.40, {"under_25": 0.30, "55_plus": 0.50}),
        _summary(0.41, {"under_25": 0.28, "55_plus": 0.53}),
        group_tolerance=0.01,
    )
    assert not decision.promote
    assert len(decision.reasons) == 1
    assert decision.reasons[0].startswith("group age_band=under_25 (n=100) loses 0.0200")


def test_compare_allows_a_group_loss_within_tolerance():
    decision = compare_evaluations(
        _summary(0.40, {"under_25": 0.30}),
        _summary(0.41, {"under_25": 0.295}),
        group_tolerance=0.01,
    )
    assert decision.promote
    assert decision.group_changes[0].change == pytest.approx(-0.005)


def test_compare_rejects_evaluations_of_different_data():
    with pytest.raises(ValueError, match="not on the same held-out episodes"):
        compare_evaluations(_summary(0.4, {}, n=10), _summary(0.4, {}, n=11))


def test_compare_rejects_negative_tolerance():
    with pytest.raises(ValueError, match="must not be negative"):
        compare_evaluations(_summary(0.4, {}), _summary(0.4, {}), group_tolerance=-0.1)


def test_promotion_record_keeps_its_json_keys():
    decision = compare_evaluations(
        _summary(0.40, {"under_25": 0.30}), _summary(0.41, {"under_25": 0.31})
    )
    record = PromotionResult("2", "1", True, decision.reasons, decision, Path("world")).to_json()
    assert list(record) == [
        "promote",
        "reasons",
        "champion_policy_value",
        "challenger_policy_value",
        "group_changes",
        "champion_before",
        "data_dir",
    ]
    assert list(record["group_changes"][0]) == [
        "grouping", "group", "n", "champion", "challenger", "change"
    ]  # fmt: skip
    assert record["champion_before"] == "1" and record["data_dir"] == "world"
    assert record["group_changes"][0]["change"] == pytest.approx(0.01)
