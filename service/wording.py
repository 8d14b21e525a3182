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
    wanted = set(chosen)
    by_text: dict[str, Driver] = {}
    # The drivers come strongest first, as `explain` picks them: stop once all are found.
    for driver in ranked.drivers:
        if len(by_text) == len(wanted):
            break
        text = describe_driver(driver, ranked.uplift, profile, language)
        if text in wanted:
            by_text.setdefault(text, driver)
    return [(by_text[text], text) for text in chosen if text in by_text]
