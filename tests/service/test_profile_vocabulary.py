"""One vocabulary: the API's `ProfileIn` and the register path accept and reject exactly the
same values, field by field, with the same codes; and the one-profile path agrees with the
array path of a whole extract (where the string kernels take over)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from models.profile import PROFILE_SPEC, SPEC_BY_NAME, FieldSpec
from models.profile_validation import (
    ERROR_CODES,
    ProfileValidationError,
    parse_profile,
    parse_profile_frame,
    profile_from_row,
)
from service.schemas import EligibilityRequest, ProfileIn

TODAY = dt.date(2024, 3, 4)
TODAY_WHEN_RUN = object()  # the default assessment date: the date the test runs on
BASE: dict[str, Any] = {
    "client_id": "c-1",
    "birth_date": "1990-04-02",
    "home_municipality": "091",
    "mother_tongue": "fi",
    "immigrant": "false",
    "registered_jobseeker": True,
    "labour_market_status": "unemployed",
    "unemployment_benefit": "labour_market_subsidy",
    "assessment_date": "2023-03-15",
}
# Digits and letters of other scripts that `\d` or `str.isdigit` would let through.
UNICODE_DIGITS = ("٠٩١", "０９１", "۰۹۱", "०९१", "𝟎𝟗𝟏", "09١")
SPACES = st.sampled_from(("", " ", "  ", "\t", "\u00a0", "\n"))


def _case_variants(text: str) -> st.SearchStrategy[str]:
    return st.sampled_from((text, text.upper(), text.lower(), text.title(), text.swapcase()))


def _padded(values: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.builds(lambda a, v, b: a + v + b, SPACES, values, SPACES)


_ANY_JSON = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**6), 10**6),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.sampled_from(UNICODE_DIGITS),
)


def _dates_as_text() -> st.SearchStrategy[str]:
    shaped = st.builds(
        lambda y, m, d: f"{y:04d}-{m:02d}-{d:02d}",
        st.integers(1, 9999),
        st.integers(0, 13),
        st.integers(0, 32),
    )
    return st.one_of(
        shaped,
        st.dates().map(dt.date.isoformat),
        st.sampled_from(("15.3.2022", "2020-1-1", "٢٠٢٠-٠١-٠١", "2020-01-01T00:00", "20200101")),
    )


def _numbers(spec: FieldSpec) -> st.SearchStrategy[Any]:
    assert spec.bounds is not None
    low, high = spec.bounds
    return st.one_of(
        st.integers(int(low) - 5, int(high) + 5),
        st.floats(low - 5, high + 5),
        st.floats(allow_nan=True, allow_infinity=True),
        st.integers(int(low) - 5, int(high) + 5).map(str),
        st.floats(low - 5, high + 5).map(repr),
        st.sampled_from(("1e1", "5.0", "٥", "1_0", "0x10", "+3", "-0", "3,5", "1" * 400)),
        st.sampled_from((10**400, -(10**400), 2**64)),  # JSON allows them; no float holds them
    )


def values_for(spec: FieldSpec) -> st.SearchStrategy[Any]:
    """Valid and invalid raw values of one field, as CSV text and as JSON values."""
    kinds: dict[str, Any] = {
        "id": lambda: st.one_of(
            st.text(max_size=140),
            st.sampled_from(("x" * 128, "x" * 129, "131052-308T", "id 131052-308T")),
        ),
        "henkilotunnus": lambda: st.sampled_from(
            ("131052-308T", "131052-308U", "131052G308T", "300290-903H", "131052-30", "")
        ),
        "code": lambda: st.one_of(
            st.sampled_from(UNICODE_DIGITS),
            st.text(alphabet="0123456789aAfFiIKé\u212a", max_size=4),
            _case_variants("fi"),
            _case_variants("smn"),
            st.sampled_from(("091", "91", "0911", "fin", "f1")),
        ),
        "enum": lambda: st.one_of(
            st.sampled_from(spec.values).flatmap(_case_variants),
            st.text(max_size=8),
        ),
        "bool": lambda: st.one_of(
            st.booleans(),
            st.sampled_from(("true", "false", "yes", "1", "0", "t")).flatmap(_case_variants),
        ),
        "date": lambda: st.one_of(_dates_as_text(), st.dates()),
        "whole": lambda: _numbers(spec),
        "number": lambda: _numbers(spec),
    }
    own = kinds[spec.kind]()
    text_values = st.one_of(_padded(own.filter(lambda v: isinstance(v, str))), own)
    return st.one_of(text_values, _ANY_JSON)


@st.composite
def field_and_value(draw: st.DrawFn) -> tuple[str, Any]:
    spec = draw(st.sampled_from(PROFILE_SPEC))
    return spec.name, draw(values_for(spec))


def api_outcome(raw: dict[str, Any]) -> tuple[set[tuple[str, str]], Any]:
    """The (field, code) problems `ProfileIn` reports inside a request, or its profile."""
    try:
        request = EligibilityRequest.model_validate({"profile": raw})
    except ValidationError as exc:
        return {(str(e["loc"][-1]), e["type"]) for e in exc.errors()}, None
    return set(), request.profile.to_profile()


def register_outcome(raw: dict[str, Any]) -> tuple[set[tuple[str, str]], Any]:
    """The (field, code) problems of the register path, or its typed profile."""
    frame = pd.DataFrame({name: pd.Series([value], dtype=object) for name, value in raw.items()})
    parsed = parse_profile_frame(frame, today=dt.date.today())
    if parsed.errors:
        return {(e.field, e.code) for e in parsed.errors}, None
    return set(), profile_from_row(parsed.frame.iloc[0])


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(field_and_value())
def test_api_and_register_accept_and_reject_the_same_values(case: tuple[str, Any]) -> None:
    name, value = case
    raw = {**BASE, name: value}
    if name == "henkilotunnus":
        raw.pop("birth_date")
    api_problems, api_profile = api_outcome(raw)
    register_problems, register_profile = register_outcome(raw)
    assert api_problems == register_problems
    assert api_profile == register_profile
    assert {code for _, code in api_problems} <= set(ERROR_CODES)


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(field_and_value(), min_size=1, max_size=12), st.sampled_from((20, 260)))
def test_one_profile_path_equals_the_extract_path(
    cases: list[tuple[str, Any]], padding: int
) -> None:
    # One profile is checked per cell; 20+ rows as numpy arrays; over 256 rows with pandas'
    # string kernels (the regimes of models/profile_validation.py): all must agree.
    raws = [{**BASE, name: value} for name, value in cases]
    rows = raws + [dict(BASE, client_id=f"pad-{k}") for k in range(padding)]
    names = sorted({name for row in rows for name in row})
    text_only = all(isinstance(v, str) for raw in raws for v in raw.values())
    frame = pd.DataFrame(
        {
            # object columns keep each value as given (pandas would coerce 0 among floats)
            name: pd.Series([row.get(name) for row in rows], dtype="str" if text_only else object)
            for name in names
        }
    )
    extract = parse_profile_frame(frame, today=TODAY)
    for row, raw in enumerate(raws, start=1):
        expected = {(e.field, e.message, e.code) for e in extract.errors if e.row == row}
        try:
            profile = parse_profile(raw, today=TODAY)
        except ProfileValidationError as exc:
            assert {(e.field, e.message, e.code) for e in exc.errors} == expected
        else:
            assert not expected
            assert profile == profile_from_row(extract.frame.loc[row - 1])


@pytest.mark.parametrize(
    ("field", "value", "code", "stored"),
    [
        ("mother_tongue", "FI", None, "fi"),
        ("mother_tongue", " Sv ", None, "sv"),
        ("mother_tongue", "\u212ai", "bad_pattern", None),  # KELVIN SIGN lower-cases to "k"
        ("home_municipality", "٠٩١", "bad_pattern", None),
        ("home_municipality", "０９１", "bad_pattern", None),
        ("home_municipality", " 091 ", None, "091"),
        ("assessment_date", None, None, TODAY_WHEN_RUN),
    ],
)
def test_the_cases_the_two_paths_used_to_disagree_on(
    field: str, value: Any, code: str | None, stored: Any
) -> None:
    raw = {**BASE, field: value}
    # "Today" is read when the test runs, not when it is collected (a run can cross midnight).
    before = dt.date.today()
    outcomes = (api_outcome(raw), register_outcome(raw))
    expected = {before, dt.date.today()} if stored is TODAY_WHEN_RUN else {stored}
    for problems, profile in outcomes:
        if code is None:
            assert problems == set()
            assert getattr(profile, field) in expected
        else:
            assert problems == {(field, code)}


def test_the_api_schema_is_made_from_the_declaration() -> None:
    schema = ProfileIn.model_json_schema()
    assert list(schema["properties"]) == [spec.name for spec in PROFILE_SPEC]
    assert set(schema["required"]) == {spec.name for spec in PROFILE_SPEC if spec.required}
    municipality = schema["properties"]["home_municipality"]
    assert municipality["pattern"] == f"^{SPEC_BY_NAME['home_municipality'].pattern}$"
    months = schema["properties"]["unemployment_months"]
    assert (months["minimum"], months["maximum"]) == SPEC_BY_NAME["unemployment_months"].bounds
    status = schema["properties"]["labour_market_status"]
    assert tuple(status["enum"]) == SPEC_BY_NAME["labour_market_status"].values
