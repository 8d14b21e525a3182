"""`POST /v1/eligibility`: the gate's decision for one profile."""

from __future__ import annotations

from fastapi import APIRouter

from service.deps import Caseworker, SuggestionsDep
from service.routes.common import AUDIT_DOWN, AUTH, BODY, checked_profile
from service.schemas import EligibilityRequest, EligibilityResponse
from service.views import eligibility_response

router = APIRouter(prefix="/v1", tags=["caseworker"])


@router.post(
    "/eligibility",
    response_model=EligibilityResponse,
    responses={**AUTH, **BODY, **AUDIT_DOWN},
)
async def check_eligibility(
    body: EligibilityRequest, principal: Caseworker, suggestions: SuggestionsDep
) -> EligibilityResponse:
    """Decide whether a person is a client of Helsinki's employment services, and why."""
    answer = await suggestions.eligibility(
        checked_profile(body.profile), language=body.language, actor=principal.label
    )
    return eligibility_response(answer)
