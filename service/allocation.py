"""Allocating a cohort sent to the API: the served model's scores, the programme, the places.

What `POST /v1/allocations` runs (`service.routes.allocation`): the cohort's profiles
(validated as every profile is) are scored by the served model with intervals
(`PolkuModel.score_frame`: the gate, the catalog's limits and the ranker's support decide
what each client may take), valued under the uncertainty reading and solved with the
programme `polku allocate` solves (`models.allocation`), with the same do-no-harm floors
unless the caller turns them off (`models.allocation.cohort_do_no_harm`, over the groups of
`models.groupings`). The places are the catalog's monthly capacity scaled to the period
(times the office's share), and never more than the places left this month
(`service.places`). Clients are named by their pseudonymous key and their position in the
request, never by an identity code.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from models.allocation import (
    Allocation,
    allocate_reading,
    best_with_places,
    period_places,
    rank_in_own_list,
)
from models.bundle import PolkuModel, RulesVersionError
from models.groupings import group_labels
from models.objectives import Objective
from models.profile import ClientProfile
from models.profile_validation import parse_profile_frame
from service.model_holder import ServedModel
from service.suggest import NoModelError

SOLVER_TIME_LIMIT = 20.0


@dataclass(frozen=True)
class AllocatedClient:
    """One client's allocation (`service_id` None: no service)."""

    index: int
    client_key: str
    service_id: str | None
    uplift: float | None
    uplift_low: float | None
    uplift_high: float | None
    rank_in_own_list: int
    alternative_service_id: str | None


@dataclass(frozen=True)
class ServicePlaces:
    service_id: str
    places: int
    used: int
    left: int


@dataclass(frozen=True)
class CohortAllocationAnswer:
    clients: tuple[AllocatedClient, ...]
    services: tuple[ServicePlaces, ...]
    solved: Allocation
    model_version: str
    do_no_harm: str


def _number(matrix: np.ndarray | None, i: int, j: int) -> float | None:
    if matrix is None or j < 0:
        return None
    value = float(matrix[i, j])
    return value if np.isfinite(value) else None


def allocate_profiles(
    served: ServedModel,
    profiles: Sequence[ClientProfile],
    client_keys: Sequence[str],
    objective: Objective,
    *,
    uncertainty: str,
    quantile: float,
    period_days: int,
    share: float,
    places_left: Mapping[str, int] | None,
    do_no_harm: bool,
) -> CohortAllocationAnswer:
    """Score, solve and describe a cohort (see the module docstring)."""
    parsed = parse_profile_frame(pd.DataFrame([p.to_record() for p in profiles]))
    if parsed.errors:  # the profiles were validated one by one: this cannot disagree
        raise ValueError("the cohort's profiles did not validate as a frame")
    frame = parsed.frame.reset_index(drop=True)
    model = served.model
    if not isinstance(model, PolkuModel):  # the holder's protocol only promises `recommend`
        raise NoModelError("the served model cannot score a cohort")
    try:
        scores = model.score_frame(frame, objective, with_intervals=True, with_practice=do_no_harm)
    except RulesVersionError as exc:
        raise NoModelError(str(exc)) from None
    catalog = served.catalog
    ids = model.service_ids
    places = period_places(catalog, period_days, share)[[catalog.index(s) for s in ids]]
    if places_left is not None:
        left = [places_left.get(s, int(p)) for s, p in zip(ids, places, strict=True)]
        places = np.minimum(places, left)
    reading = allocate_reading(
        scores,
        places,
        group_labels(frame),
        uncertainty=uncertainty,
        quantile=quantile,
        do_no_harm=do_no_harm,
        time_limit=SOLVER_TIME_LIMIT,
    )
    solved, harm = reading.allocation, reading.do_no_harm
    service = solved.service
    used = solved.used(len(ids))
    rank_key = scores.uplift if scores.rank_key is None else scores.rank_key
    alternative = best_with_places(rank_key, scores.allowed, places - used, service)
    ranks = rank_in_own_list(rank_key, scores.allowed, service)
    clients = tuple(
        AllocatedClient(
            index=i,
            client_key=client_keys[i],
            service_id=ids[j] if j >= 0 else None,
            uplift=_number(scores.uplift, i, j),
            uplift_low=_number(scores.uplift_low, i, j),
            uplift_high=_number(scores.uplift_high, i, j),
            rank_in_own_list=int(ranks[i]),
            alternative_service_id=ids[a] if (a := int(alternative[i])) >= 0 else None,
        )
        for i, j in enumerate(service.tolist())
    )
    services = tuple(
        ServicePlaces(s, int(p), int(u), int(p - u))
        for s, p, u in zip(ids, places, used, strict=True)
    )
    return CohortAllocationAnswer(clients, services, solved, served.version, harm.status)
