"""`polku monitor`: the served population and its outcomes against the champion's training data."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from models.objectives import DEFAULT_OBJECTIVE
from pipeline.commands.options import check_output_dir, fail

# Exit status when a threshold is crossed (a scheduler alerts on it); 2 stays "bad input".
ALERT_EXIT = 1


def monitor(
    data: Annotated[
        Path, typer.Argument(help="The register directory the champion was trained on.")
    ],
    inputs: Annotated[
        Path,
        typer.Option(help="The served model inputs (`polku audit export-inputs --out FILE`)."),
    ],
    audit: Annotated[
        Path | None,
        typer.Option(help="The audit export (`polku audit export`), for overrides and outcomes."),
    ] = None,
    outcomes: Annotated[
        Path | None,
        typer.Option(
            help="Episodes with outcomes (`polku feedback`), for realised against predicted."
        ),
    ] = None,
    report: Annotated[
        Path | None, typer.Option(help="Directory for report.html and monitoring.json.")
    ] = None,
    objective: Annotated[str, typer.Option(help="The objective the champion was trained for.")] = (
        DEFAULT_OBJECTIVE
    ),
    mlflow: Annotated[bool, typer.Option(help="Log the metrics as an MLflow run.")] = True,
) -> None:
    """Compare the served profiles and outcomes with the champion's training data.

    Per model input the population stability index and the share of values training never
    saw; the share of requests where the gate or the catalog closed services; the override
    rate by first place shown and by group, with the reasons given; the realised outcome
    against the predicted one. Exit status 1 when a threshold of
    `pipeline.monitoring.checks.Thresholds` is crossed (PSI > 0.25, unseen > 5 %, the gate's
    refusals shifted > 10 points or the catalog's closures by > 2 services, overrides > 60 %
    of >= 50 decisions, outcomes off by > 5 points over >= 200 episodes), 2 for bad input,
    else 0.
    """
    from models.output_files import OutputPathError
    from pipeline.feedback.inputs import FeedbackError, read_table
    from pipeline.monitoring.report import REPORT_FILES, write_report
    from pipeline.monitoring.run import log_to_mlflow, training_reference
    from pipeline.monitoring.run import monitor as run_monitor

    check_output_dir(
        report,
        "--report",
        REPORT_FILES,
        {"DATA": data, "--inputs": inputs, "--audit": audit, "--outcomes": outcomes},
    )
    try:
        served = read_table(inputs, "served inputs")
        if "eligible" not in served.columns or "request_id" not in served.columns:
            raise FeedbackError(f"served inputs {str(inputs)!r} lack request_id or eligible")
        audit_frame = None if audit is None else read_table(audit, "audit export")
        episodes = None if outcomes is None else read_table(outcomes, "outcome episodes")
        reference, closures = training_reference(data, None, objective)
    except (FeedbackError, FileNotFoundError, ValueError) as exc:
        raise fail(str(exc)) from None
    result = run_monitor(served, reference, closures, audit=audit_frame, episodes=episodes)
    typer.echo(result.describe())
    for alert in result.alerts:
        typer.echo(f"ALERT {alert}")
    if report is not None:
        try:
            typer.echo(f"report written to {write_report(result, report)}")
        except OutputPathError as exc:
            raise fail(str(exc)) from None
    if mlflow:
        typer.echo(f"MLflow run {log_to_mlflow(result, report)}")
    if result.exit_code:
        raise typer.Exit(code=ALERT_EXIT)


def register(app: typer.Typer) -> None:
    """Add `monitor` to the `polku` CLI."""
    app.command("monitor")(monitor)
