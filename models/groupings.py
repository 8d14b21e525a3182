"""The groups every audit slices by: age band, language group, gender, long-term unemployment.

Written once because the evaluation report's slices, the register's effects by group, the
do-no-harm floors of `polku allocate` and those of `POST /v1/allocations` must name the same
groups with the same edges; `service` may not import `pipeline`, so they live here. The
language group and gender are for auditing and for bounding an allocation only: they never
reach the ranker (`models.profile.NEVER_FEATURES`).
"""

from __future__ import annotations

from typing import Final

import numpy as np
import numpy.typing as npt
import pandas as pd

from models.demographics import age_in_years, is_foreign_language
from models.features import LONG_TERM_MONTHS

GROUPINGS: Final = ("age_band", "language_group", "gender", "long_term_unemployed")
# (label, lowest age, first age past the band), youngest first: reports keep this order.
AGE_BANDS: Final[tuple[tuple[str, int, int], ...]] = (
    ("under_25", 0, 25),
    ("25_29", 25, 30),
    ("30_44", 30, 45),
    ("45_54", 45, 55),
    ("55_plus", 55, 200),
)
UNKNOWN: Final = "unknown"


def age_band(age_years: npt.ArrayLike) -> np.ndarray:
    """Label each age with its band (`under_25`, `25_29`, `30_44`, `45_54`, `55_plus`).

    An age outside every band (a missing one) is `unknown`.

    Examples
    --------
    >>> age_band([24, 25, 60]).tolist()
    ['under_25', '25_29', '55_plus']
    """
    ages = np.asarray(age_years)
    labels = np.full(ages.shape, UNKNOWN, dtype=object)
    for label, low, high in AGE_BANDS:
        labels[(ages >= low) & (ages < high)] = label
    return labels


def long_term_unemployed(unemployment_months: npt.ArrayLike) -> np.ndarray:
    """True for `models.features.LONG_TERM_MONTHS` (12) or more months of unemployment."""
    return np.asarray(unemployment_months) >= LONG_TERM_MONTHS


def group_labels(frame: pd.DataFrame) -> dict[str, np.ndarray]:
    """Each row's label in every grouping of `GROUPINGS`, keyed by the grouping.

    Parameters
    ----------
    frame : DataFrame
        Typed profiles: `birth_date`, `assessment_date`, `mother_tongue`, `immigrant`,
        `unemployment_months` and optionally `gender` (absent or missing: `unknown`).

    Returns
    -------
    dict of grouping -> object ndarray (n,)
        The language group is `foreign_language` or `national_language` by
        `models.demographics.is_foreign_language`.
    """
    birth = pd.to_datetime(frame["birth_date"]).to_numpy(dtype="datetime64[D]")
    on = pd.to_datetime(frame["assessment_date"]).to_numpy(dtype="datetime64[D]")
    foreign = is_foreign_language(
        frame["mother_tongue"].astype(str).to_numpy(), frame["immigrant"].to_numpy(dtype=bool)
    )
    if "gender" in frame.columns:
        gender = frame["gender"].astype(object).where(frame["gender"].notna(), UNKNOWN)
        gender_labels = gender.astype(str).to_numpy(dtype=object)
    else:
        gender_labels = np.full(len(frame), UNKNOWN, dtype=object)
    long_term = long_term_unemployed(frame["unemployment_months"].to_numpy())
    return {
        "age_band": age_band(age_in_years(birth, on)),
        "language_group": np.where(foreign, "foreign_language", "national_language").astype(object),
        "gender": gender_labels,
        "long_term_unemployed": np.where(long_term, "12_months_or_more", "under_12_months").astype(
            object
        ),
    }
