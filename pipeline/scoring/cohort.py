"""Scoring a cohort: the gate and the ranked services of every assessment, as one table.

What `polku score` reads (`read_cohort`):

- a register directory, as `polku validate` reads it (clients and episodes, CSV or Parquet):
  every episode is an assessment and is scored; its `episode_id` keys the output. The whole
  extract is validated, so an extract `polku validate` refuses is refused here too;
- one table of profiles (`.csv` or `.parquet`, a clients- or episodes-like file: the
  profile fields as columns, other columns ignored): every row is an assessment, keyed by
  its `episode_id` when the file has that column and otherwise by `row_id`, the data row's
  number from 1 (as error messages count rows).

Either may be in the extract's own shape, read through a mapping file (`docs/EXTRACTS.md`,
`pipeline.data.mapping`): problems then name the extract's own columns.

What it writes (`score_cohort`): one row per (assessment, ranked service), best first, with
the columns `OUTPUT_COLUMNS`; a non-client (or a client no service is allowed for) has no
row. The numbers are `PolkuModel.recommend`'s for that profile, computed for the whole cohort
at once (`PolkuModel.rank_frame`), in chunks so that memory stays bounded and a long run
reports progress. The henkilötunnus is never written.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Final

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from models.bundle import PolkuModel, RankedPairs
from models.catalog import Catalog
from models.objectives import Objective
from models.output_files import write_atomically
from models.profile_validation import parse_profile_frame
from pipeline.data.mapping import ExtractMapping
from pipeline.data.register import (
    RegisterError,
    RegisterValidationError,
    read_table,
    validate_register,
)
from pipeline.threads import limited_threads

TABLE_SUFFIXES: Final = (".csv", ".parquet")
ROW_ID: Final = "row_id"
EPISODE_ID: Final = "episode_id"
# After the assessment's key (`episode_id` or `row_id`).
OUTPUT_COLUMNS: Final = (
    "client_id",
    "rank",
    "service_id",
    "uplift",
    "uplift_low",
    "uplift_high",
    "expected_without",
    "expected_with",
    "drivers",
    "driver_shares",
    "objective",
    "model_version",
    "rules_version",
)
CHUNK_ROWS: Final = 20_000
N_DRIVERS: Final = 3


class CohortError(ValueError):
    """The cohort cannot be scored; `.errors` names each problem (file, row, field)."""

    def __init__(self, errors: list[RegisterError]) -> None:
        super().__init__(str(errors[0]) if errors else "invalid cohort")
        self.errors = tuple(errors)


@dataclass(frozen=True)
class Cohort:
    """The assessments to score.

    Attributes
    ----------
    frame : DataFrame
        Typed profile frame (index 0..n-1).
    key_column : str
        `"episode_id"` or `"row_id"`.
    keys : ndarray
        The key of each row (str episode ids, or int row numbers from 1).
    """

    frame: pd.DataFrame
    key_column: str
    keys: np.ndarray

    def __len__(self) -> int:
        return len(self.frame)


def read_cohort(path: Path, catalog: Catalog, mapping: ExtractMapping | None = None) -> Cohort:
    """The validated assessments of a register directory or of one table of profiles.

    With a `mapping`, the files are read in the extract's own shape and every problem names
    the extract's column.

    Raises
    ------
    CohortError
        Anything is wrong: every problem, each naming file, row and field.
    """
    if path.is_dir():
        extract = validate_register(path, catalog, mapping)
        if extract.errors or extract.episodes is None:
            raise CohortError(list(extract.errors))
        episodes = extract.episodes.reset_index(drop=True)
        return Cohort(episodes, EPISODE_ID, episodes[EPISODE_ID].to_numpy(dtype=object))
    if path.suffix.lower() not in TABLE_SUFFIXES:
        raise CohortError(
            [RegisterError(path.name, 0, "-", "expected a directory, a .csv or a .parquet file")]
        )
    try:
        raw = read_table(path, mapping).reset_index(drop=True)
    except RegisterValidationError as exc:
        raise CohortError(list(exc.errors)) from None
    parsed = parse_profile_frame(raw)
    errors = [RegisterError(path.name, e.row, e.field, e.message) for e in parsed.errors]
    key_column, keys = ROW_ID, np.arange(1, len(raw) + 1, dtype=np.int64)
    if EPISODE_ID in raw.columns:
        key_column = EPISODE_ID
        ids = raw[EPISODE_ID]
        text = ids.astype(str).str.strip()
        missing = ids.isna().to_numpy() | (text == "").to_numpy()
        duplicate = (text.duplicated(keep="first") & ~missing).to_numpy()
        errors += [
            RegisterError(path.name, int(i) + 1, EPISODE_ID, "missing")
            for i in np.flatnonzero(missing)
        ]
        errors += [
            RegisterError(path.name, int(i) + 1, EPISODE_ID, "duplicate episode id")
            for i in np.flatnonzero(duplicate)
        ]
        keys = text.to_numpy(dtype=object)
    if errors:
        if mapping is not None:
            errors = [replace(e, label=mapping.column_label(e.field)) for e in errors]
        raise CohortError(sorted(errors, key=lambda e: (e.row, e.field)))
    return Cohort(parsed.frame.reset_index(drop=True), key_column, keys)


@dataclass(frozen=True)
class ScoreSummary:
    """What a scoring run did (for the command's last line and the bench)."""

    n_assessments: int
    n_scored: int
    n_pairs: int
    seconds: float


def score_cohort(
    model: PolkuModel,
    model_version: str,
    cohort: Cohort,
    objective: Objective,
    *,
    top_k: int | None = None,
    n_drivers: int = N_DRIVERS,
    chunk_rows: int = CHUNK_ROWS,
    progress: Callable[[str], None] | None = None,
) -> tuple[pa.Table, ScoreSummary]:
    """One table row per (assessment, ranked service), assessments in input order.

    Parameters
    ----------
    model : PolkuModel
    model_version : str
        Registered version (written in every row).
    cohort : Cohort
    objective : Objective
    top_k : int, optional
        Keep each assessment's best `top_k` services (default: all it may take).
    n_drivers : int
        Drivers kept per ranked service.
    chunk_rows : int
        Assessments scored at a time (bounds memory; progress is reported per chunk).
    progress : callable, optional
        Receives a line after each chunk when there is more than one.

    BLAS runs with the offline steps' thread limit (`pipeline.threads`).
    """
    started = time.perf_counter()
    n = len(cohort)
    with limited_threads():
        parts, n_scored, n_pairs = _score_chunks(
            model, model_version, cohort, objective, top_k, n_drivers, chunk_rows, progress
        )
    key_type = pa.array(cohort.keys[:1]).type
    table = pa.concat_tables(parts) if parts else _empty(cohort.key_column, key_type)
    seconds = time.perf_counter() - started
    return table, ScoreSummary(n, n_scored, n_pairs, seconds)


def _score_chunks(
    model: PolkuModel,
    model_version: str,
    cohort: Cohort,
    objective: Objective,
    top_k: int | None,
    n_drivers: int,
    chunk_rows: int,
    progress: Callable[[str], None] | None,
) -> tuple[list[pa.Table], int, int]:
    started = time.perf_counter()
    n = len(cohort)
    keys = pa.array(cohort.keys)
    clients = pa.array(cohort.frame["client_id"].to_numpy(dtype=object), type=pa.string())
    parts: list[pa.Table] = []
    n_scored = n_pairs = 0
    for start in range(0, n, chunk_rows):
        stop = min(start + chunk_rows, n)
        pairs = model.rank_frame(
            cohort.frame.iloc[start:stop], objective, top_k=top_k, n_drivers=n_drivers
        )
        parts.append(
            _table(
                pairs,
                cohort.key_column,
                keys.slice(start, stop - start),
                clients.slice(start, stop - start),
                objective.name,
                model_version,
            )
        )
        n_scored += int(pairs.eligible.sum())
        n_pairs += len(pairs)
        if progress is not None and n > chunk_rows:
            elapsed = time.perf_counter() - started
            progress(
                f"scored {stop:,} of {n:,} assessments ({n_pairs:,} ranked services, "
                f"{elapsed:.1f} s)"
            )
    return parts, n_scored, n_pairs


def _schema(key_column: str, key_type: pa.DataType) -> pa.Schema:
    return pa.schema(
        [
            (key_column, key_type),
            ("client_id", pa.string()),
            ("rank", pa.int32()),
            ("service_id", pa.string()),
            ("uplift", pa.float64()),
            ("uplift_low", pa.float64()),
            ("uplift_high", pa.float64()),
            ("expected_without", pa.float64()),
            ("expected_with", pa.float64()),
            ("drivers", pa.list_(pa.string())),
            ("driver_shares", pa.list_(pa.float64())),
            ("objective", pa.string()),
            ("model_version", pa.string()),
            ("rules_version", pa.string()),
        ]
    )


def _empty(key_column: str, key_type: pa.DataType) -> pa.Table:
    if key_type == pa.null():
        key_type = pa.string() if key_column == EPISODE_ID else pa.int64()
    return _schema(key_column, key_type).empty_table()


def _table(
    pairs: RankedPairs,
    key_column: str,
    keys: pa.Array,
    clients: pa.Array,
    objective: str,
    model_version: str,
) -> pa.Table:
    """The output rows of one chunk, built column by column (no loop over rows)."""
    m = len(pairs)
    rows = pa.array(pairs.row.astype(np.int64))
    present = pairs.driver_index >= 0
    counts = present.sum(axis=1)
    offsets = pa.array(np.concatenate([[0], np.cumsum(counts)]).astype(np.int32))
    factors = pa.array(list(pairs.factors), type=pa.string()).take(
        pa.array(pairs.driver_index[present].astype(np.int64))
    )
    shares = (pairs.uplift[:, None] - pairs.driver_uplift_without)[present]
    columns = {
        key_column: keys.take(rows),
        "client_id": clients.take(rows),
        "rank": pa.array(pairs.rank.astype(np.int32)),
        "service_id": pa.array(list(pairs.service_ids), type=pa.string()).take(
            pa.array(pairs.service.astype(np.int64))
        ),
        "uplift": pa.array(pairs.uplift),
        "uplift_low": pa.array(pairs.uplift_low),
        "uplift_high": pa.array(pairs.uplift_high),
        "expected_without": pa.array(pairs.expected_without),
        "expected_with": pa.array(pairs.expected_with),
        "drivers": pa.ListArray.from_arrays(offsets, factors),
        "driver_shares": pa.ListArray.from_arrays(offsets, pa.array(shares, type=pa.float64())),
        "objective": pa.repeat(pa.scalar(objective, pa.string()), m),
        "model_version": pa.repeat(pa.scalar(model_version, pa.string()), m),
        "rules_version": pa.array(pairs.rules_version.astype(str)).take(rows),
    }
    return pa.table(columns, schema=_schema(key_column, keys.type))


def write_parquet_atomically(table: pa.Table, path: Path) -> None:
    """Write `table` to `path` atomically (`models.output_files.write_atomically`)."""
    write_atomically(path, lambda temporary: pq.write_table(table, temporary))
