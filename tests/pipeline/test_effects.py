"""Effect estimators against answers known in advance: hand sums and simulated truths."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from pipeline.effects.estimators import (
    ESTIMATORS,
    EffectsError,
    RatioTerms,
    bootstrap_counts,
    cluster_std_error,
    design_matrix,
    estimator_terms,
    fit_comparison,
)


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


def _world(n: int, seed: int, *, confounded: bool, effect: float = 0.8):
    """Binary outcome whose true effect per unit is p1 - p0; treatment random or by x."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3))
    score = 1.5 * x[:, 0] - 0.8 * x[:, 1] if confounded else np.zeros(n)
    propensity = _sigmoid(score)
    treated = rng.random(n) < propensity
    p0 = _sigmoid(-0.5 + 1.2 * x[:, 0] - 0.8 * x[:, 1] + 0.3 * x[:, 2])
    p1 = _sigmoid(-0.5 + effect + 1.2 * x[:, 0] - 0.8 * x[:, 1] + 0.3 * x[:, 2])
    y = (rng.random(n) < np.where(treated, p1, p0)).astype(float)
    return x, treated, y, p1 - p0, propensity, p0, p1


def test_difference_in_means_hand_table_exact():
    t = np.array([1, 1, 1, 1, 0, 0, 0, 0], dtype=bool)
    y = np.array([1, 0, 1, 1, 0, 0, 1, 0], dtype=float)
    terms = estimator_terms(t, y, np.full(8, 0.5), np.zeros(8), np.zeros(8), "ate")
    dim = terms["difference_in_means"]
    assert dim.value() == pytest.approx(0.75 - 0.25)
    phi = dim.influence()
    # unpooled standard error of two proportions: sqrt(p1 q1 / n1 + p0 q0 / n0)
    expected_se = math.sqrt(0.75 * 0.25 / 4 + 0.25 * 0.75 / 4)
    assert cluster_std_error(phi, 8, None) == pytest.approx(expected_se)


def test_fit_comparison_without_covariates_every_estimator_is_the_difference_in_means():
    t = np.array([1] * 10 + [0] * 10, dtype=bool)
    y = np.array([1] * 7 + [0] * 3 + [1] * 3 + [0] * 7, dtype=float)
    estimates = fit_comparison(np.empty((20, 0)), t, y, "ate").estimates()
    for name in ESTIMATORS:
        assert estimates[name].estimate == pytest.approx(0.4), name


def test_estimators_randomised_world_agree_within_noise():
    x, t, y, true_effect, *_ = _world(4000, seed=11, confounded=False)
    truth = true_effect.mean()
    estimates = fit_comparison(x, t, y, "ate", seed=1).estimates()
    for name, e in estimates.items():
        assert abs(e.estimate - truth) < 3 * e.std_error, name
        assert e.ci_low < truth < e.ci_high, name
    values = [e.estimate for e in estimates.values()]
    assert max(values) - min(values) < 0.03


def test_estimators_confounded_world_naive_wrong_aipw_right():
    x, t, y, true_effect, *_ = _world(6000, seed=5, confounded=True)
    truth = true_effect.mean()
    estimates = fit_comparison(x, t, y, "ate", seed=2).estimates()
    naive = estimates["difference_in_means"]
    assert abs(naive.estimate - truth) > 0.1
    assert not naive.ci_low < truth < naive.ci_high
    aipw = estimates["aipw"]
    assert abs(aipw.estimate - truth) < 3 * aipw.std_error
    assert aipw.ci_low < truth < aipw.ci_high


def test_estimators_att_targets_the_treated():
    # The effect grows with x0 and the treated have high x0, so the ATT exceeds the ATE.
    rng = np.random.default_rng(8)
    n = 6000
    x = rng.normal(size=(n, 2))
    t = rng.random(n) < _sigmoid(1.5 * x[:, 0])
    p0 = _sigmoid(-0.5 + 0.5 * x[:, 1])
    p1 = _sigmoid(-0.5 + 0.5 * x[:, 1] + 0.5 + 0.8 * x[:, 0])
    y = (rng.random(n) < np.where(t, p1, p0)).astype(float)
    att_truth = (p1 - p0)[t].mean()
    ate_truth = (p1 - p0).mean()
    assert att_truth - ate_truth > 0.05
    aipw = fit_comparison(x, t, y, "att", seed=3).estimates()["aipw"]
    assert aipw.ci_low < att_truth < aipw.ci_high
    assert not aipw.ci_low < ate_truth < aipw.ci_high


def test_aipw_doubly_robust_one_nuisance_wrong():
    _, t, y, true_effect, propensity, p0, p1 = _world(20000, seed=4, confounded=True)
    truth = true_effect.mean()
    # Right outcome models, wrong (constant) propensity.
    wrong_e = estimator_terms(t, y, np.full(len(t), 0.5), p1, p0, "ate")
    assert wrong_e["aipw"].value() == pytest.approx(truth, abs=0.02)
    assert abs(wrong_e["ipw"].value() - truth) > 0.1
    # Right propensity, wrong (zero) outcome models.
    wrong_mu = estimator_terms(t, y, propensity, np.zeros(len(t)), np.zeros(len(t)), "ate")
    assert wrong_mu["aipw"].value() == pytest.approx(truth, abs=0.03)
    assert abs(wrong_mu["regression_adjustment"].value() - truth) > 0.1


def test_ratio_terms_bootstrap_unit_counts_reproduce_the_estimate():
    rng = np.random.default_rng(0)
    a, b, c, d = (rng.random(50) + 0.1 for _ in range(4))
    terms = RatioTerms(a, b, c, d)
    assert terms.bootstrap(np.ones((1, 50)))[0] == pytest.approx(terms.value())
    assert terms.influence().mean() == pytest.approx(0.0, abs=1e-12)


def test_ratio_terms_subgroup_equals_estimate_on_subgroup_only():
    rng = np.random.default_rng(1)
    a, b, c, d = (rng.random(40) + 0.1 for _ in range(4))
    mask = np.arange(40) < 15
    whole = RatioTerms(a, b, c, d)
    part = RatioTerms(a[:15], b[:15], c[:15], d[:15])
    assert whole.value(mask) == pytest.approx(part.value())
    np.testing.assert_allclose(whole.influence(mask)[:15], part.influence())
    assert np.all(whole.influence(mask)[15:] == 0)


def test_cluster_std_error_duplicated_rows_match_the_original():
    rng = np.random.default_rng(2)
    phi = rng.normal(size=30)
    single = cluster_std_error(phi, 30, None)
    doubled = np.repeat(phi, 2)
    clusters = np.repeat(np.arange(30), 2)
    assert cluster_std_error(doubled, 60, clusters) == pytest.approx(single)
    assert cluster_std_error(doubled, 60, None) == pytest.approx(single / math.sqrt(2))


def test_bootstrap_counts_resample_whole_clusters():
    clusters = np.repeat(np.arange(5), 3)
    counts = bootstrap_counts(15, 20, np.random.default_rng(0), clusters)
    assert counts.shape == (20, 15)
    assert np.all(counts.sum(axis=1) == 15)
    for row in counts:  # members of a cluster are drawn together
        assert np.all(row.reshape(5, 3) == row.reshape(5, 3)[:, :1])


def test_bootstrap_interval_close_to_influence_interval():
    x, t, y, *_ = _world(3000, seed=9, confounded=True)
    fit = fit_comparison(x, t, y, "ate", seed=0)
    normal = fit.estimates()["aipw"]
    boot = fit.estimates(n_bootstrap=400, seed=1)["aipw"]
    assert boot.ci_method.startswith("percentile bootstrap")
    assert (boot.ci_high - boot.ci_low) == pytest.approx(normal.ci_high - normal.ci_low, rel=0.2)
    assert boot.estimate == normal.estimate


def test_design_matrix_one_hot_and_numeric_names():
    frame = pd.DataFrame(
        {"age": [20, 30, 40], "town": ["a", "b", "a"], "flag": [True, False, True]}
    )
    design = design_matrix(frame, ["age", "town", "flag"])
    assert design.names == ("age", "town=a", "town=b", "flag")
    np.testing.assert_array_equal(design.raw[:, 1], [1, 0, 1])
    np.testing.assert_allclose(design.matrix.mean(axis=0), 0, atol=1e-12)


def test_design_matrix_identifier_like_category_rejected():
    frame = pd.DataFrame({"person": [f"p{i}" for i in range(60)]})
    with pytest.raises(EffectsError, match="'person' is categorical with 60 distinct values"):
        design_matrix(frame, ["person"])


def test_estimators_continuous_outcome_use_ridge_and_recover_the_effect():
    rng = np.random.default_rng(12)
    n = 3000
    x = rng.normal(size=(n, 2))
    t = rng.random(n) < _sigmoid(1.2 * x[:, 0])
    y = 1000 + 300 * x[:, 0] - 100 * x[:, 1] + 150 * t + rng.normal(scale=200, size=n)
    estimates = fit_comparison(x, t, y, "ate", seed=0).estimates()
    assert estimates["difference_in_means"].estimate > 300  # confounded upwards
    for name in ("regression_adjustment", "aipw"):
        assert estimates[name].ci_low < 150 < estimates[name].ci_high, name
