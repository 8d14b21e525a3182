"""Read a table a person gives Polku (a register extract, an office's file): one reader.

Parquet comes back typed; CSV as text cells with empty cells missing, read as UTF-8 (a byte
order mark is dropped), comma- or semicolon-separated as its header row says (a spreadsheet
saved in a Finnish locale separates with `;`). A file that cannot be read raises
`TableReadError` with a message that says where and why but quotes no cell: the cells may
hold personal data.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Final

import pandas as pd

ENCODING: Final = "utf-8-sig"
_RAGGED: Final = re.compile(r"Expected (\d+) fields in line (\d+), saw (\d+)")


class TableReadError(ValueError):
    """The file cannot be read as a table: `.file` (its name) and `.reason` (why)."""

    def __init__(self, file: str, reason: str) -> None:
        super().__init__(f"{file}: {reason}")
        self.file = file
        self.reason = reason


def csv_separator(path: Path) -> str:
    """`;` when the header row has semicolons and no commas, else `,`.

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     table = Path(tmp, "t.csv")
    ...     _ = table.write_text("client_id;birth_date\\nC1;1990-01-01\\n", encoding="utf-8")
    ...     csv_separator(table)
    ';'
    """
    with path.open(encoding=ENCODING, errors="replace", newline="") as handle:
        header = handle.readline()
    return ";" if ";" in header and "," not in header else ","


def _why(exc: Exception) -> str:
    """What went wrong, in words that quote no cell of the file."""
    if isinstance(exc, pd.errors.EmptyDataError):
        return "the file is empty (expected a header row)"
    if isinstance(exc, UnicodeDecodeError):
        return f"not UTF-8 text (byte {exc.start}); save it as UTF-8"
    if isinstance(exc, pd.errors.ParserError):
        ragged = _RAGGED.search(str(exc))
        if ragged is not None:
            header, line, saw = ragged.groups()
            return (
                f"line {line} (counting the header) has {saw} fields where the header has "
                f"{header}; check the separators and quotes on that line"
            )
    if isinstance(exc, IsADirectoryError):
        return "a directory, not a file"
    if isinstance(exc, FileNotFoundError):
        return "no such file"
    return f"cannot read the file ({type(exc).__name__})"


def read_table_file(path: Path) -> pd.DataFrame:
    """The table in `path` (`.parquet`, else CSV).

    Raises
    ------
    TableReadError
        The file is missing, empty, not UTF-8, ragged or otherwise unreadable.
    """
    try:
        if path.suffix.lower() == ".parquet":
            return pd.read_parquet(path)
        return pd.read_csv(
            path,
            dtype=str,
            keep_default_na=False,
            na_values=[""],
            encoding=ENCODING,
            sep=csv_separator(path),
        )
    except (ValueError, OSError) as exc:  # pandas' and pyarrow's read errors are ValueErrors
        raise TableReadError(path.name, _why(exc)) from None


def _folded(name: str) -> str:
    return " ".join(str(name).split()).lower().replace(" ", "_").replace("-", "_")


def header_problems(
    columns: Iterable[object], fields: Sequence[str], required: Sequence[str] = ()
) -> list[str]:
    """What is wrong with a table's header, before any row is read.

    A column that differs from a field only in case, spaces or hyphens
    (`Experiment_Client_Since`, `health_limitations `) would otherwise be ignored and the
    field silently take its default; a required field with no column would be reported
    once per row.

    >>> header_problems(["client_id", "Health_Limitations "], ["client_id", "health_limitations"])
    ["column 'Health_Limitations ' is not read: the field is named 'health_limitations'"]
    >>> header_problems(["client_id"], ["client_id", "home_municipality"], ["home_municipality"])
    ["column 'home_municipality' is missing (required)"]
    """
    names = [str(c) for c in columns]
    present = set(names)
    by_folded = {_folded(f): f for f in fields}
    problems = [
        f"column {name!r} is not read: the field is named {by_folded[_folded(name)]!r}"
        for name in names
        if name not in fields and _folded(name) in by_folded
    ]
    problems += [
        f"column {name!r} is missing (required)" for name in required if name not in present
    ]
    return problems
