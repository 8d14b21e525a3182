"""The compiled limit table against a plain reading of each limit, on random limits and profiles."""

from __future__ import annotations

import datetime as dt

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from models.catalog.limits import LimitTable, profile_facts
from models.catalog.services import ServiceLimits
from models.demographics import age_in_years, is_foreign_language
from models.profile import (
    BARRIER_FLAGS,
    EDUCATION_LEVELS,
    ENTREPRENEURSHIP_INTERESTS,
    LABOUR_MARKET_STATUSES,
    LANGUAGE_LEVELS,
    UNEMPLOYMENT_BENEFITS,
    WORK_ABILITIES,
)


def _subset(values: tuple[str, ...]) -> st.SearchStrategy[tuple[str, ...]]:
    return st.lists(st.sampled_from(values), unique=True, max_size=3).map(tuple)


limits_strategy = st.builds(
    ServiceLimits,
    min_age=st.none() | st.integers(15, 40),
    max_age=st.none() | st.integers(25, 70),
    foreign_language_only=st.booleans(),
    min_unemployment_months=st.integers(0, 24),
    reduced_work_ability_only=st.booleans(),
    business_plan_required=st.booleans(),
    entrepreneurship_interest_required=st.booleans(),
    requires_barrier=_subset(BARRIER_FLAGS),
    labour_market_statuses=_subset(LABOUR_MARKET_STATUSES),
    unemployment_benefits=_subset(UNEMPLOYMENT_BENEFITS),
    education_levels=_subset(EDUCATION_LEVELS),
    max_language_level=st.none() | st.sampled_from(LANGUAGE_LEVELS),
)

row_strategy = st.fixed_dictionaries(
    {
        "birth_date": st.dates(dt.date(1950, 1, 1), dt.date(2010, 12, 31)),
        "assessment_date": st.dates(dt.date(2021, 3, 1), dt.date(2024, 12, 31)),
        "mother_tongue": st.sampled_from(("fi", "sv", "ar", "so", "ru")),
        "immigrant": st.booleans(),
        "labour_market_status": st.sampled_from(LABOUR_MARKET_STATUSES),
        "unemployment_benefit": st.sampled_from(UNEMPLOYMENT_BENEFITS),
        "unemployment_months": st.integers(0, 60),
        "education_level": st.sampled_from(EDUCATION_LEVELS),
        "language_level": st.sampled_from(LANGUAGE_LEVELS),
        "work_ability": st.sampled_from(WORK_ABILITIES),
        "entrepreneurship_interest": st.sampled_from(ENTREPRENEURSHIP_INTERESTS),
        **{flag: st.booleans() for flag in BARRIER_FLAGS},
    }
)


def _reference(limits: ServiceLimits, row: dict[str, object]) -> bool:
    """One service's limits for one client, read the plain way, one limit at a time."""
    age = int(
        age_in_years(
            np.asarray([row["birth_date"]], dtype="datetime64[D]"),
            np.asarray([row["assessment_date"]], dtype="datetime64[D]"),
        )[0]
    )
    foreign = bool(is_foreign_language([row["mother_tongue"]], [row["immigrant"]])[0])
    checks = [
        limits.min_age is None or age >= limits.min_age,
        limits.max_age is None or age <= limits.max_age,
        not limits.foreign_language_only or foreign,
        row["unemployment_months"] >= limits.min_unemployment_months,  # type: ignore[operator]
        not limits.reduced_work_ability_only or row["work_ability"] == "partial",
        not limits.business_plan_required or row["entrepreneurship_interest"] == "business_plan",
        not limits.entrepreneurship_interest_required or row["entrepreneurship_interest"] != "none",
        not limits.requires_barrier or any(row[b] for b in limits.requires_barrier),
        not limits.labour_market_statuses
        or row["labour_market_status"] in limits.labour_market_statuses,
        not limits.unemployment_benefits
        or row["unemployment_benefit"] in limits.unemployment_benefits,
        not limits.education_levels or row["education_level"] in limits.education_levels,
        limits.max_language_level is None
        or LANGUAGE_LEVELS.index(str(row["language_level"]))
        <= LANGUAGE_LEVELS.index(limits.max_language_level),
    ]
    return all(checks)


@settings(max_examples=60, deadline=None)
@given(
    services=st.lists(limits_strategy, min_size=1, max_size=6),
    rows=st.lists(row_strategy, min_size=1, max_size=8),
)
def test_limit_table_equals_each_limit_read_one_at_a_time(
    services: list[ServiceLimits], rows: list[dict[str, object]]
) -> None:
    columns = {name: np.asarray([row[name] for row in rows]) for name in rows[0]}
    allowed = LimitTable.compile(services).allowed(profile_facts(columns))
    expected = np.array([[_reference(limits, row) for limits in services] for row in rows])
    assert allowed.shape == (len(rows), len(services))
    np.testing.assert_array_equal(allowed, expected)
