"""Each comparison policy picks what it says, and only services the client may take."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from pipeline.evaluation import policies

ALLOWED = np.array(
    [
        [True, True, True],
        [False, True, True],
        [True, False, False],
        [False, False, False],
    ]
)


def test_best_allowed_skips_disallowed_and_falls_back_to_no_service():
    scores = np.array([[0.1, 0.3, 0.2], [0.9, 0.1, 0.2], [0.0, 0.5, 0.5], [1.0, 1.0, 1.0]])
    # row 1: service 0 scores best but is not allowed; row 3: nothing allowed -> "none" (3)
    assert policies.best_allowed(scores, ALLOWED).tolist() == [1, 2, 0, 3]


def test_best_allowed_ignores_nan_scores():
    scores = np.array([[np.nan, 0.1, 0.0]])
    assert policies.best_allowed(scores, np.ones((1, 3), bool)).tolist() == [1]


def test_best_allowed_breaks_ties_by_catalog_order():
    assert policies.best_allowed(np.array([[0.2, 0.5, 0.5]]), np.ones((1, 3), bool)).tolist() == [1]


def test_polku_policy_picks_largest_allowed_uplift():
    uplift = np.array([[0.01, -0.02, 0.03], [0.05, 0.00, -0.01], [0.02, 0.04, 0.0], [0, 0, 0]])
    assert policies.polku_policy(uplift, ALLOWED).tolist() == [2, 1, 0, 3]


def test_oracle_policy_uses_service_columns_only():
    # The last column is "no service": best here, but the oracle picks among services.
    truth = np.array([[0.2, 0.1, 0.3, 0.9], [0.5, 0.2, 0.1, 0.9], [0.1, 0.2, 0.3, 0.9], [0] * 4])
    assert policies.oracle_policy(truth, ALLOWED).tolist() == [2, 1, 0, 3]


def test_random_policy_is_seeded_and_allowed_only():
    allowed = np.random.default_rng(0).random((500, 6)) < 0.5
    first = policies.random_policy(allowed, seed=3)
    assert np.array_equal(first, policies.random_policy(allowed, seed=3))
    assert not np.array_equal(first, policies.random_policy(allowed, seed=4))
    rows = np.flatnonzero(allowed.any(axis=1))
    assert allowed[rows, first[rows]].all()
    assert (first[~allowed.any(axis=1)] == 6).all()


def test_random_policy_is_roughly_uniform():
    choice = policies.random_policy(np.ones((30_000, 3), bool), seed=1)
    shares = np.bincount(choice, minlength=3) / choice.size
    assert shares == pytest.approx([1 / 3] * 3, abs=0.015)


def test_popular_policy_picks_most_chosen_allowed_service():
    logged = np.array([2, 2, 2, 1, 1, 0, 3, 3, 3, 3])  # 3 is "none" and never counts
    popular = policies.PopularPolicy(n_services=3).fit(logged)
    assert popular.counts_.tolist() == [1, 2, 3]
    assert popular.choose(ALLOWED).tolist() == [2, 2, 0, 3]


def test_popular_policy_refuses_use_before_fit():
    with pytest.raises(RuntimeError, match="not fitted"):
        policies.PopularPolicy(3).choose(ALLOWED)


def test_imitation_policy_learns_a_caseworker_rule_and_respects_limits():
    rng = np.random.default_rng(5)
    features = rng.normal(size=(600, 2))
    # The caseworker picks service 0 when x0 > 0, else service 2.
    logged = np.where(features[:, 0] > 0, 0, 2)
    imitation = policies.ImitationPolicy(n_services=3, estimator=LogisticRegression()).fit(
        features, logged
    )
    probe = np.array([[2.0, 0.0], [-2.0, 0.0], [2.0, 0.0]])
    allowed = np.array([[True, True, True], [True, True, True], [False, True, True]])
    # Third row: the caseworker's favourite (0) is not allowed, so the next best allowed.
    assert imitation.choose(probe, allowed).tolist()[:2] == [0, 2]
    assert imitation.choose(probe, allowed)[2] in (1, 2)
    proba = imitation.choice_probabilities(probe)
    assert proba.shape == (3, 4)
    assert proba[:, [1, 3]].sum() == 0.0  # never-seen classes get probability 0


def test_imitation_policy_default_estimator_is_seeded_and_learns():
    rng = np.random.default_rng(2)
    features = rng.normal(size=(300, 3))
    # The caseworker picks the service whose linear score is highest.
    logged = (features @ np.array([[2.0, -1.0, 0.0], [0.0, 2.0, -2.0], [1.0, 0.0, 1.0]])).argmax(1)
    first = policies.ImitationPolicy(3, random_state=1).fit(features, logged)
    second = policies.ImitationPolicy(3, random_state=1).fit(features, logged)
    np.testing.assert_array_equal(
        first.choice_probabilities(features), second.choice_probabilities(features)
    )
    accuracy = np.mean(first.choose(features, np.ones((300, 3), bool)) == logged)
    assert accuracy > 0.9


def test_imitation_policy_fits_on_a_subsample_of_max_rows():
    rng = np.random.default_rng(3)
    features = rng.normal(size=(500, 2))
    logged = (features[:, 0] > 0).astype(int)
    imitation = policies.ImitationPolicy(2, max_rows=100).fit(features, logged)
    assert imitation.classifier_.n_features_in_ == 2
    # A classifier fitted on 100 of the 500 rows differs from one fitted on all of them.
    full = policies.ImitationPolicy(2, max_rows=None).fit(features, logged)
    assert not np.allclose(imitation.classifier_.coef_, full.classifier_.coef_)


def test_caseworker_policy_keeps_no_service():
    assert policies.caseworker_policy([0, 3, 1]).tolist() == [0, 3, 1]
