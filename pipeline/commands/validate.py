"""`polku validate DIR`: check a register extract (generated or brought) against the schema.

Lists every problem as `file: row N, field 'x': why` and exits with status 2 when there is
any; prints a one-line summary when the extract is valid. With `--mapping FILE`
(`docs/EXTRACTS.md`) the extract's own column names and codes are mapped first, and each
problem names the extract's column: `file: row N, column 'kotikunta' (home_municipality): why`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from pipeline.commands.options import INVALID_EXIT, MappingOption, mapping_failure

MAX_LISTED = 200


def validate(
    directory: Annotated[
        Path,
        typer.Argument(
            metavar="DIR",
            help="Directory with clients and episodes (Parquet or CSV), and truth if any.",
            exists=True,
            file_okay=False,
        ),
    ],
    catalog_path: Annotated[
        Path | None,
        typer.Option(
            "--catalog",
            help="Service catalog (default: the directory's catalog.json if it has one, "
            "else models/data/catalog/services.toml).",
        ),
    ] = None,
    mapping_path: MappingOption = None,
) -> None:
    """Validate a register extract: types, enums, dates, clients and catalog services."""
    from models.catalog import CatalogError, load_catalog
    from pipeline.data.catalog_file import resolve_catalog
    from pipeline.data.mapping import MappingError, load_mapping
    from pipeline.data.outcome_status import outcome_status
    from pipeline.data.register import validate_register

    try:
        catalog = (
            load_catalog(catalog_path) if catalog_path is not None else resolve_catalog(directory)
        )
        mapping = load_mapping(mapping_path) if mapping_path is not None else None
    except MappingError as error:
        raise mapping_failure(error, wrote_nothing=False) from None
    except (CatalogError, OSError) as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(code=INVALID_EXIT) from error
    extract = validate_register(directory, catalog, mapping)
    if extract.errors:
        for problem in extract.errors[:MAX_LISTED]:
            typer.echo(str(problem), err=True)
        if len(extract.errors) > MAX_LISTED:
            typer.echo(f"... and {len(extract.errors) - MAX_LISTED} more", err=True)
        typer.echo(f"error: {len(extract.errors)} problem(s) in {directory}", err=True)
        raise typer.Exit(code=INVALID_EXIT)
    n_clients = 0 if extract.clients is None else len(extract.clients)
    n_episodes = 0 if extract.episodes is None else len(extract.episodes)
    files = ", ".join(path.name for path in extract.files.values())
    typer.echo(f"valid: {n_clients:,} clients, {n_episodes:,} episodes ({files})")
    if extract.episodes is not None and n_episodes:
        latest, statuses = outcome_status(extract.episodes)
        if any(s.awaited or s.missing for s in statuses):
            typer.echo(f"outcomes, as of the latest assessment ({latest}):")
            for status in statuses:
                typer.echo(f"  {status.sentence()}")


def register(app: typer.Typer) -> None:
    """Add `polku validate` to the CLI."""
    app.command("validate")(validate)
