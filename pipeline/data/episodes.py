"""From a loaded world to the training part and the held-out part of the episodes.

One function, `prepare_episodes`, does the steps every command shares (the gate filters the
episodes, the client/time split, the catalog limits, the objective's rewards and true
outcomes), so `polku train`, `polku evaluate` and `polku promote` see the same held-out
episodes for the same data and split settings.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from models.actions import ActionSpace
from models.catalog import Catalog
from models.eligibility import assess_eligibility_frame
from models.objectives import (
    TARGETS,
    TRUTH_OUTCOME_OF_TARGET,
    Objective,
    objective_weights,
    outcomes_from_episodes,
)
from models.profile import PROFILE_COLUMNS
from pipeline.data.split import SplitSettings, split_masks
from pipeline.evaluation.evaluate import EvaluationData


@dataclass(frozen=True)
class TrainingPart:
    """The training episodes, ready for `ServiceRanker.fit` and the baselines.

    Attributes
    ----------
    frame : DataFrame
        Typed profile columns.
    service_id : ndarray of str
        Logged service or `"none"`.
    action : int ndarray
        `service_id` as an action index (catalog order, `"none"` last).
    outcomes : ndarray (n, len(TARGETS))
    propensity : ndarray (n,) or None
        The logged propensity, or None when the register does not log it (the ranker then
        estimates it).
    allowed : bool ndarray (n, n_services)
    """

    frame: pd.DataFrame
    service_id: np.ndarray
    action: np.ndarray
    outcomes: np.ndarray
    propensity: np.ndarray | None
    allowed: np.ndarray


@dataclass(frozen=True)
class PreparedEpisodes:
    """The two parts of the episodes and the counts behind them.

    `held_out_rows` are the held-out episodes' rows in the episodes prepared (two
    preparations of one world for different objectives may hold out different episodes:
    those whose objective's outcome is not yet observed are left out).
    """

    train: TrainingPart
    held_out: EvaluationData
    counts: dict[str, int]
    held_out_rows: np.ndarray


def file_fingerprint(paths: Iterable[Path]) -> str:
    """SHA-256 over the bytes of the files, in the given order (the data's fingerprint)."""
    digest = hashlib.sha256()
    for path in paths:
        with Path(path).open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def _profile_frame(episodes: pd.DataFrame) -> pd.DataFrame:
    columns = [c for c in PROFILE_COLUMNS if c in episodes.columns]
    return episodes[columns].reset_index(drop=True)


def objective_rewards(outcomes: np.ndarray, objective: Objective | str) -> np.ndarray:
    """The observed reward of the objective: the weighted mix of the 0/1 target outcomes.

    NaN where an outcome the objective weighs is not yet observed; an outcome it gives no
    weight does not matter (a blank twelve-month outcome leaves a six-month reward known).
    """
    weights = objective_weights(objective)
    used = weights > 0
    return np.asarray(outcomes, dtype=np.float64)[:, used] @ weights[used]


def true_objective_outcomes(
    truth: Mapping[str, np.ndarray], objective: Objective | str
) -> np.ndarray:
    """True probability of the objective's outcome under each action (the weighted mix).

    Parameters
    ----------
    truth : mapping of outcome name to ndarray (n, n_services + 1)
        The world's true probabilities per target ("none" last), as
        `pipeline.synth.outcomes.truth_probabilities` gives them.
    objective : Objective or str

    Returns
    -------
    ndarray of shape (n, n_services + 1)
    """
    weights = objective_weights(objective)
    total: np.ndarray | None = None
    for target, weight in zip(TARGETS, weights, strict=True):
        if weight == 0.0:
            continue
        name = TRUTH_OUTCOME_OF_TARGET[target]
        if name not in truth:
            raise ValueError(f"the truth lacks the outcome {name!r} the objective needs")
        part = weight * np.asarray(truth[name], dtype=np.float64)
        total = part if total is None else total + part
    assert total is not None  # an objective has at least one positive weight
    return total


def prepare_episodes(
    episodes: pd.DataFrame,
    true_outcomes: np.ndarray | None,
    catalog: Catalog,
    objective: Objective | str,
    split: SplitSettings,
) -> PreparedEpisodes:
    """Gate, split and align the episodes of a world.

    Parameters
    ----------
    episodes : DataFrame
        One row per episode: typed profile columns (no henkilötunnus), `service_id`,
        optionally `propensity`, and the outcome columns
        (`models.objectives.outcomes_from_episodes`).
    true_outcomes : ndarray of shape (n_episodes, n_services + 1), or None
        True probability of the objective's outcome per episode under each catalog service
        and (last column) none, aligned with `episodes`; None without a truth (a real
        register), and the held-out part then has none either.
    catalog : Catalog
    objective : Objective or str
    split : SplitSettings

    Returns
    -------
    PreparedEpisodes

    Raises
    ------
    ValueError
        A needed column is missing, a service is not in the catalog (naming the row), or no
        episode is left on one side of the split.
    """
    missing = [c for c in ("service_id", "client_id") if c not in episodes.columns]
    if missing:
        raise ValueError(f"episodes lack column(s) {', '.join(missing)}")
    truth = None if true_outcomes is None else np.asarray(true_outcomes, dtype=np.float64)
    if truth is not None and truth.shape != (len(episodes), len(catalog) + 1):
        raise ValueError(
            f"true outcomes have shape {truth.shape}, "
            f"expected ({len(episodes)}, {len(catalog) + 1})"
        )
    episodes = episodes.reset_index(drop=True)
    frame = _profile_frame(episodes)
    eligible = assess_eligibility_frame(frame)["eligible"].to_numpy(dtype=bool)
    outcomes = outcomes_from_episodes(episodes)
    # The held-out episodes judge the objective: one whose outcome is not yet observed
    # cannot, so it is left out (and counted). Training keeps every episode: the ranker
    # weighs the known outcomes of each target (`models.ranker.nuisances`).
    unobserved = np.isnan(objective_rewards(outcomes, objective))
    train_mask, held_mask = split_masks(episodes, split)
    train_mask &= eligible
    held_mask &= eligible
    held_unobserved = held_mask & unobserved
    held_mask &= ~unobserved
    counts = {
        "episodes": len(episodes),
        "eligible_episodes": int(eligible.sum()),
        "train_episodes": int(train_mask.sum()),
        "held_out_episodes": int(held_mask.sum()),
        "train_clients": int(episodes.loc[train_mask, "client_id"].nunique()),
        "held_out_clients": int(episodes.loc[held_mask, "client_id"].nunique()),
        "held_out_unobserved_episodes": int(held_unobserved.sum()),
        **{
            f"train_unobserved_{target}": int(np.isnan(outcomes[train_mask, j]).sum())
            for j, target in enumerate(TARGETS)
        },
    }
    if counts["train_episodes"] == 0 or counts["held_out_episodes"] == 0:
        unseen = (
            f" ({counts['held_out_unobserved_episodes']} more await their outcome)"
            if counts["held_out_unobserved_episodes"]
            else ""
        )
        raise ValueError(
            f"the split leaves {counts['train_episodes']} training and "
            f"{counts['held_out_episodes']} held-out eligible episodes{unseen}; "
            "need some of each"
        )
    service_id = episodes["service_id"].astype(str).to_numpy(dtype=object)
    action = ActionSpace(catalog.ids).indices(service_id)
    propensity = (
        episodes["propensity"].to_numpy(dtype=np.float64)
        if "propensity" in episodes.columns
        else None
    )
    allowed = catalog.allowed_frame(frame)
    weights = objective_weights(objective)
    assert len(weights) == len(TARGETS)

    def part(mask: np.ndarray) -> pd.DataFrame:
        return frame.loc[mask].reset_index(drop=True)

    train = TrainingPart(
        frame=part(train_mask),
        service_id=service_id[train_mask],
        action=action[train_mask],
        outcomes=outcomes[train_mask],
        propensity=None if propensity is None else propensity[train_mask],
        allowed=allowed[train_mask],
    )
    held_out = EvaluationData(
        frame=part(held_mask),
        logged_action=action[held_mask],
        propensity=None if propensity is None else propensity[held_mask],
        reward=objective_rewards(outcomes[held_mask], objective),
        true_outcomes=None if truth is None else truth[held_mask],
        allowed=allowed[held_mask],
    )
    return PreparedEpisodes(train, held_out, counts, np.flatnonzero(held_mask))
