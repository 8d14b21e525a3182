"""A generated register as an extract taken on a given day holds it: recent outcomes blank.

A real register extract is censored: an episode assessed less than six months before the
extract has no six-month outcomes yet, one assessed less than twelve months before has no
twelve-month outcome. `polku generate --censored` draws such an extract (the truth file
still knows every outcome, so what Polku learns from the censored one can be judged).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from models.objectives import OUTCOME_HORIZON_MONTHS


def censor_outcomes(
    episodes: pd.DataFrame, extract_date: pd.Timestamp | None = None
) -> pd.DataFrame:
    """The episodes with each outcome blank (NaN) whose horizon ends after `extract_date`.

    Parameters
    ----------
    episodes : DataFrame
        With `assessment_date` and the outcome columns (`models.objectives.EPISODE_OUTCOMES`).
    extract_date : Timestamp, optional
        The day the extract is taken; default the latest assessment date (an extract taken
        the day its last episode was recorded).

    Returns
    -------
    DataFrame
        A copy; the outcome columns are float (NaN where not yet observed).
    """
    dates = pd.to_datetime(episodes["assessment_date"])
    taken = dates.max() if extract_date is None else pd.Timestamp(extract_date)
    out = episodes.copy()
    for outcome, months in OUTCOME_HORIZON_MONTHS.items():
        ahead = (dates + pd.DateOffset(months=months) > taken).to_numpy()
        values = out[outcome].to_numpy(dtype=np.float64)
        out[outcome] = np.where(ahead, np.nan, values)
    return out
