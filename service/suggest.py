"""The service layer: check a profile, decide, rank, word, audit. Routes and pages call this.

Each operation has a `prepare_*` step (pure computation, returns the answer together with
its audit record) and an async wrapper that writes the audit record and waits until it is
durable before returning: no answer leaves without its record. The caseworker page reuses
the same functions (sync wrappers are there for plain `def` handlers).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import uuid
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any, Final

from models.bundle import RulesVersionError
from models.catalog import Catalog, load_catalog
from models.eligibility import EligibilityDecision, assess_eligibility
from models.exploration import ExploredRanking
from models.henkilotunnus import contains_henkilotunnus, pseudonymous_key
from models.input_profile import input_record
from models.objectives import Objective
from models.profile import ClientProfile
from models.profile_validation import parse_profile
from models.suggestions import RankedService
from service.audit import (
    AuditStore,
    AuditUnavailableError,
    DecisionRecord,
    SecurityEventRecord,
    SuggestionRecord,
    utc_now,
)
from service.audit.served_inputs import ServedInputsRecord
from service.authz import DecisionRule
from service.exploration import OfficeExploration
from service.model_holder import ModelHolder, ServedModel

log = logging.getLogger(__name__)

ADVICE_NOTICE: Final[dict[str, str]] = {
    "fi": "Ehdotukset ovat neuvoja: päätöksen tekee virkailija.",
    "sv": "Förslagen är råd: handläggaren fattar beslutet.",
    "en": "The suggestions are advice: the caseworker decides.",
}


class NoModelError(RuntimeError):
    """No model is loaded, so no recommendation can be made (eligibility still works)."""


class UnknownRequestError(LookupError):
    """No answered request has this id."""


class DecisionForbiddenError(PermissionError):
    """The caller may not decide on this request (`service.authz.DecisionRule`)."""


class DecisionRejectedError(ValueError):
    """A decision contradicts the suggestion it refers to; `field` names the culprit."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


@dataclass(frozen=True, slots=True)
class CheckedProfile:
    """A profile validated at the edge, once, with the values it was sent as.

    `sent` is the profile as it came (JSON values, with the identity code if one was given):
    it only feeds the keyed client key and input hash of the audit record, and is never
    logged or stored; everything else reads `profile`.
    """

    profile: ClientProfile
    sent: Mapping[str, Any]


def check_profile(sent: Mapping[str, Any]) -> CheckedProfile:
    """Validate a profile as sent (`ProfileValidationError` with every problem)."""
    return CheckedProfile(parse_profile(sent), sent)


@dataclass(frozen=True, slots=True)
class EligibilityAnswer:
    """The gate's decision for one request, with the audit record written for it."""

    request_id: str
    language: str
    decision: EligibilityDecision
    audit: SuggestionRecord


@dataclass(frozen=True, slots=True)
class RecommendationAnswer:
    """A recommendation: the decision, the ranking (empty for a non-client), the versions.

    `catalog` is the served model's, which names the ranked services; `profile` is the one
    the ranking was made for, which the drivers are worded for.
    """

    request_id: str
    language: str
    objective: str
    model_version: str
    rules_version: str
    decision: EligibilityDecision
    ranking: tuple[RankedService, ...]
    profile: ClientProfile
    catalog: Catalog
    audit: SuggestionRecord

    @property
    def notice(self) -> str:
        """That the suggestion is advice and the caseworker decides, in the language."""
        return ADVICE_NOTICE[self.language]


class SuggestionService:
    """Eligibility, recommendations and decisions, each one audited.

    Parameters
    ----------
    holder : the served model.
    audit : the open audit store.
    pseudonym_key : key of the pseudonymous client key (`service.keys.ServiceKeys`).
    input_hash_key : key of the input hash (default: the pseudonym key, for tests only).
    fallback_catalog : the catalog when no model is loaded (default: the reviewed file).
    audit_timeout : seconds to wait for an audit record to be durable before refusing the
        answer (`AuditUnavailableError`, a 503) rather than hanging.
    decision_rule : who may decide on whose request (default: the asker only).
    exploration : offices whose recommendations randomise the first place among services
        the model cannot tell apart (`service.exploration`; default none).
    """

    def __init__(
        self,
        holder: ModelHolder,
        audit: AuditStore,
        pseudonym_key: bytes,
        fallback_catalog: Callable[[], Catalog] = load_catalog,
        audit_timeout: float = 10.0,
        decision_rule: DecisionRule | None = None,
        input_hash_key: bytes | None = None,
        exploration: OfficeExploration | None = None,
    ) -> None:
        if len(pseudonym_key) < 16 or (input_hash_key is not None and len(input_hash_key) < 16):
            raise ValueError("the HMAC keys must be at least 16 bytes")
        self.holder = holder
        self.audit = audit
        self._pseudonym_key = pseudonym_key
        self._input_hash_key = input_hash_key or pseudonym_key
        self._fallback_catalog = fallback_catalog
        self._audit_timeout = audit_timeout
        self._decision_rule = decision_rule or DecisionRule()
        self._file_catalog: Catalog | None = None
        self._exploration = exploration

    # -- catalog -----------------------------------------------------------------------------

    def catalog(self) -> Catalog:
        """The served model's catalog, or the reviewed file's when no model is loaded."""
        served = self.holder.current
        if served is not None:
            return served.catalog
        if self._file_catalog is None:
            self._file_catalog = self._fallback_catalog()
        return self._file_catalog

    # -- eligibility -------------------------------------------------------------------------

    def prepare_eligibility(
        self, checked: CheckedProfile, *, language: str, actor: str | None
    ) -> EligibilityAnswer:
        """Run the gate on a profile checked at the edge."""
        decision = assess_eligibility(checked.profile)
        request_id = uuid.uuid4().hex
        record = SuggestionRecord(
            request_id=request_id,
            created_at=utc_now(),
            kind="eligibility",
            actor=actor,
            client_key=self.client_key(checked),
            input_hash=self.input_hash({"profile": checked.sent, "language": language}),
            rules_version=decision.rules_version,
            model_version=None,
            objective=None,
            language=language,
            top_k=None,
            eligible=decision.eligible,
            responsible_office=decision.responsible_office,
            ranking="[]",
        )
        return EligibilityAnswer(request_id, language, decision, record)

    async def eligibility(
        self, checked: CheckedProfile, *, language: str, actor: str | None
    ) -> EligibilityAnswer:
        """Run the gate, and wait until the audit record is durable."""
        answer = self.prepare_eligibility(checked, language=language, actor=actor)
        await self._durable(self.audit.submit_suggestion(answer.audit))
        return answer

    # -- recommendations ---------------------------------------------------------------------

    def served_model(self) -> ServedModel:
        """The model to answer with (raises `NoModelError` when none is loaded)."""
        served = self.holder.current
        if served is None:
            raise NoModelError(self.holder.last_error or "no model loaded")
        return served

    def prepare_recommendation(
        self,
        checked: CheckedProfile,
        *,
        top_k: int,
        objective: Objective,
        language: str,
        actor: str | None,
    ) -> RecommendationAnswer:
        """Decide and rank a checked profile with the served model (`NoModelError` if none)."""
        served = self.served_model()  # one read: this request keeps this model throughout
        profile = checked.profile
        try:
            decision, ranking = served.model.recommend(profile, objective, top_k=top_k)
        except RulesVersionError as exc:
            raise NoModelError(str(exc)) from None
        if not decision.eligible:
            ranking = []
        request_id = uuid.uuid4().hex
        explored = None
        if ranking and self._exploration is not None and self._exploration.applies(actor):
            explored = self._exploration.explore(ranking, served.model, request_id)
            ranking = list(explored.ranking)
        record = SuggestionRecord(
            request_id=request_id,
            created_at=utc_now(),
            kind="recommendation",
            actor=actor,
            client_key=self.client_key(checked),
            input_hash=self.input_hash(
                {
                    "profile": checked.sent,
                    "top_k": top_k,
                    "objective": objective.name,
                    "language": language,
                }
            ),
            rules_version=decision.rules_version,
            model_version=served.version,
            objective=objective.name,
            language=language,
            top_k=top_k,
            eligible=decision.eligible,
            responsible_office=decision.responsible_office,
            ranking=_ranking_json(ranking, explored),
        )
        return RecommendationAnswer(
            request_id=request_id,
            language=language,
            objective=objective.name,
            model_version=served.version,
            rules_version=decision.rules_version,
            decision=decision,
            ranking=tuple(ranking),
            profile=profile,
            catalog=served.catalog,
            audit=record,
        )

    async def recommend(
        self,
        checked: CheckedProfile,
        *,
        top_k: int,
        objective: Objective,
        language: str,
        actor: str | None,
    ) -> RecommendationAnswer:
        """Decide, rank, and wait until the audit record is durable."""
        answer = self.prepare_recommendation(
            checked, top_k=top_k, objective=objective, language=language, actor=actor
        )
        await self._durable(self.audit.submit_suggestion(answer.audit))
        # Monitoring's copy of the inputs: made and queued off the answer's path (the
        # catalog's limits cost a third of a millisecond), never waited for.
        asyncio.get_running_loop().run_in_executor(None, self.record_inputs, answer)
        return answer

    def served_inputs(self, answer: RecommendationAnswer) -> ServedInputsRecord:
        """The model inputs of an answered recommendation, with the services the catalog's
        limits closed for an admitted client (`service.audit.served_inputs`)."""
        eligible = answer.decision.eligible
        allowed = answer.catalog.allowed(answer.profile) if eligible else None
        closed = (
            []
            if allowed is None
            else [s for s, ok in zip(answer.catalog.ids, allowed, strict=True) if not ok]
        )
        return ServedInputsRecord.of(
            answer.request_id,
            answer.audit.created_at,
            eligible,
            input_record(answer.profile),
            closed,
        )

    def record_inputs(self, answer: RecommendationAnswer) -> Future[None] | None:
        """Queue `served_inputs(answer)` (after its suggestion); None if it failed."""
        try:
            return self.audit.submit_served_inputs(self.served_inputs(answer))
        except Exception:
            log.exception("the served inputs of a recommendation were not recorded")
            return None

    # -- decisions ---------------------------------------------------------------------------

    def prepare_decision(
        self,
        request_id: str,
        *,
        choice: str,
        service_id: str | None,
        reason: str | None,
        actor: str | None,
    ) -> DecisionRecord:
        """Check a caseworker's decision against the suggestion it answers.

        Raises `UnknownRequestError` for an unknown request id, `DecisionForbiddenError`
        when `actor` may not decide on it (checked before anything about its content is
        said), and `DecisionRejectedError` when the decision does not fit the suggestion.
        """
        suggestion = self.audit.suggestion(request_id)
        if suggestion is None:
            raise UnknownRequestError(f"no answered request has the id {request_id}")
        if not self._decision_rule.allows(suggestion.actor, actor):
            raise DecisionForbiddenError("only the caseworker who asked (or their team) decides")
        if suggestion.kind != "recommendation":
            raise DecisionRejectedError(
                "request_id", "this request was an eligibility check, not a recommendation"
            )
        shown = suggestion.ranked_service_ids()
        if choice == "none":
            if service_id is not None:
                raise DecisionRejectedError("service_id", "must be absent when the choice is none")
        elif service_id is None:
            raise DecisionRejectedError("service_id", f"is needed when the choice is {choice}")
        elif choice == "suggested" and service_id not in shown:
            raise DecisionRejectedError(
                "service_id", "is not among the services suggested for this request"
            )
        elif choice == "other":
            if service_id in shown:
                raise DecisionRejectedError(
                    "service_id", "was suggested for this request: record it as choice suggested"
                )
            if service_id not in self.catalog().ids:
                raise DecisionRejectedError("service_id", "is not a service of the catalog")
        followed_top = bool(shown) and service_id == shown[0]
        reason = reason.strip() if reason else None
        if reason and contains_henkilotunnus(reason):
            # Free text is stored as written: refuse it rather than keep a code in the audit.
            raise DecisionRejectedError("reason", "must not contain a personal identity code")
        if shown and not followed_top and not reason:
            raise DecisionRejectedError(
                "reason", "is needed when the decision does not follow the top suggestion"
            )
        return DecisionRecord(
            request_id=request_id,
            created_at=utc_now(),
            actor=actor,
            choice=choice,  # type: ignore[arg-type]
            service_id=service_id,
            followed_top=followed_top,
            reason=reason,
        )

    async def decide(
        self,
        request_id: str,
        *,
        choice: str,
        service_id: str | None,
        reason: str | None,
        actor: str | None,
    ) -> DecisionRecord:
        """`prepare_decision`, then wait until the decision is durable.

        A forbidden attempt is audited (a `decision_refused` event) before it is refused.
        """
        try:
            record = self.prepare_decision(
                request_id, choice=choice, service_id=service_id, reason=reason, actor=actor
            )
        except DecisionForbiddenError:
            event = SecurityEventRecord(utc_now(), "decision_refused", actor, request_id)
            await self._durable(self.audit.submit_security_event(event))
            raise
        await self._durable(self.audit.submit_decision(record))
        return record

    async def _durable(self, written: Future[None]) -> None:
        try:
            await asyncio.wait_for(asyncio.wrap_future(written), self._audit_timeout)
        except TimeoutError:
            raise AuditUnavailableError("the audit store did not confirm the write") from None

    # -- keyed hashes ------------------------------------------------------------------------

    def client_key(self, checked: CheckedProfile) -> str:
        """The pseudonymous client key: keyed HMAC of the henkilötunnus, else of the client id."""
        code = checked.sent.get("henkilotunnus")
        if isinstance(code, str) and code.strip():
            return pseudonymous_key(code.strip().upper(), self._pseudonym_key)
        return pseudonymous_key(checked.profile.client_id, self._pseudonym_key)

    def input_hash(self, payload: Mapping[str, Any]) -> str:
        """A keyed hash of the request (keyed: a profile with a code could be guessed)."""
        canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
        return hmac.new(
            self._input_hash_key, b"polku-input\x00" + canonical.encode(), hashlib.sha256
        ).hexdigest()


def _ranking_json(ranking: Sequence[RankedService], explored: ExploredRanking | None = None) -> str:
    """The audit row's ranking; with exploration, each entry also carries the model's own
    rank (`model_rank`) and the probability it had of being shown first (`p_first`)."""
    entries = [
        {
            "service_id": r.service_id,
            "rank": r.rank,
            "expected_with": round(r.expected_with, 6),
            "expected_without": round(r.expected_without, 6),
            "uplift": round(r.uplift, 6),
            "uplift_low": round(r.uplift_low, 6),
            "uplift_high": round(r.uplift_high, 6),
            # What the caseworker was told about telling it apart (models.separation).
            "p_above_zero": None if r.p_above_zero is None else round(r.p_above_zero, 4),
            "p_above_next": None if r.p_above_next is None else round(r.p_above_next, 4),
            "wide_interval": r.wide_interval,
            "drivers": [d.factor for d in r.drivers],
        }
        for r in ranking
    ]
    if explored is not None:
        for entry, model_rank, p in zip(
            entries, explored.model_ranks, explored.top_probabilities, strict=True
        ):
            entry["model_rank"] = model_rank
            entry["p_first"] = round(p, 6)
    return json.dumps(entries, separators=(",", ":"))
