"""The client profile: the fields shared by CSV files, the API, the page and the model.

Every field is declared once, in `PROFILE_SPEC` (name, kind, allowed values, default,
whether it is required, its pattern or bounds, what it means). Validation of raw input
(`models.profile_validation`), the API's `ProfileIn`, the page form and the field table of
docs/PROFILE.md all read it; the tuples below it are views of it for the code that needs
one aspect. Allowed values are the `Literal` types, so the typed `ClientProfile` and the
table cannot disagree about them.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, fields
from typing import Any, Final, Literal, get_args

HELSINKI_MUNICIPALITY: Final = "091"

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

MAX_CLIENT_ID_LENGTH: Final = 128
MAX_UNEMPLOYMENT_MONTHS: Final = 600
MAX_PREVIOUS_SERVICES: Final = 200
MAX_WORK_EXPERIENCE_YEARS: Final = 70.0
# Plausible calendar for every date field: older or later dates are typing errors.
EARLIEST_DATE: Final = dt.date(1800, 1, 1)
LATEST_DATE: Final = dt.date(2199, 12, 31)
# Nobody born before this is alive to be assessed (codes of the 1800s, `+`, included).
EARLIEST_BIRTH_DATE: Final = dt.date(1900, 1, 1)

# How a field is written and checked:
# id: a pseudonymous key (text, bounded length, never shaped like a henkilötunnus);
# henkilotunnus: the personal identity code, read only for the birth date;
# code: short text that must match `pattern` (after `lowercase` when set);
# enum: one of `values`; bool: true/false (any case as text); date: ISO YYYY-MM-DD;
# whole / number: a whole or a real number within `bounds`.
Kind = Literal["id", "henkilotunnus", "code", "enum", "bool", "date", "whole", "number"]
Group = Literal["gate", "need", "history", "audit"]


class _Today:
    """The default of a date that means "the day the profile is checked"."""

    def __repr__(self) -> str:
        return "TODAY"


TODAY: Final = _Today()


@dataclass(frozen=True, slots=True)
class FieldSpec:
    """One profile field as every input path reads it.

    Attributes
    ----------
    name : the column / JSON key.
    kind : how it is written and checked (see `Kind`).
    group : gate field, need or barrier, service history, or audit-only.
    description : what it means, for the API schema and the docs.
    required : a missing value is an error.
    default : what a missing value becomes when not required (`None`: stays missing;
        `TODAY`: the day of the check).
    values : the allowed values of an enum, in the order they are shown.
    pattern : for a code, the regular expression the whole text must match (ASCII classes:
        other scripts' digits and letters are refused).
    lowercase : for a code, stored in lower case (so "FI" is kept as "fi").
    max_length : longest text accepted.
    bounds : smallest and largest value of a number or a date.
    hint : how a good value looks, for error messages.

    Text is read with surrounding spaces removed, and empty text is missing.
    """

    name: str
    kind: Kind
    group: Group
    description: str
    required: bool = False
    default: Any = None
    values: tuple[str, ...] = ()
    pattern: str | None = None
    lowercase: bool = False
    max_length: int | None = None
    bounds: tuple[Any, Any] | None = None
    hint: str = ""


def _values(literal: Any) -> tuple[str, ...]:
    return tuple(str(v) for v in get_args(literal))


def _enum(
    name: str,
    literal: Any,
    group: Group,
    description: str,
    *,
    required: bool = False,
    default: str | None = None,
) -> FieldSpec:
    allowed = _values(literal)
    return FieldSpec(
        name,
        "enum",
        group,
        description,
        required=required,
        default=default,
        values=allowed,
        hint="one of: " + ", ".join(allowed),
    )


def _date(
    name: str,
    group: Group,
    description: str,
    *,
    default: Any = None,
    earliest: dt.date = EARLIEST_DATE,
) -> FieldSpec:
    return FieldSpec(
        name,
        "date",
        group,
        description,
        default=default,
        bounds=(earliest, LATEST_DATE),
        hint="an ISO date YYYY-MM-DD",
    )


def _flag(name: str, group: Group, description: str, *, required: bool = False) -> FieldSpec:
    return FieldSpec(
        name,
        "bool",
        group,
        description,
        required=required,
        default=None if required else False,
        hint="true or false",
    )


_BARRIER_MEANINGS: Final = {
    "health_limitations": "Health limits what work the person can do.",
    "mental_health_needs": "Mental health needs support.",
    "substance_use": "Substance use affects daily life.",
    "debt_problems": "Debts or payment defaults.",
    "housing_insecurity": "No secure home.",
    "caregiving_duties": "Cares for a child or a relative.",
    "low_digital_skills": "Needs help with digital services.",
    "outdated_skills": "Skills no longer asked for in work.",
}

# The one declaration of every profile field, gate fields first (as DESIGN.md groups them).
PROFILE_SPEC: Final[tuple[FieldSpec, ...]] = (
    FieldSpec(
        "client_id",
        "id",
        "gate",
        "The register's pseudonymous client id (never a henkilötunnus).",
        required=True,
        max_length=MAX_CLIENT_ID_LENGTH,
        hint="a pseudonymous client id",
    ),
    FieldSpec(
        "henkilotunnus",
        "henkilotunnus",
        "gate",
        "Personal identity code (optional): gives the birth date, then is dropped; "
        "never stored, logged or echoed.",
        hint="text in the form DDMMYYCZZZQ",
    ),
    _date(
        "birth_date",
        "gate",
        "Needed without a henkilotunnus; must agree with it if both.",
        earliest=EARLIEST_BIRTH_DATE,
    ),
    FieldSpec(
        "home_municipality",
        "code",
        "gate",
        f"3-digit Statistics Finland municipality code; Helsinki is {HELSINKI_MUNICIPALITY}.",
        required=True,
        pattern="[0-9]{3}",
        hint="a 3-digit Statistics Finland municipality code such as 091",
    ),
    FieldSpec(
        "mother_tongue",
        "code",
        "gate",
        "ISO 639 language code as registered (any case; kept in lower case).",
        required=True,
        pattern="[A-Za-z]{2,3}",
        lowercase=True,
        hint="an ISO 639 language code of 2-3 letters such as fi",
    ),
    _flag("immigrant", "gate", "Moved to Finland.", required=True),
    _flag("registered_jobseeker", "gate", "Registered as a job seeker.", required=True),
    _enum(
        "labour_market_status",
        LabourMarketStatus,
        "gate",
        "Status in the register.",
        required=True,
    ),
    _enum("unemployment_benefit", UnemploymentBenefit, "gate", "Benefit paid now.", required=True),
    _date("experiment_client_since", "gate", "Client of the municipal experiment since."),
    _date("assessment_date", "gate", "Day of the assessment (missing: today).", default=TODAY),
    _enum(
        "education_level", EducationLevel, "need", "Highest completed education.", default="basic"
    ),
    FieldSpec(
        "unemployment_months",
        "whole",
        "need",
        "Months unemployed in the current spell.",
        default=0,
        bounds=(0, MAX_UNEMPLOYMENT_MONTHS),
    ),
    FieldSpec(
        "work_experience_years",
        "number",
        "need",
        "Years of work experience.",
        default=0.0,
        bounds=(0.0, MAX_WORK_EXPERIENCE_YEARS),
    ),
    _enum(
        "language_level",
        LanguageLevel,
        "need",
        "Finnish or Swedish skill (CEFR A0-C2, or native).",
        default="native",
    ),
    _enum("work_ability", WorkAbility, "need", "Work ability.", default="full"),
    *(_flag(flag, "need", meaning) for flag, meaning in _BARRIER_MEANINGS.items()),
    _enum(
        "entrepreneurship_interest",
        EntrepreneurshipInterest,
        "need",
        "Interest in starting a business.",
        default="none",
    ),
    # The client's service history: what a register's service records (or the case file)
    # hold about earlier assessments. An extract without these columns has them derived from
    # its own earlier episodes of the same client (pipeline.data.history).
    FieldSpec(
        "previous_services",
        "whole",
        "history",
        "Services the client was placed in at earlier assessments (0: none).",
        default=0,
        bounds=(0, MAX_PREVIOUS_SERVICES),
    ),
    _date(
        "last_service_date",
        "history",
        "Start of the most recent of those services; missing: never served (or not known).",
    ),
    _enum("gender", Gender, "audit", "Optional; for fairness audits only, never a feature."),
)
SPEC_BY_NAME: Final = {spec.name: spec for spec in PROFILE_SPEC}


def _names(*, group: Group | None = None, kind: Kind | None = None) -> tuple[str, ...]:
    return tuple(
        s.name
        for s in PROFILE_SPEC
        if (group is None or s.group == group) and (kind is None or s.kind == kind)
    )


# Views of the declaration, for code that needs one aspect of every field.
LABOUR_MARKET_STATUSES: Final = SPEC_BY_NAME["labour_market_status"].values
UNEMPLOYMENT_BENEFITS: Final = SPEC_BY_NAME["unemployment_benefit"].values
EDUCATION_LEVELS: Final = SPEC_BY_NAME["education_level"].values
LANGUAGE_LEVELS: Final = SPEC_BY_NAME["language_level"].values
WORK_ABILITIES: Final = SPEC_BY_NAME["work_ability"].values
ENTREPRENEURSHIP_INTERESTS: Final = SPEC_BY_NAME["entrepreneurship_interest"].values
GENDERS: Final = SPEC_BY_NAME["gender"].values

# Columns of a register extract, grouped as DESIGN.md groups them.
GATE_FIELDS: Final = _names(group="gate")
NEED_FIELDS: Final = _names(group="need")
HISTORY_FIELDS: Final = _names(group="history")
AUDIT_ONLY_FIELDS: Final = _names(group="audit")
PROFILE_FIELDS: Final = tuple(s.name for s in PROFILE_SPEC)
REQUIRED_FIELDS: Final = tuple(s.name for s in PROFILE_SPEC if s.required)

# Fields that must never reach the ranker as features (protected or identifying).
NEVER_FEATURES: Final = ("client_id", "henkilotunnus", "gender", "mother_tongue")

ENUM_VALUES: Final[dict[str, tuple[str, ...]]] = {
    s.name: s.values for s in PROFILE_SPEC if s.kind == "enum"
}
BOOL_FIELDS: Final = _names(kind="bool")
DATE_FIELDS: Final = _names(kind="date")
INT_FIELDS: Final = _names(kind="whole")
FLOAT_FIELDS: Final = _names(kind="number")

# Defaults for need fields a register extract may leave out: "no barrier known".
NEED_DEFAULTS: Final[dict[str, object]] = {
    s.name: s.default for s in PROFILE_SPEC if s.group == "need"
}


# The declared defaults, typed loosely so `ClientProfile` can use them under its own types.
_DEFAULT: Final[dict[str, Any]] = {s.name: s.default for s in PROFILE_SPEC}


@dataclass(frozen=True, slots=True)
class ClientProfile:
    """One job seeker as the gate and the ranker see them, already validated.

    The personal identity code is not kept: validation derives the birth date from it and
    drops it, so a profile can be logged, stored or passed on without carrying it. Defaults
    are the declared ones (`PROFILE_SPEC`).
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
    experiment_client_since: dt.date | None = _DEFAULT["experiment_client_since"]
    education_level: EducationLevel = _DEFAULT["education_level"]
    unemployment_months: int = _DEFAULT["unemployment_months"]
    work_experience_years: float = _DEFAULT["work_experience_years"]
    language_level: LanguageLevel = _DEFAULT["language_level"]
    work_ability: WorkAbility = _DEFAULT["work_ability"]
    health_limitations: bool = _DEFAULT["health_limitations"]
    mental_health_needs: bool = _DEFAULT["mental_health_needs"]
    substance_use: bool = _DEFAULT["substance_use"]
    debt_problems: bool = _DEFAULT["debt_problems"]
    housing_insecurity: bool = _DEFAULT["housing_insecurity"]
    caregiving_duties: bool = _DEFAULT["caregiving_duties"]
    low_digital_skills: bool = _DEFAULT["low_digital_skills"]
    outdated_skills: bool = _DEFAULT["outdated_skills"]
    entrepreneurship_interest: EntrepreneurshipInterest = _DEFAULT["entrepreneurship_interest"]
    previous_services: int = _DEFAULT["previous_services"]
    last_service_date: dt.date | None = _DEFAULT["last_service_date"]
    gender: Gender | None = _DEFAULT["gender"]

    def to_record(self) -> dict[str, object]:
        """The profile as a flat dict of field name to value (one row of a frame)."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


PROFILE_COLUMNS: Final = tuple(f.name for f in fields(ClientProfile))
