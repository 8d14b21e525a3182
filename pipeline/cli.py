"""The `polku` command line: a thin layer over the pipeline steps and the service.

This is the one module that imports both `pipeline` and `service` (to offer `polku serve`
beside the offline commands); nothing else crosses. Each command module exposes
`register(app)`; heavy imports happen inside the commands, so `polku --help` stays fast.
"""

from __future__ import annotations

import typer

from pipeline.commands import (
    effects,
    eligibility,
    evaluate,
    generate,
    promote,
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
    effects,
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


def main() -> None:
    """Entry point of the `polku` console script."""
    build_app()()
