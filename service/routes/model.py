"""`GET /v1/model`: the served model (caseworkers see less than data scientists)."""

from __future__ import annotations

from fastapi import APIRouter

from service.deps import AnyRole, HolderDep
from service.routes.common import AUTH, NO_MODEL
from service.schemas import ModelDetail, ModelPublic
from service.settings import PUBLIC_MODEL_ROLES
from service.suggest import NoModelError

router = APIRouter(prefix="/v1", tags=["model"])


@router.get(
    "/model",
    response_model=ModelDetail | ModelPublic,
    responses={**AUTH, **NO_MODEL},
)
async def served_model(principal: AnyRole, holder: HolderDep) -> ModelDetail | ModelPublic:
    """The served model's version, training date and (for data scientists) its metrics."""
    served = holder.current
    if served is None:
        raise NoModelError(holder.last_error or "no model loaded")
    public = ModelPublic(
        version=served.version,
        rules_versions=list(served.rules_versions),
        trained_at=served.trained_at,
        loaded_at=served.loaded_at,
    )
    if principal.role in PUBLIC_MODEL_ROLES:
        return public
    return ModelDetail(
        **public.model_dump(),
        name=served.name,
        catalog_fingerprint=served.catalog_fingerprint,
        metrics=served.metrics,
    )
