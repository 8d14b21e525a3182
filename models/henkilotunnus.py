"""The Finnish personal identity code (henkilötunnus): check it, read the birth date, key it.

The code is used for two things only (docs/domain/RULES.md §4): telling people apart and
deriving the birth date. Nothing here ever puts the code into an error message, a repr or
a log line; where a stable key is needed, `pseudonymous_key` gives a keyed HMAC of it (a
plain hash of a code can be reversed by hashing every possible code).

One definition of the checks works on numpy arrays (`parse_henkilotunnus_array`, used to
validate whole register extracts); the single-code functions call it with one element.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
import unicodedata
from collections.abc import Sequence
from typing import Final

import numpy as np
import numpy.typing as npt

CHECK_CHARACTERS: Final = "0123456789ABCDEFHJKLMNPRSTUVWXY"

# Century of the birth year by the sign between date and individual number. The letters
# B-F and U-Y exist since 2023-01-01 beside the older "-" and "A".
CENTURY_SIGNS: Final[dict[str, int]] = {
    "+": 1800,
    "-": 1900,
    "Y": 1900,
    "X": 1900,
    "W": 1900,
    "V": 1900,
    "U": 1900,
    "A": 2000,
    "B": 2000,
    "C": 2000,
    "D": 2000,
    "E": 2000,
    "F": 2000,
}

# Problem codes returned by `parse_henkilotunnus_array` (0 means the code is well formed).
VALID: Final = 0
MALFORMED: Final = 1
UNKNOWN_CENTURY_SIGN: Final = 2
IMPOSSIBLE_DATE: Final = 3
WRONG_CHECK_CHARACTER: Final = 4
INDIVIDUAL_NUMBER_OUT_OF_RANGE: Final = 5

PROBLEM_MESSAGES: Final[dict[int, str]] = {
    MALFORMED: "malformed henkilötunnus: expected the form DDMMYYCZZZQ (11 characters)",
    UNKNOWN_CENTURY_SIGN: "unknown century sign in the henkilötunnus "
    "(allowed: " + " ".join(CENTURY_SIGNS) + ")",
    IMPOSSIBLE_DATE: "the henkilötunnus holds an impossible birth date",
    WRONG_CHECK_CHARACTER: "wrong check character in the henkilötunnus",
    INDIVIDUAL_NUMBER_OUT_OF_RANGE: "individual number of the henkilötunnus out of range (002-999)",
}

# Anything shaped like a code, to keep codes out of messages that quote other fields.
HENKILOTUNNUS_PATTERN: Final = re.compile(r"\d{6}[^0-9\s]\d{3}[0-9A-Za-z]")
# The same in text that was normalised (`normalise_for_matching`) and may be disguised: a
# space may stand before or after the sign, or instead of it.
DISGUISED_PATTERN: Final = re.compile(r"\d{6}(?: ?[^0-9\s] ?| )\d{3}[0-9A-Za-z]")

_CODE_LENGTH: Final = 11
_DIGIT_POSITIONS: Final = (0, 1, 2, 3, 4, 5, 7, 8, 9)
_CENTURY_BY_CODEPOINT: Final = np.zeros(128, dtype=np.int64)
for _sign, _century in CENTURY_SIGNS.items():
    _CENTURY_BY_CODEPOINT[ord(_sign)] = _century
_CHECK_CODEPOINTS: Final = np.array([ord(c) for c in CHECK_CHARACTERS], dtype=np.uint32)


def normalise_for_matching(text: str) -> str:
    """`text` as a code would be matched in it: NFKC (full-width digits and signs become
    ASCII), invisible format characters (zero-width space and joiners, soft hyphen, BOM)
    removed, and every kind of space (NBSP, narrow, figure, ideographic, tab) one space."""
    normal = unicodedata.normalize("NFKC", text)
    kept = []
    for char in normal:
        category = unicodedata.category(char)
        if category == "Cf":
            continue
        kept.append(" " if category in ("Zs", "Zl", "Zp") or char in "\t\r\n\v\f" else char)
    return "".join(kept)


def contains_henkilotunnus(text: str) -> bool:
    """Whether `text` holds something shaped like a code, however lightly disguised.

    Examples
    --------
    >>> contains_henkilotunnus("asiakas １３１０５２－３０８Ｔ")
    True
    >>> contains_henkilotunnus("met on 2024-03-04 at 10:15")
    False
    """
    if HENKILOTUNNUS_PATTERN.search(text):
        return True
    return DISGUISED_PATTERN.search(normalise_for_matching(text)) is not None


def is_henkilotunnus_shaped(text: str) -> bool:
    """Whether `text` as a whole (blanks around it aside) is shaped like a code, however
    lightly disguised: a data value that is a code, where `contains_henkilotunnus` finds one
    anywhere in free text (and so inside a longer token such as a hex key, too).

    Examples
    --------
    >>> is_henkilotunnus_shaped(" １３１０５２－３０８Ｔ ")
    True
    >>> is_henkilotunnus_shaped("9f131052a308c7e1")
    False
    """
    return DISGUISED_PATTERN.fullmatch(normalise_for_matching(text).strip()) is not None


def redact_henkilotunnus(text: str, replacement: str) -> str:
    """`text` with anything shaped like a code replaced; unchanged when there is none.

    A disguised code is found in the normalised text, which is then what comes back (so
    the rest of a line may lose its full-width or invisible characters).
    """
    plain = HENKILOTUNNUS_PATTERN.sub(replacement, text)
    normal = normalise_for_matching(plain)
    if DISGUISED_PATTERN.search(normal) is None:
        return plain
    return DISGUISED_PATTERN.sub(replacement, normal)


class HenkilotunnusError(ValueError):
    """A personal identity code failed a check. The message never contains the code.

    Attributes
    ----------
    problem : int
        One of the problem codes (`MALFORMED`, `UNKNOWN_CENTURY_SIGN`, `IMPOSSIBLE_DATE`,
        `WRONG_CHECK_CHARACTER`, `INDIVIDUAL_NUMBER_OUT_OF_RANGE`).
    """

    def __init__(self, problem: int) -> None:
        super().__init__(PROBLEM_MESSAGES[problem])
        self.problem = problem


def _normalise(codes: npt.ArrayLike | Sequence[object]) -> np.ndarray:
    """Codes as upper-case strings without surrounding blanks (non-strings become malformed)."""
    values = np.asarray(codes, dtype=object).ravel()
    as_text = np.array(
        [v if isinstance(v, str) else "" for v in values] if values.size else [], dtype=str
    )
    return np.char.upper(np.char.strip(as_text)) if as_text.size else as_text


def parse_henkilotunnus_array(
    codes: npt.ArrayLike | Sequence[object],
) -> tuple[np.ndarray, np.ndarray]:
    """Check many codes at once and read their birth dates.

    Parameters
    ----------
    codes : array-like of str
        Codes in the form `DDMMYYCZZZQ`; surrounding blanks and lower case are tolerated.

    Returns
    -------
    birth_dates : ndarray of datetime64[D]
        The birth date of each well-formed code, NaT elsewhere.
    problems : ndarray of int8
        `VALID` (0) or the first problem found, checked in this order: form, individual
        number, century sign, date, check character.

    Examples
    --------
    >>> dates, problems = parse_henkilotunnus_array(["131052-308T", "010594Y9033"])
    >>> str(dates[0]), problems.tolist()
    ('1952-10-13', [0, 4])
    """
    text = _normalise(codes)
    n = text.size
    birth_dates = np.full(n, np.datetime64("NaT"), dtype="datetime64[D]")
    problems = np.zeros(n, dtype=np.int8)
    if n == 0:
        return birth_dates, problems

    lengths = np.char.str_len(text)
    points = text.astype(f"<U{_CODE_LENGTH}").view(np.uint32).reshape(n, _CODE_LENGTH)
    digit_block = points[:, _DIGIT_POSITIONS].astype(np.int64) - ord("0")
    all_digits = ((digit_block >= 0) & (digit_block <= 9)).all(axis=1)
    well_shaped = (lengths == _CODE_LENGTH) & all_digits

    digits = np.where(well_shaped[:, None], digit_block, 0)
    day = digits[:, 0] * 10 + digits[:, 1]
    month = digits[:, 2] * 10 + digits[:, 3]
    two_digit_year = digits[:, 4] * 10 + digits[:, 5]
    individual = digits[:, 6] * 100 + digits[:, 7] * 10 + digits[:, 8]

    sign_points = np.minimum(points[:, 6], 127).astype(np.int64)
    century = _CENTURY_BY_CODEPOINT[sign_points]
    year = century + two_digit_year

    month_ok = (month >= 1) & (month <= 12)
    first_of_month = (
        ((year - 1970) * 12 + np.where(month_ok, month, 1) - 1)
        .astype("datetime64[M]")
        .astype("datetime64[D]")
    )
    next_month = (
        ((year - 1970) * 12 + np.where(month_ok, month, 1))
        .astype("datetime64[M]")
        .astype("datetime64[D]")
    )
    days_in_month = (next_month - first_of_month).astype(np.int64)
    date_ok = month_ok & (day >= 1) & (day <= days_in_month)

    remainder = (day * 10_000_000 + month * 100_000 + two_digit_year * 1000 + individual) % 31
    check_ok = points[:, 10] == _CHECK_CODEPOINTS[remainder]

    problems[~check_ok] = WRONG_CHECK_CHARACTER
    problems[~date_ok] = IMPOSSIBLE_DATE
    problems[century == 0] = UNKNOWN_CENTURY_SIGN
    problems[individual < 2] = INDIVIDUAL_NUMBER_OUT_OF_RANGE
    problems[~well_shaped] = MALFORMED

    valid = problems == VALID
    birth_dates[valid] = first_of_month[valid] + (day[valid] - 1).astype("timedelta64[D]")
    return birth_dates, problems


def birth_date_from_henkilotunnus(code: str) -> dt.date:
    """The birth date a valid personal identity code holds.

    Parameters
    ----------
    code : str
        A code in the form `DDMMYYCZZZQ`.

    Returns
    -------
    datetime.date

    Raises
    ------
    HenkilotunnusError
        If the code is malformed, its century sign unknown, its date impossible or its check
        character wrong. The message names the problem, never the code.

    Examples
    --------
    >>> birth_date_from_henkilotunnus("131052-308T")
    datetime.date(1952, 10, 13)
    """
    dates, problems = parse_henkilotunnus_array([code])
    if problems[0] != VALID:
        raise HenkilotunnusError(int(problems[0]))
    birth_date: dt.date = dates[0].astype(dt.date)
    return birth_date


def is_valid_henkilotunnus(code: str) -> bool:
    """True if the code passes every check of `birth_date_from_henkilotunnus`."""
    return bool(parse_henkilotunnus_array([code])[1][0] == VALID)


def format_henkilotunnus(birth_date: dt.date, individual_number: int, *, sign: str = "") -> str:
    """Build the code for a birth date and individual number (for synthetic test registers).

    Parameters
    ----------
    birth_date : datetime.date
        Born 1800-2099.
    individual_number : int
        2-999; 900-999 are the temporary and test numbers synthetic data should use.
    sign : str, optional
        Century sign; by default the traditional one (`+`, `-` or `A`).

    Returns
    -------
    str
        The code `DDMMYYCZZZQ` with its check character.
    """
    if not 2 <= individual_number <= 999:
        raise ValueError("individual number must lie in 002-999")
    default_signs = {1800: "+", 1900: "-", 2000: "A"}
    century = birth_date.year // 100 * 100
    if century not in default_signs:
        raise ValueError("henkilötunnus exists only for birth years 1800-2099")
    sign = sign or default_signs[century]
    if CENTURY_SIGNS.get(sign) != century:
        raise ValueError("the century sign does not match the birth year")
    digits = f"{birth_date:%d%m}{birth_date.year % 100:02d}{individual_number:03d}"
    return f"{digits[:6]}{sign}{digits[6:]}{CHECK_CHARACTERS[int(digits) % 31]}"


def pseudonymous_key(value: str, key: bytes) -> str:
    """A stable, non-reversible key for a code or client id: HMAC-SHA256 with a secret key.

    Parameters
    ----------
    value : str
        The personal identity code or client id to key. Normalise it first (e.g. upper case
        for codes) if equal people may be written differently.
    key : bytes
        The secret; without it nobody can recompute keys by trying every possible code.

    Returns
    -------
    str
        64 lower-case hex digits.

    Examples
    --------
    >>> len(pseudonymous_key("client-1", b"secret"))
    64
    """
    if not isinstance(key, bytes | bytearray) or not key:
        raise ValueError("pseudonymous_key needs a non-empty secret key (bytes)")
    return hmac.new(bytes(key), value.encode("utf-8"), hashlib.sha256).hexdigest()
