"""`polku evaluate-feedback`: off-policy values of the served policy and a candidate model,
from real feedback episodes and the probabilities Polku logged where it randomised."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from pipeline.commands.options import check_output_dir, fail


def evaluate_feedback(
    episodes: Annotated[
        Path, typer.Argument(help="The feedback episodes (`polku feedback --out FILE`).")
    ],
    version: Annotated[
        str | None,
        typer.Option(help="A registered version of polku-ranker to evaluate as the candidate."),
    ] = None,
    champion: Annotated[
        bool, typer.Option("--champion", help="Evaluate the champion as the candidate.")
    ] = False,
    objective: Annotated[
        str | None,
        typer.Option(
            help="The outcome to value (default: the episodes' objective when they share one)."
        ),
    ] = None,
    report: Annotated[
        Path | None, typer.Option(help="Directory for evaluation.json and report.md.")
    ] = None,
    allow_training_period: Annotated[
        bool,
        typer.Option(
            "--allow-training-period",
            help="Judge the candidate also on episodes assessed on or before its last training "
            "date (left out otherwise: it may have learnt from them); every output then says "
            "its estimates may be flattered.",
        ),
    ] = False,
    mlflow: Annotated[bool, typer.Option(help="Log the figures as an MLflow run.")] = True,
) -> None:
    """Estimate what showing a policy's choice first is worth, from logged episodes.

    The served policy's value is the mean realised outcome; the served model's own best
    first and a candidate's (`--version N` or `--champion`) are estimated by inverse
    probability weighting with the logged probabilities of the first place, and the
    candidate's also doubly robust (its own predictions as the direct term), with 95 %
    intervals, its difference from the served value, and its support: the share of
    episodes where its choice had a positive logged probability. The candidate is judged
    only on episodes assessed after its training data (the others are left out and
    counted; `--allow-training-period` keeps them); a version that records no training
    period is said to be unchecked. Exit 2 for bad input (each bad row and field named) or
    when no episode is left to judge the candidate on, else 0.
    """
    from models.bundle import IncompatibleModelError
    from models.objectives import DEFAULT_OBJECTIVE, Objective
    from models.output_files import OutputPathError
    from models.registry import (
        CHAMPION_ALIAS,
        ArtifactIntegrityError,
        RegistryError,
        load_champion,
        load_version,
    )
    from pipeline.feedback.evaluate import evaluate_feedback as run_evaluation
    from pipeline.feedback.evaluate import read_episodes
    from pipeline.feedback.evaluation_report import (
        REPORT_FILES,
        describe,
        log_to_mlflow,
        write_report,
    )
    from pipeline.feedback.inputs import FeedbackError, read_table

    if version is not None and champion:
        raise fail("give --version or --champion, not both")
    check_output_dir(report, "--report", REPORT_FILES, {"EPISODES": episodes})
    try:
        raw = read_table(episodes, "feedback episodes")
    except FeedbackError as exc:
        raise fail(str(exc)) from None
    given = objective or _episodes_objective(raw)
    try:
        chosen = Objective.parse(given or DEFAULT_OBJECTIVE)
    except ValueError as exc:
        if objective:
            raise fail(f"--objective: {exc}") from None
        raise fail(f"the episodes' objective {given!r}: {exc} (give --objective)") from None
    model, label = None, None
    if version is not None or champion:
        try:
            loaded = load_version(version) if version is not None else load_champion()
        except (RegistryError, ArtifactIntegrityError, IncompatibleModelError) as exc:
            which = f"version {version}" if version is not None else f"the {CHAMPION_ALIAS}"
            raise fail(f"cannot load {which} of polku-ranker: {str(exc).splitlines()[0]}") from None
        model, label = loaded.model, str(loaded.version)
    try:
        logged = read_episodes(raw, chosen)
        result = run_evaluation(
            logged, chosen, model, label, allow_training_period=allow_training_period
        )
    except FeedbackError as exc:
        raise fail(str(exc)) from None
    typer.echo(describe(result))
    if report is not None:
        try:
            typer.echo(f"report written to {write_report(result, report)}")
        except OutputPathError as exc:
            raise fail(str(exc)) from None
    if mlflow:
        typer.echo(f"MLflow run {log_to_mlflow(result, report)}")


def _episodes_objective(raw: object) -> str | None:
    """The objective every episode was suggested for, when they agree (None otherwise)."""
    import pandas as pd

    assert isinstance(raw, pd.DataFrame)
    if "objective" not in raw.columns:
        return None
    values = {str(v) for v in raw["objective"].dropna() if str(v)}
    return values.pop() if len(values) == 1 else None


def register(app: typer.Typer) -> None:
    """Add `evaluate-feedback` to the `polku` CLI."""
    app.command("evaluate-feedback")(evaluate_feedback)
