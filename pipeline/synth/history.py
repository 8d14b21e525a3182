"""What a client's service history does to the true effects of the synthetic world.

Two generic, assumed mechanisms (no figure of docs/domain/CALIBRATION.md sets them):

- **diminishing returns**: a service the client was placed in at an earlier assessment does
  `REPEAT_EFFECT_SCALE` of its effect when taken again (what it teaches was learnt once);
- **recent service**: a client back soon after a service gains less from another light
  job-search service (the light touch was tried and did not work); the damping fades with
  the months since the last service started, `1 - RECENT_DAMPING * exp(-months /
  RECENCY_MONTHS)`.

Both scale each service's index shifts (`pipeline.synth.outcomes.truth_probabilities`'s
`effect_scale`). `effect_scale_of_episodes` computes the same scale from an extract's own
episodes, so the truth can be recomputed from the files alone.
"""

from __future__ import annotations

from typing import Final

import numpy as np
import pandas as pd

from models.actions import NO_SERVICE
from models.catalog import Catalog
from models.history import months_between

REPEAT_EFFECT_SCALE: Final = 0.5
RECENT_DAMPING: Final = 0.5
RECENCY_MONTHS: Final = 12.0
RECENT_DAMPED_FAMILIES: Final = ("job_search",)


def history_effect_scale(
    taken_before: np.ndarray, months_since_last: np.ndarray, catalog: Catalog
) -> np.ndarray:
    """The factor on each service's true effect, (n, n_services).

    Parameters
    ----------
    taken_before : bool ndarray (n, n_services)
        Whether the client was placed in each service at an earlier assessment.
    months_since_last : float ndarray (n,)
        Months since the last service started (NaN: never served).
    catalog : Catalog
    """
    scale = np.where(taken_before, REPEAT_EFFECT_SCALE, 1.0)
    families = np.array([s.family for s in catalog.services], dtype=object)
    damped = np.isin(families, RECENT_DAMPED_FAMILIES)
    months = np.asarray(months_since_last, dtype=np.float64)
    recent = np.where(np.isfinite(months), np.exp(-np.maximum(months, 0.0) / RECENCY_MONTHS), 0.0)
    return scale * np.where(damped[None, :], 1.0 - RECENT_DAMPING * recent[:, None], 1.0)


def taken_before_in_episodes(episodes: pd.DataFrame, catalog: Catalog) -> np.ndarray:
    """Per episode, the services its client was placed in at earlier episodes, (n, n_services).

    Earlier means earlier in date order within the same `client_id` (same-day episodes in
    row order), as `pipeline.data.history.derive_history` counts them.
    """
    n = len(episodes)
    index = {service_id: j for j, service_id in enumerate(catalog.ids)}
    service = episodes["service_id"].astype(str).to_numpy(dtype=object)
    column = np.array([index.get(s, -1) for s in service], dtype=np.int64)
    codes, _ = pd.factorize(episodes["client_id"].astype(str).to_numpy(dtype=object))
    dates = pd.to_datetime(episodes["assessment_date"]).to_numpy(dtype="datetime64[D]")
    order = np.lexsort((np.arange(n), dates, codes))
    taken = np.zeros((n, len(catalog)), dtype=bool)
    seen: dict[int, set[int]] = {}
    for row in order:  # test-sized extracts only: the generator keeps its own matrix
        earlier = seen.setdefault(int(codes[row]), set())
        taken[row, list(earlier)] = True
        if service[row] != NO_SERVICE and column[row] >= 0:
            earlier.add(int(column[row]))
    return taken


def effect_scale_of_episodes(episodes: pd.DataFrame, catalog: Catalog) -> np.ndarray:
    """`history_effect_scale` of an extract's episodes (client, date, service, history)."""
    months = months_between(
        pd.to_datetime(episodes["last_service_date"]).to_numpy(dtype="datetime64[D]"),
        pd.to_datetime(episodes["assessment_date"]).to_numpy(dtype="datetime64[D]"),
    )
    return history_effect_scale(taken_before_in_episodes(episodes, catalog), months, catalog)
