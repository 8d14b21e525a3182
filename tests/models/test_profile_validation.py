"""Validation at the boundary: every error names field and problem, and never the code."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from models.profile import ENUM_VALUES, NEED_DEFAULTS, PROFILE_COLUMNS
from models.profile_validation import (
    FieldError,
    ProfileValidationError,
    RowError,
    parse_profile,
    parse_profile_frame,
    profile_from_row,
    profiles_to_frame,
)

CODE = "131052-308T"  # valid; born 1952-10-13


def _raw(**overrides: object) -> dict[str, object]:
    """A register row as CSV gives it: strings only, need fields left out."""
    row: dict[str, object] = {
        "client_id": "c-1",
        "birth_date": "1990-04-02",
        "home_municipality": "091",
        "mother_tongue": "fi",
        "immigrant": "false",
        "registered_jobseeker": "true",
        "labour_market_status": "unemployed",
        "unemployment_benefit": "labour_market_subsidy",
        "assessment_date": "2023-03-15",
    }
    row.update(overrides)
    return {k: v for k, v in row.items() if v is not None}


def _errors(raw: dict[str, object], **kwargs: object) -> tuple[FieldError, ...]:
    with pytest.raises(ProfileValidationError) as caught:
        parse_profile(raw, **kwargs)  # type: ignore[arg-type]
    return caught.value.errors


def test_parse_profile_types_a_csv_row_and_fills_need_defaults() -> None:
    profile = parse_profile(_raw(immigrant="FALSE", registered_jobseeker="True"))
    assert profile.birth_date == dt.date(1990, 4, 2)
    assert profile.assessment_date == dt.date(2023, 3, 15)
    assert profile.immigrant is False and profile.registered_jobseeker is True
    assert profile.experiment_client_since is None and profile.gender is None
    for name, default in NEED_DEFAULTS.items():
        assert getattr(profile, name) == default


def test_parse_profile_accepts_json_values() -> None:
    profile = parse_profile(
        _raw(
            immigrant=True,
            registered_jobseeker=False,
            birth_date=dt.date(1990, 4, 2),
            unemployment_months=14,
            work_experience_years=3.5,
            low_digital_skills=True,
            gender="female",
        )
    )
    assert profile.immigrant is True and profile.registered_jobseeker is False
    assert profile.unemployment_months == 14 and profile.work_experience_years == 3.5
    assert profile.low_digital_skills is True and profile.gender == "female"


def test_parse_profile_missing_assessment_date_means_today() -> None:
    profile = parse_profile(_raw(assessment_date=None), today=dt.date(2024, 2, 29))
    assert profile.assessment_date == dt.date(2024, 2, 29)
    assert parse_profile(_raw(assessment_date="")).assessment_date == dt.date.today()


def test_parse_profile_derives_birth_date_from_the_code_and_drops_the_code() -> None:
    profile = parse_profile(_raw(birth_date=None, henkilotunnus=CODE))
    assert profile.birth_date == dt.date(1952, 10, 13)
    assert CODE not in repr(profile)
    assert "henkilotunnus" not in profile.to_record()


def test_parse_profile_accepts_code_and_birth_date_that_agree() -> None:
    profile = parse_profile(_raw(birth_date="1952-10-13", henkilotunnus=CODE))
    assert profile.birth_date == dt.date(1952, 10, 13)


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"labour_market_status": "jobless"}, "labour_market_status", "unknown value 'jobless'"),
        ({"unemployment_benefit": "dole"}, "unemployment_benefit", "allowed: earnings_related"),
        ({"education_level": "phd"}, "education_level", "allowed: none, basic"),
        ({"gender": "x"}, "gender", "allowed: female, male, other"),
        ({"birth_date": "1990-02-30"}, "birth_date", "impossible date"),
        ({"assessment_date": "2023-13-01"}, "assessment_date", "impossible date"),
        ({"experiment_client_since": "15.3.2022"}, "experiment_client_since", "ISO date"),
        ({"birth_date": "1700-01-01"}, "birth_date", "out of range"),
        ({"birth_date": "2024-01-01"}, "birth_date", "after the assessment date"),
        ({"henkilotunnus": "131052-30"}, "henkilotunnus", "malformed"),
        ({"henkilotunnus": "131052-308U"}, "henkilotunnus", "wrong check character"),
        ({"henkilotunnus": "131052G308T"}, "henkilotunnus", "unknown century sign"),
        ({"henkilotunnus": "300290-903H"}, "henkilotunnus", "impossible birth date"),
        ({"henkilotunnus": CODE}, "birth_date", "disagrees with the birth date"),
        ({"birth_date": None}, "birth_date", "give birth_date or henkilotunnus"),
        ({"immigrant": "yes"}, "immigrant", "must be true or false"),
        ({"immigrant": 1}, "immigrant", "must be true or false"),
        ({"registered_jobseeker": None}, "registered_jobseeker", "missing"),
        ({"home_municipality": "91"}, "home_municipality", "3-digit"),
        ({"home_municipality": 91}, "home_municipality", "must be text"),
        ({"mother_tongue": "finnish"}, "mother_tongue", "ISO 639"),
        ({"client_id": ""}, "client_id", "missing"),
        ({"unemployment_months": "2.5"}, "unemployment_months", "whole number"),
        ({"unemployment_months": -1}, "unemployment_months", "from 0 to 600"),
        ({"work_experience_years": "lots"}, "work_experience_years", "a number"),
        ({"work_experience_years": float("inf")}, "work_experience_years", "a number"),
        ({"nickname": "Jussi"}, "nickname", "unknown field"),
    ],
)
def test_parse_profile_error_names_field_and_problem(
    overrides: dict[str, object], field: str, message: str
) -> None:
    errors = _errors(_raw(**overrides))
    assert [e.field for e in errors] == [field]
    assert message in errors[0].message


def test_parse_profile_reports_every_problem_at_once() -> None:
    errors = _errors(_raw(labour_market_status="x", mother_tongue="", immigrant="maybe"))
    assert {e.field for e in errors} == {"labour_market_status", "mother_tongue", "immigrant"}


def test_parse_profile_unknown_enum_lists_the_allowed_values() -> None:
    (error,) = _errors(_raw(labour_market_status="retired"))
    for value in ENUM_VALUES["labour_market_status"]:
        assert value in error.message


@pytest.mark.parametrize(
    "overrides",
    [
        {"henkilotunnus": "010594Y9033"},
        {"henkilotunnus": "010594G9032", "birth_date": None},
        {"henkilotunnus": CODE},  # disagrees with the birth date
        {"client_id": CODE},
        {"mother_tongue": CODE},
        {"labour_market_status": CODE},
        {"assessment_date": CODE},
        {"unemployment_months": CODE},
        {"immigrant": CODE},
    ],
)
def test_parse_profile_never_shows_the_code(overrides: dict[str, object]) -> None:
    with pytest.raises(ProfileValidationError) as caught:
        parse_profile(_raw(**overrides))
    code = str(next(v for v in overrides.values() if v))
    assert code not in str(caught.value)
    assert code not in repr(caught.value.errors)


def test_parse_profile_frame_collects_every_row_error_with_row_numbers() -> None:
    raw = pd.DataFrame(
        [
            _raw(client_id="a"),
            _raw(client_id="b", birth_date="1990-02-30", immigrant="maybe"),
            _raw(client_id="c"),
            _raw(client_id="d", henkilotunnus="010594Y9033", birth_date=""),
        ],
        index=[10, 11, 12, 13],
    )
    result = parse_profile_frame(raw)
    assert result.errors == [
        RowError(2, "birth_date", "impossible date '1990-02-30'", "impossible_date"),
        RowError(2, "immigrant", "must be true or false, got 'maybe'", "not_bool"),
        RowError(
            4,
            "henkilotunnus",
            "wrong check character in the henkilötunnus",
            "henkilotunnus_check_character",
        ),
    ]
    assert not result.ok
    assert result.frame.index.tolist() == [10, 12]
    assert result.frame["client_id"].tolist() == ["a", "c"]


def test_parse_profile_frame_gives_the_typed_frame_contract() -> None:
    raw = pd.DataFrame(
        [
            _raw(henkilotunnus=CODE, birth_date=""),
            _raw(experiment_client_since="2022-01-10", gender="male", unemployment_months="7"),
        ]
    )
    result = parse_profile_frame(raw)
    assert result.ok
    frame = result.frame
    assert list(frame.columns) == list(PROFILE_COLUMNS)
    assert "henkilotunnus" not in frame.columns
    for name in ("birth_date", "assessment_date", "experiment_client_since"):
        assert pd.api.types.is_datetime64_any_dtype(frame[name].dtype)
    assert frame["immigrant"].dtype == bool and frame["low_digital_skills"].dtype == bool
    assert frame["unemployment_months"].dtype == np.int64
    assert frame["work_experience_years"].dtype == np.float64
    assert frame["birth_date"].iloc[0] == pd.Timestamp("1952-10-13")
    assert pd.isna(frame["experiment_client_since"].iloc[0])
    assert pd.isna(frame["gender"].iloc[0]) and frame["gender"].iloc[1] == "male"
    assert frame["unemployment_months"].tolist() == [0, 7]


def test_parse_profile_frame_marks_a_missing_required_column_on_every_row() -> None:
    raw = pd.DataFrame([_raw(), _raw()]).drop(columns=["mother_tongue"])
    result = parse_profile_frame(raw)
    assert [(e.row, e.field) for e in result.errors] == [(1, "mother_tongue"), (2, "mother_tongue")]
    assert result.frame.empty


def test_parse_profile_frame_handles_an_empty_extract() -> None:
    result = parse_profile_frame(pd.DataFrame(columns=list(_raw())))
    assert result.ok and result.frame.empty


def test_profile_rows_round_trip_through_frames() -> None:
    profiles = [
        parse_profile(_raw()),
        parse_profile(_raw(experiment_client_since="2021-06-01", gender="other", immigrant="true")),
    ]
    frame = profiles_to_frame(profiles)
    assert [profile_from_row(frame.iloc[k]) for k in range(2)] == profiles
    parsed = parse_profile_frame(pd.DataFrame([_raw()])).frame
    assert profile_from_row(parsed.iloc[0]) == profiles[0]


def test_parse_profile_frame_gives_the_same_result_for_long_extracts() -> None:
    # Long extracts take the compiled string-kernel route; it must agree with short ones.
    rows = [_raw(client_id=f"c{k}", birth_date=f"1990-01-{k % 28 + 1:02d}") for k in range(300)]
    rows[4] = _raw(client_id="c4", mother_tongue="Finnish")
    rows[298] = _raw(client_id="c298", assessment_date="2023-02-29", immigrant="TRUE")
    long_result = parse_profile_frame(pd.DataFrame(rows).astype("str"))
    halves = [
        parse_profile_frame(pd.DataFrame(rows[:150])),
        parse_profile_frame(pd.DataFrame(rows[150:])),
    ]
    assert [(e.row, e.field) for e in long_result.errors] == [
        (5, "mother_tongue"),
        (299, "assessment_date"),
    ]
    assert [(e.row, e.field) for h in halves for e in h.errors] == [
        (5, "mother_tongue"),
        (149, "assessment_date"),
    ]
    expected = pd.concat([h.frame for h in halves], ignore_index=True)
    pd.testing.assert_frame_equal(long_result.frame.reset_index(drop=True), expected)


def test_parse_profile_frame_splits_json_values_alike_for_few_and_many_rows() -> None:
    # A few rows take a plain-Python split of each cell; many rows the array route.
    odd_rows = [
        _raw(client_id=" c-a ", immigrant=True, unemployment_months=3, work_experience_years=2.5),
        _raw(client_id="c-b", mother_tongue=float("nan"), immigrant=np.bool_(False)),
        _raw(client_id="", gender="  female ", assessment_date=dt.date(2023, 5, 1)),
        _raw(client_id="c-d", registered_jobseeker=1, unemployment_months="  ", gender=None),
        _raw(client_id="c-e", home_municipality=91, work_experience_years=float("nan")),
        _raw(client_id="c-f", birth_date=["1990-01-01"], immigrant="yes"),
    ]
    few = pd.DataFrame(odd_rows, dtype=object)
    many = pd.DataFrame(odd_rows * 50, dtype=object)
    few_result = parse_profile_frame(few, today=dt.date(2023, 6, 1))
    many_result = parse_profile_frame(many, today=dt.date(2023, 6, 1))
    expected = [(e.row, e.field, e.message) for e in few_result.errors]
    assert expected  # the rows above are meant to fail in several ways
    assert [
        (e.row, e.field, e.message) for e in many_result.errors if e.row <= len(odd_rows)
    ] == expected
    pd.testing.assert_frame_equal(few_result.frame, many_result.frame.loc[few_result.frame.index])


@pytest.mark.parametrize(
    "client_id",
    [
        CODE,
        "１３１０５２－３０８Ｔ",  # full width
        "131052\u200b-308T",
        "asiakas 131052 308T",
        "131052\u00a0-308t",
    ],
)
@pytest.mark.parametrize("n_rows", [1, 300])  # per cell, and the string kernels
def test_a_client_id_holding_a_disguised_code_is_refused_unshown(
    client_id: str, n_rows: int
) -> None:
    rows = [_raw(client_id=f"c{k}") for k in range(n_rows)]
    rows[-1] = _raw(client_id=client_id)
    result = parse_profile_frame(pd.DataFrame(rows))
    assert [(e.row, e.field, e.code) for e in result.errors] == [
        (n_rows, "client_id", "looks_like_henkilotunnus")
    ]
    assert "308" not in result.errors[0].message


@pytest.mark.parametrize("client_id", ["c-1", "client:0042_b.x", "Äijä 2024-03-04 10:15"])
def test_a_client_id_without_a_code_is_accepted(client_id: str) -> None:
    assert parse_profile(_raw(client_id=client_id)).client_id == client_id


@pytest.mark.parametrize("rows", [1, 40, 300])
@pytest.mark.parametrize(
    "name", ["client_id", "home_municipality", "labour_market_status", "birth_date", "immigrant"]
)
def test_a_lone_surrogate_in_any_text_field_is_an_error_not_a_crash(rows: int, name: str) -> None:
    # JSON can carry "\ud800"; no string kernel, Arrow array or key can take it.
    raw = pd.DataFrame(
        {
            "client_id": [f"c{i}" for i in range(rows)],
            "birth_date": ["1990-01-01"] * rows,
            "home_municipality": ["091"] * rows,
            "mother_tongue": ["fi"] * rows,
            "immigrant": ["false"] * rows,
            "registered_jobseeker": ["true"] * rows,
            "labour_market_status": ["unemployed"] * rows,
            "unemployment_benefit": ["none"] * rows,
            "assessment_date": ["2022-01-01"] * rows,
        },
        dtype=object,
    )
    raw.loc[0, name] = "ab\ud800cd"
    result = parse_profile_frame(raw)
    assert len(result.frame) == rows - 1
    assert {(e.row, e.field, e.code) for e in result.errors} >= {(1, name, "not_utf8")}
    assert all(e.row == 1 for e in result.errors)
