"""`polku promote` and `polku models`: compare a challenger with the champion, list versions.

The challenger and the champion are evaluated on the same held-out episodes (the data and
split settings the challenger was trained with, unless told otherwise), with the same
baselines; each policy's doubly robust term per episode goes to
`pipeline.evaluation.promotion.compare_paired`, which decides on the paired, client-clustered
interval of their difference (no truth needed; the true values ride along when the world
has them). Promoted: the `champion` alias moves to the challenger. Either way the decision
is logged as a JSON artifact of the challenger's run (`promotion/against_vN.json`) and the
challenger's version gets a `promotion_against_vN` tag (`promoted` or `refused`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.evaluation.evaluate import Evaluation, EvaluationData
from pipeline.evaluation.promotion import (
    DEFAULT_MARGIN,
    DEFAULT_MIN_GROUP_EPISODES,
    PairedEpisodes,
    PromotionDecision,
    compare_paired,
)

Progress = Callable[[str], None]


def _quiet(_: str) -> None:
    return None


@dataclass(frozen=True)
class PromotionResult:
    """What `promote_version` did.

    `decision` and `data_dir` are set when the challenger was compared with a champion
    (on the world in `data_dir`).
    """

    version: str
    champion_before: str | None
    promoted: bool
    reasons: tuple[str, ...]
    decision: PromotionDecision | None = None
    data_dir: Path | None = None
    training_overlap: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        """The promotion record logged to the challenger's run: the decision's figures when
        there was a comparison, then the champion before and the data compared on."""
        head = (
            self.decision.to_json()
            if self.decision is not None
            else {"promote": self.promoted, "reasons": list(self.reasons)}
        )
        data_dir = None if self.data_dir is None else str(self.data_dir)
        record = {**head, "champion_before": self.champion_before, "data_dir": data_dir}
        if self.training_overlap is not None:
            record["training_overlap"] = self.training_overlap
        return record


def promote_first_version(version: str) -> bool:
    """Make `version` champion if no version is; True if it did."""
    from models import registry

    registry.configure_tracking()
    if registry.champion_version() is not None:
        return False
    registry.set_champion(version)
    return True


def dr_terms(data: EvaluationData, choice: np.ndarray, predicted: np.ndarray) -> np.ndarray:
    """A policy's doubly robust term per held-out episode (their mean is its DR value).

    The terms of `pipeline.effects.policy.policy_terms`: the outcome model's value of the
    policy's `choice` plus the importance-weighted residual of the logged choice.
    """
    from pipeline.effects.policy import policy_terms

    if data.propensity is None:
        raise ValueError("the episodes carry no propensities (logged or estimated)")
    values, _, _ = policy_terms(data.reward, data.logged_action, data.propensity, choice, predicted)
    return np.asarray(values["dr"].a, dtype=np.float64)


def paired_episodes(
    data: EvaluationData, champion: Evaluation, challenger: Evaluation, has_truth: bool
) -> PairedEpisodes:
    """Both versions' DR terms on the same held-out episodes, with clients and groups.

    Both policies are valued with one outcome model, the mean of the two versions'
    predictions: DR is unbiased with either (given the propensities), and with a shared one
    the terms of the episodes where both policies agree with the caseworker cancel exactly,
    so the paired interval measures the policies' difference, not their models'.
    """
    rows = np.arange(len(data.frame))
    truth = data.true_outcomes if has_truth else None
    shared = (champion.predicted + challenger.predicted) / 2.0
    return PairedEpisodes(
        champion_dr=dr_terms(data, champion.choices["polku"], shared),
        challenger_dr=dr_terms(data, challenger.choices["polku"], shared),
        clients=data.frame["client_id"].astype(str).to_numpy(),
        groups=champion.group_labels,
        champion_true=None if truth is None else truth[rows, champion.choices["polku"]],
        challenger_true=None if truth is None else truth[rows, challenger.choices["polku"]],
    )


def promote_version(
    version: str,
    *,
    data_dir: Path | None = None,
    margin: float = DEFAULT_MARGIN,
    min_group_episodes: int = DEFAULT_MIN_GROUP_EPISODES,
    progress: Progress = _quiet,
    mapping_path: Path | None = None,
) -> PromotionResult:
    """Promote `version` to champion unless it is credibly worse than the current champion.

    Parameters
    ----------
    version : str
        The challenger.
    data_dir : Path, optional
        The world to evaluate both on; default: the one the challenger was trained on.
    margin : float
        How far below zero the lower 95 % bound of challenger minus champion (doubly robust,
        paired, clustered by client) may lie, overall and in any group big enough to block.
    min_group_episodes : int
        Groups with fewer held-out episodes cannot block.
    progress : callable
        Receives one line per step.
    mapping_path : Path, optional
        The extract's own columns and codes (`pipeline.data.mapping`); default: the mapping
        the challenger was trained through, when it is compared on its own training data.
    """
    from models import registry
    from models.training_clients import training_overlap
    from pipeline.data.episodes import prepare_episodes
    from pipeline.data.mapping import load_mapping
    from pipeline.data.world import load_world
    from pipeline.evaluation.version import evaluate_model
    from pipeline.training.settings import settings_from_run_params

    version = str(version)
    params = registry.run_params(version)  # raises if the version does not exist
    current = registry.champion_version()
    if current is None:
        registry.set_champion(version)
        reason = f"no version was champion; version {version} is now"
        progress(reason)
        return PromotionResult(version, None, True, (reason,))
    if current == version:
        reason = f"version {version} is already the champion; nothing changed"
        progress(reason)
        return PromotionResult(version, current, False, (reason,))

    settings = settings_from_run_params(params)
    if data_dir is None and not params.get("data_dir"):
        raise FileNotFoundError(f"version {version}'s run names no data directory: pass --data")
    world_dir = Path(data_dir) if data_dir is not None else Path(params["data_dir"])
    if not world_dir.is_dir():
        raise FileNotFoundError(f"no data to compare on: {world_dir} is not a directory")
    progress(f"loading {world_dir} and the held-out clients of the challenger's split")
    if mapping_path is None and data_dir is None and params.get("data_mapping"):
        mapping_path = Path(params["data_mapping"])
    mapping = load_mapping(mapping_path) if mapping_path is not None else None
    world = load_world(world_dir, mapping=mapping)
    challenger_model = registry.load_version(version).model
    champion_model = registry.load_version(current).model
    catalog = challenger_model.catalog
    prepared = prepare_episodes(
        world.episodes,
        world.true_outcomes(settings.objective, catalog),
        catalog,
        settings.objective,
        settings.split,
    )
    # The held-out clients are the challenger's; the champion may have trained on some (a
    # model of another split or data), which would flatter it: said, and recorded.
    held = prepared.held_out.frame
    overlaps = {
        role: training_overlap(model.metadata, held["client_id"], held["birth_date"])
        for role, model in (("champion", champion_model), ("challenger", challenger_model))
    }
    for role, overlap in overlaps.items():
        if overlap.any:
            progress(f"warning: for the {role}, {overlap.sentence()}; its figures are flattered")
    progress(f"evaluating champion v{current} and challenger v{version} on the same episodes")
    champion_eval = evaluate_model(
        champion_model, prepared, catalog, settings.objective, settings.seed
    )
    challenger_eval = evaluate_model(
        challenger_model, prepared, catalog, settings.objective, settings.seed
    )
    # The judged episodes carry the propensities both evaluations used (estimated the same
    # way from the same training part when the register logs none).
    judged = challenger_eval.data if challenger_eval.data is not None else prepared.held_out
    paired = paired_episodes(
        judged, champion_eval, challenger_eval, has_truth=world.truth is not None
    )
    decision = compare_paired(paired, margin, min_group_episodes)
    result = PromotionResult(
        version,
        current,
        decision.promote,
        decision.reasons,
        decision,
        world_dir,
        {role: overlap.to_json() for role, overlap in overlaps.items()},
    )
    if decision.promote:
        registry.set_champion(version)
    # Refused or not, the decision and its figures stay with the challenger in MLflow.
    registry.log_to_version_run(version, result.to_json(), f"promotion/against_v{current}.json")
    registry.set_version_tag(
        version, f"promotion_against_v{current}", "promoted" if decision.promote else "refused"
    )
    for reason in decision.reasons:
        progress(reason)
    return result
