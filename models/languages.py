"""The languages Polku speaks to clients in, and a text written in each of them.

Finnish and Swedish are Finland's national languages; English is for everyone else. The
gate's reasons and the catalog's names and descriptions are `LocalizedText`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

LANGUAGES: Final = ("fi", "sv", "en")


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
