"""Options several `polku` commands share, declared once."""

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
