"""The profile form: which field goes where, and the trip between HTML form values and a raw
profile for `models.profile_validation.parse_profile` (the same check as the API's).

Fields are grouped as a caseworker thinks: who the person is, their situation, their needs
and barriers. The henkilötunnus is read once and never written back into a form.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Literal

from models.henkilotunnus import HENKILOTUNNUS_PATTERN
from models.objectives import DEFAULT_OBJECTIVE, TARGETS
from models.profile import (
    BARRIER_FLAGS,
    EDUCATION_LEVELS,
    ENTREPRENEURSHIP_INTERESTS,
    GENDERS,
    HELSINKI_MUNICIPALITY,
    LABOUR_MARKET_STATUSES,
    LANGUAGE_LEVELS,
    NEED_DEFAULTS,
    UNEMPLOYMENT_BENEFITS,
    WORK_ABILITIES,
    ClientProfile,
)
from models.profile_validation import MAX_CLIENT_ID_LENGTH, MAX_UNEMPLOYMENT_MONTHS

Kind = Literal["text", "date", "number", "select", "yesno", "checkbox"]

DEFAULT_TOP_K: Final = 5
MAX_TOP_K: Final = 10


@dataclass(frozen=True, slots=True)
class FieldSpec:
    """One input of the form.

    Attributes
    ----------
    name : the profile field (or request option) it sets.
    kind : how it is entered.
    options : allowed values of a select (in the order shown).
    required : whether the caseworker must fill it.
    optional_blank : a select that may be left unanswered (`gender`).
    attrs : extra HTML attributes (min, max, step, maxlength, autocomplete, ...).
    """

    name: str
    kind: Kind
    options: tuple[str, ...] = ()
    required: bool = False
    optional_blank: bool = False
    attrs: dict[str, str] = field(default_factory=dict)


GROUPS: Final[tuple[tuple[str, tuple[FieldSpec, ...]], ...]] = (
    (
        "group_who",
        (
            FieldSpec(
                "client_id",
                "text",
                required=True,
                attrs={"maxlength": str(MAX_CLIENT_ID_LENGTH), "autocomplete": "off"},
            ),
            FieldSpec(
                "henkilotunnus",
                "text",
                attrs={"maxlength": "11", "autocomplete": "off", "spellcheck": "false"},
            ),
            FieldSpec("birth_date", "date", attrs={"min": "1900-01-01"}),
            FieldSpec("gender", "select", GENDERS, optional_blank=True),
            FieldSpec(
                "mother_tongue",
                "text",
                required=True,
                attrs={"maxlength": "3", "pattern": "[A-Za-z]{2,3}", "autocomplete": "off"},
            ),
            FieldSpec("immigrant", "yesno", required=True),
            FieldSpec(
                "home_municipality",
                "text",
                required=True,
                attrs={"maxlength": "3", "pattern": "[0-9]{3}", "inputmode": "numeric"},
            ),
        ),
    ),
    (
        "group_situation",
        (
            FieldSpec("registered_jobseeker", "yesno", required=True),
            FieldSpec("labour_market_status", "select", LABOUR_MARKET_STATUSES, required=True),
            FieldSpec("unemployment_benefit", "select", UNEMPLOYMENT_BENEFITS, required=True),
            FieldSpec(
                "unemployment_months",
                "number",
                attrs={"min": "0", "max": str(MAX_UNEMPLOYMENT_MONTHS), "step": "1"},
            ),
            FieldSpec("experiment_client_since", "date", attrs={"min": "2021-03-01"}),
            FieldSpec("assessment_date", "date", required=True),
        ),
    ),
    (
        "group_needs",
        (
            FieldSpec("education_level", "select", EDUCATION_LEVELS),
            # Text, not number: a decimal comma (1,5) is how Finnish and Swedish write it.
            FieldSpec(
                "work_experience_years",
                "text",
                attrs={"inputmode": "decimal", "maxlength": "5", "autocomplete": "off"},
            ),
            FieldSpec("language_level", "select", LANGUAGE_LEVELS),
            FieldSpec("work_ability", "select", WORK_ABILITIES),
            FieldSpec("entrepreneurship_interest", "select", ENTREPRENEURSHIP_INTERESTS),
            *(FieldSpec(flag, "checkbox") for flag in BARRIER_FLAGS),
        ),
    ),
)
OPTIONS: Final = (
    FieldSpec("objective", "select", TARGETS),
    FieldSpec("top_k", "number", attrs={"min": "1", "max": str(MAX_TOP_K), "step": "1"}),
)
FORM_FIELDS: Final = tuple(spec.name for _, specs in GROUPS for spec in specs)


def default_values(today: dt.date) -> dict[str, str]:
    """What a fresh form shows: Helsinki, Finnish, registered, unemployed, no barriers known."""
    values: dict[str, str] = {
        "home_municipality": HELSINKI_MUNICIPALITY,
        "mother_tongue": "fi",
        "immigrant": "false",
        "registered_jobseeker": "true",
        "labour_market_status": "unemployed",
        "unemployment_benefit": "labour_market_subsidy",
        "assessment_date": today.isoformat(),
        "objective": DEFAULT_OBJECTIVE,
        "top_k": str(DEFAULT_TOP_K),
    }
    for name, default in NEED_DEFAULTS.items():
        values[name] = _as_form_value(default)
    return values


def _as_form_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def raw_profile(form: Mapping[str, Any]) -> dict[str, Any]:
    """The raw profile a form post describes (strings as a CSV row would give them).

    Empty inputs are left out (missing), ticked boxes are true and unticked ones false,
    and a decimal comma is read as a point.
    """
    raw: dict[str, Any] = {}
    for _, specs in GROUPS:
        for spec in specs:
            value = form.get(spec.name)
            if spec.kind == "checkbox":
                raw[spec.name] = value == "true"
                continue
            if not isinstance(value, str) or not value.strip():
                continue
            text = value.strip()
            if spec.name == "work_experience_years":
                text = text.replace(",", ".")
            raw[spec.name] = text
    return raw


def request_options(form: Mapping[str, Any]) -> tuple[str, int]:
    """The objective and the number of suggestions asked for (defaults when unreadable)."""
    objective = form.get("objective")
    if objective not in TARGETS:
        objective = DEFAULT_OBJECTIVE
    try:
        top_k = int(str(form.get("top_k", DEFAULT_TOP_K)).strip())
    except ValueError:
        top_k = DEFAULT_TOP_K
    return str(objective), min(max(top_k, 1), MAX_TOP_K)


def values_to_show(form: Mapping[str, Any]) -> dict[str, str]:
    """The posted values to put back into the form after an error: never an identity code.

    The henkilötunnus field always comes back empty, and so does any other input holding
    something shaped like one (typed into the wrong box).
    """
    shown: dict[str, str] = {}
    for name in (*FORM_FIELDS, "objective", "top_k"):
        value = form.get(name)
        if name == "henkilotunnus" or not isinstance(value, str):
            continue
        if HENKILOTUNNUS_PATTERN.search(value):
            continue
        shown[name] = value
    for flag in BARRIER_FLAGS:
        shown[flag] = "true" if form.get(flag) else "false"
    return shown


def values_of_profile(profile: ClientProfile, objective: str, top_k: int) -> dict[str, str]:
    """The form filled from a validated profile (after an answer): birth date, not the code."""
    values = {name: _as_form_value(value) for name, value in profile.to_record().items()}
    values["objective"] = objective
    values["top_k"] = str(top_k)
    return values
