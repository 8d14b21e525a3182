"""`polku promote` and `polku models`: compare a challenger with the champion, list versions.

The challenger and the champion are evaluated on the same held-out episodes (the data and
split settings the challenger was trained with, unless told otherwise), with the same
baselines, and `pipeline.evaluation.promotion.compare_evaluations` decides. Refused: nothing
changes. Promoted: the `champion` alias moves to the challenger, and the decision is logged
as a JSON artifact of the challenger's run.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline.evaluation.promotion import (
    DEFAULT_GROUP_TOLERANCE,
    PromotionDecision,
    compare_evaluations,
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

    def to_json(self) -> dict[str, Any]:
        """The promotion record logged to the challenger's run: the decision's figures when
        there was a comparison, then the champion before and the data compared on."""
        head = (
            self.decision.to_json()
            if self.decision is not None
            else {"promote": self.promoted, "reasons": list(self.reasons)}
        )
        data_dir = None if self.data_dir is None else str(self.data_dir)
        return {**head, "champion_before": self.champion_before, "data_dir": data_dir}


def promote_first_version(version: str) -> bool:
    """Make `version` champion if no version is; True if it did."""
    from models import registry

    registry.configure_tracking()
    if registry.champion_version() is not None:
        return False
    registry.set_champion(version)
    return True


def promote_version(
    version: str,
    *,
    data_dir: Path | None = None,
    group_tolerance: float = DEFAULT_GROUP_TOLERANCE,
    progress: Progress = _quiet,
) -> PromotionResult:
    """Promote `version` to champion if it is no worse than the current champion.

    Parameters
    ----------
    version : str
        The challenger.
    data_dir : Path, optional
        The world to evaluate both on; default: the one the challenger was trained on.
    group_tolerance : float
        Largest allowed drop of Polku's policy value in any group.
    progress : callable
        Receives one line per step.
    """
    from models import registry
    from pipeline.data.episodes import prepare_episodes
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
    world = load_world(world_dir)
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
    progress(f"evaluating champion v{current} and challenger v{version} on the same episodes")
    champion_eval = evaluate_model(
        champion_model, prepared, catalog, settings.objective, settings.seed
    )
    challenger_eval = evaluate_model(
        challenger_model, prepared, catalog, settings.objective, settings.seed
    )
    decision = compare_evaluations(champion_eval.summary, challenger_eval.summary, group_tolerance)
    result = PromotionResult(
        version, current, decision.promote, decision.reasons, decision, world_dir
    )
    if decision.promote:
        registry.set_champion(version)
        registry.log_to_version_run(version, result.to_json(), f"promotion/against_v{current}.json")
    for reason in decision.reasons:
        progress(reason)
    return result
