"""Dependencies of the routes, as `Annotated` aliases (one place to override in tests)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from service.audit import AuditStore
from service.auth import Principal, require_role
from service.model_holder import ModelHolder
from service.settings import ROLES, Settings
from service.suggest import SuggestionService


async def get_settings(request: Request) -> Settings:
    """The settings the app was built with."""
    return request.app.state.settings


async def get_audit(request: Request) -> AuditStore:
    """The app's audit store."""
    return request.app.state.audit


async def get_holder(request: Request) -> ModelHolder:
    """The app's model holder."""
    return request.app.state.holder


async def get_suggestions(request: Request) -> SuggestionService:
    """The service layer shared by the API and the caseworker page."""
    return request.app.state.suggestions


SettingsDep = Annotated[Settings, Depends(get_settings)]
AuditDep = Annotated[AuditStore, Depends(get_audit)]
HolderDep = Annotated[ModelHolder, Depends(get_holder)]
SuggestionsDep = Annotated[SuggestionService, Depends(get_suggestions)]

Caseworker = Annotated[Principal, Depends(require_role("caseworker"))]
DataScientist = Annotated[Principal, Depends(require_role("data_scientist"))]
Evaluator = Annotated[Principal, Depends(require_role("evaluator"))]
AnyRole = Annotated[Principal, Depends(require_role(*ROLES))]
# Who may run an allocation: the data scientists, and an office's team lead.
AllocationRunner = Annotated[Principal, Depends(require_role("data_scientist", "team_lead"))]
