"""`polku evaluate`: judge a registered version on the held-out clients of a world.

The held-out clients are found by the same split the version was trained with (its run's
parameters), so evaluating on the training world measures clients it never saw; on another
world, the same share of clients is held out the same way. The summary goes to a JSON file
(written atomically) and, when asked, an HTML report with plots.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from pipeline.evaluation.evaluate import Evaluation
from pipeline.evaluation.report import write_json, write_report

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


def evaluate_version(
    version: str,
    data_dir: Path,
    json_path: Path,
    *,
    report_dir: Path | None = None,
    objective: str | None = None,
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
    progress : callable
        Receives one line per step.
    """
    from models import registry
    from pipeline.data.episodes import prepare_episodes
    from pipeline.data.world import load_world
    from pipeline.evaluation.promote import run_params
    from pipeline.training.train import evaluate_model, settings_from_run_params

    version = str(version)
    settings = settings_from_run_params(run_params(version))
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
    progress(
        f"evaluating on {prepared.counts['held_out_episodes']} held-out episodes "
        f"({prepared.counts['held_out_clients']} clients)"
    )
    evaluation = evaluate_model(model, prepared, catalog, chosen_objective, settings.seed)
    evaluation.summary["model_version"] = version
    evaluation.summary["objective"] = chosen_objective
    evaluation.summary["data_fingerprint"] = world.fingerprint
    write_json(Path(json_path), evaluation.summary)
    report_path = None
    if report_dir is not None:
        report_path = write_report(
            evaluation,
            prepared.held_out.allowed,
            prepared.held_out.true_outcomes,
            Path(report_dir),
            title=f"Polku evaluation of {registry.MODEL_NAME} version {version}",
        )
    return VersionEvaluation(version, evaluation, Path(json_path), report_path)
