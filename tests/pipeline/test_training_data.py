"""From a world to the training and held-out parts: the gate, the split, the objective."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from models.catalog import load_catalog
from models.eligibility import assess_eligibility_frame
from pipeline.data.episodes import (
    objective_rewards,
    prepare_episodes,
    true_objective_outcomes,
)
from pipeline.data.split import SplitSettings
from pipeline.data.world import load_world

OBJECTIVE = "employment_or_education_6m"


def test_true_objective_outcomes_weights_the_targets():
    truth = {
        "employment_or_education_6m": np.array([[0.2, 0.4]]),
        "employed_12m": np.array([[0.6, 0.0]]),
    }
    assert true_objective_outcomes(truth, OBJECTIVE).tolist() == [[0.2, 0.4]]
    assert true_objective_outcomes(truth, "employment_12m").tolist() == [[0.6, 0.0]]
    mixed = true_objective_outcomes(truth, "employment_or_education_6m=0.5,employment_12m=0.5")
    np.testing.assert_allclose(mixed, [[0.4, 0.2]])


def test_true_objective_outcomes_names_a_missing_outcome():
    with pytest.raises(ValueError, match="lacks the outcome 'employed_12m'"):
        true_objective_outcomes({"employment_or_education_6m": np.zeros((1, 2))}, "employment_12m")


def test_objective_rewards_mix_the_observed_outcomes():
    outcomes = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    assert objective_rewards(outcomes, OBJECTIVE).tolist() == [1.0, 0.0, 1.0]
    mixed = objective_rewards(outcomes, "employment_or_education_6m=0.25,employment_12m=0.75")
    assert mixed.tolist() == [0.25, 0.75, 1.0]


def test_prepare_episodes_keeps_only_eligible_episodes_and_splits_by_client(tiny_world_dir: Path):
    catalog = load_catalog()
    world = load_world(tiny_world_dir)
    prepared = prepare_episodes(
        world.episodes, world.true_outcomes(OBJECTIVE, catalog), catalog, OBJECTIVE, SplitSettings()
    )
    counts = prepared.counts
    eligible = assess_eligibility_frame(world.episodes)["eligible"].to_numpy(dtype=bool)
    assert counts["episodes"] == len(world.episodes)
    assert counts["eligible_episodes"] == int(eligible.sum()) < len(world.episodes)
    assert counts["train_episodes"] + counts["held_out_episodes"] == counts["eligible_episodes"]
    train_ids = set(prepared.train.frame["client_id"])
    held_ids = set(prepared.held_out.frame["client_id"])
    assert not train_ids & held_ids
    assert "henkilotunnus" not in prepared.train.frame.columns
    held = prepared.held_out
    assert assess_eligibility_frame(held.frame)["eligible"].all()
    # Rewards are the observed 6-month outcome; the truth row of each held-out episode is there.
    assert set(np.unique(held.reward)) <= {0.0, 1.0}
    assert held.true_outcomes.shape == (len(held.frame), len(catalog) + 1)


def test_prepare_episodes_names_missing_columns(tiny_world_dir: Path):
    catalog = load_catalog()
    world = load_world(tiny_world_dir)
    episodes = world.episodes.drop(columns=["service_id"])
    with pytest.raises(ValueError, match="episodes lack column\\(s\\) service_id"):
        prepare_episodes(
            episodes, world.true_outcomes(OBJECTIVE, catalog), catalog, OBJECTIVE, SplitSettings()
        )


def test_prepare_episodes_without_propensity_or_truth(tiny_world_dir: Path):
    # A real register logs no propensity and has no truth: both parts come without them.
    catalog = load_catalog()
    world = load_world(tiny_world_dir)
    episodes = world.episodes.drop(columns=["propensity"])
    prepared = prepare_episodes(episodes, None, catalog, OBJECTIVE, SplitSettings())
    assert prepared.train.propensity is None
    assert prepared.held_out.propensity is None
    assert prepared.held_out.true_outcomes is None
    with_all = prepare_episodes(
        world.episodes, world.true_outcomes(OBJECTIVE, catalog), catalog, OBJECTIVE, SplitSettings()
    )
    assert prepared.counts == with_all.counts
    assert (prepared.held_out.reward == with_all.held_out.reward).all()


def test_prepare_episodes_rejects_misaligned_truth(tiny_world_dir: Path):
    catalog = load_catalog()
    world = load_world(tiny_world_dir)
    truth = world.true_outcomes(OBJECTIVE, catalog)[:-1]
    with pytest.raises(ValueError, match="true outcomes have shape"):
        prepare_episodes(world.episodes, truth, catalog, OBJECTIVE, SplitSettings())
