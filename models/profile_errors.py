"""The problems validation finds: where, a stable code, and a message.

Codes are a contract (the API's 422 `type`, the page's key to its wording, docs/PROFILE.md);
messages are English for people and may change. No message carries a personal identity code.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from models.henkilotunnus import (
    IMPOSSIBLE_DATE,
    INDIVIDUAL_NUMBER_OUT_OF_RANGE,
    MALFORMED,
    UNKNOWN_CENTURY_SIGN,
    WRONG_CHECK_CHARACTER,
)

# The stable machine code of every validation problem (the API's 422 `type`, the page's key
# to its wording); messages may change, codes do not.
HENKILOTUNNUS_CODES: Final[dict[int, str]] = {
    MALFORMED: "henkilotunnus_malformed",
    UNKNOWN_CENTURY_SIGN: "henkilotunnus_century_sign",
    IMPOSSIBLE_DATE: "henkilotunnus_impossible_date",
    WRONG_CHECK_CHARACTER: "henkilotunnus_check_character",
    INDIVIDUAL_NUMBER_OUT_OF_RANGE: "henkilotunnus_individual_number",
}
ERROR_CODES: Final = (
    "missing",
    "missing_birth_date",
    "not_text",
    "too_long",
    "looks_like_henkilotunnus",
    "bad_pattern",
    "not_allowed_value",
    "not_bool",
    "bad_date",
    "impossible_date",
    "out_of_range",
    "not_number",
    "not_whole_number",
    "disagrees_with_henkilotunnus",
    "after_assessment_date",
    "unknown_field",
    *HENKILOTUNNUS_CODES.values(),
)


@dataclass(frozen=True, slots=True)
class FieldError:
    """One problem with one field of a profile: `code` (one of `ERROR_CODES`) says which
    kind, `message` says it in English (and may quote the bad value, never a code)."""

    field: str
    message: str
    code: str


@dataclass(frozen=True, slots=True)
class RowError:
    """One problem with one field of one row (`row` counts data rows from 1)."""

    row: int
    field: str
    message: str
    code: str


class ProfileValidationError(ValueError):
    """A raw profile failed validation.

    Attributes
    ----------
    errors : tuple of FieldError
        Every problem found, in field order.
    """

    def __init__(self, errors: tuple[FieldError, ...]) -> None:
        super().__init__("invalid profile: " + "; ".join(f"{e.field}: {e.message}" for e in errors))
        self.errors = errors
