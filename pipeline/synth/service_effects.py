"""The true effects of the synthetic world's services: what each adds to the outcome indices.

Each entry maps a service to its shifts of the three indices of `pipeline.synth.outcomes`
(employed at 6 months, in education at 6 months, employed at 12 months; logit scale) as a
function of the person's facts (`pipeline.synth.person`). `SERVICE_EFFECTS` is the baseline
world's table: a service works through what it addresses (a language course only for a low
language level, debt advice through debt problems, ...), with steps at 6/12/24 months
unemployed, age 30 without a vocational qualification and A0-A2. `THRESHOLD_EFFECTS` (the
`thresholds` scenario) gives the same services other shapes: kinks at 3/9/18 months and age
35, curves in age and language, and interactions between needs. Variants of split services
(the `many_small` scenario) take their parent's effect, rescaled (`VARIANT_EFFECTS`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Final

import numpy as np

from models.profile import LANGUAGE_LEVELS
from pipeline.synth.person import Person
from pipeline.synth.scenarios import Scenario, variant_parent

# What each service adds to the three indices: (employed 6m, education 6m, employed 12m),
# on the logit scale. Negative six-month terms with positive twelve-month terms are lock-in.
Effect = tuple[np.ndarray | float, np.ndarray | float, np.ndarray | float]
SERVICE_EFFECTS: Final[dict[str, Callable[[Person], Effect]]] = {
    # job search
    "career_guidance": lambda p: (0.08 + 0.05 * p.ltu, 0.10 * p.young, 0.08),
    "job_search_coaching": lambda p: (
        0.05 + 0.30 * p.moderate - 0.20 * p.low_language - 0.15 * (p.heavy_barriers >= 2),
        0.0,
        0.6 * (0.05 + 0.30 * p.moderate - 0.20 * p.low_language - 0.15 * (p.heavy_barriers >= 2)),
    ),
    "tyorasti": lambda p: (
        0.04 + 0.15 * p.moderate - 0.35 * p.barrier["low_digital_skills"] - 0.15 * p.low_language,
        0.0,
        0.7
        * (
            0.04
            + 0.15 * p.moderate
            - 0.35 * p.barrier["low_digital_skills"]
            - 0.15 * p.low_language
        ),
    ),
    "work_trial": lambda p: (
        0.08 + 0.15 * p.little_experience,
        0.0,
        0.10 + 0.10 * p.little_experience,
    ),
    "pay_subsidy_company": lambda p: (-0.10, 0.0, 0.20 + 0.15 * p.ltu + 0.05 * p.partial),
    "helsinki_supplement": lambda p: (-0.10, 0.0, 0.25 + 0.15 * p.ltu),
    "city_subsidised_job": lambda p: (-0.15, 0.0, 0.02),
    "employment_subsidy_55": lambda p: (-0.05, 0.0, 0.20),
    "tyokanava_placement": lambda p: (0.10, 0.0, 0.30),
    "ohjaamo": lambda p: (
        0.03 + 0.10 * np.maximum(p.barrier["mental_health_needs"], p.barrier["housing_insecurity"]),
        0.30 * p.no_vocational,
        0.05,
    ),
    "youth_career_services": lambda p: (0.08, 0.05 + 0.25 * p.no_vocational, 0.08),
    # entrepreneurship: self-employment counts as employment; grant-founded firms survive less
    "startup_grant": lambda p: (0.45 * p.business_plan, 0.0, 0.20 * p.business_plan),
    "newco_advisory": lambda p: (0.03 + 0.15 * p.business_plan, 0.0, 0.05 + 0.15 * p.business_plan),
    "entrepreneurship_work_trial": lambda p: (
        -0.05 + 0.10 * p.business_plan,
        0.0,
        0.10 + 0.15 * p.business_plan,
    ),
    # education: courses lock in; degree programmes count as education when the client stays
    "labour_market_training": lambda p: (
        -0.25,
        0.0,
        0.20 + 0.15 * p.barrier["outdated_skills"] + 0.10 * p.ltu - 0.20 * p.low_language,
    ),
    "self_motivated_study": lambda p: (
        -0.45,
        1.2 * p.retention,
        -0.20 + 0.25 * p.barrier["outdated_skills"],
    ),
    "short_studies": lambda p: (
        -0.10 + 0.10 * p.barrier["outdated_skills"],
        0.0,
        0.10 + 0.20 * p.barrier["outdated_skills"],
    ),
    "vocational_education": lambda p: (-0.40, 1.4 * p.retention, -0.25),
    "apprenticeship": lambda p: (
        0.05 + 0.20 * p.no_vocational - 0.12 * p.low_language - 0.10 * p.heavy_barriers,
        0.0,
        0.10 + 0.25 * p.no_vocational - 0.10 * p.heavy_barriers,
    ),
    "integration_training": lambda p: (-0.30, 0.0, 0.15 + 0.25 * p.low_language),
    "stadin_osaamiskeskus": lambda p: (
        0.05 + 0.15 * (1.0 - p.no_vocational),
        0.20 * p.no_vocational,
        0.10 + 0.15 * (1.0 - p.no_vocational),
    ),
    "finnish_language_course": lambda p: (
        -0.08 + 0.30 * p.low_language + 0.10 * p.b1_language,
        0.0,
        0.40 * p.low_language + 0.15 * p.b1_language,
    ),
    "digital_skills_training": lambda p: (
        0.10 * p.barrier["low_digital_skills"],
        0.0,
        0.10 * p.barrier["low_digital_skills"],
    ),
    # social
    "rehabilitative_work_activity": lambda p: (
        0.08 * p.ltu,
        0.0,
        0.10 + 0.10 * (p.heavy_barriers >= 1),
    ),
    "typ_joint_service": lambda p: (0.05 * p.heavy_barriers, 0.0, 0.10 + 0.10 * p.heavy_barriers),
    "social_guidance": lambda p: (
        0.05 * np.maximum(p.barrier["debt_problems"], p.barrier["housing_insecurity"]),
        0.0,
        0.05 + 0.05 * (p.heavy_barriers >= 1),
    ),
    "debt_advice": lambda p: (
        0.15 * p.barrier["debt_problems"],
        0.0,
        0.20 * p.barrier["debt_problems"],
    ),
    "housing_advice": lambda p: (
        0.15 * p.barrier["housing_insecurity"],
        0.0,
        0.20 * p.barrier["housing_insecurity"],
    ),
    "nuotti_coaching": lambda p: (
        0.05,
        0.20 * p.no_vocational + 0.10 * p.barrier["mental_health_needs"],
        0.10,
    ),
    # health: the health check alone does nothing for employment (BMC Public Health 14:1200)
    "health_check": lambda p: (0.0, 0.0, 0.0),
    "work_ability_assessment": lambda p: (
        0.05 * p.barrier["health_limitations"],
        0.0,
        0.10 + 0.20 * np.maximum(p.barrier["health_limitations"], p.barrier["mental_health_needs"]),
    ),
    "mental_health_services": lambda p: (
        0.15 * p.barrier["mental_health_needs"],
        0.0,
        0.25 * p.barrier["mental_health_needs"],
    ),
    "substance_abuse_services": lambda p: (
        0.12 * p.barrier["substance_use"],
        0.0,
        0.25 * p.barrier["substance_use"],
    ),
}


def _ramp(x: np.ndarray, start: float, end: float) -> np.ndarray:
    """0 up to `start`, 1 from `end`, linear between (kinks at both ends)."""
    return np.clip((x - start) / (end - start), 0.0, 1.0)


def _search_window(p: Person) -> np.ndarray:
    """Where job search help works: rising from 3 to 9 months unemployed, flat to 18, then
    fading to nothing at 30 months."""
    return _ramp(p.months, 3.0, 9.0) - _ramp(p.months, 18.0, 30.0)


def _long_term(p: Person) -> np.ndarray:
    """Long unemployment as a gradient: 0 up to 9 months, 1 from 18."""
    return _ramp(p.months, 9.0, 18.0)


def _young(p: Person) -> np.ndarray:
    return (p.age < 35).astype(np.float64)


def _age_curve(p: Person) -> np.ndarray:
    """A smooth bump peaking at 24 years (about 0.3 at 34, near 0 from 45)."""
    return np.exp(-(((p.age - 24.0) / 9.0) ** 2))


def _older(p: Person) -> np.ndarray:
    """0 up to 35 years, 1 from 55."""
    return _ramp(p.age, 35.0, 55.0)


def _language_gap(p: Person) -> np.ndarray:
    """How far below B2 the Finnish/Swedish level is: 0 from B2, 0.25 per level below."""
    return _ramp(LANGUAGE_LEVELS.index("B2") - p.language_rank, 0.0, 4.0)


def _very_low_language(p: Person) -> np.ndarray:
    return (p.language_rank <= LANGUAGE_LEVELS.index("A1")).astype(np.float64)


def _health_long_term(p: Person) -> np.ndarray:
    """Health limitations and long unemployment together (an interaction of needs)."""
    return p.barrier["health_limitations"] * _long_term(p)


def _coaching(p: Person) -> np.ndarray:
    return (
        0.05 + 0.35 * _search_window(p) - 0.25 * _very_low_language(p) - 0.30 * _health_long_term(p)
    )


def _online_search(p: Person) -> np.ndarray:
    return (
        0.04
        + 0.18 * _search_window(p)
        - 0.35 * p.barrier["low_digital_skills"]
        - 0.15 * _language_gap(p)
    )


def _study_age(p: Person) -> np.ndarray:
    """Degree study suits the young: 1 up to 20 years, falling linearly to 0 at 40."""
    return 1.0 - _ramp(p.age, 20.0, 40.0)


def _seasoned_founder(p: Person) -> np.ndarray:
    """A business plan backed by experience: 0 below 2 years, 1 from 10 (a gradient)."""
    return p.business_plan * _ramp(p.experience_years, 2.0, 10.0)


def _apprenticeship(p: Person) -> np.ndarray:
    """Who an apprenticeship suits: no degree, and young (fully to 25, fading to 45)."""
    return (1.0 - _ramp(p.age, 25.0, 45.0)) * (1.0 - p.higher_education)


# Only the services whose baseline effect runs through a threshold change shape; the rest
# (debt advice through debt problems, ...) keep theirs.
_THRESHOLD_OVERRIDES: Final[dict[str, Callable[[Person], Effect]]] = {
    "career_guidance": lambda p: (0.08 + 0.08 * _long_term(p), 0.12 * _age_curve(p), 0.08),
    "job_search_coaching": lambda p: (_coaching(p), 0.0, 0.6 * _coaching(p)),
    "tyorasti": lambda p: (_online_search(p), 0.0, 0.7 * _online_search(p)),
    "pay_subsidy_company": lambda p: (-0.10, 0.0, 0.20 + 0.20 * _long_term(p) + 0.05 * p.partial),
    "helsinki_supplement": lambda p: (-0.10, 0.0, 0.25 + 0.20 * _long_term(p)),
    "ohjaamo": lambda p: (
        0.03
        + 0.10
        * np.maximum(p.barrier["mental_health_needs"], p.barrier["housing_insecurity"])
        * _young(p),
        0.35 * p.low_education * _age_curve(p),
        0.05,
    ),
    "youth_career_services": lambda p: (
        0.08,
        0.05 + 0.30 * _age_curve(p) * (1.0 - p.higher_education),
        0.08,
    ),
    "startup_grant": lambda p: (
        0.10 * p.business_plan + 0.43 * _seasoned_founder(p),
        0.0,
        0.03 * p.business_plan + 0.21 * _seasoned_founder(p),
    ),
    "vocational_education": lambda p: (-0.40, 2.0 * p.retention * _study_age(p), -0.25),
    "self_motivated_study": lambda p: (
        -0.45,
        1.5 * p.retention * (1.0 - _ramp(p.age, 35.0, 50.0)) * (1.0 - p.higher_education),
        -0.20
        + 0.15 * p.barrier["outdated_skills"]
        + 0.20 * p.barrier["outdated_skills"] * _older(p),
    ),
    "labour_market_training": lambda p: (
        -0.25,
        0.0,
        0.20 + 0.15 * p.barrier["outdated_skills"] + 0.12 * _long_term(p) - 0.25 * _language_gap(p),
    ),
    "apprenticeship": lambda p: (
        0.05 + 0.20 * _apprenticeship(p) - 0.15 * _language_gap(p) - 0.10 * p.heavy_barriers,
        0.0,
        0.10 + 0.25 * _apprenticeship(p) - 0.10 * p.heavy_barriers,
    ),
    "integration_training": lambda p: (
        -0.30,
        0.0,
        0.10 + 0.20 * _language_gap(p) + 0.25 * _language_gap(p) * p.low_education,
    ),
    "finnish_language_course": lambda p: (
        -0.08 + 0.45 * _language_gap(p) + 0.20 * _very_low_language(p) * p.low_education,
        0.0,
        0.55 * _language_gap(p) + 0.20 * _very_low_language(p) * p.low_education,
    ),
    "digital_skills_training": lambda p: (
        p.barrier["low_digital_skills"] * (0.03 + 0.12 * _older(p)),
        0.0,
        p.barrier["low_digital_skills"] * (0.03 + 0.12 * _older(p)),
    ),
    "rehabilitative_work_activity": lambda p: (
        0.10 * _long_term(p),
        0.0,
        0.08 + 0.10 * (p.heavy_barriers >= 1) + 0.15 * _health_long_term(p),
    ),
    "work_ability_assessment": lambda p: (
        0.05 * p.barrier["health_limitations"] + 0.10 * _health_long_term(p),
        0.0,
        0.08
        + 0.15 * np.maximum(p.barrier["health_limitations"], p.barrier["mental_health_needs"])
        + 0.20 * _health_long_term(p),
    ),
    "nuotti_coaching": lambda p: (
        0.05,
        0.25 * _age_curve(p) * (1.0 - p.higher_education) + 0.10 * p.barrier["mental_health_needs"],
        0.10,
    ),
}
THRESHOLD_EFFECTS: Final[dict[str, Callable[[Person], Effect]]] = {
    **SERVICE_EFFECTS,
    **_THRESHOLD_OVERRIDES,
}
EFFECT_TABLES: Final = {"baseline": SERVICE_EFFECTS, "thresholds": THRESHOLD_EFFECTS}


def _service_effect(
    person: Person, service_id: str, table: dict[str, Callable[[Person], Effect]]
) -> Effect:
    if service_id in table:
        return table[service_id](person)
    split = variant_parent(service_id)
    if split is None or split[0] not in table:
        raise KeyError(f"the synthetic world defines no true effect for service {service_id!r}")
    parent, variant = split
    e6, ed6, e12 = table[parent](person)
    bonus = variant.older_bonus * _older(person)
    return (
        variant.scale_6m * np.asarray(e6) + bonus,
        variant.scale_6m * np.asarray(ed6),
        variant.scale_12m * np.asarray(e12) + bonus,
    )


def effect_indices(
    person: Person, service_ids: Sequence[str], scenario: Scenario
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Index shifts of each service under the scenario's effect shapes: three arrays of
    shape (n_rows, n_services)."""
    table = EFFECT_TABLES[scenario.effect_shapes]
    n = len(person.age)
    shifts = [np.zeros((n, len(service_ids))) for _ in range(3)]
    for j, service_id in enumerate(service_ids):
        for k, value in enumerate(_service_effect(person, service_id, table)):
            shifts[k][:, j] = value
    return shifts[0], shifts[1], shifts[2]


__all__ = ["EFFECT_TABLES", "SERVICE_EFFECTS", "THRESHOLD_EFFECTS", "Effect", "effect_indices"]
