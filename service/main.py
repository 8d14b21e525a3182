"""Build the Polku API app. Nothing here runs at import time; `polku serve` calls `create_app`."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

from fastapi import FastAPI
from fastapi.concurrency import run_in_threadpool

from service.audit import AuditStore
from service.auth import AccessLimits, KeyRing
from service.authz import DecisionRule
from service.errors import BodyLimitMiddleware, install_error_handlers, install_log_redaction
from service.exploration import OfficeExploration
from service.keys import service_keys
from service.model_holder import LoadedChampion, ModelHolder, champion_version
from service.pages import routes as page
from service.request_id import RequestIdMiddleware
from service.routes import (
    admin,
    audit,
    decisions,
    eligibility,
    health,
    model,
    recommendations,
    services,
)
from service.sessions import SessionStore
from service.settings import Settings, get_settings
from service.suggest import SuggestionService
from service.threads import limit_serving_threads

log = logging.getLogger(__name__)

DESCRIPTION = """\
Polku's API for caseworkers' systems, data scientists and evaluators.

The eligibility gate decides who is a client; everything after it is **advice**: the
caseworker decides, and records the decision here. Every answer is written to an
append-only audit store before it is returned. The personal identity code is accepted only
to derive the birth date and a keyed pseudonym; it is never stored, logged or returned.

Authenticate with `Authorization: Bearer <key>` or `X-API-Key: <key>`; each key belongs to
one role (caseworker, data_scientist, evaluator).
"""


def create_app(
    settings: Settings | None = None,
    *,
    model_loader: Callable[[], LoadedChampion] | None = None,
    clock: Callable[[], float] | None = None,
) -> FastAPI:
    """The FastAPI app: routes, error handling, and a lifespan that opens the audit store and
    loads the champion.

    Parameters
    ----------
    settings : defaults to `get_settings()` (the environment).
    model_loader : how to load the champion; default `models.registry.load_champion`.
    clock : seconds since the epoch, for the session timeouts and rate limits (tests step
        it instead of sleeping); default `time.time`.
    """
    settings = settings or get_settings()
    now = clock or time.time
    if settings.dev_keys and settings.environment != "development":
        raise RuntimeError(
            "the development API keys are refused outside development "
            "(POLKU_ENVIRONMENT=development on your own machine only)"
        )
    keys = service_keys(settings)  # refuses to start without a configured secret
    keyring = KeyRing(settings.api_keys())
    if not len(keyring):
        raise RuntimeError(
            "no API keys configured: set POLKU_CASEWORKER_KEYS, POLKU_DATA_SCIENTIST_KEYS and "
            "POLKU_EVALUATOR_KEYS (JSON objects label -> key), or use development keys "
            "(POLKU_DEV_KEYS=true / `polku serve --dev-keys`) on your own machine"
        )

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        install_log_redaction()
        if settings.limit_native_threads:
            limit_serving_threads()  # in each worker, before the model (and its pools) loads
        if settings.dev_keys:
            log.warning("DEVELOPMENT API KEYS ARE ACCEPTED: never run like this in production")
        store = AuditStore(settings.resolved_audit_db_url(), chain_key=keys.audit_chain)
        await run_in_threadpool(store.open)
        sessions = SessionStore(
            settings.resolved_session_db_url(),
            idle_seconds=settings.session_idle_minutes * 60,
            max_seconds=settings.session_max_hours * 3600,
            clock=now,
        )
        await run_in_threadpool(lambda: sessions.engine)
        app.state.sessions = sessions
        holder = ModelHolder(loader=model_loader)
        app.state.audit = store
        app.state.holder = holder
        app.state.suggestions = SuggestionService(
            holder,
            store,
            keys.pseudonym,
            input_hash_key=keys.input_hash,
            audit_timeout=settings.audit_timeout_seconds,
            decision_rule=DecisionRule(settings.caseworker_teams),
            exploration=(
                OfficeExploration(settings.exploration_offices, settings.caseworker_teams)
                if settings.exploration_offices
                else None
            ),
        )
        if settings.load_model_on_start:
            outcome = await run_in_threadpool(holder.reload)
            log.info("model at start: %s", outcome.message)
        if settings.freeze_gc_after_start:
            # Everything loaded so far (MLflow, pandas, the model) lives as long as the
            # process: keep it out of the collector's full passes, which otherwise stall
            # answers for tens of milliseconds.
            gc.collect()
            gc.freeze()
        poller = (
            asyncio.create_task(_poll_champion(holder, settings.reload_poll_seconds))
            if settings.reload_policy == "poll"
            else None
        )
        try:
            yield
        finally:
            if poller is not None:
                poller.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await poller
            await run_in_threadpool(store.close)
            await run_in_threadpool(sessions.close)

    app = FastAPI(
        title="Polku",
        version="1",
        description=DESCRIPTION,
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.keyring = keyring
    app.state.keys = keys
    app.state.limits = AccessLimits.from_settings(settings, now)
    install_error_handlers(app)
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(RequestIdMiddleware)  # added last: outermost, so every answer has it
    for module in (
        health,
        eligibility,
        recommendations,
        services,
        decisions,
        model,
        admin,
        audit,
        page,
    ):
        app.include_router(module.router)
    return app


async def _poll_champion(holder: ModelHolder, every_seconds: float) -> None:
    """Reload whenever the registry's champion alias points at another version."""
    while True:
        await asyncio.sleep(every_seconds)
        try:
            version: Any = await run_in_threadpool(champion_version)
        except Exception as exc:  # the registry may be briefly unreachable: try next time
            log.warning("could not read the champion alias: %s", type(exc).__name__)
            continue
        served = holder.current
        if version is not None and (served is None or str(version) != served.version):
            outcome = await run_in_threadpool(holder.reload)
            log.info("champion changed: %s", outcome.message)
