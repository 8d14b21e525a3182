"""Answers the page has given, held briefly so they can be shown again in another language.

After a form post the page redirects to `/answers/<request_id>` (post/redirect/get): the
browser's history then holds no form with an identity code, and a language switch is a
plain link. The answer is kept in this process's memory only (never on disk, never with
the identity code, which the validated profile does not hold), for its owner only, for a
few hours at most. Its audit record is in the audit store from the moment it was given.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Final

from models.catalog import Catalog
from models.eligibility import EligibilityDecision
from models.profile import ClientProfile
from models.suggestions import RankedService
from service.audit import DecisionRecord
from service.pages import i18n
from service.wording import worded_drivers

KEEP_SECONDS: Final = 4 * 60 * 60
KEEP_AT_MOST: Final = 512
BAR_WIDTH: Final = 220
BAR_HEIGHT: Final = 22


@dataclass
class PageAnswer:
    """One answer given on the page, as the page needs it to show it again.

    `ranking` is None when no model was loaded (eligibility only).
    """

    request_id: str
    owner: str
    profile: ClientProfile
    decision: EligibilityDecision
    catalog: Catalog
    objective: str
    top_k: int
    ranking: tuple[RankedService, ...] | None
    model_version: str | None
    created: float = field(default_factory=time.monotonic)
    decisions: list[DecisionRecord] = field(default_factory=list)

    @property
    def can_decide(self) -> bool:
        """A decision can be recorded for a client's recommendation (not without a model)."""
        return self.ranking is not None and self.decision.eligible


class AnswerCache:
    """The recent answers of this process, by request id, each visible to its owner only."""

    def __init__(self, keep_seconds: float = KEEP_SECONDS, keep_at_most: int = KEEP_AT_MOST):
        self._keep_seconds = keep_seconds
        self._keep_at_most = keep_at_most
        self._answers: OrderedDict[str, PageAnswer] = OrderedDict()
        self._lock = threading.Lock()

    def put(self, answer: PageAnswer) -> None:
        with self._lock:
            self._answers[answer.request_id] = answer
            self._answers.move_to_end(answer.request_id)
            self._forget_old()

    def get(self, request_id: str, owner: str) -> PageAnswer | None:
        """The answer, if it is still held and belongs to `owner`."""
        with self._lock:
            self._forget_old()
            answer = self._answers.get(request_id)
        if answer is None or answer.owner != owner:
            return None
        return answer if answer.created >= time.monotonic() - self._keep_seconds else None

    def _forget_old(self) -> None:
        limit = time.monotonic() - self._keep_seconds
        while self._answers:
            oldest = next(iter(self._answers.values()))
            if oldest.created >= limit and len(self._answers) <= self._keep_at_most:
                break
            self._answers.popitem(last=False)


def answer_view(answer: PageAnswer, lang: str) -> dict[str, Any]:
    """Everything the answer template shows, worded in `lang`."""
    decision = answer.decision
    view: dict[str, Any] = {
        "request_id": answer.request_id,
        "eligible": decision.eligible,
        "office": i18n.ui(f"office_{decision.responsible_office}", lang),
        "reasons": [getattr(reason, lang) for reason in decision.reasons],
        "benefit_notice": getattr(decision.benefit_notice, lang),
        "rules_version": decision.rules_version,
        "model_version": answer.model_version,
        "objective": i18n.value_label("objective", answer.objective, lang),
        "model_missing": answer.ranking is None,
        "services": [],
        "can_decide": answer.can_decide,
        "decisions": [_decision_view(d, answer.catalog, lang) for d in answer.decisions],
    }
    ranking = answer.ranking or ()
    if not ranking:
        return view
    scale = max(0.05, *(max(abs(r.uplift_low), abs(r.uplift_high), abs(r.uplift)) for r in ranking))
    for ranked in ranking:
        service = answer.catalog.get(ranked.service_id)
        view["services"].append(
            {
                "id": service.id,
                "rank": ranked.rank,
                "name": service.name.get(lang),
                "family": i18n.value_label("family", service.family, lang),
                "with": i18n.percent(ranked.expected_with, lang),
                "without": i18n.percent(ranked.expected_without, lang),
                "uplift": i18n.points(ranked.uplift, lang),
                "low": i18n.points(ranked.uplift_low, lang),
                "high": i18n.points(ranked.uplift_high, lang),
                "bar": uplift_bar(ranked, scale),
                "bar_label": i18n.ui(
                    "uplift_label",
                    lang,
                    uplift=i18n.points(ranked.uplift, lang),
                    low=i18n.points(ranked.uplift_low, lang),
                    high=i18n.points(ranked.uplift_high, lang),
                ),
                "drivers": [text for _, text in worded_drivers(ranked, answer.profile, lang)],
                # Swedish descriptions may be missing from the catalog: Finnish stands in.
                "description": service.description.get(lang) or service.description.fi,
                "provider": service.provider,
                "length": i18n.weeks(service.duration_weeks, lang),
                "limits": i18n.limit_lines(service.limits, lang),
                "languages": ", ".join(service.languages),
            }
        )
    shown = {r.service_id for r in ranking}
    view["other_services"] = sorted(
        (
            {"id": s.id, "name": s.name.get(lang)}
            for s in answer.catalog.services
            if s.id not in shown
        ),
        key=lambda s: s["name"],
    )
    return view


def uplift_bar(ranked: RankedService, scale: float) -> dict[str, float]:
    """Geometry of the small uplift bar (SVG units): zero line, interval, estimate.

    The axis runs from -scale to +scale, the same for every service of one answer, so the
    bars can be compared by eye.
    """
    half = BAR_WIDTH / 2

    def x(value: float) -> float:
        clipped = max(-scale, min(scale, value))
        return round(half + half * clipped / scale, 1)

    low, high = x(ranked.uplift_low), x(ranked.uplift_high)
    span = max(high - low, 1.0)  # a very narrow interval still shows
    return {
        "width": BAR_WIDTH,
        "height": BAR_HEIGHT,
        "zero": half,
        "low": min(low, BAR_WIDTH - span),
        "span": span,
        "estimate": x(ranked.uplift),
    }


def _decision_view(record: DecisionRecord, catalog: Catalog, lang: str) -> dict[str, Any]:
    name = (
        catalog.name(record.service_id, lang)
        if record.service_id is not None and record.service_id in catalog.ids
        else i18n.ui("decision_none", lang)
    )
    return {
        "at": record.created_at.strftime("%Y-%m-%d %H:%M UTC"),
        "service": name,
        "followed_top": record.followed_top,
        "reason": record.reason,
    }
