"""Facts about a person that several rules need: age on a date, foreign-language status, and
whether a coded field holds one of some values.

Written once, on numpy arrays, so the gate, the catalog limits and the features share one
definition; a single profile goes through the same code as arrays of length one.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

import numpy as np
import numpy.typing as npt

# Finnish, Swedish and the Sámi languages: the national languages, which are not "foreign".
NATIONAL_LANGUAGES: Final = ("fi", "sv", "se", "smn", "sms")


def age_in_years(birth_dates: npt.ArrayLike, on_dates: npt.ArrayLike) -> np.ndarray:
    """Completed years of age on each date (a birthday counts from its own day).

    Parameters
    ----------
    birth_dates, on_dates : array-like of dates (datetime64, `datetime.date` or ISO strings)

    Returns
    -------
    ndarray of int64, the age in whole years. Someone born on 29 February comes of age on
    1 March in common years.

    Examples
    --------
    >>> int(age_in_years("1995-06-15", "2025-06-14")[()])
    29
    """
    born = np.asarray(birth_dates, dtype="datetime64[D]")
    on = np.asarray(on_dates, dtype="datetime64[D]")
    born_month, on_month = born.astype("datetime64[M]"), on.astype("datetime64[M]")
    # Whole calendar months between the two months, one fewer while the day of the month is
    # still before the birth day: its twelfths are the completed years. The same as comparing
    # (year, month, day), in a third of the small-array operations (one client's path).
    months = (on_month - born_month).astype(np.int64)
    before_day = (on - on_month) < (born - born_month)
    return np.asarray((months - before_day) // 12)


def is_foreign_language(mother_tongue: npt.ArrayLike, immigrant: npt.ArrayLike) -> np.ndarray:
    """True where the registered mother tongue is not a national language, or for immigrants."""
    tongues = np.char.lower(np.asarray(mother_tongue, dtype=str))
    return np.asarray(~is_one_of(tongues, NATIONAL_LANGUAGES) | np.asarray(immigrant, dtype=bool))


def is_one_of(values: npt.ArrayLike, allowed: Sequence[str]) -> np.ndarray:
    """True where the value is one of `allowed` (a coded field: a status, a benefit, ...).

    A set lookup per element: as quick as `np.isin` on a million object strings, and without
    its fixed cost per call (sorting, concatenating), which dominates for one profile.

    Examples
    --------
    >>> is_one_of(["unemployed", "employed"], ("unemployed", "laid_off")).tolist()
    [True, False]
    """
    contains = np.frompyfunc(frozenset(allowed).__contains__, 1, 1)
    return np.asarray(contains(np.asarray(values, dtype=object)), dtype=bool)
