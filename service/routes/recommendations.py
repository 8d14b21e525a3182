"""`POST /v1/recommendations`: ranked services for one client (advice; the caseworker decides)."""

from __future__ import annotations

from fastapi import APIRouter

from service.deps import Caseworker, SuggestionsDep
from service.routes.common import AUTH, BODY, NO_MODEL, checked_profile
from service.schemas import RecommendationRequest, RecommendationResponse
from service.views import recommendation_response

router = APIRouter(prefix="/v1", tags=["caseworker"])


@router.post(
    "/recommendations",
    response_model=RecommendationResponse,
    responses={**AUTH, **BODY, **NO_MODEL},
)
async def recommend(
    body: RecommendationRequest, principal: Caseworker, suggestions: SuggestionsDep
) -> RecommendationResponse:
    """Rank the services this client may take by their expected effect, with reasons.

    While a data scientist has switched the model off, the answer is `degraded`: the gate's
    decision and the services open to the client, unranked (no model is needed).
    """
    # async def on purpose: scoring is short and CPU-bound, so running it on the event loop
    # one request at a time beats threads contending for the GIL.
    if suggestions.switch.model_on:
        suggestions.served_model()  # no model: answer 503 before checking the profile
    answer = await suggestions.recommend(
        checked_profile(body.profile),
        top_k=body.top_k,
        objective=body.objective,
        language=body.language,
        actor=principal.label,
    )
    return recommendation_response(answer, why_not_text=body.why_not_text)
