"""pipeline.loop: the simulated learning loop, its serving draws and its off-policy estimates."""

from __future__ import annotations

import numpy as np
import pytest

from models.actions import uplift_over_no_service
from models.catalog import load_catalog
from models.exploration import ExplorationRule
from models.objectives import Objective
from pipeline.feedback.ope import doubly_robust, ipw
from pipeline.loop.periods import draw_period
from pipeline.loop.simulate import LoopConfig, results_frame, run_loop
from pipeline.synth.scenarios import SCENARIOS


@pytest.fixture(scope="module")
def loop_frame():  # type: ignore[no-untyped-def]
    config = LoopConfig(
        seed=3, rounds=3, initial_persons=1500, persons_per_round=900, n_bootstrap=3
    )
    arms = {"none": None, "explore": ExplorationRule(), "posterior": ExplorationRule.posterior()}
    return results_frame(run_loop(config, arms))


def test_the_loop_runs_every_round_of_both_arms_on_the_same_clients(loop_frame) -> None:  # type: ignore[no-untyped-def]
    every = loop_frame[loop_frame["group"] == "all"]
    assert sorted(every["round"].unique()) == [1, 2, 3]
    none, explore = (every[every["arm"] == a].set_index("round") for a in ("none", "explore"))
    # Same periods, same caseworkers and oracle, same first model.
    assert np.allclose(none["caseworkers"], explore["caseworkers"])
    assert np.allclose(none["oracle"], explore["oracle"])
    assert none.loc[2, "greedy"] == pytest.approx(explore.loc[2, "greedy"])
    # Retraining on everything so far.
    assert none.loc[3, "n_train"] > none.loc[2, "n_train"] > 0


def test_without_exploration_the_served_policy_is_the_greedy_one(loop_frame) -> None:  # type: ignore[no-untyped-def]
    none = loop_frame[loop_frame["arm"] == "none"]
    assert np.allclose(none["served"], none["greedy"])
    assert (none["randomised_share"] == 0).all()
    served = none[none["round"] > 1]
    assert (served["ope_greedy_support"] == 1.0).all()


def test_exploration_randomises_and_no_policy_beats_the_oracle(loop_frame) -> None:  # type: ignore[no-untyped-def]
    explore = loop_frame[(loop_frame["arm"] == "explore") & (loop_frame["round"] > 1)]
    assert (explore["randomised_share"] > 0).all()
    # The greedy choice is always a candidate: its estimate is fully supported.
    assert (explore["ope_greedy_support"] == 1.0).all()
    assert (loop_frame["served"] <= loop_frame["oracle"] + 1e-12).all()
    assert (loop_frame["greedy"] <= loop_frame["oracle"] + 1e-12).all()
    followed = explore[explore["group"] == "all"]["followed_share"]
    assert followed.between(0.5, 0.7).all()  # follow = 0.6


def test_ipw_with_logged_probabilities_is_unbiased_and_dr_agrees() -> None:
    rng = np.random.default_rng(0)
    n, k = 40_000, 3
    mu = np.array([0.2, 0.35, 0.3])
    p = rng.dirichlet(np.ones(k) * 2, size=n)
    shown = (p.cumsum(axis=1) < rng.random(n)[:, None]).sum(axis=1)
    reward = (rng.random(n) < mu[shown]).astype(float)
    shown_p = p[np.arange(n), shown]
    policy = np.ones(n, dtype=np.int64)
    est = ipw(policy, shown, shown_p, reward, p[:, 1])
    assert est.covers(0.35) and est.support == 1.0
    predicted = np.tile([*mu + 0.05, 0.1], (n, 1))  # a biased outcome model
    dr = doubly_robust(policy, shown, shown_p, reward, np.ones(n, bool), predicted, p[:, 1])
    assert dr.covers(0.35)
    assert dr.high - dr.low < est.high - est.low  # the model takes out some variance


def test_the_posterior_design_randomises_the_same_clients_with_full_greedy_support(
    loop_frame,
) -> None:  # type: ignore[no-untyped-def]
    every = loop_frame[(loop_frame["group"] == "all") & (loop_frame["round"] > 1)]
    posterior = every[every["arm"] == "posterior"].set_index("round")
    near_ties = every[every["arm"] == "explore"].set_index("round")
    assert (posterior["randomised_share"] > 0).all()
    assert (posterior["ope_greedy_support"] == 1.0).all()
    # Both designs randomise a client exactly when some service is not told apart from the
    # top; in round 2 the model is the same first model.
    assert posterior.loc[2, "randomised_share"] == pytest.approx(
        near_ties.loc[2, "randomised_share"]
    )
    # The top keeps at least 0.8 instead of 0.5: the same model serves closer to its greedy.
    cost = posterior.loc[2, "greedy"] - posterior.loc[2, "served"]
    assert abs(cost) <= abs(near_ties.loc[2, "greedy"] - near_ties.loc[2, "served"]) + 1e-4


def test_the_next_model_is_also_judged_cross_fitted_and_on_redrawn_outcomes(loop_frame) -> None:  # type: ignore[no-untyped-def]
    served = loop_frame[(loop_frame["group"] == "all") & (loop_frame["round"] > 1)]
    # The cross-fit stands for the next model: same truth, its own fold models' truth beside.
    assert np.allclose(served["ope_next_cf_truth"], served["ope_next_truth"])
    assert served["ope_next_cf_own_truth"].notna().all()
    # One point estimate, two intervals: the fold-bounded one is the wider.
    assert np.allclose(served["ope_next_cf_ipw"], served["ope_next_cf_naive_ipw"])
    bounded = served["ope_next_cf_ipw_high"] - served["ope_next_cf_ipw_low"]
    naive = served["ope_next_cf_naive_ipw_high"] - served["ope_next_cf_naive_ipw_low"]
    assert (bounded > naive).all()
    # Redrawn outcomes change the estimate of the same policy, not its truth.
    assert np.allclose(served["ope_next_redrawn_truth"], served["ope_next_truth"])
    assert not np.allclose(served["ope_next_redrawn_ipw"], served["ope_next_ipw"])


def _withheld_share_against_gain(scenario: str) -> tuple[float, float]:
    """For one period of `scenario`: the correlation, over clients allowed the withheld
    services, between the caseworkers' chance of giving one and its true six-month gain;
    and the smallest chance any allowed option keeps."""
    catalog = load_catalog()
    period = draw_period(700, 5, 1, catalog, Objective.parse(LoopConfig().objective), scenario)
    withheld = np.isin(catalog.ids, SCENARIOS["weak_overlap"].withheld_services)
    gain = uplift_over_no_service(period.truth["employment_or_education_6m"])[:, withheld]
    allowed = period.allowed[:, withheld]
    share = period.practice[:, :-1][:, withheld]
    correlation = float(np.corrcoef(share[allowed], gain[allowed])[0, 1])
    options = np.hstack([period.allowed, np.ones((len(period), 1), dtype=bool)])
    return correlation, float(period.practice[options].min())


def test_a_period_is_drawn_in_the_scenario_asked_for() -> None:
    baseline, baseline_floor = _withheld_share_against_gain("baseline")
    weak, weak_floor = _withheld_share_against_gain("weak_overlap")
    # weak_overlap: the more a client would gain from a withheld service, the rarer it is
    # given; in the baseline caseworkers lean towards what helps.
    assert weak < 0 < baseline
    # ... and caseworkers explore less (share 0.05 of each choice instead of 0.2).
    assert weak_floor < baseline_floor


def test_the_loop_draws_every_period_in_its_scenario_and_refuses_an_unknown_one() -> None:
    tiny = LoopConfig(
        seed=5, rounds=2, initial_persons=700, persons_per_round=400, n_bootstrap=2,
        cross_fit_folds=0, scenario="weak_overlap",
    )  # fmt: skip
    frame = results_frame(run_loop(tiny, {"none": None}))
    every = frame[frame["group"] == "all"].set_index("round")["caseworkers"]
    objective = Objective.parse(tiny.objective)
    for r, persons in ((1, 700), (2, 400)):
        expected = {
            scenario: float((period.practice * period.value).sum(axis=1).mean())
            for scenario in ("baseline", "weak_overlap")
            for period in [draw_period(persons, 5, r - 1, load_catalog(), objective, scenario)]
        }
        assert every[r] == pytest.approx(expected["weak_overlap"])
        assert every[r] != pytest.approx(expected["baseline"])
    with pytest.raises(ValueError, match=r"unknown scenario 'nowhere'.*weak_overlap"):
        LoopConfig(scenario="nowhere")
