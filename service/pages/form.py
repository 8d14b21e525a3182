"""The profile form: which field goes where, and the trip between HTML form values and a raw
profile for `models.profile_validation.parse_profile` (the same check as the API's).

Fields are grouped as a caseworker thinks: who the person is, their situation, their needs
and barriers. The henkilötunnus is read once and never written back into a form.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Literal

from models.eligibility import load_rule_sets
from models.henkilotunnus import contains_henkilotunnus
from models.objectives import DEFAULT_OBJECTIVE, TARGETS
from models.profile import (
    BARRIER_FLAGS,
    HELSINKI_MUNICIPALITY,
    NEED_DEFAULTS,
    SPEC_BY_NAME,
    ClientProfile,
)

Kind = Literal["text", "date", "number", "select", "yesno", "checkbox"]

DEFAULT_TOP_K: Final = 5
MAX_TOP_K: Final = 10


@dataclass(frozen=True, slots=True)
class FormInput:
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


def _input(name: str, kind: Kind, *, required: bool | None = None, **attrs: str) -> FormInput:
    """The input of a profile field: allowed values, whether required, length, pattern and
    bounds as `models.profile.PROFILE_SPEC` declares them; `attrs` say how it is typed, and
    `required` may ask the caseworker for a field the register could leave out."""
    spec = SPEC_BY_NAME[name]
    declared: dict[str, str] = {}
    if spec.max_length is not None:
        declared["maxlength"] = str(spec.max_length)
    if spec.pattern is not None:
        declared["pattern"] = spec.pattern
    if kind == "number" and spec.bounds is not None:
        low, high = spec.bounds
        declared |= {"min": f"{low:g}", "max": f"{high:g}"}
        if spec.kind == "whole":
            declared["step"] = "1"
    return FormInput(
        name,
        kind,
        options=spec.values if kind == "select" else (),
        required=spec.required if required is None else required,
        optional_blank=kind == "select" and not spec.required and spec.default is None,
        attrs={**declared, **attrs},
    )


GROUPS: Final[tuple[tuple[str, tuple[FormInput, ...]], ...]] = (
    (
        "group_who",
        (
            _input("client_id", "text", autocomplete="off"),
            _input("henkilotunnus", "text", maxlength="11", autocomplete="off", spellcheck="false"),
            _input("birth_date", "date", min="1900-01-01"),
            _input("gender", "select"),
            _input("mother_tongue", "text", maxlength="3", autocomplete="off"),
            _input("immigrant", "yesno"),
            _input("home_municipality", "text", maxlength="3", inputmode="numeric"),
        ),
    ),
    (
        "group_situation",
        (
            _input("registered_jobseeker", "yesno"),
            _input("labour_market_status", "select"),
            _input("unemployment_benefit", "select"),
            _input("unemployment_months", "number"),
            _input("experiment_client_since", "date", min="2021-03-01"),
            _input("previous_services", "number"),
            _input("last_service_date", "date", min="2000-01-01"),
            # Missing means today in the register; on the form the caseworker confirms it,
            # within the experiment window (bounds from the rules: `experiment_window`).
            _input("assessment_date", "date", required=True),
        ),
    ),
    (
        "group_needs",
        (
            _input("education_level", "select"),
            # Text, not number: a decimal comma (1,5) is how Finnish and Swedish write it.
            _input(
                "work_experience_years",
                "text",
                inputmode="decimal",
                maxlength="5",
                autocomplete="off",
            ),
            _input("language_level", "select"),
            _input("work_ability", "select"),
            _input("entrepreneurship_interest", "select"),
            *(_input(flag, "checkbox") for flag in BARRIER_FLAGS),
        ),
    ),
)
OPTIONS: Final = (
    FormInput("objective", "select", TARGETS),
    FormInput("top_k", "number", attrs={"min": "1", "max": str(MAX_TOP_K), "step": "1"}),
)
FORM_FIELDS: Final = tuple(spec.name for _, specs in GROUPS for spec in specs)


@functools.cache
def experiment_window() -> tuple[dt.date, dt.date]:
    """The first and last assessment day the gate's rule sets cover (their periods' union):
    the one source of the window the assessment date field states and is bounded by."""
    sets = load_rule_sets()
    return min(s.period_start for s in sets), max(s.period_end for s in sets)


def default_assessment_date(today: dt.date) -> dt.date:
    """Today, or the nearest day inside the experiment window (outside it nobody is a client)."""
    start, end = experiment_window()
    return min(max(today, start), end)


def field_attrs(spec: FormInput) -> dict[str, str]:
    """The input's HTML attributes; the assessment date is bounded by the experiment window."""
    if spec.name != "assessment_date":
        return spec.attrs
    start, end = experiment_window()
    return {**spec.attrs, "min": start.isoformat(), "max": end.isoformat()}


def default_values(today: dt.date) -> dict[str, str]:
    """What a fresh form shows: Helsinki, Finnish, registered, unemployed, no barriers known,
    and the assessment date `default_assessment_date(today)`."""
    values: dict[str, str] = {
        "home_municipality": HELSINKI_MUNICIPALITY,
        "mother_tongue": "fi",
        "immigrant": "false",
        "registered_jobseeker": "true",
        "labour_market_status": "unemployed",
        "unemployment_benefit": "labour_market_subsidy",
        "assessment_date": default_assessment_date(today).isoformat(),
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
        if contains_henkilotunnus(value):
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
