"""`polku prepare`: make the embedded defaults ready to serve (`make run` calls it).

Generates a synthetic world in the state directory if there is none, and trains and
promotes a champion if the registry has none. Each step is skipped when its result exists,
so a second `make run` starts serving at once.
"""

from __future__ import annotations

import time
from typing import Annotated

import typer

DEFAULT_CLIENTS = 30_000


def prepare(
    clients: Annotated[
        int, typer.Option("--clients", "-n", min=1_000, help="Persons in a new world.")
    ] = DEFAULT_CLIENTS,
    seed: Annotated[int, typer.Option("--seed", min=0, help="Seed of a new world.")] = 0,
) -> None:
    """Generate a world if none and train a champion if none; print what was done."""
    from models.state import default_data_dir
    from pipeline.promote import champion_version
    from pipeline.synth import EPISODES_FILE, SynthConfig, generate_world, write_world
    from pipeline.train import TrainSettings, train_and_register

    started = time.perf_counter()

    def progress(message: str) -> None:
        typer.echo(f"[{time.perf_counter() - started:6.1f} s] {message}")

    data_dir = default_data_dir()
    if (data_dir / f"{EPISODES_FILE}.parquet").exists():
        progress(f"world found in {data_dir}")
    else:
        progress(f"generating a world of {clients:,} clients (seed {seed}) in {data_dir}")
        write_world(generate_world(SynthConfig(n_clients=clients, seed=seed)), data_dir)

    champion = champion_version()
    if champion is not None:
        progress(f"champion found: polku-ranker version {champion}")
        return
    progress("no champion yet: training one")
    outcome = train_and_register(
        data_dir, TrainSettings(seed=seed), progress=progress, promote_if_first=True
    )
    if not outcome.promoted:
        typer.echo(f"version {outcome.version} was trained but not promoted", err=True)
        raise typer.Exit(1)
    progress(f"version {outcome.version} is the champion; ready to serve")


def register(app: typer.Typer) -> None:
    """Add `polku prepare` to the CLI."""
    app.command("prepare")(prepare)
