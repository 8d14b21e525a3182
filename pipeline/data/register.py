"""Read and validate a register extract: clients, episodes and (for a synthetic world) truth.

A register directory holds `clients` and `episodes` (and, when generated, `truth`), each as
Parquet or CSV (`<name>.parquet` is preferred when both exist). Profiles are validated by
`models.profile_validation.parse_profile_frame` (the one definition of every field); this
module adds what is particular to episodes: a unique `episode_id`, a client that exists in
`clients`, a service of the catalog or `"none"`, a propensity in (0, 1] when the optional
column is there, and 0/1 outcomes.
Every error names the file, the row (data rows counted from 1) and the field. Formats:
`docs/DATA_CARD.md`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Final

import numpy as np
import pandas as pd

from models.actions import NO_SERVICE
from models.catalog import Catalog
from models.henkilotunnus import is_henkilotunnus_shaped
from models.objectives import EPISODE_OUTCOMES
from models.profile import (
    HISTORY_FIELDS,
    PROFILE_COLUMNS,
    PROFILE_FIELDS,
    PROFILE_SPEC,
    REQUIRED_FIELDS,
    TODAY,
)
from models.profile_validation import parse_profile_frame, quote_value
from pipeline.data.catalog_file import resolve_catalog
from pipeline.data.history import derive_history
from pipeline.data.layout import (
    CLIENTS_FILE,
    EPISODE_COLUMNS,
    EPISODE_FIELDS,
    EPISODES_FILE,
    TRUTH_FILE,
    find_file,
)
from pipeline.data.mapping import ExtractMapping, MappingError
from pipeline.data.table_file import TableReadError, header_problems, read_table_file
from pipeline.data.truth import load_truth


@dataclass(frozen=True, slots=True)
class RegisterError:
    """One problem in one field of one row of one file (`row` counts data rows from 1).

    `label` is how the extract names the field when a mapping renamed it
    (`column 'kotikunta' (home_municipality)`); without one the field is named as Polku's.
    """

    file: str
    row: int
    field: str
    message: str
    label: str | None = None

    def __str__(self) -> str:
        where = f"row {self.row}, " if self.row > 0 else ""
        name = self.label if self.label is not None else f"field {self.field!r}"
        return f"{self.file}: {where}{name}: {self.message}"


def _named(errors: list[RegisterError], mapping: ExtractMapping | None) -> list[RegisterError]:
    """The errors with each field named as the extract names it (under a mapping)."""
    if mapping is None:
        return errors
    return [replace(e, label=mapping.column_label(e.field)) for e in errors]


class RegisterValidationError(ValueError):
    """A register extract failed validation; `.errors` holds every problem found."""

    def __init__(self, errors: Sequence[RegisterError]) -> None:
        shown = "; ".join(str(e) for e in errors[:5])
        more = f" (and {len(errors) - 5} more)" if len(errors) > 5 else ""
        super().__init__(f"invalid register extract: {shown}{more}")
        self.errors = tuple(errors)


@dataclass
class RegisterExtract:
    """A validated (or partly valid) register extract.

    Attributes
    ----------
    clients : DataFrame or None
        Typed valid client rows (profile columns; the henkilötunnus is dropped).
    episodes : DataFrame or None
        Typed valid episode rows: `episode_id`, the profile columns, `service_id`,
        `propensity` (only when the file has it), `employed_6m`, `education_6m`,
        `employed_12m`. History fields the file lacks are derived from its episodes
        (`pipeline.data.history`).
    errors : list of RegisterError
    files : dict of name -> Path
    """

    clients: pd.DataFrame | None = None
    episodes: pd.DataFrame | None = None
    errors: list[RegisterError] = field(default_factory=list)
    files: dict[str, Path] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.errors


# Every column Polku reads from a register file.
KNOWN_COLUMNS: Final = (*PROFILE_FIELDS, *EPISODE_COLUMNS)


def read_table(path: Path, mapping: ExtractMapping | None = None) -> pd.DataFrame:
    """A raw table: Parquet as typed, CSV as strings (empty cells missing).

    With a `mapping`, the table comes back with Polku's column names and values
    (`pipeline.data.mapping`).

    Raises
    ------
    RegisterValidationError
        The file cannot be read as a table (the error's kind only: its text may quote data),
        or the mapping cannot be applied to it.
    """
    try:
        raw = read_table_file(path)
    except TableReadError as exc:
        raise RegisterValidationError([RegisterError(exc.file, 0, "-", exc.reason)]) from None
    if mapping is not None:
        try:
            raw = mapping.apply(raw, path.name)
        except MappingError as exc:
            problems = [RegisterError(path.name, 0, "-", p) for p in exc.problems]
            raise RegisterValidationError(problems) from None
    header = header_problems(raw.columns, KNOWN_COLUMNS, REQUIRED_FIELDS)
    if header:
        raise RegisterValidationError([RegisterError(path.name, 0, "-", p) for p in header])
    return raw


# Fields a live request may leave out because they default to the day of the check; a
# register row records a past event, so "today" would be wrong and a missing value is an error.
DATED_BY_THE_CHECK: Final = tuple(f.name for f in PROFILE_SPEC if f.default is TODAY)
OUTCOME_RULE: Final = "must be 0 or 1 (or empty while not yet observed)"
PAST_EVENT: Final = "a register row needs it; only a live request defaults it to today"


def _profile_errors(raw: pd.DataFrame, file: str) -> tuple[pd.DataFrame, list[RegisterError]]:
    raw = raw.reset_index(drop=True)
    parsed = parse_profile_frame(raw)
    errors = [RegisterError(file, e.row, e.field, e.message) for e in parsed.errors]
    for name in DATED_BY_THE_CHECK:
        if name not in raw.columns:
            errors.append(RegisterError(file, 0, name, f"column is missing ({PAST_EVENT})"))
            continue
        text = raw[name].astype("string").str.strip()
        missing = (raw[name].isna() | (text == "")).to_numpy(dtype=bool)
        errors += [
            RegisterError(
                file,
                int(i) + 1,
                name,
                f"missing ({PAST_EVENT})",
            )
            for i in np.flatnonzero(missing)
        ]
    return parsed.frame, errors


def validate_clients(
    raw: pd.DataFrame, file: str = "clients"
) -> tuple[pd.DataFrame, list[RegisterError]]:
    """Validate a clients table; returns the typed valid rows and every error."""
    frame, errors = _profile_errors(raw, file)
    if "client_id" in raw.columns:
        ids = raw["client_id"].reset_index(drop=True)
        duplicated = ids.duplicated(keep="first") & ids.notna()
        errors += [
            RegisterError(file, int(i) + 1, "client_id", "duplicate client id")
            for i in np.flatnonzero(duplicated)
        ]
    return frame, sorted(errors, key=lambda e: (e.row, e.field))


def _blank(column: pd.Series) -> np.ndarray:
    """Cells that are missing or only spaces."""
    text = column.reset_index(drop=True)
    return (text.isna() | text.astype(str).str.strip().eq("")).to_numpy(dtype=bool)


def _numbers(raw: pd.DataFrame, name: str) -> tuple[np.ndarray, np.ndarray]:
    """Column as float64 and a mask of cells that are missing or not numbers."""
    if name not in raw.columns:
        return np.full(len(raw), np.nan), np.ones(len(raw), dtype=bool)
    values = pd.to_numeric(raw[name].reset_index(drop=True), errors="coerce").to_numpy(
        dtype=np.float64
    )
    return values, np.isnan(values)


def validate_episodes(
    raw: pd.DataFrame,
    catalog: Catalog,
    *,
    client_ids: pd.Series | np.ndarray | None = None,
    file: str = "episodes",
) -> tuple[pd.DataFrame, list[RegisterError]]:
    """Validate an episodes table; returns the typed valid rows and every error.

    Parameters
    ----------
    raw : DataFrame
    catalog : Catalog
        `service_id` must be one of its ids or `"none"`.
    client_ids : array-like, optional
        Known clients; each episode's `client_id` must be among them.
    file : str
        File name used in error messages.
    """
    raw = raw.reset_index(drop=True)
    errors: list[RegisterError] = []
    n = len(raw)

    def add(mask: np.ndarray, column: str, message: str) -> None:
        errors.extend(
            RegisterError(file, int(i) + 1, column, message) for i in np.flatnonzero(mask)
        )

    if "henkilotunnus" in raw.columns:
        errors.append(
            RegisterError(file, 0, "henkilotunnus", "episodes must not carry the henkilötunnus")
        )
    for column in EPISODE_FIELDS:
        if column not in raw.columns:
            errors.append(RegisterError(file, 0, column, "column is missing"))
    frame, profile_errors = _profile_errors(
        raw.drop(columns=["henkilotunnus"], errors="ignore"), file
    )
    errors += profile_errors

    if "episode_id" in raw.columns:
        episode_id = raw["episode_id"]
        missing_id = (
            episode_id.isna().to_numpy() | (episode_id.astype(str).str.strip() == "").to_numpy()
        )
        add(missing_id, "episode_id", "missing")
        add(
            (episode_id.duplicated(keep="first") & ~missing_id).to_numpy(),
            "episode_id",
            "duplicate episode id",
        )
        # The id travels into the training data, evaluation files and messages. A whole
        # value shaped like a code: a hashed id (hex) often holds a code-shaped run.
        add(
            np.fromiter((is_henkilotunnus_shaped(str(v)) for v in episode_id), dtype=bool, count=n)
            & ~missing_id,
            "episode_id",
            "looks like a henkilötunnus; use a pseudonymous episode id",
        )
    if client_ids is not None and "client_id" in raw.columns:
        # pandas' hash-based isin: np.isin on object arrays compares pairwise (minutes at 100k).
        known = raw["client_id"].astype(str).isin({str(c) for c in client_ids}).to_numpy()
        add(
            ~known & raw["client_id"].notna().to_numpy(),
            "client_id",
            "no such client in the clients file",
        )
    if "service_id" in raw.columns:
        known_service = raw["service_id"].astype(str).isin({*catalog.ids, NO_SERVICE})
        unknown = ~known_service.to_numpy() | raw["service_id"].isna().to_numpy()
        for i in np.flatnonzero(unknown):
            errors.append(
                RegisterError(
                    file,
                    int(i) + 1,
                    "service_id",
                    f"{quote_value(raw['service_id'].iloc[i])} is not a catalog service or 'none'",
                )
            )
    if "propensity" in raw.columns:
        propensity, bad = _numbers(raw, "propensity")
        add(bad, "propensity", "must be a number")
        add(~bad & ((propensity <= 0) | (propensity > 1)), "propensity", "must lie in (0, 1]")
    for outcome in EPISODE_OUTCOMES:
        if outcome in raw.columns:
            # A blank cell is an outcome not yet observed (a recent episode's 12 months are
            # still ahead); anything else must be 0 or 1.
            values, bad = _numbers(raw, outcome)
            bad &= ~_blank(raw[outcome])
            wrong = ~np.isnan(values) & ~np.isin(values, (0.0, 1.0))
            add(bad | wrong, outcome, OUTCOME_RULE)

    if n == 0 and not errors:
        errors.append(RegisterError(file, 0, "-", "no episode rows (only a header)"))
    if errors:
        return frame, sorted(errors, key=lambda e: (e.row, e.field))
    typed = frame.reset_index(drop=True)
    out = pd.DataFrame({"episode_id": raw["episode_id"].astype(str).to_numpy()})
    out = pd.concat([out, typed[list(PROFILE_COLUMNS)]], axis=1)
    out["service_id"] = raw["service_id"].astype(str).to_numpy()
    # A history column the extract does not carry comes from its own earlier episodes.
    absent = [name for name in HISTORY_FIELDS if name not in raw.columns]
    if absent:
        derived = derive_history(out)
        for name in absent:
            out[name] = derived[name].to_numpy()
    if "propensity" in raw.columns:
        out["propensity"] = _numbers(raw, "propensity")[0]
    for outcome in EPISODE_OUTCOMES:
        values = _numbers(raw, outcome)[0]
        # int8 while complete (as a generated world logs them), float with NaN where blank.
        out[outcome] = values if np.isnan(values).any() else values.astype(np.int8)
    return out, []


def _read_part(
    directory: str | Path,
    name: str,
    extract: RegisterExtract,
    mapping: ExtractMapping | None = None,
) -> tuple[Path, pd.DataFrame] | None:
    """Find and read one file of the extract; a missing or unreadable one becomes an error."""
    try:
        path = find_file(directory, name)
    except FileNotFoundError as exc:
        extract.errors.append(RegisterError(name, 0, "-", str(exc)))
        return None
    extract.files[name] = path
    try:
        return path, read_table(path, mapping)
    except RegisterValidationError as exc:
        extract.errors += exc.errors
        return None


def validate_register(
    directory: str | Path,
    catalog: Catalog | None = None,
    mapping: ExtractMapping | None = None,
) -> RegisterExtract:
    """Validate the clients and episodes of a register directory (the truth too, if present).

    With a `mapping`, the clients and episodes are renamed and recoded first, and every
    error names the extract's own column (the truth is Polku's own file and is not mapped).
    """
    catalog = resolve_catalog(directory, catalog)
    extract = RegisterExtract()
    client_ids = None
    found = _read_part(directory, CLIENTS_FILE, extract, mapping)
    if found is not None:
        clients_path, raw_clients = found
        extract.clients, errors = validate_clients(raw_clients, clients_path.name)
        extract.errors += _named(errors, mapping)
        if "client_id" in raw_clients.columns:
            client_ids = raw_clients["client_id"].dropna().astype(str).to_numpy()
    found = _read_part(directory, EPISODES_FILE, extract, mapping)
    if found is not None:
        episodes_path, raw_episodes = found
        extract.episodes, errors = validate_episodes(
            raw_episodes, catalog, client_ids=client_ids, file=episodes_path.name
        )
        extract.errors += _named(errors, mapping)
    try:
        truth_path = find_file(directory, TRUTH_FILE)
    except FileNotFoundError:
        return extract
    extract.files[TRUTH_FILE] = truth_path
    ids = (
        extract.episodes["episode_id"]
        if extract.episodes is not None and not extract.errors
        else None
    )
    try:
        load_truth(directory, ids, catalog=catalog)
    except ValueError as exc:
        extract.errors.append(RegisterError(truth_path.name, 0, "-", str(exc)))
    return extract


def load_episodes(
    directory: str | Path,
    catalog: Catalog | None = None,
    mapping: ExtractMapping | None = None,
) -> tuple[pd.DataFrame, Path]:
    """The validated episodes of a register directory and the file they came from.

    Clients are checked too when the clients file exists (episodes must point to them).
    With a `mapping`, both are renamed and recoded first (`pipeline.data.mapping`).

    Raises
    ------
    FileNotFoundError
        No episodes file.
    RegisterValidationError
        Any error in any row (the message names file, row and field).
    """
    catalog = resolve_catalog(directory, catalog)
    path = find_file(directory, EPISODES_FILE)
    client_ids = None
    try:
        clients_path = find_file(directory, CLIENTS_FILE)
    except FileNotFoundError:
        pass
    else:
        raw_clients = read_table(clients_path, mapping)
        if "client_id" in raw_clients.columns:
            client_ids = raw_clients["client_id"].dropna().astype(str).to_numpy()
    episodes, errors = validate_episodes(
        read_table(path, mapping), catalog, client_ids=client_ids, file=path.name
    )
    if errors:
        raise RegisterValidationError(_named(errors, mapping))
    return episodes, path
