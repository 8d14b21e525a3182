"""Metrics against hand-computed values and their limits."""

from __future__ import annotations

import math

import numpy as np
import pytest

from pipeline.evaluation import metrics

TRUTH = np.array(
    [
        [0.10, 0.50, 0.20],
        [0.30, 0.20, 0.25],
        [0.60, 0.40, 0.50],
        [0.05, 0.15, 0.35],
    ]
)


def test_policy_value_is_mean_true_probability_of_chosen_action():
    # 0.50 + 0.30 + 0.50 + 0.35 = 1.65 -> 0.4125
    assert metrics.policy_value(TRUTH, np.array([1, 0, 2, 2])) == pytest.approx(0.4125)


def test_policy_value_of_row_best_equals_mean_row_max():
    best = TRUTH.argmax(axis=1)
    assert metrics.policy_value(TRUTH, best) == pytest.approx(TRUTH.max(axis=1).mean())


def test_policy_value_rejects_out_of_range_action():
    with pytest.raises(ValueError, match=r"choice\[2\] = 3 is not an action index"):
        metrics.policy_value(TRUTH, np.array([0, 1, 3, 0]))


def test_policy_value_rejects_float_choices():
    with pytest.raises(ValueError, match="integer action indices"):
        metrics.policy_value(TRUTH, np.array([0.0, 1.0, 2.0, 0.0]))


def test_policy_value_rejects_wrong_length():
    with pytest.raises(ValueError, match=r"shape \(4,\)"):
        metrics.policy_value(TRUTH, np.array([0, 1]))


def test_oracle_gain_captured_limits():
    assert metrics.oracle_gain_captured(0.40, 0.30, 0.40) == pytest.approx(1.0)
    assert metrics.oracle_gain_captured(0.30, 0.30, 0.40) == pytest.approx(0.0)
    assert metrics.oracle_gain_captured(0.36, 0.30, 0.40) == pytest.approx(0.6)
    assert metrics.oracle_gain_captured(0.25, 0.30, 0.40) == pytest.approx(-0.5)


def test_oracle_gain_captured_is_nan_without_oracle_gain():
    assert math.isnan(metrics.oracle_gain_captured(0.3, 0.3, 0.3))


def test_top_k_coverage_counts_target_in_top_k():
    scores = np.array([[0.9, 0.1, 0.5], [0.2, 0.8, 0.3], [0.1, 0.2, 0.3]])
    target = np.array([2, 0, 0])
    # top-1: [0, 1, 2] -> no hits; top-2: [{0,2}, {1,2}, {2,1}] -> row 0 hits
    assert metrics.top_k_coverage(scores, target, k=1) == pytest.approx(0.0)
    assert metrics.top_k_coverage(scores, target, k=2) == pytest.approx(1 / 3)
    assert metrics.top_k_coverage(scores, target, k=3) == pytest.approx(1.0)


def test_top_k_coverage_of_perfect_ranking_is_one():
    assert metrics.top_k_coverage(TRUTH, TRUTH.argmax(axis=1), k=1) == 1.0


def test_top_k_coverage_ignores_disallowed_actions():
    scores = np.array([[0.9, 0.1, 0.5]])
    allowed = np.array([[True, False, False]])
    # Only action 0 may be ranked: action 1 never counts even inside k=3.
    assert metrics.top_k_coverage(scores, np.array([1]), allowed, k=3) == 0.0
    assert metrics.top_k_coverage(scores, np.array([0]), allowed, k=1) == 1.0


def test_top_k_coverage_rejects_zero_k():
    with pytest.raises(ValueError, match="k must be at least 1"):
        metrics.top_k_coverage(TRUTH, np.zeros(4, dtype=int), k=0)


REWARD = np.array([1.0, 0.0, 1.0, 1.0])
LOGGED = np.array([0, 1, 1, 2])
PROPENSITY = np.array([0.5, 0.25, 0.5, 0.8])


def test_ips_estimate_hand_computed():
    target = np.array([0, 1, 0, 2])
    # weights [2, 4, 0, 1.25]; w*r = [2, 0, 0, 1.25] -> 3.25 / 4
    assert metrics.ips_estimate(REWARD, LOGGED, PROPENSITY, target) == pytest.approx(0.8125)


def test_ips_estimate_with_clip_caps_weights():
    target = np.array([0, 1, 0, 2])
    # clip 1.5: weights [1.5, 1.5, 0, 1.25]; w*r = [1.5, 0, 0, 1.25] -> 2.75 / 4
    clipped = metrics.ips_estimate(REWARD, LOGGED, PROPENSITY, target, clip=1.5)
    assert clipped == pytest.approx(0.6875)


def test_snips_estimate_hand_computed():
    target = np.array([0, 1, 0, 2])
    # sum(w*r) = 3.25, sum(w) = 7.25
    assert metrics.snips_estimate(REWARD, LOGGED, PROPENSITY, target) == pytest.approx(3.25 / 7.25)


def test_snips_estimate_is_nan_without_overlap():
    target = np.array([2, 2, 0, 0])
    assert math.isnan(metrics.snips_estimate(REWARD, LOGGED, PROPENSITY, target))


def test_ips_estimate_rejects_zero_propensity():
    with pytest.raises(ValueError, match=r"propensity\[1\] = 0.0 is not in \(0, 1\]"):
        metrics.ips_estimate(REWARD, LOGGED, np.array([0.5, 0.0, 0.5, 0.5]), LOGGED)


def test_ips_of_logging_policy_with_unit_propensity_is_mean_reward():
    ones = np.ones(4)
    assert metrics.ips_estimate(REWARD, LOGGED, ones, LOGGED) == pytest.approx(REWARD.mean())


def test_dr_estimate_hand_computed():
    predicted = np.array(
        [
            [0.6, 0.2, 0.1],
            [0.3, 0.4, 0.5],
            [0.7, 0.5, 0.2],
            [0.2, 0.1, 0.9],
        ]
    )
    target = np.array([0, 1, 0, 2])
    # direct q(x, pi): [0.6, 0.4, 0.7, 0.9]
    # correction w*(r - q(x,a)): [2*(1-0.6)=0.8, 4*(0-0.4)=-1.6, 0, 1.25*(1-0.9)=0.125]
    # total: 0.6+0.8 + 0.4-1.6 + 0.7 + 0.9+0.125 = 1.925 -> / 4
    got = metrics.dr_estimate(REWARD, LOGGED, PROPENSITY, target, predicted)
    assert got == pytest.approx(1.925 / 4)


def test_dr_estimate_with_perfect_outcome_model_equals_direct_method():
    # If predictions equal the observed rewards of the logged action, corrections vanish.
    predicted = np.array([[1.0, 0.3, 0.2], [0.1, 0.0, 0.4], [0.5, 1.0, 0.6], [0.2, 0.3, 1.0]])
    target = np.array([2, 0, 1, 0])
    got = metrics.dr_estimate(REWARD, LOGGED, PROPENSITY, target, predicted)
    assert got == pytest.approx(np.mean([0.2, 0.1, 1.0, 0.2]))


def test_ope_estimators_are_unbiased_on_a_simulated_log():
    rng = np.random.default_rng(7)
    n, n_actions = 200_000, 3
    truth = rng.uniform(0.1, 0.9, size=(n, n_actions))
    logging_probs = rng.dirichlet(np.ones(n_actions) * 2, size=n)
    logged = (rng.random(n)[:, None] > logging_probs.cumsum(axis=1)).sum(axis=1)
    propensity = logging_probs[np.arange(n), logged]
    reward = (rng.random(n) < truth[np.arange(n), logged]).astype(float)
    target = truth.argmax(axis=1)
    true_value = metrics.policy_value(truth, target)
    noisy_model = np.clip(truth + rng.normal(0, 0.1, size=truth.shape), 0, 1)
    assert metrics.ips_estimate(reward, logged, propensity, target) == pytest.approx(
        true_value, abs=0.01
    )
    assert metrics.snips_estimate(reward, logged, propensity, target) == pytest.approx(
        true_value, abs=0.01
    )
    assert metrics.dr_estimate(reward, logged, propensity, target, noisy_model) == pytest.approx(
        true_value, abs=0.01
    )


def test_reliability_bins_hand_computed():
    predicted = np.array([0.05, 0.15, 0.12, 0.95, 1.0])
    observed = np.array([0, 1, 0, 1, 1])
    bins = metrics.reliability_bins(predicted, observed, n_bins=2)
    assert bins.count.tolist() == [3, 2]
    assert bins.mean_predicted.tolist() == pytest.approx([0.32 / 3, 0.975])
    assert bins.observed_rate.tolist() == pytest.approx([1 / 3, 1.0])


def test_reliability_bins_marks_empty_bins_nan():
    bins = metrics.reliability_bins([0.1, 0.2], [0, 1], n_bins=4)
    assert bins.count.tolist() == [2, 0, 0, 0]
    assert np.isnan(bins.observed_rate[1:]).all()


def test_brier_score_limits():
    assert metrics.brier_score([0, 1, 1], [0, 1, 1]) == 0.0
    assert metrics.brier_score([1, 0], [0, 1]) == 1.0
    assert metrics.brier_score([0.5, 0.5], [0, 1]) == pytest.approx(0.25)


def test_expected_calibration_error_hand_computed():
    predicted = np.array([0.05, 0.15, 0.12, 0.95, 1.0])
    observed = np.array([0, 1, 0, 1, 1])
    # bin 0: |0.10667 - 0.33333| * 3; bin 1: |0.975 - 1| * 2; over 5
    expected = (abs(0.32 / 3 - 1 / 3) * 3 + 0.025 * 2) / 5
    assert metrics.expected_calibration_error(predicted, observed, n_bins=2) == pytest.approx(
        expected
    )


def test_expected_calibration_error_is_zero_when_rates_match():
    predicted = np.array([0.25, 0.25, 0.25, 0.25, 0.75, 0.75, 0.75, 0.75])
    observed = np.array([1, 0, 0, 0, 1, 1, 1, 0])
    assert metrics.expected_calibration_error(predicted, observed) == pytest.approx(0.0)


def test_calibration_rejects_probability_out_of_range():
    with pytest.raises(ValueError, match="predicted probabilities must lie in"):
        metrics.brier_score([1.2], [1])


def test_policy_values_by_group_hand_computed():
    labels = np.array(["a", "b", "a", "b"])
    choices = {"first": np.array([0, 0, 0, 0]), "best": TRUTH.argmax(axis=1)}
    table = metrics.policy_values_by_group(TRUTH, choices, labels)
    assert table["a"] == {"n": 2, "first": pytest.approx(0.35), "best": pytest.approx(0.55)}
    assert table["b"] == {"n": 2, "first": pytest.approx(0.175), "best": pytest.approx(0.325)}


def test_mean_by_group_hand_computed():
    got = metrics.mean_by_group([1.0, 2.0, 3.0, 5.0], [True, False, True, False])
    assert got == {"False": pytest.approx(3.5), "True": pytest.approx(2.0)}


def test_interval_honesty_scores_all_pairs_and_the_top_suggestion() -> None:
    from pipeline.evaluation.metrics import interval_honesty

    shown = np.array([[0.06, 0.01], [0.04, 0.02], [0.03, np.nan]])
    low = shown - 0.02
    high = shown + 0.02
    rankable = np.array([[True, True], [True, True], [True, False]])
    top1 = np.array([0, 1, 2])  # the third row has no service: not a top-1 suggestion
    truth = np.array([[0.02, 0.0], [0.05, 0.03], [0.03, 0.0]])
    h = interval_honesty(shown, low, high, rankable, top1, truth)
    assert (h.n_pairs, h.n_top1) == (5, 2)
    # Held: row 0 service 1, row 1 both, row 2 service 0; row 0's top (0.06 vs 0.02) missed.
    assert h.interval_coverage == pytest.approx(4 / 5)
    assert h.top1_interval_coverage == pytest.approx(1 / 2)
    assert h.top1_mean_shown == pytest.approx(0.04)
    assert h.top1_mean_true == pytest.approx(0.025)
    assert h.top1_predicted_vs_true == pytest.approx(0.04 / 0.025)
    assert h.top1_interval_includes_zero == pytest.approx(1 / 2)
    assert h.top1_median_width == pytest.approx(0.04)
    blind = interval_honesty(shown, low, high, rankable, top1)
    assert np.isnan(blind.top1_interval_coverage) and np.isnan(blind.top1_predicted_vs_true)
    assert blind.top1_mean_shown == pytest.approx(0.04)
