"""A client's service history, derived from the extract's own episodes of the same client.

A register extract may carry the history fields (`models.profile.HISTORY_FIELDS`) as its
service records hold them. When a column is absent, it is derived here from the episodes
of the same `client_id` in date order: `previous_services` counts the client's earlier
episodes with a service (not "none"), and `last_service_date` is the assessment date of
the latest of them (a service starts at the assessment that decided it). Episodes of one
client on the same day keep the extract's row order. The synthetic world writes exactly
these values, so deriving them from its extract gives its own columns back.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from models.actions import NO_SERVICE


def derive_history(episodes: pd.DataFrame) -> pd.DataFrame:
    """`previous_services` (int64) and `last_service_date` (datetime64[ns], NaT: never served)
    of each episode, from the earlier episodes of the same client; index as `episodes`.

    Parameters
    ----------
    episodes : DataFrame
        At least `client_id`, `assessment_date` and `service_id`.
    """
    n = len(episodes)
    if n == 0:
        return pd.DataFrame(
            {
                "previous_services": np.zeros(0, dtype=np.int64),
                "last_service_date": np.zeros(0, dtype="datetime64[ns]"),
            },
            index=episodes.index,
        )
    client = episodes["client_id"].astype(str).to_numpy(dtype=object)
    dates = pd.to_datetime(episodes["assessment_date"]).to_numpy(dtype="datetime64[ns]")
    served = episodes["service_id"].astype(str).to_numpy(dtype=object) != NO_SERVICE
    codes, _ = pd.factorize(client)
    order = np.lexsort((np.arange(n), dates, codes))  # by client, then date, then row
    c, d, s = codes[order], dates[order], served[order]
    first = np.r_[True, c[1:] != c[:-1]]
    start = np.maximum.accumulate(np.where(first, np.arange(n), 0))  # first row of the client
    # Services strictly before each row within its client: a running count minus the row's own.
    running = np.cumsum(s)
    before_start = np.where(start > 0, running[start - 1], 0)
    previous = running - s - before_start
    # The last served row strictly before each row, within its client.
    served_at = np.where(s, np.arange(n), -1)
    last_served = np.maximum.accumulate(served_at)
    last_before = np.r_[-1, last_served[:-1]]
    last_before = np.where(last_before >= start, last_before, -1)
    last_date = np.where(last_before >= 0, d[np.maximum(last_before, 0)], np.datetime64("NaT"))
    out_previous = np.empty(n, dtype=np.int64)
    out_last = np.empty(n, dtype="datetime64[ns]")
    out_previous[order] = previous
    out_last[order] = last_date
    return pd.DataFrame(
        {"previous_services": out_previous, "last_service_date": out_last}, index=episodes.index
    )
