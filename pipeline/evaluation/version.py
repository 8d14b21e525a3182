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

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

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
from pipeline.evaluation.evaluate import Evaluation, evaluate_policies, fit_baselines
from pipeline.evaluation.report import write_json, write_report
from pipeline.evaluation.scoring import predict_for_episodes
from pipeline.threads import limited_threads

Progress = Callable[[str], None]


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
    return evaluate_policies(
        held_out,
        predictions.outcomes,
        baselines,
        encoder.transform(held_out.frame),
        predictions.rankable,
    )


def evaluate_version(
    version: str,
    data_dir: Path,
    json_path: Path,
    *,
    report_dir: Path | None = None,
    objective: str | None = None,
    allow_training_clients: bool = False,
    progress: Progress = _quiet,
) -> VersionEvaluation:
    """Evaluate registered version `version` on the held-out clients of the world in `data_dir`.

    Parameters
    ----------
    version : str
        A version of `polku-ranker`.
    data_dir : Path
        A world (episodes and truth).
    json_path : Path
        Where the summary goes (keys `policy_value`, `oracle_gain_captured`,
        `top3_oracle_coverage`, `ope`, `calibration`, `by_group`, ...).
    report_dir : Path, optional
        Also write `report.html` with plots there.
    objective : str, optional
        Rank by this objective instead of the one the version was trained for.
    allow_training_clients : bool
        Evaluate even when the held-out clients include some the model was trained on
        (else `TrainingClientsError`); every output then says so.
    progress : callable
        Receives one line per step.
    """
    from models import registry
    from pipeline.data.episodes import prepare_episodes
    from pipeline.data.world import load_world
    from pipeline.training.settings import settings_from_run_params

    version = str(version)
    settings = settings_from_run_params(registry.run_params(version))
    chosen_objective = objective or settings.objective
    progress(f"loading version {version} of {registry.MODEL_NAME}")
    model = registry.load_version(version).model
    progress(f"loading and validating the register in {data_dir}")
    world = load_world(Path(data_dir))
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
    payload = {
        **summary.to_json(),
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
        )
        write_json(Path(report_dir) / "evaluation.json", payload)
    return VersionEvaluation(version, evaluation, Path(json_path), report_path, overlap)
