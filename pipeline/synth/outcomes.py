"""The synthetic world's outcome model: the true outcome probabilities under every service.

A structural model, the same for every episode, written once on numpy arrays:

- at six months a person is in one of three states: employed, in (degree) education, or
  neither. A multinomial logit gives their probabilities, so `employed_6m` and
  `education_6m` are never both 1 and P(employment or education) = P(employed) + P(in
  education), coherently;
- employment at twelve months is a separate logit;
- the baseline (no service) index depends on age, education, unemployment length,
  labour-market status, barriers, work ability, Finnish/Swedish level and the year;
- a service adds to these indices through what it addresses
  (`pipeline.synth.service_effects.SERVICE_EFFECTS`): a language
  course only for a low language level, debt advice through debt problems, a start-up grant
  for those with a business plan, ...; long programmes lock in (lower index at six months,
  higher at twelve). Effects are small on the probability scale (a few points), as in the
  evidence of SERVICES.md; the health check has none.

`truth_probabilities` returns these probabilities for any typed profile frame; evaluation uses
them, training never does. A scenario (`pipeline.synth.scenarios`) can swap the table of
service effects for one of other shapes, or split services into variants.
`docs/DATA_CARD.md` describes the structure in words.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import pandas as pd
from scipy.special import ndtr

from models.catalog import Catalog
from models.profile import LANGUAGE_LEVELS
from pipeline.synth.person import (
    HEAVY_BARRIERS,
    OUTCOME_BARRIERS,
    OUTCOME_SOURCE_COLUMNS,
    Person,
    person_facts,
    sigmoid,
)
from pipeline.synth.scenarios import SCENARIOS, Scenario
from pipeline.synth.service_effects import SERVICE_EFFECTS, effect_indices

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
_BARRIER_INDEX: Final = dict(
    zip(OUTCOME_BARRIERS, (-0.5, -0.6, -0.7, -0.2, -0.4, -0.3, -0.2, -0.3), strict=True)
)
_YEAR_INDEX: Final = {2021: -0.15, 2022: 0.1, 2023: 0.0}


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


def truth_probabilities(
    frame: pd.DataFrame,
    catalog: Catalog,
    *,
    motivation: np.ndarray | None = None,
    scenario: Scenario = SCENARIOS["baseline"],
) -> dict[str, np.ndarray]:
    """True outcome probabilities of every row under every service and under none.

    Parameters
    ----------
    frame : DataFrame
        A typed profile frame (at least `OUTCOME_SOURCE_COLUMNS`).
    catalog : Catalog
        Whose services to evaluate; each needs an entry in `SERVICE_EFFECTS` (or, in a
        scenario that splits services, to be a variant of one).
    motivation : array, optional
        The hidden motivation of each row, when the world has one; None means none (0).
    scenario : Scenario
        Which shapes the service effects take (default: baseline).

    Returns
    -------
    dict of target -> float64 array (n_rows, n_services + 1), columns in
    `models.actions.action_ids(catalog.ids)` order ("none" last), for each outcome of
    `models.objectives.TRUTH_OUTCOMES`. Whatever the service,
    ``employment_or_education_6m == employed_6m + education_6m``.
    """
    person = person_facts(frame)
    base = baseline_index(frame, person, motivation)
    d_e6, d_ed6, d_e12 = effect_indices(person, catalog.ids, scenario)
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
        "employed_12m": sigmoid(eta_12),
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


__all__ = [
    "HEAVY_BARRIERS",
    "OUTCOME_SOURCE_COLUMNS",
    "SERVICE_EFFECTS",
    "Person",
    "baseline_index",
    "draw_outcomes",
    "person_facts",
    "truth_probabilities",
]
