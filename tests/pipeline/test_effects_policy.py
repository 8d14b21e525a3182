"""Off-policy value of a policy against logged practice, with intervals and groups."""

from __future__ import annotations

import numpy as np
import pytest

from models.actions import ActionSpace
from pipeline.data.episodes import objective_rewards, true_objective_outcomes
from pipeline.effects.estimators import EffectsError
from pipeline.effects.policy import evaluate_policy, policy_terms
from pipeline.effects.register import register_episodes
from pipeline.evaluation import metrics
from pipeline.evaluation.policies import oracle_policy
from pipeline.synth.world import SynthConfig, generate_world


def _logged_bandit(n: int, seed: int):
    """Two actions; the logger picks 1 with probability depending on x; known truth."""
    rng = np.random.default_rng(seed)
    x = rng.random(n)
    p_one = 0.2 + 0.6 * x
    logged = (rng.random(n) < p_one).astype(np.int64)
    propensity = np.where(logged == 1, p_one, 1 - p_one)
    truth = np.column_stack([0.3 + 0.2 * x, 0.6 - 0.3 * x])  # action 1 is better for low x
    reward = (rng.random(n) < truth[np.arange(n), logged]).astype(float)
    return x, logged, propensity, truth, reward


def test_policy_terms_match_pipeline_metrics():
    x, logged, propensity, _, reward = _logged_bandit(500, 0)
    target = (x < 0.5).astype(np.int64)
    predicted = np.column_stack([np.full(500, 0.4), np.full(500, 0.45)])
    values, gains, logged_terms = policy_terms(reward, logged, propensity, target, predicted)
    assert values["ips"].value() == pytest.approx(
        metrics.ips_estimate(reward, logged, propensity, target)
    )
    assert values["snips"].value() == pytest.approx(
        metrics.snips_estimate(reward, logged, propensity, target)
    )
    assert values["dr"].value() == pytest.approx(
        metrics.dr_estimate(reward, logged, propensity, target, predicted)
    )
    assert logged_terms.value() == pytest.approx(reward.mean())
    for name in values:
        assert gains[name].value() == pytest.approx(values[name].value() - reward.mean())


def test_evaluate_policy_intervals_cover_true_gain_even_with_a_bad_outcome_model():
    x, logged, propensity, truth, reward = _logged_bandit(6000, 1)
    target = (x < 0.5).astype(np.int64)  # the better action where it is better
    rows = np.arange(len(x))
    true_gain = truth[rows, target].mean() - truth[rows, logged].mean()
    bad_model = np.full((len(x), 2), 0.5)
    result = evaluate_policy(
        reward, logged, propensity, target, bad_model, true_outcomes=truth
    ).overall
    assert result.true_gain == pytest.approx(true_gain)
    assert true_gain > 0.03
    for name in ("ips", "snips", "dr"):
        gain = result.gains[name]
        assert gain.ci_low < true_gain < gain.ci_high, name
    assert result.gains["dr"].ci_low > 0  # a real gain is detected


def test_evaluate_policy_gain_interval_uses_shared_episodes():
    # The gain shares episodes with logged practice (the matched episodes count in both), so
    # its interval is narrower than the two values' intervals combined as if independent.
    x, logged, propensity, truth, reward = _logged_bandit(3000, 2)
    target = (x < 0.5).astype(np.int64)
    result = evaluate_policy(reward, logged, propensity, target, truth).overall
    for name in ("snips", "dr"):
        gain, value = result.gains[name], result.values[name]
        assert gain.std_error < np.hypot(value.std_error, result.logged_value.std_error)


def test_evaluate_policy_groups_partition_and_warn_on_few_matches():
    x, logged, propensity, truth, reward = _logged_bandit(800, 3)
    groups = {"half": np.where(x < 0.5, "low", "high")}
    target = np.full(len(x), 1, dtype=np.int64)
    target[:790] = 1 - logged[:790]  # the policy almost never agrees with the logger
    result = evaluate_policy(reward, logged, propensity, target, truth, groups=groups)
    levels = result.by_group["half"]
    assert set(levels) == {"low", "high"}
    assert sum(e.n_episodes for e in levels.values()) == len(x)
    assert result.overall.n_matched <= 10
    assert any(
        "Only" in w and "episodes in which the caseworker chose" in w
        for w in result.overall.warnings
    )


def test_policy_terms_reject_zero_propensity():
    with pytest.raises(ValueError, match=r"propensity of episode 2 is 0\.0"):
        policy_terms(
            np.ones(3),
            np.zeros(3, int),
            np.array([0.5, 0.0, 0.5]),
            np.zeros(3, int),
            np.ones((3, 2)),
        )


def test_evaluate_policy_oracle_on_a_world_covers_its_true_gain():
    world = generate_world(SynthConfig(n_clients=3000, seed=4))
    data = register_episodes(world.episodes, world.catalog)
    truth = true_objective_outcomes(
        {
            k: world.truth_matrix(k)[data.kept]
            for k in ("employment_or_education_6m", "employed_12m")
        },
        "employment_or_education_6m",
    )
    assert data.propensity is not None
    choice = oracle_policy(truth, data.allowed)
    result = evaluate_policy(
        objective_rewards(data.outcomes, "employment_or_education_6m"),
        ActionSpace(world.catalog.ids).indices(data.service_id),
        data.propensity,
        choice,
        truth,  # the perfect outcome model
        clusters=data.clusters,
        groups=data.groups,
        true_outcomes=truth,
    ).overall
    true_gain = result.true_gain
    assert true_gain is not None
    dr = result.gains["dr"]
    assert dr.ci_low <= true_gain <= dr.ci_high
    assert result.values["dr"].estimate == pytest.approx(result.true_value, abs=3 * dr.std_error)


def test_whatif_without_propensity_is_a_clear_error():
    from pipeline.effects.whatif import policy_versus_logged

    world = generate_world(SynthConfig(n_clients=300, seed=0))
    data = register_episodes(world.episodes.drop(columns=["propensity"]), world.catalog)
    with pytest.raises(EffectsError, match="no propensity column"):
        policy_versus_logged(data, None, "employment_12m", world.catalog)  # type: ignore[arg-type]
