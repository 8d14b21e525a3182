"""Sentences built from the model's answer for the caseworker, in Finnish, Swedish and English:
why a service is not suggested, a harm warning for the other objective, how far a suggestion
can be told apart. The API's answer and the page word them the same way (one source); the
words themselves are in `texts/<lang>.toml` (`service.pages.i18n`).
"""

from __future__ import annotations

from models.catalog import Catalog
from models.objectives import Objective
from models.separation import WIDE_INTERVAL_SHARE
from models.suggestions import NotSuggested, RankedService
from service.pages import i18n


def not_suggested_text(item: NotSuggested, catalog: Catalog, lang: str) -> str:
    """Why one catalog service is not among the suggestions, with its rank and effect or the
    limits that close it."""
    if item.reason == "ranked_lower":
        assert item.uplift is not None and item.uplift_low is not None
        assert item.uplift_high is not None
        return i18n.ui(
            "why_not_ranked_lower",
            lang,
            rank=item.rank,
            uplift=i18n.points(item.uplift, lang),
            low=i18n.points(item.uplift_low, lang),
            high=i18n.points(item.uplift_high, lang),
        )
    if item.reason == "closed":
        limits = catalog.get(item.service_id).limits
        lines = i18n.limit_lines(limits, lang, item.limits)
        return i18n.ui("why_not_closed", lang, limits="; ".join(lines).lower())
    return i18n.ui(f"why_not_{item.reason}", lang)


def harm_warnings(ranked: RankedService, objective: Objective, lang: str) -> list[str]:
    """A warning per target the suggestion credibly lowers (its whole interval below zero)
    while it is suggested for `objective` (the ranking key)."""
    chosen = i18n.value_label("objective", objective.name, lang) if _named(objective) else None
    out = []
    for effect in ranked.by_target:
        if not effect.credibly_harmful or objective.weights == ((effect.target, 1.0),):
            continue  # harm to the objective itself shows in its own number and interval
        out.append(
            i18n.ui(
                "harm_warning",
                lang,
                objective=chosen or objective.name,
                other=i18n.value_label("objective", effect.target, lang),
                uplift=i18n.points(effect.uplift, lang),
                low=i18n.points(effect.uplift_low, lang),
                high=i18n.points(effect.uplift_high, lang),
            )
        )
    return out


def _named(objective: Objective) -> bool:
    return len(objective.weights) == 1


def certainty_notes(ranked: RankedService, lang: str) -> list[dict[str, str]]:
    """What the page says about how far the model can tell this service apart, in `lang`.

    Each note has a `kind` (for styling and tests) and its `text`: the chance that the
    service beats no service; whether it can be told from no service and from the next
    ranked one (plainly, either way); and a warning when its interval is too wide to mean
    much (`models.separation`).
    """
    notes = []
    if ranked.p_above_zero is not None:
        chance = i18n.percent(ranked.p_above_zero, lang)
        notes.append({"kind": "chance", "text": i18n.ui("p_above_zero", lang, p=chance)})
        if ranked.distinct_from_no_service:
            notes.append({"kind": "distinct_none", "text": i18n.ui("distinct_none", lang)})
        else:
            notes.append({"kind": "not_distinct_none", "text": i18n.ui("not_distinct_none", lang)})
    if ranked.distinct_from_next is False:
        notes.append({"kind": "not_distinct_next", "text": i18n.ui("not_distinct_next", lang)})
    elif ranked.distinct_from_next:
        notes.append({"kind": "distinct_next", "text": i18n.ui("distinct_next", lang)})
    if ranked.wide_interval:
        share = round(100 * WIDE_INTERVAL_SHARE)
        notes.append({"kind": "wide", "text": i18n.ui("wide_interval", lang, points=share)})
    return notes
