"""What a policy ranked for one objective does to the other: one evaluation, both targets.

A version ranks by one objective (say work or education at six months), yet a caseworker and
an evaluator care about both targets: a service can help the one and hurt the other
(vocational education raises education at six months and can lower employment at twelve).
So `polku evaluate` judges the *same* choices (Polku's top-1 for its ranking objective, and
the caseworkers' logged ones) on every other target too, on the same held-out episodes, with
the same propensities: the doubly robust value of Polku minus the caseworkers on that
target, with its client-clustered 95 % interval, IPS and SNIPS beside it, by group, and the
true values when the world has a truth.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from models.bundle import PolkuModel
from models.catalog import Catalog
from models.objectives import TARGETS, objective_weights
from pipeline.data.episodes import PreparedEpisodes
from pipeline.effects.policy import evaluate_policy
from pipeline.evaluation.evaluate import Evaluation
from pipeline.evaluation.scoring import predict_for_episodes


def other_targets(objective: str) -> tuple[str, ...]:
    """The targets an objective does not rank by (those with zero weight in it).

    >>> other_targets("employment_12m")
    ('employment_or_education_6m',)
    """
    weights = dict(zip(TARGETS, objective_weights(objective).tolist(), strict=True))
    return tuple(target for target in TARGETS if weights[target] == 0.0)


def judge_on_target(
    evaluation: Evaluation,
    evaluated: PreparedEpisodes,
    target: str,
    prepared: PreparedEpisodes,
    model: PolkuModel,
    catalog: Catalog,
) -> dict[str, Any]:
    """Polku's choices (ranked for the evaluation's objective) judged on `target`.

    `evaluated` is the preparation the evaluation ran on, `prepared` the same world prepared
    for `target` with the same split. They are judged on the held-out episodes both hold
    (in a censored register, those whose outcome on `target` is known too; the count of
    the others is `left_out_unobserved`).
    """
    data = evaluation.data
    if data is None or data.propensity is None:
        raise ValueError("the evaluation keeps no held-out episodes to judge again")
    ours = np.isin(evaluated.held_out_rows, prepared.held_out_rows)
    theirs = np.isin(prepared.held_out_rows, evaluated.held_out_rows)
    held = prepared.held_out
    same = (
        len(evaluated.held_out_rows) == len(data.frame)
        and np.array_equal(held.logged_action[theirs], data.logged_action[ours])
        and np.array_equal(
            held.frame.loc[theirs, "client_id"].to_numpy(),
            data.frame.loc[ours, "client_id"].to_numpy(),
        )
    )
    if not same:
        raise ValueError("the two preparations hold different episodes")
    if not ours.any():
        raise ValueError(f"no held-out episode has a known outcome on {target}")
    predicted = predict_for_episodes(model, held.frame.loc[theirs], catalog.ids, target)
    judged = evaluate_policy(
        held.reward[theirs],
        data.logged_action[ours],
        data.propensity[ours],
        evaluation.choices["polku"][ours],
        predicted.outcomes,
        clusters=data.frame.loc[ours, "client_id"].astype(str).to_numpy(),
        groups={name: labels[ours] for name, labels in evaluation.group_labels.items()},
        true_outcomes=None if held.true_outcomes is None else held.true_outcomes[theirs],
    )
    return {**judged.to_dict(), "left_out_unobserved": int((~ours).sum())}
