"""`POST /v1/allocations`: allocate a cohort within the places (data scientists and team
leads; audited).

A data scientist, or an office's team lead, sends a week's cohort of profiles and gets each
client's allocated service, or none, within each service's places for the period
(`service.allocation`), with the do-no-harm floors `polku allocate` sets unless the
request's `do_no_harm` is false. Every run is written to the audit store before the answer
leaves (a security event `allocation_run` naming the caller and the run id the answer
carries). The cohort is bounded by `MAX_COHORT` and by the
server's body limit (`POLKU_MAX_BODY_BYTES`): a larger office allocates offline with
`polku allocate`.
"""

from __future__ import annotations

import logging
from typing import Any, Final, Literal

from fastapi import APIRouter, HTTPException
from fastapi.concurrency import run_in_threadpool
from pydantic import Field, StrictBool, StrictFloat, StrictInt

from models.allocation import DEFAULT_UNCERTAINTY, AllocationError
from models.objectives import DEFAULT_OBJECTIVE, TARGETS, Objective
from service.allocation import allocate_profiles
from service.audit import SecurityEventRecord, utc_now
from service.deps import AllocationRunner, SuggestionsDep
from service.request_id import new_audit_id
from service.routes.common import AUDIT_DOWN, AUTH, BODY, NO_MODEL, checked_profile
from service.schemas import ObjectiveIn, ProfileIn, ValidationErrorOut, _Strict

log = logging.getLogger(__name__)

router = APIRouter(prefix="/v1", tags=["data scientist"])

MAX_COHORT: Final = 5000


class AllocationRequest(_Strict):
    """A cohort to allocate, the objective, the uncertainty reading and the period."""

    profiles: list[ProfileIn] = Field(min_length=1, max_length=MAX_COHORT)
    objective: ObjectiveIn = Field(
        default_factory=lambda: Objective.parse(DEFAULT_OBJECTIVE),
        description=f"A target ({', '.join(TARGETS)}) or a weighted mix.",
        json_schema_extra={"default": DEFAULT_OBJECTIVE},
    )
    uncertainty: Literal["shrunk", "lower", "raw", "ranked"] = Field(
        default=DEFAULT_UNCERTAINTY,
        description="Allocate on the shown (shrunk) uplift, a lower quantile of it, the "
        "model's own uplift, or the pairs the shown uplift says help valued by the model's own",
    )
    quantile: StrictFloat = Field(default=0.25, gt=0.0, lt=0.5, description="Of `lower`.")
    period_days: StrictInt = Field(
        default=7, ge=1, le=31, description="Days the places are for (monthly capacity x days)."
    )
    share: StrictFloat = Field(
        default=1.0, gt=0.0, le=1.0, description="The office's share of the catalog's places."
    )
    do_no_harm: StrictBool = Field(
        default=True,
        description="Floor every group at what today's practice gives it, by the model's "
        "estimates (as `polku allocate`); false allows harm (`--allow-harm`).",
    )


class AllocatedClientOut(_Strict):
    """One client's allocation; `index` is the profile's position in the request."""

    index: int
    client_key: str = Field(description="The pseudonymous key of the client")
    service_id: str | None
    uplift: float | None
    uplift_low: float | None
    uplift_high: float | None
    rank_in_own_list: int = Field(
        ge=0, description="Rank of the service in the client's own list (0: none given)"
    )
    alternative_service_id: str | None = Field(
        description="The client's best other service that still has places"
    )


class ServicePlacesOut(_Strict):
    service_id: str
    places: int
    used: int
    left: int


class AllocationResponse(_Strict):
    """The allocation of a cohort, with how it was solved."""

    run_id: str
    model_version: str
    objective: str
    uncertainty: str
    period_days: int
    solver_status: str
    solver_seconds: float
    allocated: int
    expected_gain: float = Field(description="Sum of the allocated services' shown uplifts")
    do_no_harm: str = Field(
        description="`floors` (set), `off` (turned off), or why they could not be set"
    )
    group_floors: dict[str, float] = Field(
        description="Each group's floor on its total expected gain, keyed `grouping=label`"
    )
    binding_floors: list[str] = Field(description="The floors the allocation meets with equality")
    clients: list[AllocatedClientOut]
    services: list[ServicePlacesOut]


INFEASIBLE: Final[dict[int | str, dict[str, Any]]] = {
    422: {
        "model": ValidationErrorOut,
        "description": "Invalid request, or no allocation was found within the time limit.",
    }
}


@router.post(
    "/allocations",
    response_model=AllocationResponse,
    responses={**AUTH, **BODY, **INFEASIBLE, **NO_MODEL, **AUDIT_DOWN},
)
async def allocate(
    body: AllocationRequest, principal: AllocationRunner, suggestions: SuggestionsDep
) -> AllocationResponse:
    """Allocate each client of a cohort at most one service within the period's places."""
    served = suggestions.served_model()
    checked = [checked_profile(p) for p in body.profiles]
    keys = [suggestions.client_key(c) for c in checked]
    left = suggestions.places.left(served.catalog) if suggestions.places is not None else None
    try:
        answer = await run_in_threadpool(
            allocate_profiles,
            served,
            [c.profile for c in checked],
            keys,
            body.objective,
            uncertainty=body.uncertainty,
            quantile=body.quantile,
            period_days=body.period_days,
            share=body.share,
            places_left=left,
            do_no_harm=body.do_no_harm,
        )
    except AllocationError as exc:
        raise HTTPException(status_code=422, detail=f"no allocation: {exc.status}") from None
    # An audit record's id: never shaped like a code (else the log redaction would scrub it
    # from the line below) and named on the access line, as every audited write is.
    run_id = new_audit_id()
    event = SecurityEventRecord(utc_now(), "allocation_run", principal.label, run_id)
    await suggestions.record_event(event)
    solved = answer.solved
    log.info(
        "allocation %s: %d clients, model %s, solver %s in %.2f s",
        run_id,
        len(answer.clients),
        answer.model_version,
        solved.status,
        solved.seconds,
    )
    return AllocationResponse(
        run_id=run_id,
        model_version=answer.model_version,
        objective=body.objective.name,
        uncertainty=body.uncertainty,
        period_days=body.period_days,
        solver_status=solved.status,
        solver_seconds=round(solved.seconds, 4),
        allocated=sum(c.service_id is not None for c in answer.clients),
        expected_gain=sum(c.uplift or 0.0 for c in answer.clients if c.service_id is not None),
        do_no_harm=answer.do_no_harm,
        group_floors=solved.floors,
        binding_floors=list(solved.binding),
        clients=[AllocatedClientOut(**vars(c)) for c in answer.clients],
        services=[ServicePlacesOut(**vars(s)) for s in answer.services],
    )
