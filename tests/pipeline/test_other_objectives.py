"""The same choices judged on the target a version does not rank by."""

from __future__ import annotations

import numpy as np
import pytest

from models.objectives import TARGETS
from pipeline.data.episodes import prepare_episodes
from pipeline.evaluation.other_objectives import judge_on_target, other_targets
from pipeline.synth.censoring import censor_outcomes
from tests.helpers import TinyTraining


def test_other_targets_are_those_without_weight() -> None:
    assert other_targets("employment_or_education_6m") == ("employment_12m",)
    assert other_targets("employment_or_education_6m=0.5,employment_12m=0.5") == ()


def _prepared(tiny_training: TinyTraining, target: str):
    world, trained, settings = tiny_training
    catalog = trained.model.catalog
    return prepare_episodes(
        world.episodes, world.true_outcomes(target, catalog), catalog, target, settings.split
    )


def test_judged_on_its_own_target_it_repeats_the_evaluation(tiny_training: TinyTraining) -> None:
    _, trained, settings = tiny_training
    evaluation = trained.evaluation
    judged = judge_on_target(
        evaluation,
        trained.prepared,
        settings.objective,
        _prepared(tiny_training, settings.objective),
        trained.model,
        trained.model.catalog,
    )
    difference = evaluation.summary.ope_difference
    assert difference is not None
    gain = judged["overall"]["gains"]["dr"]
    assert gain["estimate"] == pytest.approx(difference.estimate)
    assert gain["ci_low"] == pytest.approx(difference.ci_low)
    assert judged["overall"]["true_gain"] == pytest.approx(difference.true)


def test_judged_on_the_other_target_it_reads_that_targets_truth(
    tiny_training: TinyTraining,
) -> None:
    _, trained, settings = tiny_training
    (other,) = [t for t in TARGETS if t != settings.objective]
    prepared = _prepared(tiny_training, other)
    judged = judge_on_target(
        trained.evaluation, trained.prepared, other, prepared, trained.model, trained.model.catalog
    )
    truth = prepared.held_out.true_outcomes
    assert truth is not None
    rows = range(len(truth))
    choice = trained.evaluation.choices["polku"]
    expected = float(sum(truth[i, choice[i]] for i in rows) / len(truth))
    assert judged["overall"]["true_value"] == pytest.approx(expected)
    assert judged["overall"]["n_episodes"] == len(truth)
    assert judged["by_group"], "the groups are judged too"


def test_other_episodes_are_refused(tiny_training: TinyTraining) -> None:
    world, trained, settings = tiny_training
    (other,) = [t for t in TARGETS if t != settings.objective]
    catalog = trained.model.catalog
    shuffled = world.episodes.sample(frac=1.0, random_state=3).reset_index(drop=True)
    again = prepare_episodes(shuffled, None, catalog, other, settings.split)
    with pytest.raises(ValueError, match="different episodes"):
        judge_on_target(trained.evaluation, trained.prepared, other, again, trained.model, catalog)


def test_on_a_censored_register_the_other_target_is_judged_where_it_is_known(
    tiny_training: TinyTraining,
) -> None:
    world, trained, settings = tiny_training
    catalog = trained.model.catalog
    censored = censor_outcomes(world.episodes)
    twelve = "employment_12m"
    assert settings.objective != twelve
    again = prepare_episodes(
        censored, world.true_outcomes(twelve, catalog), catalog, twelve, settings.split
    )
    judged = judge_on_target(
        trained.evaluation, trained.prepared, twelve, again, trained.model, catalog
    )
    held = len(trained.prepared.held_out_rows)
    known = int(np.isin(trained.prepared.held_out_rows, again.held_out_rows).sum())
    assert 0 < known < held
    assert judged["overall"]["n_episodes"] == known
    assert judged["left_out_unobserved"] == held - known
