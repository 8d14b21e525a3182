"""The model's kill switch: a data scientist turns the model off, and answers fall back to the
eligibility gate alone (EU AI Act Art. 14: a human can stop the system at run time).

The state lives in the audit database, not in a process: every switch is a row of
`model_switch_events` (who, when, why, the versions served), written by the audit writer
and chained like every audit row; the newest row is the state. So every worker of a server,
and every replica on one database, follows the same switch, a restart keeps it, and turning
it back on is one more row.

Requests never read the database: each process keeps the state in memory and `follow`
refreshes it every `refresh_seconds` (default 1 s) off the event loop; the process that
switches knows at once. Without any row the model is on.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from dataclasses import dataclass
from typing import Final

from fastapi.concurrency import run_in_threadpool

from service.audit import AuditStore, AuditUnavailableError, utc_now
from service.audit.schema import SwitchEventRecord
from service.versions import Versions

log = logging.getLogger(__name__)

# Why an answer is degraded, in its language (the data scientist's own reason stays in the
# audit and `GET /v1/admin/model-switch`).
DEGRADED_REASON: Final[dict[str, str]] = {
    "fi": "Malli on kytketty pois käytöstä: vastaus on vain asiakkuusarvio ja asiakkaalle "
    "avoimet palvelut, ilman mallin järjestystä tai lukuja.",
    "sv": "Modellen är avstängd: svaret är bara bedömningen av kundskapen och de tjänster "
    "som står öppna för kunden, utan modellens ordning eller siffror.",
    "en": "The model is switched off: the answer is the eligibility gate's only, with the "
    "services open to the client, without the model's ranking or numbers.",
}


@dataclass(frozen=True, slots=True)
class SwitchState:
    """Whether the model answers, and who last switched it, when and why (None: never)."""

    model_on: bool
    changed_at: dt.datetime | None = None
    changed_by: str | None = None
    reason: str | None = None

    @classmethod
    def from_record(cls, record: SwitchEventRecord | None) -> SwitchState:
        if record is None:
            return ALWAYS_ON
        return cls(record.model_on, record.created_at, record.actor, record.reason)


ALWAYS_ON: Final = SwitchState(model_on=True)


class ModelSwitch:
    """The switch of one process over an audit store (None: always on, for tools and tests).

    Parameters
    ----------
    store : the open audit store holding `model_switch_events`.
    refresh_seconds : how often `follow` reads the newest switch (the longest another
        worker answers under the old state).
    """

    def __init__(self, store: AuditStore | None = None, refresh_seconds: float = 1.0) -> None:
        self._store = store
        self.refresh_seconds = refresh_seconds
        self._state = ALWAYS_ON

    @property
    def state(self) -> SwitchState:
        """The state as last read (memory only: read it freely per request)."""
        return self._state

    @property
    def model_on(self) -> bool:
        return self._state.model_on

    def refresh(self) -> SwitchState:
        """Read the newest switch from the store (blocking: call it off the event loop)."""
        if self._store is not None:
            self._state = SwitchState.from_record(self._store.latest_switch_event())
        return self._state

    async def follow(self) -> None:
        """Refresh every `refresh_seconds`, forever (a task of the app's lifespan)."""
        while True:
            await asyncio.sleep(self.refresh_seconds)
            try:
                await run_in_threadpool(self.refresh)
            except Exception as exc:  # keep the last state known; the audit says if it is down
                log.warning("could not read the model switch: %s", type(exc).__name__)

    def turn(
        self, model_on: bool, *, actor: str, reason: str, versions: Versions, timeout: float
    ) -> tuple[SwitchState, bool]:
        """Switch the model on or off, durably and audited; (the state, whether it changed).

        Switching to the state already in force writes nothing. Blocking (the API calls it
        off the event loop; `polku model-switch` calls it directly).
        """
        if self._store is None:
            raise RuntimeError("this switch has no store to keep its state in")
        current = self.refresh()
        if current.model_on == model_on:
            return current, False
        record = SwitchEventRecord(
            created_at=utc_now(),
            actor=actor,
            model_on=model_on,
            reason=reason,
            **versions.as_fields(),
        )
        try:
            self._store.submit_switch_event(record).result(timeout)
        except TimeoutError:
            raise AuditUnavailableError("the audit store did not confirm the switch") from None
        self._state = SwitchState.from_record(record)
        log.warning(
            "model switched %s by %s", "on" if model_on else "off (answers are gate-only)", actor
        )
        return self._state, True
