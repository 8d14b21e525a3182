"""Replay a planned caseworker session through the service, at the visits' own moments.

Each visit asks the served model for suggestions exactly as `POST /v1/recommendations`
does (`SuggestionService.prepare_recommendation`), and records the register's logged
choice as the caseworker's decision as `POST /v1/decisions` does (`prepare_decision`, with
its checks). Only the clock differs: both audit records are dated at the visit (the
assessment's day) instead of now, so `polku effects DIR --audit` can join them back to the
register's assessments. The records' actor is `REPLAY_ACTOR`, which tells them apart from
real caseworkers' in the store.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterable
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from models.actions import NO_SERVICE
from models.objectives import Objective
from models.session_plan import PlannedVisit, read_plan
from service.audit import AuditStore
from service.keys import ServiceKeys, service_keys
from service.model_holder import ModelHolder
from service.settings import Settings
from service.suggest import (
    DecisionRejectedError,
    RecommendationAnswer,
    SuggestionService,
    check_profile,
)

REPLAY_ACTOR: Final = "replay"
REASON: Final = "replay: the service the register logged for this assessment"
# The simulated caseworker decides a few minutes after the suggestion.
DECISION_DELAY: Final = dt.timedelta(minutes=3)
# Records are written in batches: the store commits each batch in one transaction.
BATCH: Final = 500


@dataclass(frozen=True)
class ReplaySummary:
    """What a replay wrote."""

    visits: int
    suggested: int
    decided: int
    followed_top: int
    not_clients: int
    rejected: int
    model_version: str
    first_day: dt.date | None
    last_day: dt.date | None

    def describe(self) -> str:
        span = (
            ""
            if self.first_day is None or self.last_day is None
            else f", dated {self.first_day.isoformat()}..{self.last_day.isoformat()}"
        )
        return (
            f"replayed {self.visits} assessments with model version {self.model_version}"
            f"{span}: {self.suggested} recommendations, {self.decided} decisions "
            f"({self.followed_top} followed the top suggestion), {self.not_clients} not "
            f"clients, {self.rejected} logged choices the service refused"
        )


def _decision(answer: RecommendationAnswer, logged: str) -> tuple[str, str | None, str | None]:
    """(choice, service_id, reason) recording the register's logged service."""
    shown = [r.service_id for r in answer.ranking]
    reason = None if shown and logged == shown[0] else REASON
    if logged == NO_SERVICE:
        return "none", None, reason if shown else None
    if logged in shown:
        return "suggested", logged, reason
    return "other", logged, reason


def replay_session(
    visits: Iterable[PlannedVisit],
    service: SuggestionService,
    *,
    objective: Objective,
    top_k: int,
    language: str = "fi",
) -> ReplaySummary:
    """Ask for suggestions and record the logged decision for each visit, dated at it."""
    version = service.served_model().version
    counts = dict.fromkeys(("visits", "suggested", "decided", "followed", "not", "rejected"), 0)
    days: list[dt.date] = []
    pending: list[tuple[RecommendationAnswer, PlannedVisit]] = []
    refused: list[RecommendationAnswer] = []  # non-clients: a suggestion record, no decision

    def flush() -> None:
        shown = [a for a, _ in pending] + refused
        _wait([service.audit.submit_suggestion(a.audit) for a in shown])
        # Their model inputs too, for `polku monitor` (after their suggestions).
        _wait([f for f in map(service.record_inputs, shown) if f is not None])
        refused.clear()
        decisions = []
        for answer, visit in pending:
            choice, service_id, reason = _decision(answer, visit.logged_service)
            try:
                record = service.prepare_decision(
                    answer.request_id,
                    choice=choice,
                    service_id=service_id,
                    reason=reason,
                    actor=REPLAY_ACTOR,
                )
            except DecisionRejectedError:
                counts["rejected"] += 1  # e.g. a logged service no longer in the catalog
                continue
            record = dataclasses.replace(record, created_at=visit.at + DECISION_DELAY)
            decisions.append(service.audit.submit_decision(record))
            counts["decided"] += 1
            counts["followed"] += int(record.followed_top)
        _wait(decisions)
        pending.clear()

    for visit in visits:
        counts["visits"] += 1
        answer = service.prepare_recommendation(
            check_profile(visit.profile),
            top_k=top_k,
            objective=objective,
            language=language,
            actor=REPLAY_ACTOR,
        )
        answer = dataclasses.replace(
            answer, audit=dataclasses.replace(answer.audit, created_at=visit.at)
        )
        days.append(visit.at.date())
        if not answer.decision.eligible:
            counts["not"] += 1
            refused.append(answer)
        else:
            counts["suggested"] += 1
            pending.append((answer, visit))
        if len(pending) + len(refused) >= BATCH:
            flush()
    flush()
    return ReplaySummary(
        visits=counts["visits"],
        suggested=counts["suggested"],
        decided=counts["decided"],
        followed_top=counts["followed"],
        not_clients=counts["not"],
        rejected=counts["rejected"],
        model_version=version,
        first_day=min(days) if days else None,
        last_day=max(days) if days else None,
    )


def _wait(futures: Iterable[Future[None]]) -> None:
    for future in list(futures):
        future.result()


def open_service(
    store: AuditStore, keys: ServiceKeys, holder: ModelHolder | None = None
) -> SuggestionService:
    """A suggestion service over `store` with the champion loaded (`LookupError` if none),
    keyed as the server is (`service.keys`), so its rows join the server's."""
    holder = holder or ModelHolder()
    outcome = holder.reload()
    if holder.current is None:
        raise LookupError(f"no model to replay with: {outcome.message}")
    return SuggestionService(holder, store, keys.pseudonym, input_hash_key=keys.input_hash)


def replay_plan_file(
    plan: Path,
    settings: Settings,
    *,
    objective: Objective,
    top_k: int,
    holder: ModelHolder | None = None,
) -> ReplaySummary:
    """Replay the session planned in `plan` into the settings' audit store, with the champion."""
    keys = service_keys(settings)
    with AuditStore(settings.resolved_audit_db_url(), chain_key=keys.audit_chain) as store:
        service = open_service(store, keys, holder)
        return replay_session(read_plan(plan), service, objective=objective, top_k=top_k)
