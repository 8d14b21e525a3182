"""Judge a model on held-out clients: `evaluate_model` (training and promotion use it) and
`evaluate_version`, behind `polku evaluate`.

The held-out clients are found by the same split the version was trained with (its run's
parameters), so evaluating on the training world measures clients it never saw; on another
world, the same share of clients is held out the same way. Should the evaluated clients
include any the model was trained on (its bundle records them, as salted digests:
`models.training_clients`), the evaluation is refused unless `allow_training_clients` is
set, and then the text, the JSON (`training_overlap`) and the report all say so. The
summary goes to a JSON file (written atomically) and, when asked, an HTML report with plots.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Final

import numpy as np

from models.actions import action_ids, allowed_actions
from models.bundle import PolkuModel
from models.catalog import Catalog
from models.features import FeatureEncoder
from models.training_clients import (
    Overlap,
    check_training_overlap,
    overlap_json,
    overlap_note,
    training_overlap,
)
from pipeline.data.episodes import PreparedEpisodes
from pipeline.evaluation.evaluate import (
    Evaluation,
    EvaluationData,
    evaluate_policies,
    fit_baselines,
)
from pipeline.evaluation.other_objectives import judge_on_target, other_targets
from pipeline.evaluation.policies import ImitationPolicy
from pipeline.evaluation.report import write_json, write_report
from pipeline.evaluation.scoring import predict_for_episodes
from pipeline.threads import limited_threads

Progress = Callable[[str], None]
# Estimated propensities below this are raised to it (caps each importance weight at 50);
# the share of held-out episodes affected is reported per service. Chosen on seven runs on
# 10,000-client worlds: at 0.01 a few tiny estimated propensities pulled the doubly robust gain
# down (0.05 on average below the estimate with the logged propensities; its interval held the
# true gain in 5 of 7), at 0.05 it was pushed up (about +0.03 above the truth; 6 of 7); at 0.02
# it held the true gain in 6 of 7, about 0.03 low on average. Check on fresh seeds.
PROPENSITY_FLOOR: Final = 0.02


def _quiet(_: str) -> None:
    return None


@dataclass(frozen=True)
class VersionEvaluation:
    """A version's evaluation and where it was written."""

    version: str
    evaluation: Evaluation
    json_path: Path
    report_path: Path | None
    overlap: Overlap | None = None
    # Per target the version does not rank by: its choices judged on that target.
    other_objectives: dict[str, dict[str, Any]] = field(default_factory=dict)


def evaluate_model(
    model: PolkuModel,
    prepared: PreparedEpisodes,
    catalog: Catalog,
    objective: str,
    seed: int,
) -> Evaluation:
    """Evaluate a model on the held-out part of prepared episodes, against the baselines.

    The baselines (most popular service, imitation of the caseworkers) are fitted on the
    training part of the same preparation, so two models evaluated on the same data are
    compared with the same baselines.
    """
    with limited_threads():
        return _evaluate_model(model, prepared, catalog, objective, seed)


def _evaluate_model(
    model: PolkuModel,
    prepared: PreparedEpisodes,
    catalog: Catalog,
    objective: str,
    seed: int,
) -> Evaluation:
    train, held_out = prepared.train, prepared.held_out
    encoder = FeatureEncoder().fit(train.frame)
    baselines = fit_baselines(encoder.transform(train.frame), train.action, len(catalog), seed)
    predictions = predict_for_episodes(model, held_out.frame, catalog.ids, objective)
    held_features = encoder.transform(held_out.frame)
    overlap = None
    if held_out.propensity is None:
        calibration = (encoder.transform(train.frame), train.allowed, train.action)
        held_out, overlap = estimated_propensity(
            held_out, baselines.imitation, held_features, calibrate_on=calibration
        )
        overlap["services"] = _with_ids(overlap["services"], catalog.ids)
    evaluation = evaluate_policies(
        held_out,
        predictions.outcomes,
        baselines,
        held_features,
        predictions.rankable,
        shown=predictions,
    )
    supported = dict(zip(model.service_ids, model.ranker.supported_.tolist(), strict=True))
    thin = [service_id for service_id in catalog.ids if not supported.get(service_id, False)]
    summary = replace(
        evaluation.summary,
        propensity={
            **(evaluation.summary.propensity or {}),
            **(overlap or {}),
            "too_thin_to_rank": thin,
        },
    )
    return replace(evaluation, summary=summary)


def _allowed_probabilities(
    model: ImitationPolicy,
    features: np.ndarray,
    allowed: np.ndarray,
    logged_action: np.ndarray,
    factors: np.ndarray | None = None,
) -> np.ndarray:
    """The model's choice probabilities, times `factors` per action, renormalised over the
    allowed actions (and the logged one)."""
    proba = model.choice_probabilities(features)
    if factors is not None:
        proba = proba * factors
    mask = allowed_actions(allowed)
    mask[np.arange(len(logged_action)), logged_action] = True
    proba = proba * mask
    total = proba.sum(axis=1, keepdims=True)
    out: np.ndarray = np.divide(proba, total, out=np.zeros_like(proba), where=total > 0)
    return out


def calibration_factors(
    model: ImitationPolicy,
    features: np.ndarray,
    allowed: np.ndarray,
    logged_action: np.ndarray,
    rounds: int = 5,
) -> np.ndarray:
    """Per action, the factor that makes the renormalised probabilities match how often the
    action was logged in these (training) episodes (raking, a few rounds; clipped to
    [0.2, 5]). Renormalising over the allowed actions shifts mass the model spread over
    actions a client could not take; this puts each action's total back where it was seen."""
    n_actions = allowed.shape[1] + 1
    observed = np.bincount(logged_action, minlength=n_actions) / len(logged_action)
    factors = np.ones(n_actions)
    for _ in range(rounds):
        mean = _allowed_probabilities(model, features, allowed, logged_action, factors).mean(0)
        ratio = np.divide(observed, mean, out=np.ones_like(mean), where=mean > 0)
        factors = np.clip(factors * ratio, 0.2, 5.0)
    return factors


def estimated_propensity(
    data: EvaluationData,
    model: ImitationPolicy,
    features: np.ndarray,
    *,
    calibrate_on: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
) -> tuple[EvaluationData, dict[str, Any]]:
    """The held-out episodes with estimated propensities, and the overlap they show.

    `model` is a multinomial model of the caseworkers' choice fitted on the training
    clients only (the imitation baseline), so every held-out propensity comes from a model
    that never saw that client. Its probabilities are renormalised over the actions the
    catalog allowed the client (and the logged one, should it lie outside), calibrated per
    action on the training episodes `calibrate_on` (features, allowed, logged action) when
    given (`calibration_factors`), and floored at `PROPENSITY_FLOOR`. The overlap per
    action: episodes logged, effective sample size of their inverse-propensity weights, the
    share of them floored, and the calibration in the
    large on these held-out clients (mean estimated probability of the action against the
    share of episodes that logged it).
    """
    factors = None if calibrate_on is None else calibration_factors(model, *calibrate_on)
    proba = _allowed_probabilities(model, features, data.allowed, data.logged_action, factors)
    rows = np.arange(len(data.logged_action))
    raw = proba[rows, data.logged_action]
    floored = raw < PROPENSITY_FLOOR
    propensity = np.maximum(raw, PROPENSITY_FLOOR)
    services = []
    for action in range(data.n_services + 1):
        logged = data.logged_action == action
        inverse = 1.0 / propensity[logged]
        services.append(
            {
                "n_logged": int(logged.sum()),
                "ess": float(inverse.sum() ** 2 / (inverse**2).sum()) if logged.any() else 0.0,
                "share_floored": float(floored[logged].mean()) if logged.any() else 0.0,
                "mean_estimated": float(proba[:, action].mean()),
                "observed_share": float(logged.mean()),
            }
        )
    overlap: dict[str, Any] = {
        "source": "estimated",
        "model": "multinomial logistic regression of the logged choice, fitted on the "
        "training clients, renormalised over the allowed actions"
        + (", calibrated per action on the training clients" if factors is not None else ""),
        "calibrated": factors is not None,
        "floor": PROPENSITY_FLOOR,
        "share_floored": float(floored.mean()),
        "calibration_max_gap": max(
            abs(entry["mean_estimated"] - entry["observed_share"]) for entry in services
        ),
        "services": services,
    }
    return replace(data, propensity=propensity, propensity_source="estimated"), overlap


def _with_ids(services: list[dict[str, Any]], catalog_ids: tuple[str, ...]) -> dict[str, Any]:
    return dict(zip(action_ids(catalog_ids), services, strict=True))


def evaluate_version(
    version: str,
    data_dir: Path,
    json_path: Path,
    *,
    report_dir: Path | None = None,
    objective: str | None = None,
    allow_training_clients: bool = False,
    progress: Progress = _quiet,
    holdout_from: dt.date | None = None,
    mapping_path: Path | None = None,
) -> VersionEvaluation:
    """Evaluate registered version `version` on the held-out clients of the world in `data_dir`.

    Parameters
    ----------
    version : str
        A version of `polku-ranker`.
    data_dir : Path
        A register extract or a world (the truth is optional: without it the evaluation
        is off-policy only).
    json_path : Path
        Where the summary goes (keys `policy_value`, `oracle_gain_captured`,
        `top3_oracle_coverage`, `ope`, `calibration`, `by_group`, ..., and
        `other_objectives`: the same choices judged on each target not ranked by).
    report_dir : Path, optional
        Also write `report.html` with plots there.
    objective : str, optional
        Rank by this objective instead of the one the version was trained for.
    allow_training_clients : bool
        Evaluate even when the held-out clients include some the model was trained on
        (else `TrainingClientsError`); every output then says so.
    progress : callable
        Receives one line per step.
    holdout_from : date, optional
        Judge only held-out clients' episodes assessed from this date on (train earlier,
        judge later), instead of the time cut the version was trained with.
    mapping_path : Path, optional
        The extract's own columns and codes (`pipeline.data.mapping`), applied as it is read.
    """
    from models import registry
    from pipeline.data.episodes import prepare_episodes
    from pipeline.data.mapping import load_mapping
    from pipeline.data.world import load_world
    from pipeline.training.settings import settings_from_run_params

    version = str(version)
    settings = settings_from_run_params(registry.run_params(version))
    if holdout_from is not None:
        settings = replace(settings, split=replace(settings.split, holdout_from=holdout_from))
    chosen_objective = objective or settings.objective
    progress(f"loading version {version} of {registry.MODEL_NAME}")
    model = registry.load_version(version).model
    progress(f"loading and validating the register in {data_dir}")
    mapping = load_mapping(mapping_path) if mapping_path is not None else None
    world = load_world(Path(data_dir), mapping=mapping)
    catalog = model.catalog
    prepared = prepare_episodes(
        world.episodes,
        world.true_outcomes(chosen_objective, catalog),
        catalog,
        chosen_objective,
        settings.split,
    )
    held = prepared.held_out.frame
    overlap = training_overlap(model.metadata, held["client_id"], held["birth_date"])
    check_training_overlap(overlap, allow_training_clients)
    if overlap.any:
        progress(overlap_note(overlap))
    elif not overlap.checked:
        progress(f"note: {overlap.sentence()}")
    progress(
        f"evaluating on {prepared.counts['held_out_episodes']} held-out episodes "
        f"({prepared.counts['held_out_clients']} clients)"
    )
    evaluation = evaluate_model(model, prepared, catalog, chosen_objective, settings.seed)
    summary = replace(
        evaluation.summary,
        model_version=version,
        objective=chosen_objective,
        data_fingerprint=world.fingerprint,
    )
    evaluation = replace(evaluation, summary=summary)
    other = {}
    for target in other_targets(chosen_objective):
        progress(f"judging the same choices on {target}")
        again = prepare_episodes(
            world.episodes, world.true_outcomes(target, catalog), catalog, target, settings.split
        )
        other[target] = judge_on_target(evaluation, prepared, target, again, model, catalog)
    payload = {
        **summary.to_json(),
        "other_objectives": other,
        "training_overlap": overlap_json(overlap, allow_training_clients),
    }
    write_json(Path(json_path), payload)
    report_path = None
    if report_dir is not None:
        title = f"Polku evaluation of {registry.MODEL_NAME} version {version}"
        report_path = write_report(
            evaluation,
            prepared.held_out.allowed,
            prepared.held_out.true_outcomes,
            Path(report_dir),
            title=title + (f" ({overlap_note(overlap)})" if overlap.any else ""),
            other_objectives=other,
        )
        write_json(Path(report_dir) / "evaluation.json", payload)
    return VersionEvaluation(version, evaluation, Path(json_path), report_path, overlap, other)
