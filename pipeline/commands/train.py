"""`polku train`: fit a ranker on a world, evaluate it, track it in MLflow, register it."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path
from typing import Annotated

import typer

from models.objectives import DEFAULT_OBJECTIVE
from pipeline.commands.options import MappingOption, check_output_dir, fail


def train(
    data: Annotated[
        Path,
        typer.Option(
            help="A register extract (clients and episodes; propensity and truth optional) "
            "or a world directory (`polku generate --out DIR`)."
        ),
    ],
    objective: Annotated[
        str,
        typer.Option(
            help="Objective the evaluation ranks by: employment_or_education_6m, "
            "employment_12m, or a mix such as employment_or_education_6m=0.5,employment_12m=0.5."
        ),
    ] = DEFAULT_OBJECTIVE,
    seed: Annotated[int, typer.Option(help="Seed of the ranker and the random baseline.")] = 0,
    test_fraction: Annotated[
        float, typer.Option(help="Share of clients held out for evaluation.")
    ] = 0.25,
    holdout_from: Annotated[
        str | None,
        typer.Option(
            help="Optional date (YYYY-MM-DD): train on episodes before it, evaluate on "
            "held-out clients' episodes from it on."
        ),
    ] = None,
    bootstrap: Annotated[int, typer.Option(help="Bootstrap refits for the uplift intervals.")] = 40,
    promote_if_first: Annotated[
        bool,
        typer.Option(
            "--promote-if-first/--no-promote-if-first",
            help="Make this version champion when no version is yet.",
        ),
    ] = False,
    report: Annotated[
        Path | None, typer.Option(help="Also keep the evaluation report in this directory.")
    ] = None,
    mapping_path: MappingOption = None,
) -> None:
    """Train on a world's episodes and register a new version of polku-ranker."""
    from models.objectives import Objective
    from pipeline.data.mapping import load_mapping
    from pipeline.data.split import SplitSettings
    from pipeline.evaluation.report import REPORT_FILES
    from pipeline.training.settings import TrainSettings
    from pipeline.training.train import train_and_register

    try:
        Objective.parse(objective)
        split = SplitSettings(
            test_fraction, dt.date.fromisoformat(holdout_from) if holdout_from else None
        )
        settings = TrainSettings(objective=objective, seed=seed, split=split, n_bootstrap=bootstrap)
        mapping = load_mapping(mapping_path) if mapping_path is not None else None
    except ValueError as exc:
        raise fail(str(exc)) from None
    if not data.is_dir():
        raise fail(f"--data {data} is not a directory")
    check_output_dir(report, "--report", REPORT_FILES, {"--data": data, "--mapping": mapping_path})
    started = time.perf_counter()

    def progress(line: str) -> None:
        typer.echo(f"[{time.perf_counter() - started:6.1f} s] {line}")

    try:
        outcome = train_and_register(
            data,
            settings,
            progress,
            promote_if_first=promote_if_first,
            report_dir=report,
            mapping=mapping,
        )
    except (ValueError, FileNotFoundError) as exc:
        raise fail(str(exc)) from None
    metrics = outcome.metrics
    oracle = metrics.get("policy_value_oracle")
    typer.echo(
        f"version {outcome.version}: "
        + ("policy value" if oracle is not None else "estimated policy value (off-policy)")
        + f" {metrics['policy_value_polku']:.4f} "
        f"(caseworkers {metrics['policy_value_caseworkers']:.4f}"
        + (f", oracle {oracle:.4f})" if oracle is not None else ")")
        + ("; now champion" if outcome.promoted else "")
    )


def register(app: typer.Typer) -> None:
    """Add `polku train` to the app."""
    app.command("train")(train)
