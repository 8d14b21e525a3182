"""`GET/PUT /v1/admin/model-switch`: the model's kill switch (`service.model_switch`)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.concurrency import run_in_threadpool

from service.auth import Principal, require_role
from service.deps import DataScientist, SettingsDep, SuggestionsDep
from service.model_switch import SwitchState
from service.routes.common import AUDIT_DOWN, AUTH, BODY
from service.schemas import ModelSwitchIn, ModelSwitchOut

router = APIRouter(prefix="/v1/admin", tags=["data scientist"])

Overseer = Annotated[Principal, Depends(require_role("data_scientist", "evaluator"))]


def switch_out(state: SwitchState, changed: bool | None = None) -> ModelSwitchOut:
    """The switch as answered (times in UTC, said so)."""
    return ModelSwitchOut(
        model_on=state.model_on,
        changed=changed,
        changed_at=state.changed_at.replace(tzinfo=dt.UTC) if state.changed_at else None,
        changed_by=state.changed_by,
        reason=state.reason,
    )


@router.get("/model-switch", response_model=ModelSwitchOut, responses={**AUTH})
async def model_switch(_principal: Overseer, suggestions: SuggestionsDep) -> ModelSwitchOut:
    """Whether the model answers, or since when, by whom and why it is switched off."""
    return switch_out(await run_in_threadpool(suggestions.switch.refresh))


@router.put(
    "/model-switch", response_model=ModelSwitchOut, responses={**AUTH, **BODY, **AUDIT_DOWN}
)
async def turn_model_switch(
    body: ModelSwitchIn,
    principal: DataScientist,
    suggestions: SuggestionsDep,
    settings: SettingsDep,
) -> ModelSwitchOut:
    """Turn the model off (recommendations become the gate's answer alone, marked
    `degraded`) or on again. Audited with who, when and why; every worker follows within
    `POLKU_MODEL_SWITCH_REFRESH_SECONDS`."""
    state, changed = await run_in_threadpool(
        lambda: suggestions.switch.turn(
            body.model_on,
            actor=principal.label,
            reason=body.reason.strip(),
            versions=suggestions.versions(),
            timeout=settings.audit_timeout_seconds,
        )
    )
    return switch_out(state, changed)
