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
    """What `promote_version` did."""

    version: str
    champion_before: str | None
    promoted: bool
    reasons: tuple[str, ...]
    decision: PromotionDecision | None = None


@dataclass(frozen=True)
class VersionRow:
    """One line of `polku models`."""

    version: str
    aliases: tuple[str, ...]
    created: str
    run_id: str
    metrics: dict[str, float]
    data_fingerprint: str


def _client() -> Any:
    from mlflow import MlflowClient

    from models import registry

    registry.configure_tracking()
    uri = registry.tracking_uri()
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def champion_version() -> str | None:
    """The version that holds the `champion` alias, or None."""
    from models import registry

    _client()  # configures tracking
    return registry.champion_version()


def _set_champion(version: str) -> None:
    from models import registry

    _client()  # configures tracking
    registry.set_champion(version)


def promote_first_version(version: str) -> bool:
    """Make `version` champion if no version is; True if it did."""
    if champion_version() is not None:
        return False
    _set_champion(version)
    return True


def run_params(version: str) -> dict[str, str]:
    """The parameters of the run that produced a registered version."""
    from models import registry

    client = _client()
    model_version = client.get_model_version(registry.MODEL_NAME, str(version))
    if not model_version.run_id:
        return {}
    return dict(client.get_run(model_version.run_id).data.params)


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
    import mlflow

    from models import registry
    from pipeline.data.episodes import prepare_episodes
    from pipeline.data.world import load_world
    from pipeline.training.train import evaluate_model, settings_from_run_params

    version = str(version)
    params = run_params(version)  # raises if the version does not exist
    current = champion_version()
    if current is None:
        _set_champion(version)
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
    if decision.promote:
        _set_champion(version)
        model_version = _client().get_model_version(registry.MODEL_NAME, version)
        if model_version.run_id:
            with mlflow.start_run(run_id=model_version.run_id):
                mlflow.log_dict(
                    {**decision.to_dict(), "champion_before": current, "data_dir": str(world_dir)},
                    f"promotion/against_v{current}.json",
                )
    for reason in decision.reasons:
        progress(reason)
    return PromotionResult(version, current, decision.promote, decision.reasons, decision)


KEY_METRICS = (
    "policy_value_polku",
    "policy_value_caseworkers",
    "policy_value_oracle",
    "oracle_gain_captured",
    "top3_oracle_coverage",
)


def list_versions() -> list[VersionRow]:
    """Every registered version of the ranker, newest first, with aliases and key metrics."""
    import datetime as dt

    from mlflow.exceptions import MlflowException

    from models import registry

    client = _client()
    versions = client.search_model_versions(f"name='{registry.MODEL_NAME}'")
    if not versions:
        return []
    # Searches do not fill in aliases; the registered model holds them.
    aliases_of: dict[str, list[str]] = {}
    try:
        registered = client.get_registered_model(registry.MODEL_NAME)
        for alias, version in (registered.aliases or {}).items():
            aliases_of.setdefault(str(version), []).append(alias)
    except MlflowException:
        pass
    rows = []
    for mv in sorted(versions, key=lambda v: int(v.version), reverse=True):
        metrics: dict[str, float] = {}
        fingerprint = ""
        if mv.run_id:
            run = client.get_run(mv.run_id)
            metrics = {k: v for k, v in run.data.metrics.items() if k in KEY_METRICS}
            fingerprint = run.data.params.get("data_fingerprint", "")
        created = dt.datetime.fromtimestamp(mv.creation_timestamp / 1000, dt.UTC)
        rows.append(
            VersionRow(
                version=str(mv.version),
                aliases=tuple(sorted(aliases_of.get(str(mv.version), ()))),
                created=created.isoformat(timespec="seconds"),
                run_id=mv.run_id or "",
                metrics=metrics,
                data_fingerprint=fingerprint,
            )
        )
    return rows
