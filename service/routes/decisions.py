"""`POST /v1/decisions`: what the caseworker decided (append-only; a correction says so)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter, status
from fastapi.responses import JSONResponse

from service.deps import Caseworker, SuggestionsDep
from service.places import PlacesExhaustedError
from service.routes.common import AUDIT_DOWN, AUTH, BODY
from service.schemas import DecisionIn, DecisionOut, ErrorOut
from service.suggest import DecisionConflictError
from service.versions import Versions
from service.views import versions_out

router = APIRouter(prefix="/v1", tags=["caseworker"])

NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorOut, "description": "No answered request has this id."}
}
NOT_YOURS: dict[int | str, dict[str, Any]] = {
    403: {
        "model": ErrorOut,
        "description": "The request was asked by another caseworker (outside the caller's "
        "team): only they decide. The attempt is audited.",
    }
}
# Both refusals are conflicts with what is recorded; nothing is written for either.
CONFLICT: dict[int | str, dict[str, Any]] = {
    409: {
        "model": ErrorOut,
        "description": "Not recorded: a decision is already recorded for this request and "
        "this one does not say it `corrects` it, or every place of the chosen service is "
        "taken this month (another caseworker may have taken the last one).",
    }
}


@router.post(
    "/decisions",
    response_model=DecisionOut,
    status_code=status.HTTP_201_CREATED,
    responses={**AUTH, **BODY, **NOT_YOURS, **NOT_FOUND, **CONFLICT, **AUDIT_DOWN},
)
async def record_decision(
    body: DecisionIn, principal: Caseworker, suggestions: SuggestionsDep
) -> DecisionOut | JSONResponse:
    """Record the caseworker's decision for an answered recommendation they asked for."""
    try:
        record = await suggestions.decide(
            body.request_id,
            choice=body.choice,
            service_id=body.service_id,
            reason=body.reason,
            actor=principal.label,
            corrects=body.corrects,
        )
    except DecisionConflictError as exc:
        return JSONResponse(status_code=status.HTTP_409_CONFLICT, content={"detail": str(exc)})
    except PlacesExhaustedError:
        return JSONResponse(
            status_code=status.HTTP_409_CONFLICT,
            content={
                "detail": "every place of the chosen service is taken this month; "
                "nothing was recorded"
            },
        )
    return DecisionOut(
        request_id=record.request_id,
        recorded_at=record.created_at.replace(tzinfo=dt.UTC),  # the store's UTC, said so
        choice=record.choice,
        service_id=record.service_id,
        followed_top=record.followed_top,
        reason=record.reason,
        versions=versions_out(Versions.of(record)),
        corrects=body.corrects,
    )
