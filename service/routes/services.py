"""`GET /v1/services`: the service catalog in a language."""

from __future__ import annotations

from fastapi import APIRouter

from models.languages import DEFAULT_LANGUAGE, Language
from service.deps import AnyRole, SuggestionsDep
from service.routes.common import AUTH, QUERY
from service.schemas import ServicesResponse
from service.views import services_response

router = APIRouter(prefix="/v1", tags=["catalog"])


@router.get("/services", response_model=ServicesResponse, responses={**AUTH, **QUERY})
async def list_services(
    _principal: AnyRole, suggestions: SuggestionsDep, lang: Language = DEFAULT_LANGUAGE
) -> ServicesResponse:
    """The services Polku may suggest, with names and descriptions in `lang`."""
    return services_response(suggestions.catalog(), lang)
