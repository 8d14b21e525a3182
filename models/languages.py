"""The languages Polku speaks to people in: the page, the API's answers, the catalog texts.

Declared once here; everything that lists, checks or loops over the languages reads it.
Finnish and Swedish are Finland's national languages; English is for everyone else. The
gate's reasons and the catalog's names and descriptions are `LocalizedText`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal, get_args

Language = Literal["fi", "sv", "en"]
LANGUAGES: Final[tuple[str, ...]] = get_args(Language)
DEFAULT_LANGUAGE: Final = "fi"


@dataclass(frozen=True, slots=True)
class LocalizedText:
    """A text in Finnish, Swedish and English (Swedish may be empty for descriptions)."""

    fi: str
    sv: str
    en: str

    def get(self, lang: str) -> str:
        """The text in `lang` (fi, sv or en); ValueError naming the languages otherwise."""
        if lang not in LANGUAGES:
            raise ValueError(f"unknown language {lang!r}; expected one of {', '.join(LANGUAGES)}")
        return str(getattr(self, lang))
