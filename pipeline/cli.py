"""The `polku` command line: a thin layer over the pipeline steps and the service.

This is the one module that imports both `pipeline` and `service` (to offer `polku serve`
beside the offline commands); nothing else crosses. Each command module exposes
`register(app)`; heavy imports happen inside the commands, so `polku --help` stays fast.
"""

from __future__ import annotations

import os
import sys

import typer

from pipeline.commands import (
    allocate,
    effects,
    eligibility,
    evaluate,
    evaluate_feedback,
    feedback,
    generate,
    monitor,
    promote,
    replay,
    score,
    train,
    validate,
)
from service import cli as service_commands

# In the order a user meets them.
COMMAND_MODULES = (
    eligibility,
    generate,
    validate,
    train,
    evaluate,
    promote,
    score,
    allocate,
    effects,
    replay,
    feedback,
    evaluate_feedback,
    monitor,
    service_commands,
)


def build_app() -> typer.Typer:
    """The `polku` Typer app with every command registered (tests call this too)."""
    app = typer.Typer(
        name="polku",
        help="Polku: eligibility, synthetic data, training, evaluation, scoring, effects, serving.",
        no_args_is_help=True,
        add_completion=False,
    )
    for module in COMMAND_MODULES:
        module.register(app)
    return app


# Process defaults of every `polku` command (an explicit setting in the environment wins):
# MLflow's per-file download bars clutter each command's own progress lines.
QUIET_ENVIRONMENT = {"MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false"}
# Help piped to a file or a pager has no terminal width; rich would cut it at 80 columns.
PIPED_HELP_COLUMNS = "120"


def main() -> None:
    """Entry point of the `polku` console script."""
    for name, value in QUIET_ENVIRONMENT.items():
        os.environ.setdefault(name, value)
    if not sys.stdout.isatty():
        os.environ.setdefault("COLUMNS", PIPED_HELP_COLUMNS)
    build_app()()
