"""Overlap, weight and balance diagnostics, and the warnings they raise."""

from __future__ import annotations

import math

import numpy as np
import pytest

from pipeline.effects.diagnostics import (
    diagnose,
    effective_sample_size,
    estimand_weights,
    range_warnings,
    standardised_differences,
)
from pipeline.effects.estimators import Estimate


def test_effective_sample_size_equal_weights_is_n():
    assert effective_sample_size(np.full(40, 2.5)) == pytest.approx(40)


def test_effective_sample_size_one_dominant_weight_near_one():
    weights = np.ones(100)
    weights[0] = 1e6
    assert effective_sample_size(weights) < 1.01


def test_estimand_weights_ate_and_att():
    t = np.array([True, False])
    e = np.array([0.25, 0.25])
    np.testing.assert_allclose(estimand_weights(t, e, "ate"), [4.0, 1 / 0.75])
    np.testing.assert_allclose(estimand_weights(t, e, "att"), [1.0, 0.25 / 0.75])


def test_standardised_differences_hand_computed():
    raw = np.array([[1.0], [2.0], [3.0], [0.0], [1.0], [2.0]])
    t = np.array([True, True, True, False, False, False])
    # means 2 and 1; population variances 2/3 in both arms
    assert standardised_differences(raw, t)[0] == pytest.approx(1.0 / math.sqrt(2 / 3))
    weights = np.array([1.0, 1.0, 1.0, 0.0, 0.0, 1.0])  # control reduced to the unit with 2
    assert standardised_differences(raw, t, weights)[0] == pytest.approx(0.0)


def test_diagnose_randomised_arms_no_warnings():
    rng = np.random.default_rng(0)
    raw = rng.normal(size=(2000, 3))
    t = rng.random(2000) < 0.5
    result = diagnose(raw, ["a", "b", "c"], t, np.full(2000, t.mean()), "ate")
    assert result.warnings == ()
    assert result.treated.effective_sample_size == pytest.approx(t.sum())
    assert sum(result.control.propensity_histogram) == (~t).sum()


def test_diagnose_poor_overlap_warns_in_words():
    rng = np.random.default_rng(1)
    n = 1000
    raw = rng.normal(size=(n, 1))
    e = np.where(raw[:, 0] > 0, 0.995, 0.3)
    t = rng.random(n) < e
    result = diagnose(raw, ["x"], t, e, "ate")
    text = " ".join(result.warnings)
    assert "Poor overlap" in text
    assert "propensity below 0.01 or above 0.99" in text


def test_diagnose_few_effective_units_warns():
    rng = np.random.default_rng(4)
    raw = rng.normal(size=(500, 1))
    t = np.arange(500) < 20
    result = diagnose(raw, ["x"], t, np.full(500, 0.04), "ate")
    assert any("treated arm has only 20.0 effective units" in w for w in result.warnings)
    assert not any("control arm has only" in w for w in result.warnings)


def test_diagnose_unadjusted_confounding_fails_balance():
    rng = np.random.default_rng(2)
    raw = rng.normal(size=(1000, 2))
    t = rng.random(1000) < 1 / (1 + np.exp(-2 * raw[:, 0]))
    result = diagnose(raw, ["age", "noise"], t, np.full(1000, 0.5), "ate")
    assert any("Balance fails after weighting" in w and "age" in w for w in result.warnings)
    assert abs(result.balance[0].smd_after) > 0.1


def test_diagnose_extreme_single_weight_warns():
    rng = np.random.default_rng(3)
    raw = rng.normal(size=(400, 1))
    t = np.arange(400) < 200
    e = np.full(400, 0.5)
    e[0] = 0.002  # one treated unit with weight 500
    result = diagnose(raw, ["x"], t, e, "ate")
    assert result.treated.largest_weight_share > 0.5
    assert any("Extreme weights" in w and "treated" in w for w in result.warnings)


def test_range_warnings_flag_impossible_effect_on_binary_outcome():
    wild = Estimate("aipw", -1.4, 0.9, -3.2, 0.4, "normal")
    sane = Estimate("ipw", 0.2, 0.1, 0.0, 0.4, "normal")
    warnings = range_warnings({"aipw": wild, "ipw": sane}, binary_outcome=True)
    assert len(warnings) == 1
    assert "AIPW (doubly robust) -1.40 lies outside [-1, 1]" in warnings[0]
    assert range_warnings({"aipw": wild}, binary_outcome=False) == []
