"""Properties of the gate on random profiles: one rule, two paths, no irrelevant inputs;
and validation gives back exactly the profile that was written out."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from models.eligibility import assess_eligibility, assess_eligibility_frame
from models.profile import (
    BARRIER_FLAGS,
    EDUCATION_LEVELS,
    ENTREPRENEURSHIP_INTERESTS,
    GENDERS,
    LABOUR_MARKET_STATUSES,
    LANGUAGE_LEVELS,
    UNEMPLOYMENT_BENEFITS,
    WORK_ABILITIES,
    ClientProfile,
)
from models.profile_validation import (
    parse_profile,
    parse_profile_frame,
    profile_from_row,
    profiles_to_frame,
)

COVERED = ("unemployed", "laid_off", "pay_subsidised", "in_services")
_dates = st.dates(min_value=dt.date(2020, 6, 1), max_value=dt.date(2025, 6, 30))


@st.composite
def need_fields(draw: st.DrawFn) -> dict[str, object]:
    """Random needs and barriers, and gender: none of them may change a decision."""
    return {
        "education_level": draw(st.sampled_from(EDUCATION_LEVELS)),
        "unemployment_months": draw(st.integers(0, 240)),
        "work_experience_years": draw(st.floats(0, 45, allow_nan=False)),
        "language_level": draw(st.sampled_from(LANGUAGE_LEVELS)),
        "work_ability": draw(st.sampled_from(WORK_ABILITIES)),
        **{flag: draw(st.booleans()) for flag in BARRIER_FLAGS},
        "entrepreneurship_interest": draw(st.sampled_from(ENTREPRENEURSHIP_INTERESTS)),
        "gender": draw(st.none() | st.sampled_from(GENDERS)),
    }


@st.composite
def profiles(draw: st.DrawFn, *, c1_to_c4: bool = False) -> ClientProfile:
    """Random profiles; with `c1_to_c4` every condition but the target groups holds."""
    if c1_to_c4:
        assessed = draw(st.dates(dt.date(2021, 3, 1), dt.date(2024, 12, 31)))
    else:
        assessed = draw(_dates)
    # Ages 16-70, with the 30th birthday often close to the assessment date.
    age_days = draw(st.integers(16 * 365, 70 * 365) | st.integers(30 * 365 - 10, 30 * 365 + 10))
    since = draw(st.none() | _dates)
    return ClientProfile(
        client_id=draw(st.text("abc123", min_size=1, max_size=6)),
        birth_date=assessed - dt.timedelta(days=age_days),
        home_municipality="091" if c1_to_c4 else draw(st.sampled_from(["091", "049", "092"])),
        mother_tongue=draw(st.sampled_from(["fi", "sv", "se", "smn", "sms", "ru", "so", "en"])),
        immigrant=draw(st.booleans()),
        registered_jobseeker=True if c1_to_c4 else draw(st.booleans()),
        labour_market_status=draw(st.sampled_from(COVERED if c1_to_c4 else LABOUR_MARKET_STATUSES)),
        unemployment_benefit=draw(st.sampled_from(UNEMPLOYMENT_BENEFITS)),
        assessment_date=assessed,
        experiment_client_since=since,
        **draw(need_fields()),  # type: ignore[arg-type]
    )


@settings(max_examples=60, deadline=None)
@given(st.lists(profiles(), min_size=1, max_size=25))
def test_assess_eligibility_single_equals_vectorised(batch: list[ClientProfile]) -> None:
    frame = assess_eligibility_frame(profiles_to_frame(batch))
    for k, profile in enumerate(batch):
        single = assess_eligibility(profile)
        row = frame.iloc[k]
        assert row["eligible"] == single.eligible
        assert row["responsible_office"] == single.responsible_office
        assert row["target_groups"] == single.target_groups
        assert row["failed_conditions"] == single.failed_conditions
        assert row["reasons"] == single.reasons
        assert row["rules_version"] == single.rules_version
        assert row["benefit_notice"] == single.benefit_notice


@settings(max_examples=100, deadline=None)
@given(profiles(), need_fields())
def test_assess_eligibility_ignores_need_fields_and_gender(
    profile: ClientProfile, other_needs: dict[str, object]
) -> None:
    changed = dataclasses.replace(profile, **other_needs)  # type: ignore[arg-type]
    assert assess_eligibility(changed) == assess_eligibility(profile)
    both = assess_eligibility_frame(profiles_to_frame([profile, changed]))
    assert both.iloc[0].equals(both.iloc[1])


def _add_group(profile: ClientProfile, group: str) -> ClientProfile:
    if group == "no_earnings_related_allowance":
        return dataclasses.replace(profile, unemployment_benefit="labour_market_subsidy")
    if group == "under_30":
        return dataclasses.replace(
            profile, birth_date=profile.assessment_date - dt.timedelta(days=20 * 365)
        )
    if group == "foreign_language":
        return dataclasses.replace(profile, immigrant=True)
    return dataclasses.replace(profile, experiment_client_since=profile.assessment_date)


@settings(max_examples=100, deadline=None)
@given(
    profiles(c1_to_c4=True),
    st.sampled_from(
        ["no_earnings_related_allowance", "under_30", "foreign_language", "continuing_client"]
    ),
)
def test_assess_eligibility_adding_a_group_never_removes_eligibility(
    profile: ClientProfile, group: str
) -> None:
    before = assess_eligibility(profile)
    after = assess_eligibility(_add_group(profile, group))
    assert group in after.target_groups
    assert set(before.target_groups) <= set(after.target_groups)
    # With C1-C4 holding, one group is enough.
    assert after.eligible
    assert before.eligible == bool(before.target_groups)


def _as_csv_row(profile: ClientProfile) -> dict[str, str]:
    """The profile as a CSV reader would hand it over: every value text, None empty."""

    def text(value: object) -> str:
        if value is None:
            return ""
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, dt.date):
            return value.isoformat()
        return str(value)

    return {name: text(value) for name, value in profile.to_record().items()}


@settings(max_examples=25, deadline=None)
@given(st.lists(profiles(), min_size=1, max_size=12))
def test_parse_profile_round_trips_rendered_profiles(batch: list[ClientProfile]) -> None:
    rows = [_as_csv_row(p) for p in batch]
    assert [parse_profile(r) for r in rows] == batch
    parsed = parse_profile_frame(pd.DataFrame(rows))
    assert parsed.ok
    assert [profile_from_row(parsed.frame.iloc[k]) for k in range(len(batch))] == batch
