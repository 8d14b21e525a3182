"""Writing an allocation: the client table (Parquet) and its summary (JSON), each atomically.

The client table carries the cohort's key and the register's pseudonymous `client_id`
(which profile validation never lets be shaped like a henkilötunnus), never an identity
code. The summary says what was solved and how: the solver's status and time, the period,
the places per service (used / available) and the groups' expected gains.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from models.output_files import atomic_write_all


def summary_path(out: Path) -> Path:
    """Where the summary of `out` goes: `NAME.summary.json` beside `NAME.parquet`."""
    return out.with_name(f"{out.stem}.summary.json")


def write_allocation(clients: pd.DataFrame, summary: dict[str, Any], out: Path) -> Path:
    """Write the client table to `out` and the summary beside it; the summary's path."""
    table = pa.Table.from_pandas(clients, preserve_index=False)
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink)
    path = summary_path(out)
    text = json.dumps(summary, indent=1, ensure_ascii=False, default=_plain) + "\n"
    # Both or neither: a table without its summary (places used, solver status) misleads.
    atomic_write_all([(out, sink.getvalue().to_pybytes()), (path, text.encode("utf-8"))])
    return path


def _plain(value: object) -> object:
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    if hasattr(value, "isoformat"):
        return value.isoformat()
    raise TypeError(f"not JSON: {type(value).__name__}")
