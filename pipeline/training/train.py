"""Train a ranker on a world's episodes, evaluate it on held-out clients, track it in MLflow.

The steps, each reported through `progress`:

1. load and validate the register extract, and the truth when it has one (a generated world;
   a real register has none) (`pipeline.data.register`);
2. the gate filters the episodes, which are split by client (and time) (`prepare_episodes`),
   and `pipeline.data.support.check_support` says whether they can support a model;
3. fit the `ServiceRanker` and bundle it as a `PolkuModel` (rules versions, catalog snapshot);
4. evaluate it on the held-out clients against the baselines (`pipeline.evaluation.evaluate`):
   on the truth when there is one, else off-policy only (doubly robust, SNIPS, IPS with
   propensities estimated when the register logs none);
5. log parameters, the data's fingerprint, metrics, the report with plots and library
   versions to an MLflow run, log the model through `models.registry` and register a new
   version of `polku-ranker`; optionally make it champion when there is none.
"""

from __future__ import annotations

import datetime as dt
import math
import re
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import pandas as pd

from models.bundle import PolkuModel
from models.catalog import Catalog, load_catalog
from models.objectives import TARGETS, Objective
from models.profile_validation import parse_profile_frame
from models.ranker import ServiceRanker
from models.training_clients import METADATA_KEY, TrainingClients
from models.training_period import DATE_COLUMN as TRAINING_DATE
from models.training_period import METADATA_KEY as PERIOD_KEY
from models.training_period import TrainingPeriod
from pipeline.data.episodes import PreparedEpisodes, prepare_episodes
from pipeline.data.mapping import ExtractMapping
from pipeline.data.support import InsufficientDataError, check_support
from pipeline.data.world import World, load_world
from pipeline.evaluation.evaluate import Evaluation
from pipeline.evaluation.report import write_report
from pipeline.evaluation.results import EvaluationSummary
from pipeline.evaluation.version import evaluate_model
from pipeline.threads import limited_threads
from pipeline.training.settings import TrainSettings

Progress = Callable[[str], None]


def _quiet(_: str) -> None:
    return None


# The input example stored beside every model version: invented profiles, never rows of the
# register (those would put a real person's birth date, mother tongue, gender and health
# needs into MLflow's artifacts).
EXAMPLE_PROFILES: Final = (
    {
        "client_id": "example-1",
        "birth_date": "2000-05-17",
        "home_municipality": "091",
        "mother_tongue": "fi",
        "immigrant": False,
        "registered_jobseeker": True,
        "labour_market_status": "unemployed",
        "unemployment_benefit": "labour_market_subsidy",
        "assessment_date": "2022-09-01",
        "education_level": "upper_secondary",
        "unemployment_months": 7,
        "work_experience_years": 2.0,
        "language_level": "native",
        "work_ability": "full",
        "entrepreneurship_interest": "none",
        "gender": "female",
    },
    {
        "client_id": "example-2",
        "birth_date": "1979-11-02",
        "home_municipality": "091",
        "mother_tongue": "ar",
        "immigrant": True,
        "registered_jobseeker": True,
        "labour_market_status": "unemployed",
        "unemployment_benefit": "basic_daily_allowance",
        "experiment_client_since": "2021-03-01",
        "assessment_date": "2023-02-14",
        "education_level": "bachelor",
        "unemployment_months": 15,
        "work_experience_years": 9.5,
        "language_level": "A2",
        "work_ability": "partial",
        "health_limitations": True,
        "debt_problems": True,
        "entrepreneurship_interest": "some",
        "previous_services": 1,
        "last_service_date": "2022-05-09",
        "gender": "male",
    },
    {
        "client_id": "example-3",
        "birth_date": "1965-01-30",
        "home_municipality": "049",
        "mother_tongue": "sv",
        "immigrant": False,
        "registered_jobseeker": True,
        "labour_market_status": "laid_off",
        "unemployment_benefit": "earnings_related_allowance",
        "assessment_date": "2021-06-07",
        "education_level": "vocational",
        "unemployment_months": 2,
        "work_experience_years": 30.0,
        "language_level": "native",
        "work_ability": "full",
        "outdated_skills": True,
        "entrepreneurship_interest": "none",
    },
)


def example_profiles(columns: pd.Index | list[str]) -> pd.DataFrame:
    """`EXAMPLE_PROFILES` as a typed profile frame with the given columns (in that order)."""
    parsed = parse_profile_frame(pd.DataFrame(list(EXAMPLE_PROFILES)))
    if parsed.errors:
        raise ValueError(f"invalid example profile: {parsed.errors[0]}")
    return parsed.frame[list(columns)]


@dataclass
class TrainedModel:
    """A fitted model with its evaluation, before or after logging."""

    model: PolkuModel
    evaluation: Evaluation
    prepared: PreparedEpisodes
    timings: dict[str, float]


@dataclass(frozen=True)
class TrainOutcome:
    """What a training run produced in MLflow."""

    run_id: str
    version: str
    metrics: dict[str, float]
    promoted: bool
    report_dir: Path | None = None


def fit_model(
    world: World,
    settings: TrainSettings,
    progress: Progress = _quiet,
    *,
    catalog: Catalog | None = None,
) -> TrainedModel:
    """Gate, split, fit and evaluate on a loaded world (no MLflow).

    Parameters
    ----------
    world : World
        The loaded, validated episodes (and truth, when the world has one).

    Raises
    ------
    InsufficientDataError
        The episodes cannot support a model (`pipeline.data.support.check_support`).
    settings : TrainSettings
    progress : callable
        Receives one line per step.
    catalog : Catalog, optional
        Default: the catalog the world was read with (`World.catalog`), else the one in
        `models/data/catalog`.
    """
    catalog = catalog or world.catalog or load_catalog()
    timings: dict[str, float] = {}
    started = time.perf_counter()
    prepared = prepare_episodes(
        world.episodes,
        world.true_outcomes(settings.objective, catalog),
        catalog,
        settings.objective,
        settings.split,
    )
    counts = prepared.counts
    timings["prepare_seconds"] = time.perf_counter() - started
    progress(
        f"gate and split: {counts['eligible_episodes']} of {counts['episodes']} episodes "
        f"eligible; {counts['train_episodes']} for training "
        f"({counts['train_clients']} clients), {counts['held_out_episodes']} held out "
        f"({counts['held_out_clients']} clients)"
    )
    unobserved = [
        f"{counts[f'train_unobserved_{target}']} of {target}"
        for target in TARGETS
        if counts[f"train_unobserved_{target}"]
    ]
    if unobserved or counts["held_out_unobserved_episodes"]:
        progress(
            "outcomes not yet observed: in training "
            + (", ".join(unobserved) or "none")
            + " (each target is learnt from its known outcomes); "
            f"{counts['held_out_unobserved_episodes']} held-out episodes await the "
            "objective's outcome and are left out of the evaluation"
        )
    check_support(prepared.train.service_id, counts["held_out_episodes"])
    if prepared.train.propensity is None:
        progress("the register logs no propensity: the ranker and the evaluation estimate it")

    started = time.perf_counter()
    train = prepared.train
    ranker = ServiceRanker(
        services=catalog.ids,
        n_bootstrap=settings.n_bootstrap,
        stack=settings.stack,
        random_state=settings.seed,
    )
    with limited_threads():
        ranker.fit(
            train.frame,
            train.service_id,
            train.outcomes,
            propensity=train.propensity,
            allowed=train.allowed,
            groups=train.frame["client_id"].to_numpy(),
        )
    model = PolkuModel.build(
        ranker,
        catalog,
        metadata={
            "data_fingerprint": world.fingerprint,
            "objective": Objective.parse(settings.objective).name,
            # Whom it learned from (salted digests, no ids): evaluation refuses them.
            METADATA_KEY: TrainingClients.record(
                train.frame["client_id"], train.frame["birth_date"]
            ).to_dict(),
        },
    )
    # When its training episodes were assessed (dates only): evaluate-feedback judges it
    # only on episodes assessed after them.
    period = TrainingPeriod.of(train.frame[TRAINING_DATE])
    if period is not None:
        model.metadata[PERIOD_KEY] = period.to_dict()
    timings["fit_seconds"] = time.perf_counter() - started
    progress(
        f"fitted the ranker on {len(train.frame)} episodes in {timings['fit_seconds']:.1f} s "
        f"({int(ranker.supported_.sum())} of {len(catalog)} services supported)"
    )

    started = time.perf_counter()
    evaluation = evaluate_model(model, prepared, catalog, settings.objective, settings.seed)
    timings["evaluate_seconds"] = time.perf_counter() - started
    progress(
        f"evaluated on held-out clients in {timings['evaluate_seconds']:.1f} s: "
        + describe_evaluation(evaluation)
    )
    return TrainedModel(model, evaluation, prepared, timings)


def describe_evaluation(evaluation: Evaluation) -> str:
    """One line: the policy values, true ones beside the estimates when there is a truth."""
    summary = evaluation.summary
    values = summary.policy_value
    difference = summary.ope_difference
    gain = (
        ""
        if difference is None
        else f"; Polku minus caseworkers (doubly robust) {difference.estimate:+.4f} "
        f"[{difference.ci_low:+.4f}, {difference.ci_high:+.4f}]"
        + ("" if difference.true is None else f", true {difference.true:+.4f}")
    )
    if summary.evaluation_kind == "truth":
        return (
            f"policy value Polku {values.polku:.4f}, caseworkers {values.caseworkers:.4f}, "
            f"oracle {values.oracle:.4f}; oracle gain captured "
            f"{_percent(summary.oracle_gain_captured)}" + gain
        )
    return (
        f"off-policy evaluation (no truth): estimated policy value Polku {values.polku:.4f}, "
        f"caseworkers {values.caseworkers:.4f}" + gain
    )


# The metrics a registered version carries as tags (the registry's pages show tags).
HEADLINE_METRICS: Final = (
    "policy_value_polku",
    "policy_value_caseworkers",
    "oracle_gain_captured",
    "ope_dr_polku_minus_caseworkers",
    "ope_dr_polku_minus_caseworkers_ci_low",
    "ope_dr_polku_minus_caseworkers_ci_high",
)


def _headline(metrics: dict[str, float]) -> dict[str, float]:
    return {name: metrics[name] for name in HEADLINE_METRICS if name in metrics}


def run_description(
    trained: TrainedModel, world: World, settings: TrainSettings, data_dir: Path
) -> str:
    """What a training run (and the version it registers) is, in two sentences."""
    counts = trained.prepared.counts
    return (
        f"Polku ranker for {Objective.parse(settings.objective).name}, trained on "
        f"{counts['train_episodes']:,} episodes of {counts['train_clients']:,} clients in "
        f"{Path(data_dir).resolve().name} (fingerprint {world.fingerprint[:12]}); "
        f"propensities {trained.model.ranker.propensity_source_}. Held-out evaluation "
        f"({trained.evaluation.summary.evaluation_kind}): "
        + describe_evaluation(trained.evaluation)
        + "."
    )


_METRIC_UNSAFE: Final = re.compile(r"[^A-Za-z0-9_.\-/ ]")


def group_metrics(summary: EvaluationSummary) -> dict[str, float]:
    """Each group's size, policy values and share of the oracle's gain, as MLflow metrics
    named `group.GROUPING.LABEL.NAME` (e.g. `group.age_band.under_25.policy_value_polku`)."""
    out: dict[str, float] = {}
    for grouping, table in summary.by_group.items():
        for label, entry in table.items():
            prefix = f"group.{grouping}.{_METRIC_UNSAFE.sub('_', str(label))}"
            out[f"{prefix}.n"] = float(entry.n)
            for name, value in entry.policy_value.items():
                if value is not None and math.isfinite(value):
                    out[f"{prefix}.policy_value_{name}"] = float(value)
            gain = entry.oracle_gain_captured
            if gain is not None and math.isfinite(gain):
                out[f"{prefix}.oracle_gain_captured"] = float(gain)
    return out


def _run_name() -> str:
    return f"train-{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%SZ}"


def _percent(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.1f} %"


def train_and_register(
    data_dir: Path,
    settings: TrainSettings,
    progress: Progress = _quiet,
    *,
    promote_if_first: bool = False,
    report_dir: Path | None = None,
    mapping: ExtractMapping | None = None,
) -> TrainOutcome:
    """The whole of `polku train`: load, fit, evaluate, log to MLflow and register a version.

    Parameters
    ----------
    data_dir : Path
        A register extract (clients and episodes) or a generated world (with its truth).
    settings : TrainSettings
    progress : callable
        Receives one line per step.
    promote_if_first : bool
        Give the new version the `champion` alias when no version has it yet.
    report_dir : Path, optional
        Also keep the evaluation report here (it is logged to MLflow either way).
    mapping : ExtractMapping, optional
        The extract's own columns and codes (`pipeline.data.mapping`), applied as it is read.

    Returns
    -------
    TrainOutcome
    """
    total_started = time.perf_counter()
    progress(f"loading and validating the register in {data_dir}")
    started = time.perf_counter()
    world = load_world(data_dir, mapping=mapping)
    load_seconds = time.perf_counter() - started
    progress(
        f"loaded {len(world.episodes)} episodes in {load_seconds:.1f} s "
        f"(data fingerprint {world.fingerprint[:12]}"
        + ("" if world.has_truth else "; no truth file: off-policy evaluation")
        + ")"
    )
    try:
        trained = fit_model(world, settings, progress)
    except InsufficientDataError as exc:
        from models import registry

        run_id = registry.record_failed_run(
            _run_name(),
            str(exc),
            {
                **settings.to_params(),
                "data_dir": str(Path(data_dir).resolve()),
                "data_fingerprint": world.fingerprint,
            },
        )
        progress(f"MLflow run {run_id} marked FAILED: {exc}")
        raise
    trained.timings["load_seconds"] = load_seconds
    return log_and_register(
        trained,
        world,
        settings,
        data_dir,
        progress,
        promote_if_first=promote_if_first,
        report_dir=report_dir,
        started=total_started,
        mapping=mapping,
    )


def log_and_register(
    trained: TrainedModel,
    world: World,
    settings: TrainSettings,
    data_dir: Path,
    progress: Progress = _quiet,
    *,
    promote_if_first: bool = False,
    report_dir: Path | None = None,
    started: float | None = None,
    mapping: ExtractMapping | None = None,
) -> TrainOutcome:
    """Log a fitted, evaluated model to a new MLflow run and register it as a new version.

    Logs the parameters (settings, data directory and fingerprint, the extract mapping file
    as `data_mapping` when one was used, catalog fingerprint, rules versions, the ranker's
    parameters), library versions (tags and a JSON artifact),
    the key metrics and timings, the evaluation report with its plots, the overlap table,
    and the model through `models.registry.log_model`.
    """
    from models import registry
    from pipeline.evaluation.promote import promote_first_version

    progress(f"logging to MLflow at {registry.tracking_uri()}")
    metrics = trained.evaluation.summary.key_metrics()
    versions = registry.library_versions()
    with registry.training_run(_run_name()) as run:
        run.log_params(
            {
                **settings.to_params(),
                "data_dir": str(Path(data_dir).resolve()),
                "data_fingerprint": world.fingerprint,
                **(
                    {"data_mapping": str(mapping.path.resolve())}
                    if mapping is not None and mapping.path is not None
                    else {}
                ),
                "catalog_fingerprint": trained.model.catalog.fingerprint,
                "rules_versions": ",".join(trained.model.rules_versions),
                **{f"ranker_{k}": str(v) for k, v in trained.model.ranker.get_params().items()},
            }
        )
        run.set_tags(
            {
                "data_fingerprint": world.fingerprint,
                "evaluation_kind": trained.evaluation.summary.evaluation_kind,
                "propensity_source": str(trained.model.ranker.propensity_source_),
                "stack_chosen": str(trained.model.ranker.stack_),
                **{f"version.{k}": v for k, v in versions.items()},
            }
        )
        run.describe(run_description(trained, world, settings, data_dir))
        run.log_dataset(
            trained.prepared.train.frame,
            name=Path(data_dir).resolve().name,
            source=str(Path(data_dir).resolve()),
            digest=world.fingerprint,
            context="training",
        )
        run.log_metrics(metrics)
        run.log_metrics(group_metrics(trained.evaluation.summary))
        run.log_metrics({f"count_{k}": float(v) for k, v in trained.prepared.counts.items()})
        run.log_dict(versions, "environment/library_versions.json")
        run.log_dict(trained.prepared.counts, "evaluation/counts.json")
        with tempfile.TemporaryDirectory(prefix="polku-report-") as tmp:
            target = Path(report_dir) if report_dir is not None else Path(tmp) / "report"
            write_report(
                trained.evaluation,
                trained.prepared.held_out.allowed,
                trained.prepared.held_out.true_outcomes,
                target,
                title=f"Polku evaluation (run {run.run_id[:8]})",
            )
            run.log_artifacts(target, artifact_path="evaluation")
        overlap = trained.model.ranker.overlap_.copy()
        # Services too thin to rank: fewer logged training episodes than the ranker needs.
        supported = [*trained.model.ranker.supported_.tolist(), True]  # "none" is the base
        overlap["rankable"] = supported
        run.log_text(overlap.to_csv(index=False), "evaluation/overlap.csv")
        version = registry.log_model(
            trained.model, input_example=example_profiles(trained.prepared.held_out.frame.columns)
        )
        if started is not None:
            trained.timings["total_seconds"] = time.perf_counter() - started
        run.log_metrics(trained.timings)
        run_id = run.run_id
    registry.describe_version(
        version, run_description(trained, world, settings, data_dir), _headline(metrics)
    )
    progress(f"registered {registry.MODEL_NAME} version {version} (run {run_id})")
    promoted = False
    if promote_if_first:
        promoted = promote_first_version(version)
        if promoted:
            progress(f"version {version} is the first champion")
    return TrainOutcome(run_id, str(version), metrics, promoted, report_dir)
