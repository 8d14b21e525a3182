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
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any, Final

from sqlalchemy import Connection, select

from models.bundle import RulesVersionError
from models.catalog import Catalog, load_catalog
from models.eligibility import EligibilityDecision, assess_eligibility, current_rules_version
from models.exploration import ExploredRanking
from models.henkilotunnus import contains_henkilotunnus, pseudonymous_key
from models.input_profile import input_record
from models.objectives import Objective
from models.profile import ClientProfile
from models.profile_validation import parse_profile
from models.suggestions import NotSuggested, RankedService
from service.audit import (
    AuditStore,
    AuditUnavailableError,
    DecisionRecord,
    SecurityEventRecord,
    SuggestionRecord,
    utc_now,
)
from service.audit.schema import decisions
from service.audit.served_inputs import ServedInputsRecord
from service.audit.writer import WriteCheck, WriteRefusedError
from service.authz import DecisionRule
from service.client_history import decisions_of
from service.exploration import OfficeExploration
from service.model_holder import ModelHolder, ServedModel
from service.model_switch import DEGRADED_REASON, ModelSwitch
from service.places import PlacesLedger
from service.request_id import new_audit_id, note_audit_id
from service.versions import Versions, catalog_version

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


class DecisionConflictError(WriteRefusedError):
    """A decision is already recorded for this request and the new one is not a correction
    (found before the write, or by `_first_decision_only` inside it)."""


# The longest decision reason kept, for the API (`DecisionIn.reason`) and the page alike.
MAX_DECISION_REASON: Final = 2000

ALREADY_DECIDED: Final = (
    "a decision is already recorded for this request; to change it, send a "
    "correction (corrects: true) with its own reason"
)


class DecisionRejectedError(ValueError):
    """A decision contradicts the suggestion it refers to; `field` names the culprit."""

    def __init__(self, field: str, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.field = field
        self.message = message
        self.code = code  # what is wrong, where a field can be wrong in more than one way


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
    versions: Versions


@dataclass(frozen=True, slots=True)
class RecommendationAnswer:
    """A recommendation: the decision, the ranking (empty for a non-client), the versions.

    `catalog` is the served model's, which names the ranked services; `profile` is the one
    the ranking was made for, which the drivers are worded for. `not_suggested` accounts
    for every other service of the catalog (`models.suggestions.NotSuggested`). A `degraded`
    answer (the model is switched off) has no ranking; `open_services` are then the services
    the client may take, in catalog order, and `degraded_reason` says why in the answer's
    language.
    """

    request_id: str
    language: str
    objective: str
    model_version: str | None
    rules_version: str
    decision: EligibilityDecision
    ranking: tuple[RankedService, ...]
    profile: ClientProfile
    catalog: Catalog
    audit: SuggestionRecord
    versions: Versions
    open_services: tuple[str, ...] = ()
    degraded_reason: str | None = None
    not_suggested: tuple[NotSuggested, ...] = ()
    ranked_by: Objective | None = None

    @property
    def degraded(self) -> bool:
        """The model was switched off: the gate alone answered."""
        return self.degraded_reason is not None

    # Places left this month per ranked service (`service.places`); None without a ledger.
    places_left: Mapping[str, int] | None = None

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
    switch : the model's kill switch (default: always on).
    places : the places left per service this month (`service.places`): shown with each
        suggestion, and a decision that would take a place beyond them is refused. None
        (tests of other things): places are neither shown nor enforced.
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
        switch: ModelSwitch | None = None,
        places: PlacesLedger | None = None,
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
        self._file_catalog_version: str | None = None
        self.switch = switch or ModelSwitch()
        self.places = places
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

    # -- versions ----------------------------------------------------------------------------

    def versions(self, rules_version: str | None = None) -> Versions:
        """What an answer made now is made under (`service.versions`); `rules_version` is the
        deciding rule set's, by default the one in force today."""
        return self._versions_of(self.holder.current, rules_version)

    def _versions_of(self, served: ServedModel | None, rules_version: str | None) -> Versions:
        if served is not None:
            return Versions(
                rules_version or current_rules_version(),
                served.version,
                served.model_hash,
                served.catalog_version or catalog_version(served.catalog),
            )
        catalog = self.catalog()
        if self._file_catalog_version is None:
            self._file_catalog_version = catalog_version(catalog)
        return Versions(
            rules_version or current_rules_version(), None, None, self._file_catalog_version
        )

    # -- eligibility -------------------------------------------------------------------------

    def prepare_eligibility(
        self, checked: CheckedProfile, *, language: str, actor: str | None
    ) -> EligibilityAnswer:
        """Run the gate on a profile checked at the edge."""
        decision = assess_eligibility(checked.profile)
        versions = self.versions(decision.rules_version)
        request_id = new_audit_id()
        record = SuggestionRecord(
            request_id=request_id,
            created_at=utc_now(),
            kind="eligibility",
            actor=actor,
            client_key=self.client_key(checked),
            input_hash=self.input_hash({"profile": checked.sent, "language": language}),
            rules_version=decision.rules_version,
            model_version=versions.model_version,
            objective=None,
            language=language,
            top_k=None,
            eligible=decision.eligible,
            responsible_office=decision.responsible_office,
            ranking="[]",
            model_hash=versions.model_hash,
            catalog_version=versions.catalog_version,
        )
        return EligibilityAnswer(request_id, language, decision, record, versions)

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
        """Decide and rank a checked profile with the served model (`NoModelError` if none);
        while the model is switched off, the gate's answer alone (`degraded`)."""
        if not self.switch.model_on:
            return self._gate_only(
                checked, top_k=top_k, objective=objective, language=language, actor=actor
            )
        served = self.served_model()  # one read: this request keeps this model throughout
        profile = checked.profile
        try:
            answered = served.model.answer(profile, objective, top_k=top_k)
        except RulesVersionError as exc:
            raise NoModelError(str(exc)) from None
        decision = answered.decision
        ranking = list(answered.ranked) if decision.eligible else []
        versions = self._versions_of(served, decision.rules_version)
        request_id = new_audit_id()
        explored = None
        if ranking and self._exploration is not None and self._exploration.applies(actor):
            explored = self._exploration.explore(ranking, served.model, request_id)
            ranking = list(explored.ranking)
        record = self._recommendation_record(
            checked,
            versions,
            decision,
            top_k,
            objective,
            language,
            actor,
            _ranking_json(ranking, explored),
            request_id=request_id,
        )
        places_left = None
        if self.places is not None and ranking:
            left = self.places.left(served.catalog)
            places_left = {
                r.service_id: left[r.service_id] for r in ranking if r.service_id in left
            }
        return RecommendationAnswer(
            request_id=record.request_id,
            language=language,
            objective=objective.name,
            model_version=served.version,
            rules_version=decision.rules_version,
            decision=decision,
            ranking=tuple(ranking),
            profile=profile,
            catalog=served.catalog,
            audit=record,
            versions=versions,
            not_suggested=answered.not_suggested,
            ranked_by=objective,
            places_left=places_left,
        )

    def _gate_only(
        self,
        checked: CheckedProfile,
        *,
        top_k: int,
        objective: Objective,
        language: str,
        actor: str | None,
    ) -> RecommendationAnswer:
        """The answer while the model is switched off: the gate, and the services open to a
        client in catalog order (no model is asked, so none need be loaded)."""
        decision = assess_eligibility(checked.profile)
        catalog = self.catalog()
        open_services: tuple[str, ...] = ()
        if decision.eligible:
            allowed = catalog.allowed(checked.profile)
            open_services = tuple(s for s, ok in zip(catalog.ids, allowed, strict=True) if ok)
        versions = self.versions(decision.rules_version)
        record = self._recommendation_record(
            checked, versions, decision, top_k, objective, language, actor, "[]", degraded=True
        )
        return RecommendationAnswer(
            request_id=record.request_id,
            language=language,
            objective=objective.name,
            model_version=versions.model_version,
            rules_version=decision.rules_version,
            decision=decision,
            ranking=(),
            profile=checked.profile,
            catalog=catalog,
            audit=record,
            versions=versions,
            open_services=open_services,
            degraded_reason=DEGRADED_REASON[language],
        )

    def _recommendation_record(
        self,
        checked: CheckedProfile,
        versions: Versions,
        decision: EligibilityDecision,
        top_k: int,
        objective: Objective,
        language: str,
        actor: str | None,
        ranking: str,
        *,
        degraded: bool = False,
        request_id: str | None = None,
    ) -> SuggestionRecord:
        return SuggestionRecord(
            request_id=request_id or new_audit_id(),
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
            model_version=versions.model_version,
            objective=objective.name,
            language=language,
            top_k=top_k,
            eligible=decision.eligible,
            responsible_office=decision.responsible_office,
            ranking=ranking,
            model_hash=versions.model_hash,
            catalog_version=versions.catalog_version,
            degraded=degraded,
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
        return ServedInputsRecord.of(
            answer.request_id,
            answer.audit.created_at,
            eligible,
            input_record(answer.profile),
            _closed_by_catalog(answer) if eligible else [],
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
        corrects: bool = False,
    ) -> DecisionRecord:
        """Check a caseworker's decision against the suggestion it answers.

        A request takes one decision; a later one must say it `corrects` the earlier one and
        give its own reason (a second click is never read as a change of mind).

        Raises `UnknownRequestError` for an unknown request id, `DecisionForbiddenError`
        when `actor` may not decide on it (checked before anything about its content is
        said), `DecisionConflictError` for a second decision not marked as a correction, and
        `DecisionRejectedError` when the decision does not fit the suggestion.
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
        if reason and len(reason) > MAX_DECISION_REASON:
            raise DecisionRejectedError(
                "reason", f"longer than {MAX_DECISION_REASON} characters", code="too_long"
            )
        if reason and contains_henkilotunnus(reason):
            # Free text is stored as written: refuse it rather than keep a code in the audit.
            raise DecisionRejectedError("reason", "must not contain a personal identity code")
        if shown and not followed_top and not reason:
            raise DecisionRejectedError(
                "reason", "is needed when the decision does not follow the top suggestion"
            )
        # Checked last, so that a malformed second decision is told what is wrong with it.
        earlier = decisions_of(self.audit.engine, request_id)
        if earlier and not corrects:
            raise DecisionConflictError(ALREADY_DECIDED)
        if corrects and not earlier:
            raise DecisionRejectedError("corrects", "there is no recorded decision to correct")
        if corrects and not reason:
            raise DecisionRejectedError("reason", "a correction needs its own reason")
        return DecisionRecord(
            request_id=request_id,
            created_at=utc_now(),
            actor=actor,
            choice=choice,  # type: ignore[arg-type]
            service_id=service_id,
            followed_top=followed_top,
            reason=reason,
            # What the caseworker decided on was made under the suggestion's versions.
            **Versions.of(suggestion).as_fields(),
        )

    async def decide(
        self,
        request_id: str,
        *,
        choice: str,
        service_id: str | None,
        reason: str | None,
        actor: str | None,
        corrects: bool = False,
    ) -> DecisionRecord:
        """`prepare_decision`, then wait until the decision is durable.

        A forbidden attempt is audited (a `decision_refused` event) before it is refused; a
        correction is audited as one (a `decision_corrected` event beside the new decision).
        With places, a decision taking a service whose places this month are all taken is
        refused inside the writing transaction (`service.places.PlacesExhaustedError`).
        """
        note_audit_id(request_id)  # the access line names the answer decided on
        try:
            record = self.prepare_decision(
                request_id,
                choice=choice,
                service_id=service_id,
                reason=reason,
                actor=actor,
                corrects=corrects,
            )
        except DecisionForbiddenError:
            event = SecurityEventRecord(
                utc_now(), "decision_refused", actor, request_id, **self.versions().as_fields()
            )
            await self._durable(self.audit.submit_security_event(event))
            raise
        # Checked again inside the writing transaction: two first decisions sent at the same
        # moment both pass the check above.
        checks = [] if corrects else [_first_decision_only(request_id)]
        if self.places is not None and record.service_id is not None:
            checks.append(self.places.guard(self.catalog(), record.service_id, record.request_id))
        try:
            written = self.audit.submit_decision(record, _all_of(checks))
            if corrects:
                event = SecurityEventRecord(
                    record.created_at, "decision_corrected", actor, request_id
                )
                await self._durable(self.audit.submit_security_event(event))
            await self._durable(written)
        finally:
            if self.places is not None:
                self.places.forget()
        return record

    async def record_event(self, event: SecurityEventRecord) -> None:
        """Write an event to the audit store and wait until it is durable."""
        await self._durable(self.audit.submit_security_event(event))

    async def _durable(self, written: Future[None]) -> None:
        try:
            await asyncio.wait_for(asyncio.wrap_future(written), self._audit_timeout)
        except TimeoutError:
            # The caller is told the write failed, so it must not happen later: a cancelled
            # write is skipped by the writer. A write the writer has already begun cannot be
            # cancelled; it is committing, so its outcome is awaited once more.
            if written.cancel():
                raise AuditUnavailableError("the audit store did not confirm the write") from None
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


def _closed_by_catalog(answer: RecommendationAnswer) -> list[str]:
    """The services the catalog's limits close to an admitted client, in catalog order: the
    answer already says so (its limits are checked once per answer, not again here)."""
    if answer.degraded:
        open_services = set(answer.open_services)
        return [s for s in answer.catalog.ids if s not in open_services]
    return [n.service_id for n in answer.not_suggested if n.reason == "closed"]


def _first_decision_only(request_id: str) -> WriteCheck:
    """The writer's check that no decision is recorded yet for `request_id`."""

    def check(conn: Connection) -> None:
        taken = select(decisions.c.id).where(decisions.c.request_id == request_id).limit(1)
        if conn.execute(taken).first() is not None:
            raise DecisionConflictError(ALREADY_DECIDED)

    return check


def _all_of(checks: Sequence[WriteCheck]) -> WriteCheck | None:
    """One writer's check running `checks` in order (None: nothing to check)."""
    if not checks:
        return None

    def check(conn: Connection) -> None:
        for each in checks:
            each(conn)

    return check


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
