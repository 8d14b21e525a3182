"""The files an office gives `polku allocate` (places, preferences): read, columns checked."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from pipeline.data.register import RegisterError
from pipeline.data.table_file import TableReadError, read_table_file


class OfficeFileError(ValueError):
    """An office's file cannot be used; `.errors` names each problem."""

    def __init__(self, errors: list[RegisterError]) -> None:
        super().__init__(str(errors[0]) if errors else f"invalid {self.what}")
        self.errors = tuple(errors)

    what = "office file"


def read_office_file(
    path: Path, columns: Sequence[str], error: type[OfficeFileError]
) -> pd.DataFrame:
    """The file as text cells (empty cells missing), or `error` naming why it cannot be read
    or which of `columns` it lacks."""
    try:
        raw = read_table_file(path)
    except TableReadError as exc:
        raise error([RegisterError(exc.file, 0, "-", exc.reason)]) from None
    expected = f"column missing (expected {', '.join(columns)})"
    missing = [RegisterError(path.name, 0, c, expected) for c in columns if c not in raw.columns]
    if missing:
        raise error(missing)
    return raw
