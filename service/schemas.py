"""Request and response bodies of the API, apart from the domain types they carry.

Field kinds and allowed values come from `models.profile` (one definition of every field);
unknown fields are rejected everywhere. Roles that see different things get different
response models (`ModelPublic` for caseworkers, `ModelDetail` for the others).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    PlainValidator,
    WithJsonSchema,
    create_model,
)

from models.catalog import Service
from models.profile import (
    NEED_DEFAULTS,
    EducationLevel,
    EntrepreneurshipInterest,
    Gender,
    LabourMarketStatus,
    LanguageLevel,
    UnemploymentBenefit,
    WorkAbility,
)
from models.profile_validation import (
    MAX_CLIENT_ID_LENGTH,
    MAX_UNEMPLOYMENT_MONTHS,
    MAX_WORK_EXPERIENCE_YEARS,
)
from models.suggestions import DEFAULT_OBJECTIVE, TARGETS, Driver, Objective, RankedService
from service.audit.schema import EXPORT_SOURCES

Language = Literal["fi", "sv", "en"]
Choice = Literal["suggested", "other", "none"]
RequestId = Annotated[
    str, Field(pattern=r"^[0-9a-f]{32}$", description="The id of an answered request.")
]
Probability = Annotated[float, Field(ge=0.0, le=1.0)]


_NEED_MONTHS = int(NEED_DEFAULTS["unemployment_months"])  # type: ignore[call-overload]
_NEED_YEARS = float(NEED_DEFAULTS["work_experience_years"])  # type: ignore[arg-type]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ProfileIn(_Strict):
    """A client's profile as a caseworker's system sends it (DESIGN.md lists every field).

    Either `henkilotunnus` or `birth_date` is needed; the code only serves to derive the
    birth date and a pseudonymous key, and is never stored, logged or returned.
    """

    client_id: str = Field(
        min_length=1, max_length=MAX_CLIENT_ID_LENGTH, description="The register's client id."
    )
    henkilotunnus: str | None = Field(
        default=None,
        min_length=1,
        max_length=16,
        description="Personal identity code (optional; never stored, logged or echoed).",
    )
    birth_date: dt.date | None = Field(default=None, description="Needed without a henkilötunnus.")
    home_municipality: str = Field(
        pattern=r"^[0-9]{3}$", description="3-digit municipality code; Helsinki is 091."
    )
    mother_tongue: str = Field(
        pattern=r"^[a-z]{2,3}$", description="ISO 639 language code, as registered."
    )
    immigrant: bool
    registered_jobseeker: bool
    labour_market_status: LabourMarketStatus
    unemployment_benefit: UnemploymentBenefit
    experiment_client_since: dt.date | None = None
    assessment_date: dt.date
    education_level: EducationLevel = NEED_DEFAULTS["education_level"]  # type: ignore[assignment]
    unemployment_months: int = Field(default=_NEED_MONTHS, ge=0, le=MAX_UNEMPLOYMENT_MONTHS)
    work_experience_years: float = Field(default=_NEED_YEARS, ge=0.0, le=MAX_WORK_EXPERIENCE_YEARS)
    language_level: LanguageLevel = NEED_DEFAULTS["language_level"]  # type: ignore[assignment]
    work_ability: WorkAbility = NEED_DEFAULTS["work_ability"]  # type: ignore[assignment]
    health_limitations: bool = False
    mental_health_needs: bool = False
    substance_use: bool = False
    debt_problems: bool = False
    housing_insecurity: bool = False
    caregiving_duties: bool = False
    low_digital_skills: bool = False
    outdated_skills: bool = False
    entrepreneurship_interest: EntrepreneurshipInterest = NEED_DEFAULTS[  # type: ignore[assignment]
        "entrepreneurship_interest"
    ]
    gender: Gender | None = Field(
        default=None, description="Optional; for fairness audits only, never a feature."
    )


class EligibilityRequest(_Strict):
    """A profile to run through the eligibility gate."""

    profile: ProfileIn
    language: Language = "fi"


_MAX_OBJECTIVE_LENGTH = 200


def _objective(value: object) -> Objective:
    """An objective as sent, parsed: the one parse of a request's objective."""
    if isinstance(value, Objective):
        return value
    if isinstance(value, str) and len(value) <= _MAX_OBJECTIVE_LENGTH:
        try:
            return Objective.parse(value)
        except ValueError:
            pass  # Objective.parse quotes the input; answers never echo what was sent.
    raise ValueError(
        f"unknown objective: use one of {', '.join(TARGETS)}, or target=weight pairs "
        "with weights in [0, 1] summing to 1"
    )


ObjectiveIn = Annotated[
    Objective,
    PlainValidator(_objective),
    PlainSerializer(lambda objective: objective.name, return_type=str),
    WithJsonSchema({"type": "string", "maxLength": _MAX_OBJECTIVE_LENGTH}),
]
"""An objective: sent as text, parsed once as the request is validated."""


class RecommendationRequest(_Strict):
    """A profile to rank services for, with how many, for which objective, in which language."""

    profile: ProfileIn
    top_k: int = Field(default=5, ge=1, le=50)
    objective: ObjectiveIn = Field(
        default_factory=lambda: Objective.parse(DEFAULT_OBJECTIVE),
        description=(
            f"A target ({', '.join(TARGETS)}) or a weighted mix such as "
            "`employment_or_education_6m=0.7,employment_12m=0.3`."
        ),
        json_schema_extra={"default": DEFAULT_OBJECTIVE},
    )
    language: Language = "fi"


class ReasonOut(_Strict):
    """One reason of the gate's decision, in the requested language."""

    code: str
    text: str


class EligibilityOut(_Strict):
    """The gate's decision (the only automated decision Polku makes)."""

    eligible: bool
    responsible_office: Literal["helsinki", "te_office"]
    target_groups: list[str]
    failed_conditions: list[str]
    reasons: list[ReasonOut]
    rules_version: str
    benefit_notice: str


class EligibilityResponse(_Strict):
    """The answer of `POST /v1/eligibility`."""

    request_id: str
    language: Language
    decision: EligibilityOut


class DriverOut(_Strict):
    """A need or barrier behind a service's expected effect, worded for the caseworker."""

    factor: str
    text: str
    share: float = Field(description="How much of the uplift this need accounts for.")


class RankedServiceOut(_Strict):
    """One suggested service with the expected outcome with and without it."""

    service_id: str
    rank: int = Field(ge=1)
    name: str
    family: str
    expected_with: Probability
    expected_without: Probability
    uplift: float
    uplift_low: float
    uplift_high: float
    reasons: list[DriverOut]

    @classmethod
    def from_domain(
        cls,
        ranked: RankedService,
        service: Service,
        drivers: Sequence[tuple[Driver, str]],
        language: str,
    ) -> RankedServiceOut:
        """A ranked service as answered: named in `language`, with its worded drivers."""
        return cls(
            service_id=ranked.service_id,
            rank=ranked.rank,
            name=service.name.get(language),
            family=service.family,
            expected_with=ranked.expected_with,
            expected_without=ranked.expected_without,
            uplift=ranked.uplift,
            uplift_low=ranked.uplift_low,
            uplift_high=ranked.uplift_high,
            reasons=[
                DriverOut(
                    factor=driver.factor, text=text, share=ranked.uplift - driver.uplift_without
                )
                for driver, text in drivers
            ],
        )


class RecommendationResponse(_Strict):
    """The answer of `POST /v1/recommendations`: advice; the caseworker decides.

    For a non-client `services` is empty and `decision` says who is responsible.
    """

    request_id: str
    model_version: str
    rules_version: str
    objective: str
    language: Language
    decision: EligibilityOut
    responsible_office: Literal["helsinki", "te_office"]
    services: list[RankedServiceOut]
    notice: str


class ServiceOut(_Strict):
    """One service of the catalog, in the requested language."""

    service_id: str
    name: str
    family: str
    provider: str
    description: str
    duration_weeks: float
    languages: list[str]


class ServicesResponse(_Strict):
    """The catalog: from the served model when one is loaded, else the reviewed file."""

    language: Language
    catalog_fingerprint: str
    services: list[ServiceOut]


class DecisionIn(_Strict):
    """What the caseworker decided for an answered recommendation.

    `service_id` is needed for `suggested` (one of the services shown) and `other` (any
    service of the catalog), and must be absent for `none`. A `reason` is needed whenever the
    decision does not follow the top suggestion. A correction is simply a new decision.
    """

    request_id: RequestId
    choice: Choice
    service_id: str | None = Field(default=None, max_length=64)
    reason: str | None = Field(default=None, min_length=1, max_length=2000)


class DecisionOut(_Strict):
    """The decision as recorded (append-only)."""

    request_id: str
    recorded_at: dt.datetime
    choice: Choice
    service_id: str | None
    followed_top: bool
    reason: str | None


class ModelPublic(_Strict):
    """What a caseworker sees of the served model."""

    version: str
    rules_versions: list[str] = Field(description="The gate's rule sets the model was built for.")
    trained_at: str | None
    loaded_at: dt.datetime


class ModelDetail(ModelPublic):
    """What data scientists and evaluators see of the served model."""

    name: str
    catalog_fingerprint: str
    metrics: dict[str, float]


class ReloadResponse(_Strict):
    """The result of `POST /v1/admin/reload`."""

    reloaded: bool
    version: str | None
    previous_version: str | None
    message: str


class Liveness(_Strict):
    """The process answers."""

    status: Literal["ok"]


class Readiness(_Strict):
    """Whether the service can answer recommendations (a model is loaded)."""

    ready: bool
    model_version: str | None
    reason: str | None


def _audit_record_fields() -> dict[str, Any]:
    """The fields of `AuditRecordOut`: the audit store's joined view, column by column."""
    out: dict[str, Any] = {}
    for name, column, nullable in EXPORT_SOURCES:
        # The ranking is stored as JSON text and answered as the list it holds.
        kind: Any = list[dict[str, Any]] if name == "ranking" else column.type.python_type
        out[name] = (kind | None if nullable else kind, ...)
    return out


AuditRecordOut = create_model(
    "AuditRecordOut",
    __base__=_Strict,
    __doc__="A suggestion joined with one of its decisions (or with none yet).",
    **_audit_record_fields(),
)


class AuditRecordsResponse(_Strict):
    """A page of audit records, oldest first."""

    # mypy cannot see through create_model; the schema and the validation are pydantic's.
    records: list[AuditRecordOut]  # type: ignore[valid-type]
    next_offset: int | None


class ErrorOut(BaseModel):
    """An error with a plain message."""

    detail: str


class FieldErrorOut(BaseModel):
    """Where a request is wrong and why (never the submitted value)."""

    loc: list[str | int]
    msg: str
    type: str


class ValidationErrorOut(BaseModel):
    """A 422 answer."""

    detail: list[FieldErrorOut]
