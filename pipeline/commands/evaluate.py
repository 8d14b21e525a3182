"""`polku evaluate`: a registered version on held-out clients, as JSON and an HTML report."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from pipeline.commands.options import MappingOption, check_output, check_output_dir, fail


def evaluate(
    version: Annotated[str, typer.Option(help="Version of polku-ranker to evaluate.")],
    data: Annotated[
        Path,
        typer.Option(help="A register extract or a world directory (the truth is optional)."),
    ],
    json_out: Annotated[Path, typer.Option("--json", help="Write the evaluation JSON here.")],
    report: Annotated[
        Path | None, typer.Option(help="Write report.html with plots into this directory.")
    ] = None,
    objective: Annotated[
        str | None,
        typer.Option(help="Rank by this objective instead of the version's training objective."),
    ] = None,
    holdout_from: Annotated[
        str | None,
        typer.Option(
            help="Optional date (YYYY-MM-DD): judge held-out clients' episodes from it on "
            "(default: the time cut the version was trained with, if any)."
        ),
    ] = None,
    allow_training_clients: Annotated[
        bool,
        typer.Option(
            "--allow-training-clients",
            help="Evaluate even if the held-out clients include some the model was trained "
            "on (refused otherwise); every output then says so.",
        ),
    ] = False,
    mapping_path: MappingOption = None,
) -> None:
    """Evaluate a version on held-out clients against caseworkers, baselines and the oracle."""
    import datetime as dt

    from models.registry import RegistryError
    from models.training_clients import overlap_note
    from pipeline.evaluation.report import REPORT_FILES
    from pipeline.evaluation.version import evaluate_version

    if not data.is_dir():
        raise fail(f"--data {data} is not a directory")
    inputs = {"--data": data, "--mapping": mapping_path}
    check_output(json_out, "--json", inputs)
    check_output_dir(report, "--report", REPORT_FILES, inputs)
    try:
        cut = dt.date.fromisoformat(holdout_from) if holdout_from else None
    except ValueError:
        raise fail(f"--holdout-from {holdout_from!r} is not a date (YYYY-MM-DD)") from None
    try:
        result = evaluate_version(
            version,
            data,
            json_out,
            report_dir=report,
            objective=objective,
            allow_training_clients=allow_training_clients,
            progress=typer.echo,
            holdout_from=cut,
            mapping_path=mapping_path,
        )
    except (ValueError, FileNotFoundError, RegistryError) as exc:
        raise fail(str(exc).splitlines()[0]) from None
    summary = result.evaluation.summary
    values = summary.policy_value
    difference = summary.ope_difference
    if summary.evaluation_kind == "off_policy":
        typer.echo(
            "off-policy evaluation (no truth); estimated policy value (doubly robust): "
            + ", ".join(f"{name} {value:.4f}" for name, value in values.items() if name != "oracle")
        )
    else:
        typer.echo(
            "true policy value: "
            + ", ".join(f"{name} {value:.4f}" for name, value in values.items())
        )
    if difference is not None:
        typer.echo(
            f"Polku minus caseworkers (doubly robust): {difference.estimate:+.4f} "
            f"[{difference.ci_low:+.4f}, {difference.ci_high:+.4f}]"
            + ("" if difference.true is None else f"; true {difference.true:+.4f}")
        )
    for target, judged in result.other_objectives.items():
        gain = judged["overall"]["gains"]["dr"]
        true_gain = judged["overall"]["true_gain"]
        typer.echo(
            f"on {target} (not ranked by): Polku minus caseworkers (doubly robust) "
            f"{gain['estimate']:+.4f} [{gain['ci_low']:+.4f}, {gain['ci_high']:+.4f}]"
            + ("" if true_gain is None else f"; true {true_gain:+.4f}")
        )
    if summary.evaluation_kind == "off_policy":
        typer.echo(
            f"wrote {result.json_path}"
            + (f" and {result.report_path}" if result.report_path else "")
        )
        return
    gain = summary.oracle_gain_captured
    typer.echo(
        "oracle gain captured: "
        + ("n/a" if gain is None else f"{100 * gain:.1f} %")
        + f"; top-3 coverage of the oracle's choice: {100 * summary.top3_oracle_coverage:.1f} %"
    )
    typer.echo(
        f"wrote {result.json_path}" + (f" and {result.report_path}" if result.report_path else "")
    )
    if result.overlap is not None and result.overlap.any:
        typer.echo(overlap_note(result.overlap))


def register(app: typer.Typer) -> None:
    """Add `polku evaluate` to the app."""
    app.command("evaluate")(evaluate)
