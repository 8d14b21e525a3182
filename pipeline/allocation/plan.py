"""Allocate a scored cohort: the programme's values, the solve, and what a caseworker reads.

`allocate_cohort` scores every assessment with the model (`PolkuModel.score_frame`, with
intervals: the gate, the catalog's limits and the services the ranker supports decide what
each client may take), takes the value of each pair under the chosen uncertainty reading,
applies the clients' preferences, solves `models.allocation.solve_allocation` within the
period's places, and describes the result per client (allocated service, its expected
effect and interval, its rank in the client's own list, the best alternative that still has
places) and per service (places, used, left, how many have it as their own top-1).

Uncertainty readings (`models.allocation.UNCERTAINTY`):

- `shrunk`: the uplift the caseworker is shown (shrunk towards the service's
  average where the data are thin, `models.ranker.shrinkage`);
- `lower`: a lower quantile of the uplift (default the 25 % one, from the spread of the
  shown 90 % interval): places go where the gain is likely, not merely large on average;
- `raw`: the model's own uplift before shrinkage (what it ranks by);
- `ranked` (default): the pairs the shown uplift says help, valued by the model's own uplift
  (`models.allocation.ranked_values`); the floors and the summary count the shown uplift.

Do no harm (default): every group of `models.groupings.GROUPINGS` gets at least what
today's practice would give it within the same places, by the model's own estimates, less a
lower-confidence slack (`models.allocation.cohort_do_no_harm`, which the API's allocation
shares; practice is the ranker's model of the caseworkers' logged choices,
`FrameScores.practice`). A model without a model of practice allocates without these
floors, and the summary says so.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import numpy as np
import pandas as pd

from models.allocation import (
    DEFAULT_QUANTILE,
    DEFAULT_UNCERTAINTY,
    NO_SERVICE,
    UNCERTAINTY,
    Allocation,
    allocate_reading,
    best_with_places,
    rank_in_own_list,
)
from models.bundle import FrameScores, PolkuModel
from models.groupings import GROUPINGS, group_labels
from models.objectives import Objective
from pipeline.allocation.preferences import Preferences
from pipeline.threads import limited_threads

CLIENT_COLUMNS: Final = (
    "client_id",
    "assessment_date",
    "service_id",
    "uplift",
    "uplift_low",
    "uplift_high",
    "expected_without",
    "rank_in_own_list",
    "own_top_service_id",
    "own_top_uplift",
    "alternative_service_id",
    "alternative_uplift",
)


@dataclass(frozen=True)
class AllocationOptions:
    """How to allocate.

    Attributes
    ----------
    uncertainty : str
        One of `UNCERTAINTY`.
    do_no_harm : bool
        Floor every group at what today's practice gives it (see the module docstring).
    quantile : float
        The quantile of the `lower` reading, in (0, 0.5).
    group_by : str or None
        A grouping of `GROUPINGS` whose every group gets at least `group_floor` of the
        cohort's mean expected gain per client (the floor only: groups never rank).
    group_floor : float or None
    preference_weight : float
        Added to the value of a service the client prefers (in outcome probability).
    time_limit : float
        Seconds the solver may take.
    """

    uncertainty: str = DEFAULT_UNCERTAINTY
    do_no_harm: bool = True
    quantile: float = DEFAULT_QUANTILE
    group_by: str | None = None
    group_floor: float | None = None
    preference_weight: float = 0.02
    time_limit: float = 60.0

    def __post_init__(self) -> None:
        if self.uncertainty not in UNCERTAINTY:
            raise ValueError(f"uncertainty must be one of {', '.join(UNCERTAINTY)}")
        if (self.group_by is None) != (self.group_floor is None):
            raise ValueError("a group floor needs a grouping, and a grouping a floor")
        if self.group_by is not None and self.group_by not in GROUPINGS:
            raise ValueError(f"group_by must be one of {', '.join(GROUPINGS)}")
        if not 0.0 < self.quantile < 0.5:
            raise ValueError("the lower quantile must lie in (0, 0.5)")
        if self.group_floor is not None and not 0.0 <= self.group_floor <= 1.0:
            raise ValueError("the group floor is a share of the mean gain, in [0, 1]")
        if self.preference_weight < 0:
            raise ValueError("the preference weight must be 0 or more")


@dataclass(frozen=True)
class CohortAllocation:
    """What `allocate_cohort` found.

    Attributes
    ----------
    clients : DataFrame
        One row per assessment, the cohort's key column first, then `CLIENT_COLUMNS`.
    services : DataFrame
        One row per service: `service_id`, `places`, `used`, `left`, `own_top1`.
    allocation : Allocation
        The solver's result (status, time, objective, floors).
    groups : dict
        grouping -> label -> {clients, allocated, mean_expected_gain}.
    do_no_harm : str
        `floors` (the do-no-harm floors were set), `off`, or why they could not be.
    """

    clients: pd.DataFrame
    services: pd.DataFrame
    allocation: Allocation
    groups: dict[str, dict[str, dict[str, float]]] = field(default_factory=dict)
    do_no_harm: str = "off"


def allocate_cohort(
    model: PolkuModel,
    frame: pd.DataFrame,
    keys: np.ndarray,
    key_column: str,
    objective: Objective,
    places: np.ndarray,
    options: AllocationOptions,
    preferences: Preferences | None = None,
) -> CohortAllocation:
    """Score, solve and describe (see the module docstring).

    Parameters
    ----------
    places : int array, one per service of `model.service_ids`
    preferences : masks in the order of `model.service_ids`, optional
    """
    with limited_threads():
        scores = model.score_frame(
            frame, objective, with_intervals=True, with_practice=options.do_no_harm
        )
    return allocate_scores(scores, frame, keys, key_column, places, options, preferences)


def allocate_scores(
    scores: FrameScores,
    frame: pd.DataFrame,
    keys: np.ndarray,
    key_column: str,
    places: np.ndarray,
    options: AllocationOptions,
    preferences: Preferences | None = None,
) -> CohortAllocation:
    """`allocate_cohort` on scores already computed (the bench reuses one scoring)."""
    n, m = scores.allowed.shape
    prefs = preferences or Preferences.none(n, m)
    labels = group_labels(frame) if len(frame) else {}
    solved = allocate_reading(
        scores,
        places,
        labels,
        uncertainty=options.uncertainty,
        quantile=options.quantile,
        do_no_harm=options.do_no_harm,
        permitted=prefs.permitted,
        preferred=prefs.preferred,
        preference_weight=options.preference_weight,
        groups=labels[options.group_by] if options.group_by is not None else None,
        group_floor=options.group_floor,
        time_limit=options.time_limit,
    )
    allocation, gain = solved.allocation, solved.gain
    clients = describe_clients(scores, frame, keys, key_column, places, allocation.service)
    services = describe_services(scores, places, allocation.service)
    groups = describe_groups(labels, allocation.service, gain)
    return CohortAllocation(clients, services, allocation, groups, solved.do_no_harm.status)


def _take(matrix: np.ndarray | None, service: np.ndarray) -> np.ndarray:
    out = np.full(len(service), np.nan)
    if matrix is None:
        return out
    given = service >= 0
    out[given] = matrix[np.flatnonzero(given), service[given]]
    return out


def _ids(service_ids: Sequence[str], service: np.ndarray) -> np.ndarray:
    names = np.array([*service_ids, None], dtype=object)
    return names[np.where(service >= 0, service, len(service_ids))]


def describe_clients(
    scores: FrameScores,
    frame: pd.DataFrame,
    keys: np.ndarray,
    key_column: str,
    places: np.ndarray,
    service: np.ndarray,
) -> pd.DataFrame:
    """Per assessment: the allocated service and its numbers, its rank in the client's own
    list, the client's own top-1, and the best alternative that still has places."""
    rank_key = scores.uplift if scores.rank_key is None else scores.rank_key
    m = scores.allowed.shape[1]
    left = np.asarray(places, dtype=np.int64) - np.bincount(service[service >= 0], minlength=m)
    own_top = scores.top(1)[:, 0]
    alternative = best_with_places(rank_key, scores.allowed, left, service)
    return pd.DataFrame(
        {
            key_column: keys,
            "client_id": frame["client_id"].to_numpy(dtype=object),
            "assessment_date": pd.to_datetime(frame["assessment_date"]).dt.date.to_numpy(),
            "service_id": _ids(scores.service_ids, service),
            "uplift": _take(scores.uplift, service),
            "uplift_low": _take(scores.uplift_low, service),
            "uplift_high": _take(scores.uplift_high, service),
            "expected_without": np.where(service >= 0, scores.expected_without, np.nan),
            "rank_in_own_list": rank_in_own_list(rank_key, scores.allowed, service),
            "own_top_service_id": _ids(scores.service_ids, own_top),
            "own_top_uplift": _take(scores.uplift, own_top),
            "alternative_service_id": _ids(scores.service_ids, alternative),
            "alternative_uplift": _take(scores.uplift, alternative),
        }
    )


def describe_services(scores: FrameScores, places: np.ndarray, service: np.ndarray) -> pd.DataFrame:
    """Per service: places for the period, used, left, and how many have it as top-1."""
    m = len(scores.service_ids)
    used = np.bincount(service[service >= 0], minlength=m)
    top = scores.top(1)[:, 0]
    own_top1 = np.bincount(top[top >= 0], minlength=m)
    places = np.asarray(places, dtype=np.int64)
    return pd.DataFrame(
        {
            "service_id": list(scores.service_ids),
            "places": places,
            "used": used,
            "left": places - used,
            "own_top1": own_top1,
        }
    )


def describe_groups(
    labels: dict[str, np.ndarray], service: np.ndarray, gain: np.ndarray
) -> dict[str, dict[str, dict[str, float]]]:
    """Per grouping and group: clients, share allocated, mean expected gain per client."""
    expected = np.nan_to_num(_take(gain, service), nan=0.0)
    out: dict[str, dict[str, dict[str, float]]] = {}
    for grouping, group in labels.items():
        text = np.asarray(group).astype(str)
        out[grouping] = {
            label: {
                "clients": float((member := text == label).sum()),
                "allocated": float((service[member] != NO_SERVICE).mean()),
                "mean_expected_gain": float(expected[member].mean()),
            }
            for label in sorted(set(text.tolist()))
        }
    return out


def summary(result: CohortAllocation, extra: dict[str, Any]) -> dict[str, Any]:
    """The JSON summary written beside the client table."""
    a = result.allocation
    return {
        **extra,
        "solver": {
            "name": "HiGHS (scipy.optimize.linprog IPM + crossover; milp with group floors)",
            "status": a.status,
            "message": a.message,
            "seconds": round(a.seconds, 3),
            "objective": a.objective,
            "mip_gap": a.mip_gap,
            "variables": a.n_variables,
        },
        "clients": len(result.clients),
        "allocated": int(result.clients["service_id"].notna().sum()),
        "expected_gain_total": float(np.nansum(result.clients["uplift"])),
        "do_no_harm": result.do_no_harm,
        "group_floors": a.floors,
        "binding_floors": list(a.binding),
        "services": result.services.to_dict(orient="records"),
        "groups": result.groups,
    }
