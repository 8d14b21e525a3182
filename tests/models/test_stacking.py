"""The stacking of the uplift with practice (models.ranker.stacking) and the practice model."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from models.catalog import Catalog
from models.ranker import ServiceRanker
from models.ranker.final_stage import pseudo_outcome_weights
from models.ranker.nuisances import _practice_coef, cross_fit_practice, with_intercept
from models.ranker.stacking import (
    STACK_CANDIDATES,
    Stack,
    choose_candidate,
    fit_stack,
    stack_cv_loss,
)
from tests.models.world import ToyEpisodes, fit_ranker


def _stack_data(
    n: int, b: float, c: float, noise: float, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    oof = rng.normal(0.0, 0.05, size=(n, 2, 4))
    not_scored = rng.random((n, 4)) < 0.3  # (row, service) pairs without a prediction
    oof = np.where(not_scored[:, None, :], np.nan, oof)
    practice = rng.normal(0.0, 1.0, size=(n, 4))
    truth = 0.01 + b * np.nan_to_num(oof) + c * practice[:, None, :]
    pseudo = truth + rng.normal(0.0, noise, size=truth.shape)
    return oof, pseudo, practice


def test_fit_stack_recovers_known_weights() -> None:
    oof, pseudo, practice = _stack_data(20_000, b=0.4, c=0.02, noise=0.3)
    stack = fit_stack(oof, pseudo, practice, STACK_CANDIDATES["scaled_dr_and_practice"])
    assert stack.coef.shape == (2, 4, 3)
    np.testing.assert_allclose(stack.coef[:, 0], [[0.01, 0.4, 0.02]] * 2, atol=0.01 + 0.1 * 0.4)


def test_fit_stack_weights_are_never_negative() -> None:
    # Pseudo-outcomes that fall as the final stage's uplift rises: the scale is clipped at 0.
    oof, pseudo, practice = _stack_data(5_000, b=-0.5, c=-0.01, noise=0.05)
    stack = fit_stack(oof, pseudo, practice, STACK_CANDIDATES["scaled_dr_and_practice"])
    assert (stack.coef[..., 1:] >= 0).all()


def test_the_dr_candidate_is_the_identity() -> None:
    oof, pseudo, practice = _stack_data(500, b=0.4, c=0.02, noise=0.3)
    stack = fit_stack(oof, pseudo, practice, STACK_CANDIDATES["dr"])
    np.testing.assert_array_equal(stack.apply(oof, practice), oof)


def test_stacked_design_coefficients_equal_the_stacked_predictions() -> None:
    rng = np.random.default_rng(3)
    design = with_intercept(rng.normal(size=(50, 6)))
    uplift_coef = rng.normal(size=(2, 7, 4))
    practice_coef = rng.normal(size=(7, 4))
    stack = Stack(rng.uniform(0.0, 1.0, size=(2, 4, 3)))
    scored = np.array([True, True, False, True])
    served = np.einsum("np,tpk->ntk", design, stack.design_coef(uplift_coef, practice_coef, scored))
    expected = stack.apply(np.einsum("np,tpk->ntk", design, uplift_coef), design @ practice_coef)
    np.testing.assert_allclose(served[:, :, scored], expected[:, :, scored])
    # A service the final stage does not score keeps its own (zero) coefficients.
    np.testing.assert_array_equal(
        served[:, :, ~scored], np.einsum("np,tpk->ntk", design, uplift_coef)[:, :, ~scored]
    )


def test_choose_candidate_keeps_the_final_stage_unless_credibly_worse() -> None:
    cv = pd.DataFrame(
        {"loss": [100.0, 99.0], "se_vs_dr": [0.0, 2.0]}, index=["dr", "scaled_dr_and_practice"]
    )
    assert choose_candidate(cv) == "dr"
    cv.loc["scaled_dr_and_practice", "loss"] = 90.0
    assert choose_candidate(cv) == "scaled_dr_and_practice"


def test_stack_cv_loss_prefers_stacking_where_practice_knows() -> None:
    oof, pseudo, practice = _stack_data(20_000, b=0.2, c=0.03, noise=0.3, seed=5)
    cv = stack_cv_loss(oof, pseudo, practice, np.arange(len(oof)))
    assert list(cv.index) == list(STACK_CANDIDATES)
    assert choose_candidate(cv) == "scaled_dr_and_practice"


def test_practice_coefficients_are_log_odds_against_no_service() -> None:
    rng = np.random.default_rng(1)
    features = rng.normal(size=(600, 3))
    actions = rng.integers(0, 4, size=600)  # 3 services, "none" = 3
    model = LogisticRegression(max_iter=200).fit(features, actions)
    coef = _practice_coef(model, 3, 4)
    proba = model.predict_proba(features)
    np.testing.assert_allclose(
        with_intercept(features) @ coef, np.log(proba[:, :3] / proba[:, 3:]), atol=1e-8
    )


def test_cross_fit_practice_matches_the_logged_choices() -> None:
    rng = np.random.default_rng(2)
    features = rng.normal(size=(2_000, 2))
    # Service 0 goes to those with a high first feature; 1 and "none" (2) to the others.
    actions = np.where(features[:, 0] > 0.5, 0, rng.integers(1, 3, size=2_000))
    allowed = np.ones((2_000, 3), dtype=bool)
    folds = np.arange(2_000) % 2
    fit = cross_fit_practice(features, actions, allowed, folds, 2, C=1.0, max_iter=200)
    assert fit.logit.shape == (2_000, 2) and fit.coef.shape == (3, 2)
    high = features[:, 0] > 0.5
    assert fit.logit[high, 0].mean() > fit.logit[~high, 0].mean() + 2
    assert np.all((fit.propensity > 0) & (fit.propensity <= 1))


@pytest.fixture(scope="module")
def dr_only(world: ToyEpisodes, catalog: Catalog) -> ServiceRanker:
    return fit_ranker(world, catalog, n_bootstrap=2, random_state=3, stack="dr")


def test_ranker_records_the_stacking_it_chose(ranker: ServiceRanker) -> None:
    assert ranker.stack_ in STACK_CANDIDATES
    assert list(ranker.stack_cv_.columns) == [
        "loss_0",
        "loss_1",
        "loss",
        "se_vs_dr",
        "se_vs_previous",
    ]
    assert ranker.practice_coef_.shape == (ranker.n_features_in_ + 1, len(ranker.services_))
    assert ranker.dr_uplift_coef_.shape == ranker.uplift_coef_.shape


def test_ranker_without_stacking_serves_the_final_stage(dr_only: ServiceRanker) -> None:
    assert dr_only.stack_ == "dr"
    np.testing.assert_array_equal(dr_only.uplift_coef_, dr_only.dr_uplift_coef_)


def test_ranker_rejects_an_unknown_stacking(world: ToyEpisodes, catalog: Catalog) -> None:
    with pytest.raises(ValueError, match="stack must be one of"):
        fit_ranker(world, catalog, n_bootstrap=0, stack="forest")


def test_the_plug_in_candidate_leans_on_the_outcome_model_where_the_correction_is_noise() -> None:
    # The final stage = plug-in part + a correction that is pure noise: the truth follows the
    # plug-in alone, so the data should put its weight on `d` and little on `b`.
    rng = np.random.default_rng(7)
    n = 20_000
    plug = rng.normal(0.0, 0.05, size=(n, 2, 4))
    oof = plug + rng.normal(0.0, 0.05, size=plug.shape)
    practice = rng.normal(0.0, 1.0, size=(n, 4))
    pseudo = 0.6 * plug + rng.normal(0.0, 0.3, size=plug.shape)
    stack = fit_stack(oof, pseudo, practice, STACK_CANDIDATES["dr_plug_in_and_practice"], plug=plug)
    assert stack.plug_in is not None
    assert (stack.plug_in > 0.4).all() and (stack.coef[..., 1] < 0.15).all()
    cv = stack_cv_loss(oof, pseudo, practice, np.arange(n), plug=plug)
    assert cv.loc["dr_plug_in_and_practice", "loss"] < cv.loc["scaled_dr_and_practice", "loss"]


def test_stacked_design_coefficients_with_the_plug_in_equal_the_stacked_predictions() -> None:
    rng = np.random.default_rng(4)
    design = with_intercept(rng.normal(size=(50, 6)))
    uplift_coef = rng.normal(size=(2, 7, 4))
    plug_coef = rng.normal(size=(2, 7, 4))
    practice_coef = rng.normal(size=(7, 4))
    stack = Stack(rng.uniform(0.0, 1.0, size=(2, 4, 3)), rng.uniform(0.0, 1.0, size=(2, 4)))
    scored = np.ones(4, dtype=bool)
    coef = stack.design_coef(uplift_coef, practice_coef, scored, plug_coef)
    expected = stack.apply(
        np.einsum("np,tpk->ntk", design, uplift_coef),
        design @ practice_coef,
        np.einsum("np,tpk->ntk", design, plug_coef),
    )
    np.testing.assert_allclose(np.einsum("np,tpk->ntk", design, coef), expected)


def test_pseudo_outcome_weights_follow_the_propensities() -> None:
    # Two clients, three services; client 1 may not take service 2.
    logit = np.array([[0.0, -1.0, -3.0], [1.0, 0.0, 2.0]])
    allowed = np.array([[True, True, True], [True, True, False]])
    weights = pseudo_outcome_weights(logit, allowed, floor=0.01)
    for row in range(2):
        odds = np.where(allowed[row], np.exp(logit[row]), 0.0)
        e_k, e_0 = odds / (1 + odds.sum()), 1 / (1 + odds.sum())
        expected = np.where(allowed[row], 1 / (1 / np.maximum(e_k, 0.01) + 1 / e_0), 0.0)
        np.testing.assert_allclose(weights[row], expected)
    # A service caseworkers give more often gets more weight; a closed one none.
    assert weights[0, 0] > weights[0, 1] > weights[0, 2] > 0
    assert weights[1, 2] == 0.0


def test_weighted_stacking_is_the_plain_fit_under_equal_weights() -> None:
    oof, pseudo, practice = _stack_data(3_000, b=0.4, c=0.02, noise=0.3)
    terms = STACK_CANDIDATES["scaled_dr_and_practice"]
    plain = fit_stack(oof, pseudo, practice, terms)
    weighted = fit_stack(oof, pseudo, practice, terms, weights=np.full((3_000, 4), 0.2))
    np.testing.assert_allclose(weighted.coef, plain.coef, rtol=1e-8, atol=1e-12)


def test_weights_keep_a_few_huge_pseudo_outcomes_from_deciding_the_fit() -> None:
    # Heteroscedastic noise as the AIPW terms have it: pairs of small weight (rare
    # services, inverse propensities up to 100) carry most of the noise. Over five draws
    # the weighted fit's error is well below the plain one's (about a third, in theory).
    n, b, c = 10_000, 0.4, 0.02
    terms = STACK_CANDIDATES["scaled_dr_and_practice"]
    target = np.array([[b, c]] * 2)
    plain_error, weighted_error = [], []
    for seed in range(5):
        oof, truth, practice = _stack_data(n, b=b, c=c, noise=0.0, seed=seed)
        rng = np.random.default_rng(100 + seed)
        weights = np.where(rng.random((n, 4)) < 0.1, 0.01, 1.0)
        pseudo = truth + rng.normal(size=truth.shape) * 0.3 / np.sqrt(weights[:, None, :])
        plain = fit_stack(oof, pseudo, practice, terms).coef[:, 0, 1:]
        weighted = fit_stack(oof, pseudo, practice, terms, weights=weights).coef[:, 0, 1:]
        plain_error.append(((plain - target) ** 2).sum())
        weighted_error.append(((weighted - target) ** 2).sum())
    assert np.mean(weighted_error) < 0.5 * np.mean(plain_error)


def test_ranker_rejects_a_stack_weighting_that_is_not_a_boolean(
    world: ToyEpisodes, catalog: Catalog
) -> None:
    with pytest.raises(ValueError, match="stack_weights"):
        fit_ranker(world, catalog, n_bootstrap=0, stack_weights="yes")
