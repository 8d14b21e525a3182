"""The same choices judged on the target a version does not rank by."""

from __future__ import annotations

import pytest

from models.objectives import TARGETS
from pipeline.data.episodes import prepare_episodes
from pipeline.evaluation.other_objectives import judge_on_target, other_targets
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
        trained.evaluation, other, prepared, trained.model, trained.model.catalog
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
    fewer = prepare_episodes(
        world.episodes.iloc[: len(world.episodes) // 2],
        None,
        catalog,
        other,
        settings.split,
    )
    with pytest.raises(ValueError, match="different episodes"):
        judge_on_target(trained.evaluation, other, fewer, trained.model, catalog)
