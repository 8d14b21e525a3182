"""`/health/live` and `/health/ready`: open to all (load balancers carry no keys)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from service.deps import HolderDep
from service.schemas import Liveness, Readiness

router = APIRouter(prefix="/health", tags=["health"])

NOT_READY = "no model is loaded yet"


@router.get("/live", response_model=Liveness)
async def live() -> Liveness:
    """The process answers."""
    return Liveness(status="ok")


@router.get(
    "/ready",
    response_model=Readiness,
    responses={503: {"model": Readiness, "description": "No model loaded."}},
)
async def ready(holder: HolderDep) -> Readiness | JSONResponse:
    """Ready only with a model loaded.

    Open to anyone, so the reason is a fixed sentence: why the load failed (hashes, paths,
    SQL) is in the server's log and the 503 answers of the authenticated routes, not here.
    """
    served = holder.current
    if served is None:
        body = Readiness(ready=False, model_version=None, reason=NOT_READY)
        return JSONResponse(status_code=503, content=body.model_dump())
    return Readiness(ready=True, model_version=served.version, reason=None)
