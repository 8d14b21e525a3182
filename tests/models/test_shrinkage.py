"""The shrinkage of the shown uplift (`models.ranker.shrinkage`) and the separation of a
ranking (`models.separation`), on arrays whose truth is known."""

from __future__ import annotations

import numpy as np
import pytest

from models.ranker.intervals import calibration_at
from models.ranker.shrinkage import fit_shrinkage, shown_coefficients
from models.separation import (
    DISTINCT_PROBABILITY,
    WIDE_INTERVAL_SHARE,
    p_above_next,
    p_above_zero,
    wide_interval,
)


def _noisy_services(seed: int = 3) -> dict[str, np.ndarray]:
    """Twelve services whose true effect is a mean per service plus a real slope on one
    feature; the served model adds noise to both, half-models (two folds) twice as much.
    Pseudo-outcomes are the truth plus heavy noise, as AIPW pseudo-outcomes are."""
    rng = np.random.default_rng(seed)
    n, n_services, targets = 6000, 12, 2
    x = rng.normal(size=n)
    design = np.column_stack([np.ones(n), x])
    true_mean = rng.normal(0.0, 0.02, size=(targets, n_services))
    true_slope = np.full((targets, n_services), 0.01)
    truth = np.stack([true_mean, true_slope], axis=1)  # (targets, 2, services)
    treated = np.linspace(60, 2000, n_services)
    # The served mean is the pseudo-outcomes' mean, so it carries their noise.
    pseudo_sd = 0.5 * np.sqrt(n / treated)
    mean_noise = rng.normal(size=(targets, n_services)) * pseudo_sd / np.sqrt(n)
    slope_noise = rng.normal(0.0, 0.02, size=(targets, n_services))  # noise > the real 0.01
    served = truth + np.stack([mean_noise, slope_noise], axis=1)
    folds = [
        truth + np.sqrt(2) * np.stack([mean_noise, rng.normal(0, 0.02, size=slope_noise.shape)], 1)
        for _ in range(2)
    ]
    true_uplift = np.einsum("np,tpk->ntk", design, truth)
    pseudo = true_uplift + rng.normal(size=true_uplift.shape) * pseudo_sd
    return {
        "design": design,
        "served": served,
        "folds": folds,
        "pseudo": pseudo,
        "truth": true_uplift,
        "groups": np.arange(n) // 2,
        "rankable": np.ones((n, n_services), dtype=bool),
    }


def test_shrinkage_pulls_noise_toward_the_truth() -> None:
    bias_raw, bias_shown = [], []
    for seed in (3, 4, 5, 6):
        w = _noisy_services(seed)
        shrinkage = fit_shrinkage(
            w["design"], w["served"], w["folds"], w["pseudo"], w["groups"], w["rankable"], 4
        )
        assert shrinkage.coef.shape == (2, 12, 6) and shrinkage.cov.shape == (2, 12, 6, 6)
        np.testing.assert_array_equal(shrinkage.coef[..., 2:], 0.0)
        # The deviations are mostly noise (slope noise 0.02 against a real slope of 0.01).
        assert np.all(shrinkage.within_share < 0.6)
        assert np.all(shrinkage.cov[..., 0, 0] > 0)
        raw = np.einsum("np,tpk->ntk", w["design"], w["served"])
        shown, _ = calibration_at(raw, np.zeros((len(raw), 4)), shrinkage.coef, shrinkage.cov)
        error_raw = np.mean((raw - w["truth"]) ** 2)
        assert np.mean((shown - w["truth"]) ** 2) < 0.5 * error_raw
        # The winner's curse: each row's best-looking service is overstated.
        top = raw[:, 0].argmax(axis=1)
        rows = np.arange(len(top))
        bias_raw.append((raw[rows, 0, top] - w["truth"][rows, 0, top]).mean())
        bias_shown.append((shown[rows, 0, top] - w["truth"][rows, 0, top]).mean())
    assert min(bias_raw) > 0
    # Shown, the top-1's error is smaller and no longer one-sided (seed by seed it is noisy:
    # twelve services tell the spread of the deviations' noise only roughly).
    assert np.mean(np.abs(bias_shown)) < 0.5 * np.mean(bias_raw)
    assert abs(np.mean(bias_shown)) < 0.25 * np.mean(bias_raw)


def test_shown_coefficients_are_the_shrinkage_lines_on_the_design() -> None:
    w = _noisy_services()
    shrinkage = fit_shrinkage(
        w["design"], w["served"], w["folds"], w["pseudo"], w["groups"], w["rankable"], 4
    )
    weights = np.array([0.3, 0.7])
    raw = np.einsum("np,tpk->ntk", w["design"], w["served"])
    shown_t, _ = calibration_at(raw, np.zeros((len(raw), 4)), shrinkage.coef, shrinkage.cov)
    coef = shown_coefficients(shrinkage, w["served"], weights)
    np.testing.assert_allclose(w["design"] @ coef, np.tensordot(shown_t, weights, ([1], [0])))


def test_a_service_without_rows_is_left_alone() -> None:
    w = _noisy_services()
    rankable = w["rankable"].copy()
    rankable[:, 5] = False
    shrinkage = fit_shrinkage(
        w["design"], w["served"], w["folds"], w["pseudo"], w["groups"], rankable, 4
    )
    np.testing.assert_array_equal(shrinkage.coef[:, 5, :2], [[0.0, 1.0]] * 2)
    np.testing.assert_array_equal(shrinkage.cov[:, 5], 0.0)


def test_p_above_zero_reads_the_interval_side_facing_zero() -> None:
    # A 90 % interval clear of zero on its lower end: 95 %, the one-sided level.
    p = p_above_zero(np.array([0.05]), np.array([0.0]), np.array([0.10]), 0.9)
    assert p[0] == pytest.approx(0.95, abs=1e-6)
    # Centred on zero: one half; clipped high end does not matter for a positive estimate.
    assert p_above_zero(np.array([0.0]), np.array([-0.1]), np.array([0.1]), 0.9)[0] == 0.5
    wide = p_above_zero(np.array([0.05]), np.array([-0.20]), np.array([0.06]), 0.9)[0]
    assert 0.5 < wide < 0.7
    # Negative estimate: read from the upper half; a point interval is certain.
    assert p_above_zero(np.array([-0.05]), np.array([-0.2]), np.array([0.0]), 0.9)[0] < 0.06
    assert p_above_zero(np.array([0.01]), np.array([0.01]), np.array([0.01]), 0.9)[0] == 1.0


def test_p_above_next_compares_neighbours_and_leaves_the_last_open() -> None:
    shown = np.array([0.10, 0.02, 0.019])
    low, high = shown - 0.01, shown + 0.01
    p = p_above_next(shown, low, high, 0.9)
    assert p[0] > DISTINCT_PROBABILITY  # 8 points apart with 1-point half-widths
    assert 0.5 < p[1] < 0.6  # a tenth of a point apart
    assert np.isnan(p[2])
    assert p_above_next(np.array([0.1]), np.array([0.0]), np.array([0.2]), 0.9).tolist() == [
        pytest.approx(float("nan"), nan_ok=True)
    ]


def test_wide_interval_is_a_share_of_the_outcome_range() -> None:
    low = np.array([0.0, -0.012])
    high = np.array([WIDE_INTERVAL_SHARE - 0.001, 0.829])
    assert wide_interval(low, high).tolist() == [False, True]
