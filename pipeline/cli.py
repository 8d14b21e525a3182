"""The `polku` command line: a thin layer over the pipeline steps.

Each step lives in its own module, which exposes `register(app)` to add its commands; this
file only lists those modules. Heavy imports happen inside the commands so `polku --help`
stays fast.
"""

from __future__ import annotations

import importlib

import typer

# One line per command module; keep them in the order a user meets them.
COMMAND_MODULES: tuple[str, ...] = (
    # The service's commands (serve, audit) are composed here by name: the CLI is the one
    # place that joins the two halves, so no pipeline module imports service code.
    "pipeline.eligibility_cmd",
    "pipeline.generate_cmd",
    "pipeline.validate_cmd",
    "pipeline.train_cmd",
    "pipeline.evaluate_cmd",
    "pipeline.promote_cmd",
    "pipeline.effects_cmd",
    "service.cli",
)


def build_app() -> typer.Typer:
    """The `polku` Typer app with every command registered (tests call this too)."""
    app = typer.Typer(
        name="polku",
        help="Polku: eligibility, synthetic data, training and evaluation, effects, serving.",
        no_args_is_help=True,
        add_completion=False,
    )
    for module_name in COMMAND_MODULES:
        importlib.import_module(module_name).register(app)
    return app


def main() -> None:
    """Entry point of the `polku` console script."""
    build_app()()
