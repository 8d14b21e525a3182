"""Answers the page has given, sealed into a cookie so they can be shown again.

After a form post the page redirects to `/answers/<request_id>` (post/redirect/get): the
browser's history then holds no form with an identity code, and a language switch is a
plain link. To show the answer again (in another language, after a decision) without any
state in the serving process, so that any worker or replica can answer, the answer travels
in an encrypted, authenticated cookie (Fernet, with a key derived from the service's HMAC
key): HttpOnly, SameSite=Lax, limited to `/answers/`, valid for four hours, bound to the
caseworker who asked. It holds the validated profile (which has no identity code), the
ranking and the decisions recorded on the page, nothing the page did not already show.
The answer's audit record is in the audit store from the moment it was given.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import re
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any, Final

from cryptography.fernet import Fernet, InvalidToken

from models.catalog import Catalog
from models.eligibility import EligibilityDecision, Reason
from models.explanations import MIN_POINTS, explain
from models.objectives import TARGETS, Objective
from models.profile import DATE_FIELDS, ClientProfile
from models.suggestions import (
    NOT_SUGGESTED_REASONS,
    Driver,
    NotSuggested,
    RankedService,
    TargetEffect,
)
from service.audit import DecisionRecord
from service.client_history import EarlierAnswer
from service.pages import i18n
from service.pages.wording import certainty_notes, harm_warnings, not_suggested_text

KEEP_SECONDS: Final = 4 * 60 * 60
COOKIE_NAME: Final = "polku_answer"
COOKIE_PATH: Final = "/answers/"
# Decisions shown again on the page (all of them are in the audit store); reasons shortened
# so that the cookie stays well under the 4 kB browsers keep.
SHOWN_DECISIONS: Final = 3
SHOWN_REASON_CHARS: Final = 160
BAR_WIDTH: Final = 220
BAR_HEIGHT: Final = 22


_REQUEST_ID: Final = re.compile(r"[0-9a-f]{32}")


def answer_path(request_id: str) -> str:
    """The page of an answer. The id is written in groups of four (`/answers/c5c2-19bc-...`):
    a run of hex digits could otherwise look like an identity code to the log scrubber."""
    groups = "-".join(request_id[i : i + 4] for i in range(0, len(request_id), 4))
    return f"/answers/{groups}"


def request_id_of(reference: str) -> str | None:
    """The request id in an answer's path segment (None if it is not one)."""
    candidate = reference.replace("-", "")
    return candidate if _REQUEST_ID.fullmatch(candidate) else None


@dataclass
class PageAnswer:
    """One answer given on the page, as the page needs it to show it again.

    `ranking` is None when no model was loaded (eligibility only). Each ranked service
    keeps only the drivers `models.explanations.explain` shows, which are the same in every
    language. `decision` is the gate's decision as it was given, kept rather than
    recomputed when the answer is shown again.
    """

    request_id: str
    owner: str
    profile: ClientProfile
    objective: str
    top_k: int
    ranking: tuple[RankedService, ...] | None
    model_version: str | None
    decision: EligibilityDecision
    decisions: list[DecisionRecord] = field(default_factory=list)
    degraded: bool = False  # the model was switched off: the gate alone answered
    not_suggested: tuple[NotSuggested, ...] = ()

    @property
    def can_decide(self) -> bool:
        """A decision can be recorded for a client's recommendation (not without a model)."""
        return self.ranking is not None and self.decision.eligible


def shown_ranking(
    ranking: tuple[RankedService, ...], profile: ClientProfile
) -> tuple[RankedService, ...]:
    """The ranking with each service's drivers cut to those the page shows."""
    return tuple(
        RankedService(
            service_id=r.service_id,
            rank=r.rank,
            expected_with=r.expected_with,
            expected_without=r.expected_without,
            uplift=r.uplift,
            uplift_low=r.uplift_low,
            uplift_high=r.uplift_high,
            drivers=tuple(d.driver for d in explain(r, profile, "en")),
            p_above_zero=r.p_above_zero,
            p_above_next=r.p_above_next,
            wide_interval=r.wide_interval,
            by_target=r.by_target,
        )
        for r in ranking
    )


def _r(value: float | None) -> float | None:
    # Four decimals (a hundredth of a percentage point, finer than shown) keep the cookie
    # under the 4 kB a browser keeps.
    return None if value is None else round(value, 4)


def _fernet(secret: bytes) -> Fernet:
    key = hmac.new(secret, b"polku-page-answer-key", hashlib.sha256).digest()
    return Fernet(base64.urlsafe_b64encode(key))


def seal(answer: PageAnswer, secret: bytes) -> str:
    """The answer as an encrypted, authenticated token (for the answer cookie)."""
    profile = {
        k: (v.isoformat() if isinstance(v, dt.date) else v)
        for k, v in answer.profile.to_record().items()
    }
    payload = {
        "r": answer.request_id,
        "o": answer.owner,
        "p": profile,
        "j": answer.objective,
        "k": answer.top_k,
        "m": answer.model_version,
        "x": answer.degraded,
        "g": _sealed_decision(answer.decision),
        "s": None
        if answer.ranking is None
        else [
            [
                r.service_id,
                r.rank,
                _r(r.expected_with),
                _r(r.expected_without),
                _r(r.uplift),
                _r(r.uplift_low),
                _r(r.uplift_high),
                [[d.factor, _r(d.uplift_without)] for d in r.drivers],
                _r(r.p_above_zero),
                _r(r.p_above_next),
                r.wide_interval,
                [
                    [
                        TARGETS.index(e.target),
                        _r(e.expected_with),
                        _r(e.expected_without),
                        _r(e.uplift),
                        _r(e.uplift_low),
                        _r(e.uplift_high),
                    ]
                    for e in r.by_target
                ],
            ]
            for r in answer.ranking
        ],
        "n": [
            [
                n.service_id,
                NOT_SUGGESTED_REASONS.index(n.reason),
                list(n.limits),
                n.rank,
                _r(n.uplift),
                _r(n.uplift_low),
                _r(n.uplift_high),
            ]
            for n in answer.not_suggested
        ],
        "d": [
            [
                d.created_at.isoformat(),
                d.choice,
                d.service_id,
                d.followed_top,
                None if d.reason is None else d.reason[:SHOWN_REASON_CHARS],
                d.actor,
            ]
            for d in answer.decisions[-SHOWN_DECISIONS:]
        ],
    }
    packed = zlib.compress(json.dumps(payload, separators=(",", ":")).encode(), 9)
    return _fernet(secret).encrypt(packed).decode()


def unseal(token: str, secret: bytes, *, request_id: str, owner: str) -> PageAnswer | None:
    """The answer in `token` if it is genuine, recent, for `request_id` and `owner`."""
    try:
        packed = _fernet(secret).decrypt(token.encode(), ttl=KEEP_SECONDS)
        payload: Any = json.loads(zlib.decompress(packed))
    except (InvalidToken, ValueError, zlib.error):
        return None
    if payload.get("r") != request_id or payload.get("o") != owner:
        return None
    record = dict(payload["p"])
    for name in DATE_FIELDS:
        if record.get(name) is not None:
            record[name] = dt.date.fromisoformat(record[name])
    known = {f.name for f in fields(ClientProfile)}
    ranking = (
        None
        if payload["s"] is None
        else tuple(
            RankedService(
                service_id=s[0],
                rank=s[1],
                expected_with=s[2],
                expected_without=s[3],
                uplift=s[4],
                uplift_low=s[5],
                uplift_high=s[6],
                drivers=tuple(Driver(factor=f, uplift_without=u) for f, u in s[7]),
                # Answers sealed before the separation fields existed have eight entries.
                p_above_zero=s[8] if len(s) > 8 else None,
                p_above_next=s[9] if len(s) > 9 else None,
                wide_interval=bool(s[10]) if len(s) > 10 else False,
                by_target=tuple(
                    TargetEffect(TARGETS[e[0]], e[1], e[2], e[3], e[4], e[5])
                    for e in (s[11] if len(s) > 11 else ())
                ),
            )
            for s in payload["s"]
        )
    )
    decisions = [
        DecisionRecord(
            request_id=request_id,
            created_at=dt.datetime.fromisoformat(d[0]),
            actor=d[5],
            choice=d[1],
            service_id=d[2],
            followed_top=d[3],
            reason=d[4],
        )
        for d in payload["d"]
    ]
    return PageAnswer(
        request_id=request_id,
        owner=owner,
        profile=ClientProfile(**{k: v for k, v in record.items() if k in known}),
        objective=payload["j"],
        top_k=payload["k"],
        ranking=ranking,
        model_version=payload["m"],
        decision=_unsealed_decision(payload["g"]),
        decisions=decisions,
        degraded=bool(payload.get("x", False)),
        not_suggested=tuple(
            NotSuggested(
                service_id=n[0],
                reason=NOT_SUGGESTED_REASONS[n[1]],
                limits=tuple(n[2]),
                rank=n[3],
                uplift=n[4],
                uplift_low=n[5],
                uplift_high=n[6],
            )
            for n in payload.get("n", ())
        ),
    )


def _sealed_decision(decision: EligibilityDecision) -> list[Any]:
    # The benefit notice is the gate's fixed text: the decision's default restores it.
    return [
        decision.eligible,
        decision.responsible_office,
        decision.target_groups,
        decision.failed_conditions,
        [[r.code, r.fi, r.sv, r.en] for r in decision.reasons],
        decision.rules_version,
    ]


def _unsealed_decision(sealed: list[Any]) -> EligibilityDecision:
    eligible, office, groups, failed, reasons, rules_version = sealed
    return EligibilityDecision(
        eligible=eligible,
        responsible_office=office,
        target_groups=tuple(groups),
        failed_conditions=tuple(failed),
        reasons=tuple(Reason(code=c, fi=fi, sv=sv, en=en) for c, fi, sv, en in reasons),
        rules_version=rules_version,
    )


def answer_view(
    answer: PageAnswer,
    catalog: Catalog,
    lang: str,
    history: list[EarlierAnswer] | None = None,
    viewer: str | None = None,
    places_left: Mapping[str, int] | None = None,
) -> dict[str, Any]:
    """Everything the answer template shows, worded in `lang`.

    `history` are the client's earlier answers from the audit store (newest first), worded
    with `viewer` (the signed-in caseworker) as "you". `places_left` are the places left this
    month per service (`service.places`), counted when the answer is shown, not when given.
    """
    decision = answer.decision
    view: dict[str, Any] = {
        "request_id": answer.request_id,
        "path": answer_path(answer.request_id),
        "eligible": decision.eligible,
        "office": i18n.ui(f"office_{decision.responsible_office}", lang),
        "reasons": [getattr(reason, lang) for reason in decision.reasons],
        "benefit_notice": getattr(decision.benefit_notice, lang),
        "rules_version": decision.rules_version,
        "model_version": answer.model_version,
        "objective": i18n.value_label("objective", answer.objective, lang),
        "model_missing": answer.ranking is None,
        "model_off": answer.degraded,
        "services": [],
        "can_decide": answer.can_decide,
        # A request takes one decision; every later one was recorded as its correction.
        "decisions": [
            _decision_view(d, catalog, lang, correction=i > 0)
            for i, d in enumerate(answer.decisions)
        ],
        "decided": bool(answer.decisions),
        "why_not": _why_not_groups(answer.not_suggested, catalog, lang),
        "why_not_count": len(answer.not_suggested),
        "history": None
        if history is None
        else [_history_view(h, catalog, lang, viewer) for h in history],
    }
    ranking = answer.ranking or ()
    if not ranking:
        return view
    objective = Objective.parse(answer.objective)
    scale = max(0.05, *(max(abs(r.uplift_low), abs(r.uplift_high), abs(r.uplift)) for r in ranking))
    for ranked in ranking:
        service = catalog.get(ranked.service_id)
        drivers = explain(ranked, answer.profile, lang)
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
                "drivers_up": [d.text for d in drivers if d.raises and not d.negligible],
                "drivers_down": [d.text for d in drivers if not d.raises and not d.negligible],
                "drivers_hardly": [d.text for d in drivers if d.negligible],
                "drivers_small": any(d.small for d in drivers),
                "effects": [_effect_view(e, objective, lang) for e in ranked.by_target],
                "harm": harm_warnings(ranked, objective, lang),
                "certainty": certainty_notes(ranked, lang),
                "capacity": i18n.ui("capacity", lang, n=service.monthly_capacity),
                "places_left": None if places_left is None else places_left.get(service.id),
                # Swedish descriptions may be missing from the catalog: Finnish stands in,
                # marked as Finnish for screen readers.
                "description": service.description.get(lang) or service.description.fi,
                "description_lang": lang if service.description.get(lang) else "fi",
                "provider": service.provider.get(lang),
                "length": i18n.weeks(service.duration_weeks, lang),
                "limits": i18n.limit_lines(service.limits, lang),
                "languages": ", ".join(service.languages),
            }
        )
    view["drivers_small_note"] = i18n.ui(
        "drivers_small", lang, points=i18n.number(MIN_POINTS, lang)
    )
    shown = {r.service_id for r in ranking}
    view["other_services"] = sorted(
        ({"id": s.id, "name": s.name.get(lang)} for s in catalog.services if s.id not in shown),
        key=lambda s: s["name"],
    )
    return view


def _why_not_groups(
    items: tuple[NotSuggested, ...], catalog: Catalog, lang: str
) -> list[dict[str, Any]]:
    """The services left out, grouped by reason (ranked lower first, in rank order)."""
    groups = []
    for reason in NOT_SUGGESTED_REASONS:
        entries = [
            {
                "id": item.service_id,
                "name": catalog.name(item.service_id, lang),
                # Under its group heading a closed service needs only its limits.
                "text": "; ".join(
                    i18n.limit_lines(catalog.get(item.service_id).limits, lang, item.limits)
                )
                if reason == "closed"
                else not_suggested_text(item, catalog, lang),
            }
            for item in items
            if item.reason == reason and item.service_id in catalog.ids
        ]
        if entries:
            groups.append(
                {
                    "kind": reason,
                    "heading": i18n.ui(f"why_not_group_{reason}", lang),
                    "entries": entries,
                }
            )
    return groups


def _effect_view(effect: TargetEffect, objective: Objective, lang: str) -> dict[str, Any]:
    return {
        "target": effect.target,
        "label": i18n.value_label("objective", effect.target, lang),
        "ranked_by": any(t == effect.target and w > 0 for t, w in objective.weights),
        "uplift": i18n.points(effect.uplift, lang),
        "low": i18n.points(effect.uplift_low, lang),
        "high": i18n.points(effect.uplift_high, lang),
        "harmful": effect.credibly_harmful,
    }


def _history_view(
    earlier: EarlierAnswer, catalog: Catalog, lang: str, viewer: str | None
) -> dict[str, Any]:
    def name(service_id: str | None) -> str:
        if service_id is None:
            return i18n.ui("decision_none", lang)
        return catalog.name(service_id, lang) if service_id in catalog.ids else service_id

    if earlier.kind != "recommendation":
        what = i18n.ui("history_eligibility", lang)
    elif not earlier.eligible:
        what = i18n.ui("history_not_client", lang)
    else:
        what = i18n.ui(
            "history_suggested", lang, names=", ".join(name(s) for s in earlier.suggested[:3])
        )
    if earlier.decisions:
        decided = "; ".join(name(service_id) for _, _, service_id in earlier.decisions)
        outcome = i18n.ui("history_decided", lang, what=decided)
    else:
        outcome = i18n.ui("history_undecided", lang)
    who = "history_you" if viewer is not None and earlier.actor == viewer else "history_other"
    return {
        "at": earlier.created_at.strftime("%Y-%m-%d %H:%M UTC"),
        "what": what,
        "outcome": outcome,
        "who": i18n.ui(who, lang),
    }


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


def _decision_view(
    record: DecisionRecord, catalog: Catalog, lang: str, *, correction: bool = False
) -> dict[str, Any]:
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
        "correction": correction,
    }
