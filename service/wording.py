"""The needs and barriers behind a suggestion, worded by `models.explanations`."""

from __future__ import annotations

from models.explanations import describe_driver, explain
from models.profile import ClientProfile
from models.suggestions import Driver, RankedService


def worded_drivers(
    ranked: RankedService, profile: ClientProfile, language: str
) -> list[tuple[Driver, str]]:
    """The drivers `explain` chooses for this service (strongest first), each with its sentence.

    The choice (how many, how strong) is `models.explanations.explain`'s; this only pairs
    each chosen sentence with its driver so the API can report factor and share as well.
    """
    chosen = explain(ranked, profile, language)
    by_text = {describe_driver(d, ranked.uplift, profile, language): d for d in ranked.drivers}
    return [(by_text[text], text) for text in chosen if text in by_text]
