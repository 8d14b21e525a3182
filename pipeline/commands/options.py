"""What several `polku` commands share, written once: options and the way they fail."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from pipeline.data.mapping import MappingError

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


def mapping_failure(error: MappingError, *, wrote_nothing: bool = True) -> typer.Exit:
    """Each problem of an invalid mapping file on stderr, then what it stopped; the
    `typer.Exit` to raise (status `INVALID_EXIT`)."""
    for problem in error.problems:
        typer.echo(f"{error.source}: {problem}", err=True)
    stopped = "; nothing was written" if wrote_nothing else ""
    return fail(f"invalid mapping {error.source}{stopped}")


# Inputs by the name the user gave them (`INPUT`, `--mapping`); None for an option not given.
Inputs = Mapping[str, Path | None]


def _input_files(inputs: Inputs) -> dict[str, Path | None]:
    """`inputs` with each register directory as the files of it a command may read."""
    from pipeline.data.catalog_file import CATALOG_FILE
    from pipeline.data.layout import CLIENTS_FILE, EPISODES_FILE, TRUTH_FILE

    files: dict[str, Path | None] = {}
    for name, path in inputs.items():
        if path is not None and path.is_dir():
            for stem in (CLIENTS_FILE, EPISODES_FILE, TRUTH_FILE):
                for suffix in (".parquet", ".csv"):
                    files[f"{name} ({stem}{suffix})"] = path / f"{stem}{suffix}"
            files[f"{name} ({CATALOG_FILE})"] = path / CATALOG_FILE
        else:
            files[name] = path
    return files


def check_output(path: Path | None, option: str, inputs: Inputs | None = None) -> None:
    """Refuse (exit 2), before any work, an output file `option` cannot write at `path`.

    The rule is `models.output_files.check_output_file`: not an existing directory, a
    parent that exists or can be made and written into, not one of `inputs`.
    """
    from models.output_files import OutputPathError, check_output_file

    if path is None:
        return
    try:
        check_output_file(path, option, inputs=_input_files(inputs or {}))
    except OutputPathError as exc:
        raise fail(str(exc)) from None


def check_output_dir(
    path: Path | None, option: str, files: Iterable[str], inputs: Inputs | None = None
) -> None:
    """Refuse (exit 2), before any work, a directory `option` cannot write `files` into."""
    from models.output_files import OutputPathError
    from models.output_files import check_output_dir as check

    if path is None:
        return
    try:
        check(path, option, files=files, inputs=_input_files(inputs or {}))
    except OutputPathError as exc:
        raise fail(str(exc)) from None
