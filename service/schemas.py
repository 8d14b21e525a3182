"""Request and response bodies of the API, apart from the domain types they carry.

Field kinds and allowed values come from `models.profile` (one definition of every field);
unknown fields are rejected everywhere. Roles that see different things get different
response models (`ModelPublic` for caseworkers, `ModelDetail` for the others).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ModelWrapValidatorHandler,
    PlainSerializer,
    PlainValidator,
    PrivateAttr,
    StrictBool,
    StrictInt,
    ValidationError,
    WithJsonSchema,
    create_model,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

from models.catalog import Service
from models.explanations import ExplainedDriver
from models.henkilotunnus import contains_henkilotunnus
from models.languages import DEFAULT_LANGUAGE, Language
from models.objectives import DEFAULT_OBJECTIVE, TARGETS, Objective
from models.profile import (
    PROFILE_SPEC,
    ClientProfile,
    FieldSpec,
)
from models.profile_validation import (
    ProfileValidationError,
    parse_profile,
)
from models.separation import DISTINCT_PROBABILITY, WIDE_INTERVAL_SHARE
from models.suggestions import NotSuggestedReason, RankedService
from service.audit.schema import EXPORT_SOURCES
from service.examples import (
    decision_example,
    eligibility_example,
    recommendation_example,
    with_example,
)
from service.suggest import MAX_DECISION_REASON

Choice = Literal["suggested", "other", "none"]
RequestId = Annotated[
    str, Field(pattern=r"^[0-9a-f]{32}$", description="The id of an answered request.")
]
Probability = Annotated[float, Field(ge=0.0, le=1.0)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _given(value: Any) -> bool:
    """Whether a raw value counts as given (the register's reading: blank text is missing)."""
    if value is None or (isinstance(value, float) and value != value):  # None or NaN
        return False
    return not (isinstance(value, str) and not value.strip())


class _ProfileInBase(_Strict):
    """What every `ProfileIn` does: validate exactly as the register path does.

    The fields (made from `models.profile.PROFILE_SPEC`) describe the body in the API
    schema; the checking itself is `parse_profile`'s, so the API and a register extract
    accept and reject the same values and report the same stable codes (`type` of each
    422 entry). The validated `ClientProfile` is kept (`to_profile`).
    """

    _profile: ClientProfile | None = PrivateAttr(default=None)

    @model_validator(mode="wrap")
    @classmethod
    def _as_the_register_path(cls, data: Any, handler: ModelWrapValidatorHandler[Any]) -> Any:
        if isinstance(data, cls) or not isinstance(data, Mapping):
            return handler(data)  # a model already, or not an object (pydantic says so)
        try:
            profile = parse_profile(data)
        except ProfileValidationError as exc:
            raise ValidationError.from_exception_data(
                cls.__name__,
                [
                    InitErrorDetails(
                        type=PydanticCustomError(e.code, e.message),
                        loc=(e.field,),
                        input=None,  # never echo a value
                    )
                    for e in exc.errors
                ],
            ) from None
        record = profile.to_record()
        given = {name for name, value in data.items() if _given(value)}
        values = {name: record[name] for name in given if name in record}
        if "henkilotunnus" in given:
            values["henkilotunnus"] = str(data["henkilotunnus"]).strip()
        model = cls.model_construct(_fields_set=given, **values)
        model._profile = profile
        return model

    def to_profile(self) -> ClientProfile:
        """The validated profile (without the henkilötunnus)."""
        if self._profile is None:
            self._profile = parse_profile(self.model_dump(exclude_none=True))
        return self._profile


def _schema_field(spec: FieldSpec) -> tuple[Any, Any]:
    """The type and `Field` of one profile field in the API schema, as the spec declares it."""
    default: Any = ... if spec.required else None
    if not spec.required and spec.kind in ("enum", "bool", "whole", "number"):
        default = spec.default
    info: dict[str, Any] = {"description": spec.description}
    kind: Any
    if spec.kind in ("id", "code", "henkilotunnus"):
        kind = str
        if spec.kind == "id":
            info |= {"min_length": 1, "max_length": spec.max_length}
        if spec.pattern is not None:
            info["pattern"] = f"^{spec.pattern}$"
    elif spec.kind == "enum":
        kind = Literal[spec.values]
    elif spec.kind == "bool":
        kind = bool
    elif spec.kind == "date":
        kind = dt.date
    else:
        kind = int if spec.kind == "whole" else float
        assert spec.bounds is not None
        info |= {"ge": spec.bounds[0], "le": spec.bounds[1]}
    if default is None:
        kind = kind | None
    return kind, Field(default, **info)


def _profile_model() -> type[_ProfileInBase]:
    return create_model(  # type: ignore[call-overload]
        "ProfileIn",
        __base__=_ProfileInBase,
        __doc__=(
            "A client's profile as a caseworker's system sends it (docs/PROFILE.md lists "
            "every field). Either `henkilotunnus` or `birth_date` is needed; the code only "
            "serves to derive the birth date and a pseudonymous key, and is never stored, "
            "logged or returned."
        ),
        **{spec.name: _schema_field(spec) for spec in PROFILE_SPEC},
    )


if TYPE_CHECKING:
    ProfileIn = _ProfileInBase
else:
    ProfileIn = _profile_model()


class EligibilityRequest(_Strict):
    """A profile to run through the eligibility gate."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=with_example(eligibility_example))

    profile: ProfileIn
    language: Language = DEFAULT_LANGUAGE


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

    model_config = ConfigDict(
        extra="forbid", json_schema_extra=with_example(recommendation_example)
    )

    profile: ProfileIn
    top_k: StrictInt = Field(default=5, ge=1, le=50)
    objective: ObjectiveIn = Field(
        default_factory=lambda: Objective.parse(DEFAULT_OBJECTIVE),
        description=(
            f"A target ({', '.join(TARGETS)}) or a weighted mix such as "
            "`employment_or_education_6m=0.7,employment_12m=0.3`."
        ),
        json_schema_extra={"default": DEFAULT_OBJECTIVE},
    )
    language: Language = DEFAULT_LANGUAGE
    why_not_text: StrictBool = Field(
        default=False,
        description="Also word why each other catalog service is not suggested, in "
        "`language` (`not_suggested[].text`). Off by default: the reason code, the limits, "
        "the rank and the effect say the same, and wording every service of the catalog "
        "costs more than the rest of the answer.",
    )


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


class VersionsOut(_Strict):
    """What the answer was made under (docs/SECURITY.md, "Versions"); the same values are in
    its audit row."""

    rules_version: str | None = Field(description="The gate's rule set that decided.")
    model_version: str | None = Field(
        description="The registry version of the model served (null: none loaded)."
    )
    model_hash: str | None = Field(
        description="The first 16 hex digits of the served model file's SHA-256 (null: "
        "unknown or no model)."
    )
    catalog_version: str | None = Field(
        description="The first 16 hex digits of the catalog's content hash "
        "(`catalog_fingerprint` of `GET /v1/services`)."
    )


class EligibilityResponse(_Strict):
    """The answer of `POST /v1/eligibility`."""

    request_id: str
    language: Language
    decision: EligibilityOut
    versions: VersionsOut


class DriverOut(_Strict):
    """A need or barrier behind a service's expected effect, worded for the caseworker.

    Needs that raise the effect come first, then those that limit it. They explain the
    shown (shrunk) uplift: `share` is in the same points.
    """

    factor: str
    text: str
    share: float = Field(description="How much of the shown uplift this need accounts for.")
    raises: bool = Field(description="The need raises the expected effect (else it limits it).")
    small: bool = Field(
        description="Below the naming threshold: named because no need of this client "
        "reaches it (docs/MODEL.md, Drivers)."
    )


class TargetEffectOut(_Strict):
    """A suggestion's expected effect on one target, whatever the objective ranked by."""

    target: str
    ranked_by: bool = Field(description="This target is (part of) the objective ranked by.")
    expected_with: Probability
    expected_without: Probability
    uplift: float
    uplift_low: float
    uplift_high: float
    credibly_harmful: bool = Field(description="The whole interval is below zero.")


class RankedServiceOut(_Strict):
    """One suggested service with the expected outcome with and without it."""

    service_id: str
    rank: int = Field(ge=1)
    name: str
    family: str
    expected_with: Probability
    expected_without: Probability
    uplift: float = Field(
        description="The expected change in the outcome with the service (probability "
        "scale), shrunk against the winner's curse; services are ranked by the model's own "
        "estimate, so it may be below the next service's"
    )
    uplift_low: float
    uplift_high: float
    reasons: list[DriverOut]
    p_above_zero: Probability | None = Field(
        description="Probability that the service beats no service (normal approximation "
        "of the interval)"
    )
    p_above_next: Probability | None = Field(
        description="Probability that it beats the next ranked service; null for the last"
    )
    distinct_from_no_service: bool = Field(
        description="The model can tell it from no service (p_above_zero >= "
        f"{DISTINCT_PROBABILITY})"
    )
    distinct_from_next: bool | None = Field(
        description="The model can tell it from the next ranked service (p_above_next >= "
        f"{DISTINCT_PROBABILITY}); null for the last"
    )
    wide_interval: bool = Field(
        description="The interval is wider than "
        f"{100 * WIDE_INTERVAL_SHARE:.0f} percentage points (of the 0-100 % outcome range)"
    )
    effects: list[TargetEffectOut] = Field(
        description="The effect on every target, side by side (the objective stays the ranking key)"
    )
    harmful_targets: list[str] = Field(
        description="Targets the service credibly lowers (whole interval below zero) although "
        "it is suggested for the objective"
    )
    monthly_capacity: int = Field(description="Typical places a month (the catalog's figure)")
    places_left: int | None = Field(
        default=None,
        ge=0,
        description="Places of the service left this month (its monthly capacity minus the "
        "decisions that took one); null where places are not counted",
    )
    full: bool = Field(default=False, description="Every place of the service is taken this month")
    next_with_places: str | None = Field(
        default=None,
        description="For a full service: the next ranked service that still has places",
    )

    @classmethod
    def from_domain(
        cls,
        ranked: RankedService,
        service: Service,
        drivers: Sequence[ExplainedDriver],
        language: str,
        objective: Objective,
        places_left: int | None = None,
        next_with_places: str | None = None,
    ) -> RankedServiceOut:
        """A ranked service as answered: named in `language`, with the drivers `explain` chose."""
        weighted = {target for target, weight in objective.weights if weight > 0}
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
                    factor=d.factor, text=d.text, share=d.share, raises=d.raises, small=d.small
                )
                for d in drivers
            ],
            p_above_zero=ranked.p_above_zero,
            p_above_next=ranked.p_above_next,
            distinct_from_no_service=ranked.distinct_from_no_service,
            distinct_from_next=ranked.distinct_from_next,
            wide_interval=ranked.wide_interval,
            effects=[
                TargetEffectOut(
                    target=e.target,
                    ranked_by=e.target in weighted,
                    expected_with=e.expected_with,
                    expected_without=e.expected_without,
                    uplift=e.uplift,
                    uplift_low=e.uplift_low,
                    uplift_high=e.uplift_high,
                    credibly_harmful=e.credibly_harmful,
                )
                for e in ranked.by_target
            ],
            harmful_targets=list(ranked.harmful_targets),
            monthly_capacity=service.monthly_capacity,
            places_left=places_left,
            full=places_left == 0,
            next_with_places=next_with_places if places_left == 0 else None,
        )


class OpenServiceOut(_Strict):
    """A service the client may take (catalog limits), unranked: a gate-only answer's."""

    service_id: str
    name: str
    family: str


class NotSuggestedOut(_Strict):
    """A catalog service that is not among the suggestions, and why: `reason` (a code) with
    `limits` or `rank` and the effect, worded in `text` when the request asked
    (`why_not_text`)."""

    service_id: str
    name: str
    reason: NotSuggestedReason = Field(
        description="not_a_client (the gate), closed (a catalog limit, named in `limits`), "
        "not_supported (too little data to estimate its effect) or ranked_lower"
    )
    text: str | None = Field(
        description="The reason worded in the answer's language, as the page words it; null "
        "unless the request set `why_not_text`"
    )
    limits: list[str] = Field(description="The catalog limits the client does not meet")
    rank: int | None = Field(description="Its rank among the services the client may take")
    uplift: float | None
    uplift_low: float | None
    uplift_high: float | None


class RecommendationResponse(_Strict):
    """The answer of `POST /v1/recommendations`: advice; the caseworker decides.

    For a non-client `services` is empty and `decision` says who is responsible. While the
    model is switched off the answer is `degraded`: the gate's decision and the services
    open to the client (`open_services`, catalog order), no ranking and no model numbers.
    """

    request_id: str
    model_version: str | None = Field(
        description="The registry version of the model served (null only in a degraded "
        "answer while no model is loaded)."
    )
    rules_version: str
    objective: str
    language: Language
    decision: EligibilityOut
    responsible_office: Literal["helsinki", "te_office"]
    services: list[RankedServiceOut]
    not_suggested: list[NotSuggestedOut] = Field(
        description="Every other catalog service, with why it is not suggested"
    )
    notice: str
    versions: VersionsOut
    degraded: bool = Field(
        default=False, description="The model is switched off: the gate alone answered."
    )
    degraded_reason: str | None = Field(
        default=None, description="Why the answer is degraded, in the answer's language."
    )
    open_services: list[OpenServiceOut] = Field(
        default_factory=list,
        description="In a degraded answer: the services open to a client, unranked.",
    )


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
    decision does not follow the top suggestion. A request takes one decision: a later one
    is refused (409) unless it says it `corrects` the recorded one, with its own `reason`;
    the correction is audited as one.
    """

    model_config = ConfigDict(extra="forbid", json_schema_extra=with_example(decision_example))

    request_id: RequestId
    choice: Choice
    service_id: str | None = Field(default=None, max_length=64)
    reason: str | None = Field(default=None, min_length=1, max_length=MAX_DECISION_REASON)
    corrects: StrictBool = Field(
        default=False,
        description="This decision corrects the one already recorded for the request",
    )


class DecisionOut(_Strict):
    """The decision as recorded (append-only)."""

    request_id: str
    recorded_at: dt.datetime
    choice: Choice
    service_id: str | None
    followed_top: bool
    reason: str | None
    corrects: bool = False
    versions: VersionsOut = Field(description="The versions of the suggestion decided on.")


_MAX_SWITCH_REASON = 500


def _no_identity_code(reason: str) -> str:
    if contains_henkilotunnus(reason):
        raise ValueError("must not contain a personal identity code")
    return reason


class ModelSwitchIn(_Strict):
    """Turn the model off (answers become the gate's only) or on again, and say why."""

    model_on: StrictBool
    reason: Annotated[
        str,
        Field(
            min_length=1,
            max_length=_MAX_SWITCH_REASON,
            pattern=r"\S",
            description="Why (kept in the audit; never a personal identity code).",
        ),
        AfterValidator(_no_identity_code),
    ]


class ModelSwitchOut(_Strict):
    """The model's kill switch: on, or off since when, by whom and why."""

    model_on: bool
    changed: bool | None = Field(
        default=None, description="In the answer of a switch: whether it changed the state."
    )
    changed_at: dt.datetime | None
    changed_by: str | None
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


def _as_utc(moment: dt.datetime) -> dt.datetime:
    # The store keeps UTC without tzinfo; answers say so (RFC 3339 needs the offset).
    return moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment


UtcDatetime = Annotated[dt.datetime, AfterValidator(_as_utc)]


def _audit_record_fields() -> dict[str, Any]:
    """The fields of `AuditRecordOut`: the audit store's joined view, column by column."""
    out: dict[str, Any] = {}
    for name, column, nullable in EXPORT_SOURCES:
        # The ranking is stored as JSON text and answered as the list it holds.
        kind: Any = list[dict[str, Any]] if name == "ranking" else column.type.python_type
        if kind is dt.datetime:
            kind = UtcDatetime
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
