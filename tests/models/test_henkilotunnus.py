"""The personal identity code: RULES.md §4 vectors, century signs, and the keyed HMAC."""

from __future__ import annotations

import datetime as dt
import hashlib

import numpy as np
import pytest

from models.henkilotunnus import (
    IMPOSSIBLE_DATE,
    INDIVIDUAL_NUMBER_OUT_OF_RANGE,
    MALFORMED,
    UNKNOWN_CENTURY_SIGN,
    VALID,
    WRONG_CHECK_CHARACTER,
    HenkilotunnusError,
    birth_date_from_henkilotunnus,
    contains_henkilotunnus,
    format_henkilotunnus,
    is_henkilotunnus_shaped,
    is_valid_henkilotunnus,
    parse_henkilotunnus_array,
    pseudonymous_key,
)

# The check-character alphabet as RULES.md writes it, kept apart from the module's copy.
_RULES_ALPHABET = "0123456789ABCDEFHJKLMNPRSTUVWXY"


def _code(ddmmyy: str, sign: str, individual: str) -> str:
    """A code with the check character computed by the rule in RULES.md §4."""
    return f"{ddmmyy}{sign}{individual}{_RULES_ALPHABET[int(ddmmyy + individual) % 31]}"


@pytest.mark.parametrize(
    ("code", "birth_date"),
    [
        ("131052-308T", dt.date(1952, 10, 13)),  # RULES.md, classic sign
        ("010594Y9032", dt.date(1994, 5, 1)),  # RULES.md, new 1900s sign
        (_code("010594", "X", "903"), dt.date(1994, 5, 1)),
        (_code("010594", "W", "903"), dt.date(1994, 5, 1)),
        (_code("010594", "V", "903"), dt.date(1994, 5, 1)),
        (_code("010594", "U", "903"), dt.date(1994, 5, 1)),
        (_code("290200", "A", "902"), dt.date(2000, 2, 29)),  # leap day of 2000
        (_code("150107", "B", "911"), dt.date(2007, 1, 15)),
        (_code("150107", "F", "911"), dt.date(2007, 1, 15)),
        (_code("311299", "+", "950"), dt.date(1899, 12, 31)),  # 1800s
    ],
)
def test_birth_date_from_henkilotunnus_reads_every_century_sign(
    code: str, birth_date: dt.date
) -> None:
    assert birth_date_from_henkilotunnus(code) == birth_date
    assert is_valid_henkilotunnus(code)


def test_birth_date_from_henkilotunnus_tolerates_blanks_and_lower_case() -> None:
    assert birth_date_from_henkilotunnus(" 131052-308t ") == dt.date(1952, 10, 13)


@pytest.mark.parametrize(
    ("code", "problem", "message"),
    [
        ("010594Y9033", WRONG_CHECK_CHARACTER, "wrong check character"),  # RULES.md
        ("131052-308U", WRONG_CHECK_CHARACTER, "wrong check character"),
        (_code("010594", "G", "903"), UNKNOWN_CENTURY_SIGN, "unknown century sign"),
        (_code("010594", "Z", "903"), UNKNOWN_CENTURY_SIGN, "unknown century sign"),
        (_code("300290", "-", "903"), IMPOSSIBLE_DATE, "impossible birth date"),  # 30 Feb
        (_code("290201", "A", "903"), IMPOSSIBLE_DATE, "impossible birth date"),  # 2001 not leap
        (_code("011394", "-", "903"), IMPOSSIBLE_DATE, "impossible birth date"),  # month 13
        (_code("000194", "-", "903"), IMPOSSIBLE_DATE, "impossible birth date"),  # day 0
        (_code("010594", "-", "001"), INDIVIDUAL_NUMBER_OUT_OF_RANGE, "individual number"),
        ("131052-308", MALFORMED, "malformed"),
        ("131052-308TT", MALFORMED, "malformed"),
        ("13105X-308T", MALFORMED, "malformed"),
        ("", MALFORMED, "malformed"),
    ],
)
def test_birth_date_from_henkilotunnus_rejects_with_the_problem_named(
    code: str, problem: int, message: str
) -> None:
    with pytest.raises(HenkilotunnusError, match=message) as caught:
        birth_date_from_henkilotunnus(code)
    assert caught.value.problem == problem
    assert not is_valid_henkilotunnus(code)


def test_henkilotunnus_error_never_contains_the_code() -> None:
    for code in ("010594Y9033", _code("010594", "G", "903"), _code("300290", "-", "903")):
        with pytest.raises(HenkilotunnusError) as caught:
            birth_date_from_henkilotunnus(code)
        assert code not in str(caught.value)
        assert code not in repr(caught.value)
        assert code[:6] not in str(caught.value)


def test_parse_henkilotunnus_array_agrees_with_one_code_at_a_time() -> None:
    codes = ["131052-308T", "010594Y9033", "", _code("300290", "-", "903"), "x", None, 42]
    dates, problems = parse_henkilotunnus_array(codes)
    assert (
        problems.tolist()
        == [VALID, WRONG_CHECK_CHARACTER, MALFORMED, IMPOSSIBLE_DATE] + [MALFORMED] * 3
    )
    assert dates[0] == np.datetime64("1952-10-13")
    assert np.isnat(dates[1:]).all()


def test_parse_henkilotunnus_array_handles_no_codes() -> None:
    dates, problems = parse_henkilotunnus_array([])
    assert dates.shape == problems.shape == (0,)


def test_format_henkilotunnus_builds_valid_codes() -> None:
    assert format_henkilotunnus(dt.date(1952, 10, 13), 308) == "131052-308T"
    assert format_henkilotunnus(dt.date(1994, 5, 1), 903, sign="Y") == "010594Y9032"
    code = format_henkilotunnus(dt.date(2010, 7, 4), 955)
    assert code[6] == "A"
    assert birth_date_from_henkilotunnus(code) == dt.date(2010, 7, 4)


def test_format_henkilotunnus_rejects_mismatched_sign_and_number() -> None:
    with pytest.raises(ValueError, match="century sign"):
        format_henkilotunnus(dt.date(1994, 5, 1), 903, sign="A")
    with pytest.raises(ValueError, match="002-999"):
        format_henkilotunnus(dt.date(1994, 5, 1), 1)


def test_pseudonymous_key_is_rfc4231_hmac_sha256() -> None:
    # RFC 4231 test case 2.
    expected = "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    assert pseudonymous_key("what do ya want for nothing?", b"Jefe") == expected


def test_pseudonymous_key_depends_on_the_secret_and_is_not_a_plain_hash() -> None:
    code = "131052-308T"
    first = pseudonymous_key(code, b"secret-one")
    assert first == pseudonymous_key(code, b"secret-one")
    assert first != pseudonymous_key(code, b"secret-two")
    assert first != hashlib.sha256(code.encode()).hexdigest()
    assert code not in first and len(first) == 64


def test_pseudonymous_key_rejects_an_empty_secret() -> None:
    with pytest.raises(ValueError, match="non-empty secret"):
        pseudonymous_key("c1", b"")


@pytest.mark.parametrize(
    ("text", "shaped"),
    [
        ("131052-308T", True),
        (" 131052-308t\t", True),  # blanks around it, lower case
        ("１３１０５２－３０８Ｔ", True),  # full width
        ("131052\u200b-308T", True),  # a zero-width space inside
        ("131052 308T", True),  # a space for the sign
        ("asiakas 131052-308T", False),  # holds one, but is not one
        ("131052-308T1", False),
        ("123456.7891", True),  # the shape alone: numbers are the caller's to tell apart
    ],
)
def test_is_henkilotunnus_shaped_judges_the_whole_value(text: str, shaped: bool) -> None:
    assert is_henkilotunnus_shaped(text) is shaped


def test_a_hex_key_may_contain_a_code_shape_but_is_not_one() -> None:
    keys = [pseudonymous_key(f"client-{i}", b"secret") for i in range(2000)]
    holding = [k for k in keys if contains_henkilotunnus(k)]
    assert holding  # a quarter of 64-hex keys hold a run shaped like a code
    assert not any(is_henkilotunnus_shaped(k) for k in keys)
