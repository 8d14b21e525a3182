"""The ranker's view of a client's service history: a few generic columns, alike offline and online.

From the profile's history fields (`previous_services`, `last_service_date`,
`models.profile.HISTORY_FIELDS`) and the assessment date:

- `served_before`: 1 when the client was placed in any service at an earlier assessment;
- `previous_services_log`: how many, log-scaled and capped (`SERVICES_CAP`), in [0, 1];
- `months_since_last_service_log`: months from the last service's start to this
  assessment, log-scaled and capped (`MONTHS_CAP`), in [0, 1]; a client never served (or
  whose last service date is not known) counts as the cap, "long ago".

Only smooth, monotone shapes: no threshold is tuned to any data. Two readers give the
sources (a typed frame, or `ClientProfile` records); `history_columns` is the one definition
of the columns, so both paths of `models.features` encode the same numbers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

import numpy as np
import pandas as pd

HISTORY_SOURCE_COLUMNS: Final = ("previous_services", "last_service_date")
HISTORY_FEATURE_NAMES: Final = (
    "served_before",
    "previous_services_log",
    "months_since_last_service_log",
)
SERVICES_CAP: Final = 10.0
MONTHS_CAP: Final = 120.0
DAYS_PER_MONTH: Final = 365.25 / 12.0
_CAPS: Final = np.array([SERVICES_CAP, MONTHS_CAP])
_LOG_CAPS: Final = np.log1p(_CAPS)


def history_columns(sources: np.ndarray) -> np.ndarray:
    """The `HISTORY_FEATURE_NAMES` columns, (n, 3), from `(previous_services, months_since)`.

    Parameters
    ----------
    sources : float64 ndarray (n, 2)
        Per row the number of earlier services and the months since the last one started
        (NaN: never served, or not known).
    """
    # A few whole-array operations (this runs on every recommendation): `fmin` caps both
    # columns and turns an unknown month count into the cap, "long ago".
    capped = np.fmax(np.fmin(sources, _CAPS), 0.0)
    served = (sources[:, 0] > 0) | (sources[:, 1] == sources[:, 1])  # NaN != NaN
    out = np.empty((len(sources), len(HISTORY_FEATURE_NAMES)), dtype=np.float64)
    out[:, 0] = served
    capped[:, 0] = np.maximum(capped[:, 0], out[:, 0])  # a known date means one service
    out[:, 1:] = np.log1p(capped) / _LOG_CAPS
    return out


def months_between(earlier: np.ndarray, later: np.ndarray) -> np.ndarray:
    """Months (float, days / `DAYS_PER_MONTH`) from `earlier` to `later`; NaN where NaT."""
    earlier = np.asarray(earlier, dtype="datetime64[D]")
    later = np.asarray(later, dtype="datetime64[D]")
    days = (later - earlier).astype(np.float64)
    days[np.isnat(earlier) | np.isnat(later)] = np.nan
    return days / DAYS_PER_MONTH


def frame_history_sources(X: pd.DataFrame) -> np.ndarray:
    """`history_columns`' sources of a typed profile frame, (n, 2).

    A frame without the history columns has no history (the fields' declared defaults:
    no earlier service).

    Raises
    ------
    ValueError
        A negative or non-numeric `previous_services` (naming the 1-based row).
    """
    n = len(X)
    if "previous_services" in X.columns:
        previous = pd.to_numeric(X["previous_services"], errors="coerce").to_numpy(
            dtype=np.float64, na_value=np.nan
        )
        bad = ~np.isfinite(previous) | (previous < 0)
        if bad.any():
            row = int(np.flatnonzero(bad)[0]) + 1
            raise ValueError(f"row {row}: previous_services must be a non-negative number")
    else:
        previous = np.zeros(n)
    if "last_service_date" in X.columns and "assessment_date" in X.columns:
        last = pd.to_datetime(X["last_service_date"], errors="coerce").to_numpy(
            dtype="datetime64[D]"
        )
        on = pd.to_datetime(X["assessment_date"], errors="coerce").to_numpy(dtype="datetime64[D]")
        months = months_between(last, on)
    else:
        months = np.full(n, np.nan)
    return np.column_stack([previous, months])


def record_history_sources(records: Sequence[Mapping[str, Any]]) -> np.ndarray:
    """`history_columns`' sources of profile records (`ClientProfile.to_record`), (n, 2).

    Plain lookups (the serving path); equal to `frame_history_sources` on a frame of the
    same profiles.
    """
    out = np.empty((len(records), 2), dtype=np.float64)
    for i, record in enumerate(records):
        out[i, 0] = float(record.get("previous_services", 0) or 0)
        last = record.get("last_service_date")
        on = record.get("assessment_date")
        out[i, 1] = (
            (on.toordinal() - last.toordinal()) / DAYS_PER_MONTH
            if last is not None and on is not None
            else np.nan
        )
    return out
