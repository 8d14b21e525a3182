"""The synthetic world's outcome model: the true outcome probabilities under every service.

A structural model, the same for every episode, written once on numpy arrays:

- at six months a person is in one of three states: employed, in (degree) education, or
  neither. A multinomial logit gives their probabilities, so `employed_6m` and
  `education_6m` are never both 1 and P(employment or education) = P(employed) + P(in
  education), coherently;
- employment at twelve months is a separate logit;
- the baseline (no service) index depends on age, education, unemployment length,
  labour-market status, barriers, work ability, Finnish/Swedish level and the year;
- a service adds to these indices through what it addresses (`SERVICE_EFFECTS`): a language
  course only for a low language level, debt advice through debt problems, a start-up grant
  for those with a business plan, ...; long programmes lock in (lower index at six months,
  higher at twelve). Effects are small on the probability scale (a few points), as in the
  evidence of SERVICES.md; the health check has none.

`truth_probabilities` returns these probabilities for any typed profile frame; evaluation uses
them, training never does. `docs/DATA_CARD.md` describes the structure in words.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import pandas as pd
from scipy.special import ndtr

from models.catalog import Catalog, language_level_rank
from models.demographics import age_in_years
from models.profile import LANGUAGE_LEVELS

# Baseline intercepts, set so the world hits CALIBRATION.md's "25 % on the open labour
# market 6 months after an active service" (national, 2016) among served clients.
INTERCEPT_EMPLOYED_6M: Final = -0.4
INTERCEPT_EDUCATION_6M: Final = -3.0
INTERCEPT_EMPLOYED_12M: Final = 0.05
# How strongly the hidden motivation (when switched on) raises every index.
MOTIVATION_OUTCOME_WEIGHT: Final = 0.5

_EDUCATION_INDEX: Final = {
    "none": -0.5,
    "basic": -0.3,
    "upper_secondary": -0.1,
    "vocational": 0.0,
    "bachelor": 0.2,
    "master": 0.3,
}
_LANGUAGE_INDEX: Final = dict(
    zip(LANGUAGE_LEVELS, (-0.9, -0.7, -0.5, -0.3, -0.15, -0.05, 0.0, 0.0), strict=True)
)
_STATUS_INDEX: Final = {
    "unemployed": 0.0,
    "laid_off": 0.8,
    "pay_subsidised": 0.3,
    "in_services": -0.1,
    "employed": 1.5,
    "short_time_work": 1.2,
    "full_time_student": -0.5,
    "outside_labour_force": -1.0,
    "unemployment_pension": -2.5,
}
_BARRIER_INDEX: Final = {
    "health_limitations": -0.5,
    "mental_health_needs": -0.6,
    "substance_use": -0.7,
    "debt_problems": -0.2,
    "housing_insecurity": -0.4,
    "caregiving_duties": -0.3,
    "low_digital_skills": -0.2,
    "outdated_skills": -0.3,
}
_YEAR_INDEX: Final = {2021: -0.15, 2022: 0.1, 2023: 0.0}
# The five barriers that make needs "complex" (they weaken job-search services).
HEAVY_BARRIERS: Final = (
    "health_limitations",
    "mental_health_needs",
    "substance_use",
    "debt_problems",
    "housing_insecurity",
)

# Columns of a typed profile frame the outcome model reads.
OUTCOME_SOURCE_COLUMNS: Final = (
    "birth_date",
    "assessment_date",
    "labour_market_status",
    "education_level",
    "unemployment_months",
    "work_experience_years",
    "language_level",
    "work_ability",
    *_BARRIER_INDEX,
    "entrepreneurship_interest",
)


@dataclass(frozen=True)
class Person:
    """The profile facts the outcome model reads, as float arrays (1.0 = true)."""

    age: np.ndarray
    months: np.ndarray
    ltu: np.ndarray  # 12+ months unemployed
    moderate: np.ndarray  # 6-23 months: where job search coaching helps most
    young: np.ndarray  # under 30
    low_language: np.ndarray  # Finnish/Swedish A0-A2
    b1_language: np.ndarray
    low_education: np.ndarray  # none or basic
    no_vocational: np.ndarray  # none, basic or upper secondary
    higher_education: np.ndarray
    partial: np.ndarray
    little_experience: np.ndarray  # under two years of work experience
    business_plan: np.ndarray
    heavy_barriers: np.ndarray  # count of HEAVY_BARRIERS
    barrier: dict[str, np.ndarray]
    retention: np.ndarray  # chance of staying in a degree programme (drop-out risk)


def person_facts(frame: pd.DataFrame) -> Person:
    """Read the outcome model's facts from a typed profile frame (vectorised)."""
    missing = [c for c in OUTCOME_SOURCE_COLUMNS if c not in frame.columns]
    if missing:
        raise KeyError(f"profile frame lacks column(s) the outcome model needs: {missing}")
    age = age_in_years(
        frame["birth_date"].to_numpy(dtype="datetime64[D]"),
        frame["assessment_date"].to_numpy(dtype="datetime64[D]"),
    ).astype(np.float64)
    months = frame["unemployment_months"].to_numpy(dtype=np.float64)
    level = language_level_rank(frame["language_level"].to_numpy())
    education = frame["education_level"].to_numpy(dtype=object)
    barrier = {b: frame[b].to_numpy(dtype=bool).astype(np.float64) for b in _BARRIER_INDEX}
    heavy = np.sum([barrier[b] for b in HEAVY_BARRIERS], axis=0)
    low_language = (level <= LANGUAGE_LEVELS.index("A2")).astype(np.float64)
    low_education = np.isin(education, ("none", "basic")).astype(np.float64)
    retention = _sigmoid(
        1.5
        - 0.9 * heavy
        - 1.0 * low_language
        - 0.6 * low_education
        - 0.02 * np.maximum(age - 30, 0)
    )
    return Person(
        age=age,
        months=months,
        ltu=(months >= 12).astype(np.float64),
        moderate=((months >= 6) & (months < 24)).astype(np.float64),
        young=(age < 30).astype(np.float64),
        low_language=low_language,
        b1_language=(level == LANGUAGE_LEVELS.index("B1")).astype(np.float64),
        low_education=low_education,
        no_vocational=np.isin(education, ("none", "basic", "upper_secondary")).astype(np.float64),
        higher_education=np.isin(education, ("bachelor", "master")).astype(np.float64),
        partial=(frame["work_ability"].to_numpy(dtype=object) == "partial").astype(np.float64),
        little_experience=(frame["work_experience_years"].to_numpy(dtype=np.float64) < 2).astype(
            np.float64
        ),
        business_plan=(
            frame["entrepreneurship_interest"].to_numpy(dtype=object) == "business_plan"
        ).astype(np.float64),
        heavy_barriers=heavy,
        barrier=barrier,
        retention=retention,
    )


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


@dataclass(frozen=True)
class BaselineIndex:
    """Linear indices without any service: employed and in education at 6 months (against
    "neither"), and employed at 12 months."""

    employed_6m: np.ndarray
    education_6m: np.ndarray
    employed_12m: np.ndarray


def baseline_index(
    frame: pd.DataFrame, person: Person, motivation: np.ndarray | None = None
) -> BaselineIndex:
    """The no-service indices of each row (see the module docstring)."""
    p = person
    employability = _lookup(frame["education_level"], _EDUCATION_INDEX)
    employability += _lookup(frame["language_level"], _LANGUAGE_INDEX)
    employability += _lookup(frame["labour_market_status"], _STATUS_INDEX)
    for flag, weight in _BARRIER_INDEX.items():
        employability += weight * p.barrier[flag]
    employability += -0.5 * p.partial
    employability += -0.045 * np.minimum(p.months, 36.0)
    employability += -0.035 * np.maximum(p.age - 50.0, 0.0) - 0.01 * np.maximum(25.0 - p.age, 0.0)
    employability += 0.03 * np.minimum(
        frame["work_experience_years"].to_numpy(dtype=np.float64), 15.0
    )
    years = frame["assessment_date"].to_numpy(dtype="datetime64[Y]").astype(np.int64) + 1970
    employability += _lookup(pd.Series(years), _YEAR_INDEX, default=0.0)
    studying = (frame["labour_market_status"].to_numpy(dtype=object) == "full_time_student").astype(
        np.float64
    )
    education = (
        INTERCEPT_EDUCATION_6M
        + 1.3 * (p.age < 25)
        + 0.6 * ((p.age >= 25) & (p.age < 30))
        - 0.03 * np.maximum(p.age - 30.0, 0.0)
        + 0.3 * p.no_vocational * p.young
        - 0.4 * p.low_language
        + 2.5 * studying
        - 0.3 * p.heavy_barriers
    )
    if motivation is not None:
        employability = employability + MOTIVATION_OUTCOME_WEIGHT * motivation
        education = education + MOTIVATION_OUTCOME_WEIGHT * motivation
    return BaselineIndex(
        employed_6m=INTERCEPT_EMPLOYED_6M + employability,
        education_6m=education,
        employed_12m=INTERCEPT_EMPLOYED_12M + employability,
    )


def _lookup(
    values: pd.Series | np.ndarray, table: Mapping[Any, float], default: float | None = None
) -> np.ndarray:
    arr = np.asarray(values, dtype=object)
    out = np.full(arr.shape, np.nan if default is None else default, dtype=np.float64)
    for key, weight in table.items():
        out[arr == key] = weight
    if default is None and np.isnan(out).any():
        raise ValueError(f"unexpected value {arr[np.isnan(out)][0]!r} in the outcome model")
    return out


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


def effect_indices(
    person: Person, service_ids: Sequence[str]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Index shifts of each service: three arrays of shape (n_rows, n_services)."""
    n = len(person.age)
    shifts = [np.zeros((n, len(service_ids))) for _ in range(3)]
    for j, service_id in enumerate(service_ids):
        try:
            effect = SERVICE_EFFECTS[service_id]
        except KeyError:
            raise KeyError(
                f"the synthetic world defines no true effect for service {service_id!r}"
            ) from None
        for k, value in enumerate(effect(person)):
            shifts[k][:, j] = value
    return shifts[0], shifts[1], shifts[2]


def truth_probabilities(
    frame: pd.DataFrame,
    catalog: Catalog,
    *,
    motivation: np.ndarray | None = None,
    effect_scale: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """True outcome probabilities of every row under every service and under none.

    Parameters
    ----------
    frame : DataFrame
        A typed profile frame (at least `OUTCOME_SOURCE_COLUMNS`).
    catalog : Catalog
        Whose services to evaluate; each needs an entry in `SERVICE_EFFECTS`.
    motivation : array, optional
        The hidden motivation of each row, when the world has one; None means none (0).
    effect_scale : array (n_rows, n_services), optional
        A factor on each service's index shifts (the client's service history,
        `pipeline.synth.history`); None means 1.

    Returns
    -------
    dict of target -> float64 array (n_rows, n_services + 1), columns in
    `models.actions.action_ids(catalog.ids)` order ("none" last), for each outcome of
    `models.objectives.TRUTH_OUTCOMES`. Whatever the service,
    ``employment_or_education_6m == employed_6m + education_6m``.
    """
    person = person_facts(frame)
    base = baseline_index(frame, person, motivation)
    d_e6, d_ed6, d_e12 = effect_indices(person, catalog.ids)
    if effect_scale is not None:
        d_e6, d_ed6, d_e12 = (d * effect_scale for d in (d_e6, d_ed6, d_e12))
    zeros = np.zeros((len(frame), 1))
    eta_e = base.employed_6m[:, None] + np.hstack([d_e6, zeros])
    eta_ed = base.education_6m[:, None] + np.hstack([d_ed6, zeros])
    eta_12 = base.employed_12m[:, None] + np.hstack([d_e12, zeros])
    # Multinomial logit with "neither" as the reference state.
    exp_e, exp_ed = np.exp(eta_e), np.exp(eta_ed)
    denominator = 1.0 + exp_e + exp_ed
    employed = exp_e / denominator
    education = exp_ed / denominator
    return {
        "employed_6m": employed,
        "education_6m": education,
        "employment_or_education_6m": employed + education,
        "employed_12m": _sigmoid(eta_12),
    }


def draw_outcomes(
    truth: Mapping[str, np.ndarray],
    action: np.ndarray,
    rng: np.random.Generator,
    correlation: float = 0.6,
) -> dict[str, np.ndarray]:
    """Draw the logged 0/1 outcomes of the action taken in each row.

    The six-month state comes from one uniform draw (employed, in education or neither); the
    twelve-month draw is tied to it by a Gaussian copula with `correlation`, so the employed
    at six months are more often employed at twelve while each marginal stays exact.
    """
    rows = np.arange(len(action))
    p_e = truth["employed_6m"][rows, action]
    p_ed = truth["education_6m"][rows, action]
    p_12 = truth["employed_12m"][rows, action]
    z6 = rng.standard_normal(len(action))
    z12 = correlation * z6 + np.sqrt(1.0 - correlation**2) * rng.standard_normal(len(action))
    u6, u12 = ndtr(z6), ndtr(z12)
    employed = u6 < p_e
    education = ~employed & (u6 < p_e + p_ed)
    return {
        "employed_6m": employed.astype(np.int8),
        "education_6m": education.astype(np.int8),
        "employed_12m": (u12 < p_12).astype(np.int8),
    }
