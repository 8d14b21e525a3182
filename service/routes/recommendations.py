"""`POST /v1/recommendations`: ranked services for one client (advice; the caseworker decides)."""

from __future__ import annotations

from fastapi import APIRouter

from service.deps import Caseworker, SuggestionsDep
from service.routes.common import AUTH, BODY, NO_MODEL
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
    """Rank the services this client may take by their expected effect, with reasons."""
    # async def on purpose: scoring is short and CPU-bound, so running it on the event loop
    # one request at a time beats threads contending for the GIL.
    answer = await suggestions.recommend(
        # JSON mode: dates as ISO text, which the gate checks on its cheap per-value path
        # (real date objects go through pandas); the gate's rules are the same either way.
        body.profile.model_dump(mode="json", exclude_none=True),
        top_k=body.top_k,
        objective=body.objective,
        language=body.language,
        actor=principal.label,
        profile=body.profile.to_profile(),  # ProfileIn validated it: not again
    )
    return recommendation_response(answer)
