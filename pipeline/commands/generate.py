"""`polku generate`: draw a synthetic Helsinki and write clients, episodes and truth.

Prints each step with its time (progress for long runs) and, at the end, the generated
marginals beside the calibration targets of docs/domain/CALIBRATION.md.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

from pipeline.commands.options import check_output_dir, fail
from pipeline.synth.scenarios import DEFAULT_SCENARIO, SCENARIOS


def _scenario_help() -> str:
    return "Structural scenario of the world (see docs/DATA_CARD.md): " + "; ".join(
        f"{name}: {scenario.description.rstrip('.')}" for name, scenario in SCENARIOS.items()
    )


def generate(
    out: Annotated[
        Path | None,
        typer.Option(
            "--out", "-o", help="Directory to write the world into (default: <state dir>/world)."
        ),
    ] = None,
    clients: Annotated[
        int, typer.Option("--clients", "-n", min=1, help="Persons in the register.")
    ] = 10_000,
    seed: Annotated[
        int, typer.Option("--seed", min=0, help="Seed; the same seed gives the same bytes.")
    ] = 0,
    csv: Annotated[
        bool, typer.Option("--csv", help="Also write CSV copies of every file.")
    ] = False,
    hidden_confounder: Annotated[
        bool,
        typer.Option(
            "--hidden-confounder",
            help="Add an unobserved motivation driving both choices and outcomes "
            "(sensitivity tests).",
        ),
    ] = False,
    scenario: Annotated[str, typer.Option("--scenario", help=_scenario_help())] = DEFAULT_SCENARIO,
    censored: Annotated[
        bool,
        typer.Option(
            "--censored",
            help="Write the episodes as a register extract taken on the last assessment "
            "date holds them: outcomes whose 6 or 12 months are still ahead are blank "
            "(the truth knows them all).",
        ),
    ] = False,
) -> None:
    """Generate a synthetic register (clients, episodes) and the true outcomes (truth)."""
    from models.output_files import OutputPathError
    from models.state import default_data_dir
    from pipeline.synth.marginals import calibration_marginals
    from pipeline.synth.world import SynthConfig, generate_world, world_files, write_world

    out = out if out is not None else default_data_dir()
    started = time.perf_counter()

    def progress(message: str) -> None:
        now = time.perf_counter()
        typer.echo(f"[{now - started:6.1f} s] {message} ...")

    try:
        config = SynthConfig(
            n_clients=clients,
            seed=seed,
            hidden_confounder=hidden_confounder,
            scenario=scenario,
            censored=censored,
        )
    except ValueError as exc:
        raise fail(str(exc)) from None
    check_output_dir(out, "--out", world_files(csv=csv))
    world = generate_world(config, progress=progress)
    progress(f"writing to {out}")
    try:
        paths = write_world(world, out, csv=csv)
    except OutputPathError as exc:
        raise fail(str(exc)) from None
    typer.echo(
        f"[{time.perf_counter() - started:6.1f} s] wrote {len(world.clients):,} clients, "
        f"{len(world.episodes):,} episodes and their truth: " + ", ".join(p.name for p in paths)
    )
    if hidden_confounder:
        typer.echo("note: this world has a hidden confounder (unobserved motivation)")
    if scenario != DEFAULT_SCENARIO:
        typer.echo(f"note: scenario {scenario}: {SCENARIOS[scenario].description}")
    typer.echo("\nGenerated marginals beside docs/domain/CALIBRATION.md:")
    for marginal in calibration_marginals(world.episodes):
        typer.echo("  " + marginal.row())


def register(app: typer.Typer) -> None:
    """Add `polku generate` to the CLI."""
    app.command("generate")(generate)
