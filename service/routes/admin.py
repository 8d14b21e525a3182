"""`POST /v1/admin/reload`: swap in the current champion, or keep the old one and say why."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from service.deps import DataScientist, HolderDep
from service.routes.common import AUTH
from service.schemas import ReloadResponse

router = APIRouter(prefix="/v1/admin", tags=["data scientist"])


@router.post(
    "/reload",
    response_model=ReloadResponse,
    responses={
        **AUTH,
        409: {"model": ReloadResponse, "description": "The champion failed its checks."},
    },
)
async def reload_model(
    _principal: DataScientist, holder: HolderDep
) -> ReloadResponse | JSONResponse:
    """Load the registry's champion, check it (hash, smoke prediction) and swap it in."""
    # Loading takes seconds: off the event loop, so answers keep flowing meanwhile.
    outcome = await run_in_threadpool(holder.reload)
    body = ReloadResponse(
        reloaded=outcome.reloaded,
        version=outcome.version,
        previous_version=outcome.previous_version,
        message=outcome.message,
    )
    failed = not outcome.reloaded and "already served" not in outcome.message
    if failed:
        return JSONResponse(status_code=409, content=body.model_dump())
    return body
