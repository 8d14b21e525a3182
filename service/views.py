"""Turn the service layer's answers into the API's response bodies."""

from __future__ import annotations

import functools

from models.catalog import Catalog
from models.eligibility import EligibilityDecision
from models.explanations import explain
from models.objectives import Objective
from service.pages.wording import not_suggested_text
from service.places import next_with_places
from service.schemas import (
    EligibilityOut,
    EligibilityResponse,
    Language,
    NotSuggestedOut,
    OpenServiceOut,
    RankedServiceOut,
    ReasonOut,
    RecommendationResponse,
    ServiceOut,
    ServicesResponse,
    VersionsOut,
)
from service.suggest import EligibilityAnswer, RecommendationAnswer
from service.versions import Versions


def versions_out(versions: Versions) -> VersionsOut:
    """The versions an answer was made under, as answered."""
    return VersionsOut(
        rules_version=versions.rules_version,
        model_version=versions.model_version,
        model_hash=versions.model_hash,
        catalog_version=versions.catalog_version,
    )


def eligibility_out(decision: EligibilityDecision, language: str) -> EligibilityOut:
    """The gate's decision with its reasons in `language`."""
    return EligibilityOut(
        eligible=decision.eligible,
        responsible_office=decision.responsible_office,
        target_groups=list(decision.target_groups),
        failed_conditions=list(decision.failed_conditions),
        reasons=[ReasonOut(code=r.code, text=getattr(r, language)) for r in decision.reasons],
        rules_version=decision.rules_version,
        benefit_notice=getattr(decision.benefit_notice, language),
    )


def eligibility_response(answer: EligibilityAnswer) -> EligibilityResponse:
    """The body of `POST /v1/eligibility`."""
    return EligibilityResponse(
        request_id=answer.request_id,
        language=answer.language,  # type: ignore[arg-type]
        decision=eligibility_out(answer.decision, answer.language),
        versions=versions_out(answer.versions),
    )


def recommendation_response(
    answer: RecommendationAnswer, *, why_not_text: bool = False
) -> RecommendationResponse:
    """The body of `POST /v1/recommendations`; `why_not_text` also words why each other
    service is not suggested (the codes, limits, rank and effect are always there)."""
    objective = answer.ranked_by or Objective.parse(answer.objective)
    return RecommendationResponse(
        request_id=answer.request_id,
        model_version=answer.model_version,
        rules_version=answer.rules_version,
        objective=answer.objective,
        language=answer.language,  # type: ignore[arg-type]
        decision=eligibility_out(answer.decision, answer.language),
        responsible_office=answer.decision.responsible_office,
        services=[
            RankedServiceOut.from_domain(
                ranked,
                answer.catalog.get(ranked.service_id),
                explain(ranked, answer.profile, answer.language),
                answer.language,
                objective,
                *_places(answer, position),
            )
            for position, ranked in enumerate(answer.ranking)
        ],
        not_suggested=[
            NotSuggestedOut(
                service_id=item.service_id,
                name=answer.catalog.name(item.service_id, answer.language),
                reason=item.reason,
                text=(
                    not_suggested_text(item, answer.catalog, answer.language)
                    if why_not_text
                    else None
                ),
                limits=list(item.limits),
                rank=item.rank,
                uplift=item.uplift,
                uplift_low=item.uplift_low,
                uplift_high=item.uplift_high,
            )
            for item in answer.not_suggested
        ],
        notice=answer.notice,
        versions=versions_out(answer.versions),
        degraded=answer.degraded,
        degraded_reason=answer.degraded_reason,
        open_services=[
            OpenServiceOut(
                service_id=service.id,
                name=service.name.get(answer.language),
                family=service.family,
            )
            for service in map(answer.catalog.get, answer.open_services)
        ],
    )


def _places(answer: RecommendationAnswer, position: int) -> tuple[int | None, str | None]:
    """Places left of the ranked service at `position`, and the next one with places."""
    if answer.places_left is None:
        return None, None
    service_id = answer.ranking[position].service_id
    ids = [r.service_id for r in answer.ranking]
    return answer.places_left.get(service_id), next_with_places(ids, answer.places_left, position)


@functools.lru_cache(maxsize=16)
def services_response(catalog: Catalog, language: Language) -> ServicesResponse:
    """The body of `GET /v1/services`: the catalog in `language` (cached: catalogs are frozen)."""
    return ServicesResponse(
        language=language,
        catalog_fingerprint=catalog.fingerprint,
        services=[
            ServiceOut(
                service_id=s.id,
                name=s.name.get(language),
                family=s.family,
                provider=s.provider.get(language),
                # Swedish descriptions may be missing from the catalog: fall back to Finnish.
                description=s.description.get(language) or s.description.fi,
                duration_weeks=s.duration_weeks,
                languages=list(s.languages),
            )
            for s in catalog.services
        ],
    )
