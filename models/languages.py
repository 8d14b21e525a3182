"""The languages Polku speaks to people in: the page, the API's answers, the catalog texts.

Declared once here; everything that lists, checks or loops over the languages reads it.
"""

from __future__ import annotations

from typing import Final, Literal, get_args

Language = Literal["fi", "sv", "en"]
LANGUAGES: Final[tuple[str, ...]] = get_args(Language)
DEFAULT_LANGUAGE: Final = "fi"
