"""A generated register as an extract taken on a given day holds it: recent outcomes blank.

A real register extract is censored: an episode assessed less than six months before the
extract has no six-month outcomes yet, one assessed less than twelve months before has no
twelve-month outcome. `polku generate --censored` draws such an extract (the truth file
still knows every outcome, so what Polku learns from the censored one can be judged).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from pipeline.data.outcome_status import not_yet_due


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
    _, ahead = not_yet_due(episodes, extract_date)
    out = episodes.copy()
    for outcome, awaited in ahead.items():
        out[outcome] = np.where(awaited, np.nan, out[outcome].to_numpy(dtype=np.float64))
    return out
