"""The gate against RULES.md: every §5 edge case, the dated parameter sets, both paths."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from models.eligibility import (
    BENEFIT_NOTICE,
    CONDITION_CODES,
    DECISION_COLUMNS,
    GROUP_CODES,
    assess_eligibility,
    assess_eligibility_frame,
    current_rules_version,
    load_rule_sets,
    rule_set_for,
)
from models.profile import ClientProfile
from models.profile_validation import profiles_to_frame

ORIGINAL = "kuntakokeilu-1269/2020"
AMENDMENT = "kuntakokeilu-amendment-2022"
ASSESSED = dt.date(2023, 3, 15)


def _born_aged(years: int, on: dt.date = ASSESSED, days_before_birthday: int = 0) -> dt.date:
    """A birth date making someone exactly `years` old on `on` (or a few days short of it)."""
    return on.replace(year=on.year - years) + dt.timedelta(days=days_before_birthday)


# RULES.md §5's baseline: a 45-year-old Finnish speaker on earnings-related allowance,
# unemployed in Helsinki, registered at the TE office.
BASE = ClientProfile(
    client_id="c-1",
    birth_date=_born_aged(45),
    home_municipality="091",
    mother_tongue="fi",
    immigrant=False,
    registered_jobseeker=True,
    labour_market_status="unemployed",
    unemployment_benefit="earnings_related_allowance",
    assessment_date=ASSESSED,
)

EVERY_GROUP: dict[str, Any] = {
    "birth_date": _born_aged(25),
    "mother_tongue": "ar",
    "immigrant": True,
    "unemployment_benefit": "labour_market_subsidy",
    "experiment_client_since": dt.date(2021, 9, 1),
}

# (case, changes to BASE, eligible, target groups, failed conditions)
EDGE_CASES = [
    ("45, Finnish, earnings-related", {}, False, (), ("no_target_group",)),
    ("aged 29", {"birth_date": _born_aged(29)}, True, ("under_30",), ()),
    ("aged 30 tomorrow", {"birth_date": _born_aged(30, days_before_birthday=1)}, True,
     ("under_30",), ()),
    ("aged exactly 30", {"birth_date": _born_aged(30)}, False, (), ("no_target_group",)),
    ("Swedish speaker", {"mother_tongue": "sv"}, False, (), ("no_target_group",)),
    ("Northern Sámi speaker", {"mother_tongue": "se"}, False, (), ("no_target_group",)),
    ("Inari Sámi speaker", {"mother_tongue": "smn"}, False, (), ("no_target_group",)),
    ("Skolt Sámi speaker", {"mother_tongue": "sms"}, False, (), ("no_target_group",)),
    ("Russian speaker", {"mother_tongue": "ru"}, True, ("foreign_language",), ()),
    ("Finnish-speaking immigrant", {"immigrant": True}, True, ("foreign_language",), ()),
    ("laid off, basic daily allowance",
     {"labour_market_status": "laid_off", "unemployment_benefit": "basic_daily_allowance"},
     True, ("no_earnings_related_allowance",), ()),
    ("shortened working week",
     {"labour_market_status": "short_time_work", "unemployment_benefit": "basic_daily_allowance"},
     False, ("no_earnings_related_allowance",), ("status_not_covered",)),
    ("pay-subsidised work, under 30",
     {"labour_market_status": "pay_subsidised", "birth_date": _born_aged(24)},
     True, ("under_30",), ()),
    ("labour-market training, under 30",
     {"labour_market_status": "in_services", "birth_date": _born_aged(24)},
     True, ("under_30",), ()),
    ("employed on the open market, every group",
     {**EVERY_GROUP, "labour_market_status": "employed"},
     False, GROUP_CODES, ("status_not_covered",)),
    ("full-time student, every group",
     {**EVERY_GROUP, "labour_market_status": "full_time_student"},
     False, GROUP_CODES, ("status_not_covered",)),
    ("outside the labour force", {"labour_market_status": "outside_labour_force",
     "birth_date": _born_aged(24)}, False, ("under_30",), ("status_not_covered",)),
    ("unemployment pension", {"labour_market_status": "unemployment_pension",
     "mother_tongue": "et"}, False, ("foreign_language",), ("status_not_covered",)),
    ("continuing client aged 40, back from a fixed-term job",
     {"birth_date": _born_aged(40), "experiment_client_since": dt.date(2021, 5, 3)},
     True, ("continuing_client",), ()),
    ("client only from tomorrow", {"experiment_client_since": ASSESSED + dt.timedelta(days=1)},
     False, (), ("no_target_group",)),
    ("client from the assessment day", {"experiment_client_since": ASSESSED}, True,
     ("continuing_client",), ()),
    ("Espoo resident in every group", {**EVERY_GROUP, "home_municipality": "049"},
     False, GROUP_CODES, ("not_helsinki_resident",)),
    ("continuing client who moved to Espoo",
     {"experiment_client_since": dt.date(2021, 5, 3), "home_municipality": "049"},
     False, ("continuing_client",), ("not_helsinki_resident",)),
    ("not registered as a job seeker", {"registered_jobseeker": False, "mother_tongue": "so"},
     False, ("foreign_language",), ("not_registered_jobseeker",)),
    ("every condition fails",
     {"assessment_date": dt.date(2025, 1, 1), "home_municipality": "092",
      "registered_jobseeker": False, "labour_market_status": "employed"},
     False, (), CONDITION_CODES),
]  # fmt: skip


@pytest.mark.parametrize(
    ("changes", "eligible", "groups", "failed"),
    [case[1:] for case in EDGE_CASES],
    ids=[case[0] for case in EDGE_CASES],
)
def test_assess_eligibility_edge_cases_of_rules_md(
    changes: dict[str, object], eligible: bool, groups: tuple[str, ...], failed: tuple[str, ...]
) -> None:
    profile = dataclasses.replace(BASE, **changes)  # type: ignore[arg-type]
    decision = assess_eligibility(profile)
    assert decision.eligible is eligible
    assert decision.responsible_office == ("helsinki" if eligible else "te_office")
    assert decision.target_groups == groups
    assert decision.failed_conditions == failed
    row = assess_eligibility_frame(profiles_to_frame([profile])).iloc[0]
    assert (row["eligible"], row["target_groups"], row["failed_conditions"]) == (
        eligible,
        groups,
        failed,
    )


YOUNG = dataclasses.replace(BASE, birth_date=dt.date(1999, 1, 1))

# (assessment date, eligible, rules version deciding it)
PERIOD_CASES = [
    (dt.date(2021, 2, 28), False, ORIGINAL),  # before the experiment: nearest set
    (dt.date(2021, 3, 1), True, ORIGINAL),
    (dt.date(2022, 7, 31), True, ORIGINAL),
    (dt.date(2022, 8, 1), True, AMENDMENT),  # the amendment in force
    (dt.date(2023, 6, 30), True, AMENDMENT),
    (dt.date(2023, 7, 1), True, AMENDMENT),  # inside only thanks to the amendment
    (dt.date(2024, 12, 31), True, AMENDMENT),
    (dt.date(2025, 1, 1), False, AMENDMENT),  # after the experiment: last set says so
]


@pytest.mark.parametrize(("date", "eligible", "version"), PERIOD_CASES)
def test_assess_eligibility_period_and_rules_version_follow_the_assessment_date(
    date: dt.date, eligible: bool, version: str
) -> None:
    decision = assess_eligibility(dataclasses.replace(YOUNG, assessment_date=date))
    assert decision.eligible is eligible
    assert decision.failed_conditions == (() if eligible else ("outside_experiment_period",))
    assert decision.rules_version == version
    assert current_rules_version(date) == version


def test_assess_eligibility_2023_07_01_is_outside_under_the_original_act() -> None:
    original = next(s for s in load_rule_sets() if s.version == ORIGINAL)
    profile = dataclasses.replace(YOUNG, assessment_date=dt.date(2023, 7, 1))
    decision = assess_eligibility(profile, rules=original)
    assert decision.failed_conditions == ("outside_experiment_period",)
    assert decision.rules_version == ORIGINAL
    assert "2023-06-30" in decision.reasons[0].en
    frame_row = assess_eligibility_frame(profiles_to_frame([profile]), rules=original).iloc[0]
    assert frame_row["failed_conditions"] == ("outside_experiment_period",)


def test_assess_eligibility_gives_a_reason_in_three_languages_for_each_code() -> None:
    profile = dataclasses.replace(
        BASE, **EVERY_GROUP, home_municipality="049", registered_jobseeker=False
    )
    decision = assess_eligibility(profile)
    codes = [r.code for r in decision.reasons]
    assert codes == list(decision.failed_conditions + decision.target_groups)
    for reason in decision.reasons:
        assert reason.fi and reason.sv and reason.en
        assert len({reason.fi, reason.sv, reason.en}) == 3
    by_code = {r.code: r for r in decision.reasons}
    assert "Helsinki" in by_code["not_helsinki_resident"].en
    assert "Helsingfors" in by_code["not_helsinki_resident"].sv


def test_assess_eligibility_says_benefit_decisions_stay_with_the_te_office() -> None:
    for profile in (BASE, YOUNG):
        notice = assess_eligibility(profile).benefit_notice
        assert notice == BENEFIT_NOTICE
        assert "TE office" in notice.en and "TE-toimisto" in notice.fi
        assert "TE-byrån" in notice.sv


def test_assess_eligibility_frame_keeps_the_index_and_decision_columns() -> None:
    profiles = [BASE, YOUNG, dataclasses.replace(BASE, home_municipality="049")]
    frame = profiles_to_frame(profiles)
    frame.index = pd.Index([7, 3, 5])
    decisions = assess_eligibility_frame(frame)
    assert list(decisions.columns) == list(DECISION_COLUMNS)
    assert decisions.index.tolist() == [7, 3, 5]
    assert decisions["eligible"].tolist() == [False, True, False]
    assert decisions["responsible_office"].tolist() == ["te_office", "helsinki", "te_office"]
    for k, profile in enumerate(profiles):
        single = assess_eligibility(profile)
        row = decisions.iloc[k]
        assert row["reasons"] == single.reasons
        assert row["rules_version"] == single.rules_version
        assert row["benefit_notice"] == single.benefit_notice


def test_assess_eligibility_frame_handles_no_rows() -> None:
    decisions = assess_eligibility_frame(profiles_to_frame([]))
    assert decisions.empty and list(decisions.columns) == list(DECISION_COLUMNS)


def test_assess_eligibility_frame_names_missing_gate_columns() -> None:
    frame = profiles_to_frame([BASE]).drop(columns=["home_municipality", "immigrant"])
    with pytest.raises(ValueError, match="home_municipality, immigrant"):
        assess_eligibility_frame(frame)


def test_assess_eligibility_frame_rejects_missing_assessment_dates() -> None:
    frame = profiles_to_frame([BASE, YOUNG])
    frame.loc[1, "assessment_date"] = pd.NaT
    with pytest.raises(ValueError, match="assessment_date is missing in 1 row"):
        assess_eligibility_frame(frame)


def test_assess_eligibility_frame_refuses_missing_text_and_non_bool_flags() -> None:
    frame = profiles_to_frame([BASE, YOUNG])
    frame.loc[0, "mother_tongue"] = None  # would otherwise count as a foreign language
    with pytest.raises(ValueError, match="mother_tongue is missing in 1 row"):
        assess_eligibility_frame(frame)
    frame = profiles_to_frame([BASE, YOUNG])
    frame["immigrant"] = frame["immigrant"].astype(object)
    frame.loc[1, "immigrant"] = None
    with pytest.raises(ValueError, match="immigrant must be a bool column"):
        assess_eligibility_frame(frame)


def test_assess_eligibility_frame_accepts_other_datetime_units() -> None:
    frame = profiles_to_frame([BASE, YOUNG])
    for name in ("birth_date", "assessment_date", "experiment_client_since"):
        frame[name] = frame[name].astype("datetime64[s]")
    assert assess_eligibility_frame(frame)["eligible"].tolist() == [False, True]


def test_rule_set_for_picks_the_set_in_force() -> None:
    assert rule_set_for(dt.date(2022, 7, 31)).period_end == dt.date(2023, 6, 30)
    assert rule_set_for(dt.date(2022, 8, 1)).period_end == dt.date(2024, 12, 31)
    assert rule_set_for(dt.date(2020, 1, 1)).version == ORIGINAL
    assert rule_set_for(dt.date(2030, 1, 1)).version == AMENDMENT


def test_load_rule_sets_reads_the_committed_parameters() -> None:
    sets = load_rule_sets()
    assert [s.version for s in sets] == [ORIGINAL, AMENDMENT]
    for rule_set in sets:
        assert rule_set.period_start == dt.date(2021, 3, 1)
        assert rule_set.home_municipality == "091"
        assert set(rule_set.covered_statuses) == {
            "unemployed",
            "laid_off",
            "pay_subsidised",
            "in_services",
        }
        assert rule_set.youth_age_limit == 30


_VALID_TOML = """
version = "{version}"
title = "t"
sources = ["s"]
in_force_from = {start}
period_start = 2021-03-01
period_end = 2023-06-30
home_municipality = "091"
covered_statuses = [{statuses}]
earnings_related_benefit = "earnings_related_allowance"
youth_age_limit = 30
"""


def _write(
    path: Path, version: str = "v1", start: str = "2021-03-01", statuses: str = '"unemployed"'
) -> None:
    path.write_text(_VALID_TOML.format(version=version, start=start, statuses=statuses))


def test_load_rule_sets_rejects_unknown_statuses(tmp_path: Path) -> None:
    _write(tmp_path / "a.toml", statuses='"unemployed", "retired"')
    with pytest.raises(ValueError, match=r"a.toml: unknown covered statuses \['retired'\]"):
        load_rule_sets(tmp_path)


def test_load_rule_sets_rejects_duplicate_versions_and_empty_dirs(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no rule parameter sets"):
        load_rule_sets(tmp_path)
    _write(tmp_path / "a.toml")
    _write(tmp_path / "b.toml", start="2022-08-01")
    with pytest.raises(ValueError, match="share a version"):
        load_rule_sets(tmp_path)


def test_load_rule_sets_rejects_missing_keys(tmp_path: Path) -> None:
    _write(tmp_path / "a.toml")
    text = (tmp_path / "a.toml").read_text().replace("youth_age_limit = 30\n", "")
    (tmp_path / "a.toml").write_text(text)
    with pytest.raises(ValueError, match="missing key 'youth_age_limit'"):
        load_rule_sets(tmp_path)


def test_load_rule_sets_names_a_file_that_is_not_toml(tmp_path: Path) -> None:
    (tmp_path / "broken.toml").write_text("version = \n")
    with pytest.raises(ValueError, match=r"broken\.toml: not valid TOML"):
        load_rule_sets(tmp_path)


def test_assess_eligibility_uses_the_given_rule_set(tmp_path: Path) -> None:
    _write(tmp_path / "narrow.toml", version="narrow", statuses='"laid_off"')
    (narrow,) = load_rule_sets(tmp_path)
    decision = assess_eligibility(YOUNG, rules=narrow)
    assert decision.failed_conditions == ("status_not_covered",)
    assert decision.rules_version == "narrow"
