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
from service.docs import install_docs
from service.errors import (
    BodyLimitMiddleware,
    UnreadableBodyMiddleware,
    install_error_handlers,
    install_log_redaction,
)
from service.exploration import OfficeExploration
from service.keys import ServiceKeys, service_keys
from service.model_holder import LoadedChampion, ModelHolder, champion_version
from service.model_switch import ModelSwitch
from service.orphans import follow_supervisor
from service.pages import routes as page
from service.places import PlacesLedger
from service.request_id import RequestIdMiddleware
from service.retention import run_retention
from service.routes import (
    admin,
    allocation,
    audit,
    decisions,
    eligibility,
    health,
    model,
    model_switch,
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
one role (caseworker, data_scientist, evaluator, team_lead).
"""


class ConfigurationError(RuntimeError):
    """The service cannot start as configured; the message says what to set."""


def checked_configuration(settings: Settings) -> tuple[ServiceKeys, KeyRing]:
    """The service's derived keys and its API keys, or `ConfigurationError` (or the keys'
    `KeyConfigurationError`) saying why the server must not start. `polku serve` runs this
    before uvicorn, so a wrong setup is one message instead of a worker's traceback."""
    if settings.dev_keys and settings.environment != "development":
        raise ConfigurationError(
            "the development API keys are refused outside development "
            "(POLKU_ENVIRONMENT=development on your own machine only)"
        )
    keys = service_keys(settings)  # refuses to start without a configured secret
    keyring = KeyRing(settings.api_keys())
    if not len(keyring):
        raise ConfigurationError(
            "no API keys configured: set POLKU_CASEWORKER_KEYS, POLKU_DATA_SCIENTIST_KEYS and "
            "POLKU_EVALUATOR_KEYS (JSON objects label -> key), or use development keys "
            "(POLKU_DEV_KEYS=true / `polku serve --dev-keys`) on your own machine"
        )
    return keys, keyring


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
    keys, keyring = checked_configuration(settings)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        install_log_redaction()
        if settings.limit_native_threads:
            limit_serving_threads()  # in each worker, before the model (and its pools) loads
        if settings.dev_keys:
            log.warning("DEVELOPMENT API KEYS ARE ACCEPTED: never run like this in production")
        store = AuditStore(
            settings.resolved_audit_db_url(),
            chain_key=keys.audit_chain,
            pool=(settings.audit_pool_size, settings.audit_pool_overflow),
        )
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
        # The kill switch's state is the audit database's: read it before the first answer.
        switch = ModelSwitch(store, refresh_seconds=settings.model_switch_refresh_seconds)
        await run_in_threadpool(switch.refresh)
        app.state.audit = store
        app.state.holder = holder
        app.state.suggestions = SuggestionService(
            holder,
            store,
            keys.pseudonym,
            input_hash_key=keys.input_hash,
            audit_timeout=settings.audit_timeout_seconds,
            decision_rule=DecisionRule(settings.caseworker_teams),
            switch=switch,
            places=PlacesLedger(lambda: store.engine),
            exploration=(
                OfficeExploration.of_design(
                    settings.exploration_offices,
                    settings.caseworker_teams,
                    settings.exploration_design,
                )
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
        tasks = [asyncio.create_task(switch.follow())]
        if settings.reload_policy == "poll":
            tasks.append(asyncio.create_task(_poll_champion(holder, settings.reload_poll_seconds)))
        if settings.scheduled_retention:
            retention = run_retention(
                store,
                days=settings.retention_days,
                every_seconds=settings.retention_every_hours * 3600,
                clock=now,
            )
            tasks.append(asyncio.create_task(retention))
        watchdog = follow_supervisor()  # a worker of `polku serve --workers N` only
        if watchdog is not None:
            tasks.append(watchdog)
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await run_in_threadpool(store.close)
            await run_in_threadpool(sessions.close)

    app = FastAPI(
        title="Polku",
        version="1",
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,  # served offline by `install_docs`
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.keyring = keyring
    app.state.keys = keys
    app.state.limits = AccessLimits.from_settings(settings, now)
    install_error_handlers(app)
    app.add_middleware(UnreadableBodyMiddleware)  # inside the body limit
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
        model_switch,
        allocation,
        audit,
        page,
    ):
        app.include_router(module.router)
    install_docs(app)
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
