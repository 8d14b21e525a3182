"""The ranker on outcomes not yet observed (a censored register): NaN outcomes are weighted
out by their probability of being observed, neither dropped with their episode's other
outcomes nor read as 0."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from models.catalog import Catalog
from models.objectives import TARGETS
from models.ranker.nuisances import OBSERVED_FLOOR, observation_weights
from tests.models.world import HEALTH_SERVICES, ToyEpisodes, fit_ranker, make_world

TWELVE = TARGETS.index("employment_12m")


@pytest.fixture(scope="module")
def toy(catalog: Catalog) -> ToyEpisodes:
    return make_world(4000, seed=23, catalog=catalog)


def _censored(world: ToyEpisodes, seed: int = 0) -> ToyEpisodes:
    """The world with the twelve-month outcome missing at random given the profile: the long
    unemployed (whose outcomes are lower) lose theirs far more often."""
    rng = np.random.default_rng(seed)
    months = world.frame["unemployment_months"].to_numpy()
    observed = rng.random(len(months)) < np.where(months >= 12, 0.25, 0.85)
    outcomes = world.outcomes.copy()
    outcomes[~observed, TWELVE] = np.nan
    return dataclasses.replace(world, outcomes=outcomes)


def test_unknown_outcomes_are_weighted_out_not_read_as_zero(
    toy: ToyEpisodes, catalog: Catalog
) -> None:
    censored = _censored(toy)
    zero_filled = dataclasses.replace(censored, outcomes=np.nan_to_num(censored.outcomes))
    fresh = make_world(3000, seed=77, catalog=catalog)
    health = fresh.frame["health_limitations"].to_numpy(dtype=bool)
    services = [catalog.ids.index(s) for s in HEALTH_SERVICES]
    baseline, uplift = {}, {}
    for name, world in (("full", toy), ("censored", censored), ("zeros", zero_filled)):
        ranker = fit_ranker(world, catalog, n_bootstrap=2)
        baseline[name] = ranker.predict_baseline(fresh.frame)[:, TWELVE].mean()
        uplift[name] = ranker.predict_uplift(fresh.frame)[health][:, TWELVE, services].mean()
    # Read as 0, the unknown outcomes pull the outcome without a service, and every effect,
    # towards none (the long unemployed's more so); weighted out, they leave both in place.
    assert abs(baseline["censored"] - baseline["full"]) < 0.05, baseline
    assert baseline["zeros"] < baseline["full"] - 0.1, baseline
    assert uplift["censored"] > 0.6 * uplift["full"] > 0, uplift
    assert uplift["zeros"] < 0.5 * uplift["full"], uplift


def test_a_censored_fit_is_finite_and_counts_its_known_outcomes(
    toy: ToyEpisodes, catalog: Catalog
) -> None:
    censored = _censored(toy)
    ranker = fit_ranker(censored, catalog, n_bootstrap=2)
    known = int((~np.isnan(censored.outcomes[:, TWELVE])).sum())
    assert ranker.n_observed_ == {
        "employment_or_education_6m": len(toy.frame),
        "employment_12m": known,
    }
    low, high = ranker.uplift_interval(toy.frame.iloc[:50], "employment_12m")
    assert np.isfinite(ranker.uplift_coef_).all()
    assert np.isfinite(low).all() and np.isfinite(high).all()


def test_observation_weights_are_one_when_all_is_known_and_inverse_probabilities_else() -> None:
    rng = np.random.default_rng(5)
    features = rng.normal(size=(3000, 3))
    action = rng.integers(0, 3, 3000)
    known = np.ones((3000, 2), dtype=bool)
    np.testing.assert_array_equal(
        observation_weights(features, action, known, 2, C=1.0, max_iter=200), 1.0
    )
    # Observed with a probability that falls with the first feature (and not the others).
    probability = 1.0 / (1.0 + np.exp(-(0.5 - 1.5 * features[:, 0])))
    known[:, 1] = rng.random(3000) < probability
    weights = observation_weights(features, action, known, 2, C=1.0, max_iter=200)
    assert (weights[~known[:, 1], 1] == 0).all() and (weights[:, 0] == 1).all()
    seen = known[:, 1]
    ratio = weights[seen, 1] * np.maximum(probability[seen], OBSERVED_FLOOR)
    assert 0.9 < np.median(ratio) < 1.1


def test_too_few_known_outcomes_is_an_error_naming_the_target(
    toy: ToyEpisodes, catalog: Catalog
) -> None:
    outcomes = toy.outcomes.copy()
    outcomes[40:, TWELVE] = np.nan  # 40 of 4,000 known
    with pytest.raises(ValueError, match=r"employment_12m is known for 40 of 4,000 episodes"):
        fit_ranker(dataclasses.replace(toy, outcomes=outcomes), catalog, n_bootstrap=2)
