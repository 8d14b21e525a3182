"""What several `polku` commands share, written once: options and the way they fail."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

MappingOption = Annotated[
    Path | None,
    typer.Option(
        "--mapping",
        help="The extract's own column names and codes (TOML, docs/EXTRACTS.md).",
    ),
]

# Exit status of a command refused for bad input or options (typer's own usage errors use 2).
INVALID_EXIT = 2


def fail(message: str) -> typer.Exit:
    """Say what is wrong on stderr; the `typer.Exit` to raise (status `INVALID_EXIT`)."""
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code=INVALID_EXIT)
