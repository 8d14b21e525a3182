"""The client profile: the fields shared by CSV files, the API, the tests and the model.

One definition of every field (name, kind, allowed values) lives here; validation of raw
input (`models.profile_validation`), the gate, the catalog limits, feature building and the
API schemas all read it, so a field cannot mean two things in two places.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, fields
from typing import Final, Literal

HELSINKI_MUNICIPALITY: Final = "091"

LABOUR_MARKET_STATUSES: Final = (
    "unemployed",
    "laid_off",
    "pay_subsidised",
    "in_services",
    "employed",
    "short_time_work",
    "full_time_student",
    "outside_labour_force",
    "unemployment_pension",
)
UNEMPLOYMENT_BENEFITS: Final = (
    "earnings_related_allowance",
    "basic_daily_allowance",
    "labour_market_subsidy",
    "social_assistance",
    "sickness_allowance",
    "none",
)
EDUCATION_LEVELS: Final = ("none", "basic", "upper_secondary", "vocational", "bachelor", "master")
LANGUAGE_LEVELS: Final = ("A0", "A1", "A2", "B1", "B2", "C1", "C2", "native")
WORK_ABILITIES: Final = ("full", "partial")
ENTREPRENEURSHIP_INTERESTS: Final = ("none", "some", "business_plan")
GENDERS: Final = ("female", "male", "other")

# Yes/no barriers of the caseworker's service-need assessment, in the order a caseworker reads them.
BARRIER_FLAGS: Final = (
    "health_limitations",
    "mental_health_needs",
    "substance_use",
    "debt_problems",
    "housing_insecurity",
    "caregiving_duties",
    "low_digital_skills",
    "outdated_skills",
)

# Columns of a register extract, grouped as DESIGN.md groups them.
GATE_FIELDS: Final = (
    "client_id",
    "henkilotunnus",
    "birth_date",
    "home_municipality",
    "mother_tongue",
    "immigrant",
    "registered_jobseeker",
    "labour_market_status",
    "unemployment_benefit",
    "experiment_client_since",
    "assessment_date",
)
NEED_FIELDS: Final = (
    "education_level",
    "unemployment_months",
    "work_experience_years",
    "language_level",
    "work_ability",
    *BARRIER_FLAGS,
    "entrepreneurship_interest",
)
AUDIT_ONLY_FIELDS: Final = ("gender",)
PROFILE_FIELDS: Final = GATE_FIELDS + NEED_FIELDS + AUDIT_ONLY_FIELDS

# Fields that must never reach the ranker as features (protected or identifying).
NEVER_FEATURES: Final = ("client_id", "henkilotunnus", "gender", "mother_tongue")

ENUM_VALUES: Final[dict[str, tuple[str, ...]]] = {
    "labour_market_status": LABOUR_MARKET_STATUSES,
    "unemployment_benefit": UNEMPLOYMENT_BENEFITS,
    "education_level": EDUCATION_LEVELS,
    "language_level": LANGUAGE_LEVELS,
    "work_ability": WORK_ABILITIES,
    "entrepreneurship_interest": ENTREPRENEURSHIP_INTERESTS,
    "gender": GENDERS,
}
BOOL_FIELDS: Final = ("immigrant", "registered_jobseeker", *BARRIER_FLAGS)
DATE_FIELDS: Final = ("birth_date", "experiment_client_since", "assessment_date")
INT_FIELDS: Final = ("unemployment_months",)
FLOAT_FIELDS: Final = ("work_experience_years",)

# Defaults for need fields a register extract may leave out: "no barrier known".
NEED_DEFAULTS: Final[dict[str, object]] = {
    "education_level": "basic",
    "unemployment_months": 0,
    "work_experience_years": 0.0,
    "language_level": "native",
    "work_ability": "full",
    **{flag: False for flag in BARRIER_FLAGS},
    "entrepreneurship_interest": "none",
}

LabourMarketStatus = Literal[
    "unemployed",
    "laid_off",
    "pay_subsidised",
    "in_services",
    "employed",
    "short_time_work",
    "full_time_student",
    "outside_labour_force",
    "unemployment_pension",
]
UnemploymentBenefit = Literal[
    "earnings_related_allowance",
    "basic_daily_allowance",
    "labour_market_subsidy",
    "social_assistance",
    "sickness_allowance",
    "none",
]
EducationLevel = Literal["none", "basic", "upper_secondary", "vocational", "bachelor", "master"]
LanguageLevel = Literal["A0", "A1", "A2", "B1", "B2", "C1", "C2", "native"]
WorkAbility = Literal["full", "partial"]
EntrepreneurshipInterest = Literal["none", "some", "business_plan"]
Gender = Literal["female", "male", "other"]


@dataclass(frozen=True, slots=True)
class ClientProfile:
    """One job seeker as the gate and the ranker see them, already validated.

    The personal identity code is not kept: validation derives the birth date from it and
    drops it, so a profile can be logged, stored or passed on without carrying it.
    """

    client_id: str
    birth_date: dt.date
    home_municipality: str
    mother_tongue: str
    immigrant: bool
    registered_jobseeker: bool
    labour_market_status: LabourMarketStatus
    unemployment_benefit: UnemploymentBenefit
    assessment_date: dt.date
    experiment_client_since: dt.date | None = None
    education_level: EducationLevel = "basic"
    unemployment_months: int = 0
    work_experience_years: float = 0.0
    language_level: LanguageLevel = "native"
    work_ability: WorkAbility = "full"
    health_limitations: bool = False
    mental_health_needs: bool = False
    substance_use: bool = False
    debt_problems: bool = False
    housing_insecurity: bool = False
    caregiving_duties: bool = False
    low_digital_skills: bool = False
    outdated_skills: bool = False
    entrepreneurship_interest: EntrepreneurshipInterest = "none"
    gender: Gender | None = None

    def to_record(self) -> dict[str, object]:
        """The profile as a flat dict of field name to value (one row of a frame)."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


PROFILE_COLUMNS: Final = tuple(f.name for f in fields(ClientProfile))
