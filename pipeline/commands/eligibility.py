"""`polku eligibility`: run the gate over a register extract and write one decision per row.

All or nothing: if any row is invalid, every problem is listed (row, field, reason) on
stderr, nothing is written and the exit status is 2; so too, before the extract is read,
for an output that cannot be written (a directory, an unwritable place, the input itself).
The output never carries the personal identity code; it is written to a temporary file and
renamed, so a reader never sees half a file. With `--mapping FILE` (`docs/EXTRACTS.md`) the
extract's own column names and codes are mapped first (`pipeline.data.mapping`) and each
problem names the extract's column.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated

import pandas as pd
import typer

from models.eligibility import assess_eligibility_frame
from models.output_files import OutputPathError, write_atomically
from models.profile import PROFILE_FIELDS, REQUIRED_FIELDS
from models.profile_validation import RowError, parse_profile_frame
from pipeline.commands.options import MappingOption, check_output, mapping_failure
from pipeline.data.mapping import ExtractMapping, MappingError, load_mapping
from pipeline.data.table_file import TableReadError, header_problems, read_table_file

OUTPUT_COLUMNS = ("client_id", "eligible", "target_groups", "failed_conditions", "rules_version")
INVALID_INPUT_EXIT = 2


class ExtractError(ValueError):
    """The input file cannot be read as a register extract."""


def read_extract(path: Path) -> pd.DataFrame:
    """Read a CSV (every cell as text, empty cells empty) or Parquet register extract."""
    try:
        return read_table_file(path)
    except TableReadError as error:
        raise ExtractError(f"{path}: {error.reason}") from None


def decision_table(profiles: pd.DataFrame) -> pd.DataFrame:
    """The output rows: client id, `true`/`false`, codes joined with `;`, rules version."""
    decisions = assess_eligibility_frame(profiles)
    return pd.DataFrame(
        {
            "client_id": profiles["client_id"],
            "eligible": decisions["eligible"].map({True: "true", False: "false"}),
            "target_groups": decisions["target_groups"].map(";".join),
            "failed_conditions": decisions["failed_conditions"].map(";".join),
            "rules_version": decisions["rules_version"],
        },
        columns=list(OUTPUT_COLUMNS),
    )


def write_csv_atomically(table: pd.DataFrame, path: Path) -> None:
    """Write `table` as UTF-8 CSV to `path` atomically (`models.output_files`)."""

    def fill(temporary: Path) -> None:
        with temporary.open("w", encoding="utf-8", newline="") as out:
            table.to_csv(out, index=False)

    write_atomically(path, fill)


def format_row_error(error: RowError, mapping: ExtractMapping | None = None) -> str:
    """One line of the invalid-input report (the field as the extract names it, if mapped)."""
    label = mapping.column_label(error.field) if mapping is not None else None
    return f"row {error.row}: {label or error.field}: {error.message}"


def eligibility(
    input_path: Annotated[
        Path,
        typer.Argument(
            metavar="INPUT",
            help="Register extract: CSV with the profile fields as columns (ISO dates, "
            "true/false), or Parquet.",
            exists=True,
            dir_okay=False,
            readable=True,
        ),
    ],
    output: Annotated[
        Path, typer.Option("--output", "-o", help="Where to write the decisions (CSV).")
    ],
    today: Annotated[
        str | None,
        typer.Option(help="Assessment date (YYYY-MM-DD) of rows without one; default today."),
    ] = None,
    mapping_path: MappingOption = None,
) -> None:
    """Decide who is a client of Helsinki's employment services, one row per input row."""
    check_output(output, "--output", {"INPUT": input_path, "--mapping": mapping_path})
    try:
        default_date = dt.date.fromisoformat(today) if today else None
    except ValueError as error:
        raise typer.BadParameter("must be a date YYYY-MM-DD", param_hint="--today") from error
    try:
        mapping = load_mapping(mapping_path) if mapping_path is not None else None
        raw = read_extract(input_path)
        if mapping is not None:
            raw = mapping.apply(raw, input_path.name)
    except MappingError as error:
        raise mapping_failure(error) from None
    except ExtractError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(code=INVALID_INPUT_EXIT) from error
    header = header_problems(raw.columns, PROFILE_FIELDS, REQUIRED_FIELDS)
    if header:
        for problem in header:
            typer.echo(f"{input_path.name}: {problem}", err=True)
        typer.echo(
            "error: the extract's columns are not as expected; nothing was written", err=True
        )
        raise typer.Exit(code=INVALID_INPUT_EXIT)

    result = parse_profile_frame(raw, today=default_date)
    if not result.ok:
        for row_error in result.errors:
            typer.echo(format_row_error(row_error, mapping), err=True)
        bad_rows = len({e.row for e in result.errors})
        typer.echo(
            f"error: {bad_rows} of {len(raw)} rows are invalid; nothing was written",
            err=True,
        )
        raise typer.Exit(code=INVALID_INPUT_EXIT)

    table = decision_table(result.frame)
    try:
        write_csv_atomically(table, output)
    except OutputPathError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(code=INVALID_INPUT_EXIT) from None
    eligible = int((table["eligible"] == "true").sum())
    typer.echo(
        f"{len(table)} decided: {eligible} clients of Helsinki's employment services, "
        f"{len(table) - eligible} with the TE office; wrote {output}"
    )


def register(app: typer.Typer) -> None:
    """Add `polku eligibility` to the CLI."""
    app.command("eligibility")(eligibility)
