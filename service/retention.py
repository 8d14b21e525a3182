"""Scheduled retention: the server removes audit records past `POLKU_RETENTION_DAYS` itself.

A task of the app's lifespan runs `AuditStore.prune` at start and then every
`POLKU_RETENTION_EVERY_HOURS`, off the event loop and in short transactions (answers keep
being audited meanwhile). What it removed is logged as counts only, never a request id, a
client key or a code. Each removed row leaves a sealed tombstone, so `polku audit verify`
still holds. Several workers may each run it: a second pass finds nothing left to remove.
The kill switch's rows (`model_switch_events`) are never removed.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Callable

from fastapi.concurrency import run_in_threadpool

from service.audit import AuditStore, PruneResult

log = logging.getLogger(__name__)


def prune_once(store: AuditStore, days: int, now: dt.datetime) -> PruneResult:
    """One pass of retention, logged as counts."""
    result = store.prune(days, now=now)
    log.info(
        "retention: removed %d suggestions, %d decisions and %d security events older than %d days",
        result.suggestions,
        result.decisions,
        result.security_events,
        days,
    )
    return result


async def run_retention(
    store: AuditStore,
    *,
    days: int,
    every_seconds: float,
    clock: Callable[[], float],
) -> None:
    """Prune now and every `every_seconds`, forever (cancel the task to stop it).

    `clock` gives seconds since the epoch (the app's; tests step it).
    """
    while True:
        now = dt.datetime.fromtimestamp(clock(), dt.UTC)
        try:
            await run_in_threadpool(prune_once, store, days, now)
        except Exception as exc:  # the store may be briefly down: try again next time
            log.warning("retention failed, trying again later: %s", type(exc).__name__)
        await asyncio.sleep(every_seconds)
