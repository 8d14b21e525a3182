"""The profile facts the synthetic world's outcome model reads, as float arrays.

`person_facts` turns a typed profile frame into a `Person` once; the baseline index
(`pipeline.synth.outcomes`) and every table of service effects (`pipeline.synth.service_effects`)
read these facts, so a threshold such as "12+ months unemployed" is written in one place.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import numpy as np
import pandas as pd

from models.catalog import language_level_rank
from models.demographics import age_in_years
from models.profile import LANGUAGE_LEVELS

# The barrier flags the outcome model reads (their weights: `pipeline.synth.outcomes`).
OUTCOME_BARRIERS: Final = (
    "health_limitations",
    "mental_health_needs",
    "substance_use",
    "debt_problems",
    "housing_insecurity",
    "caregiving_duties",
    "low_digital_skills",
    "outdated_skills",
)
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
    *OUTCOME_BARRIERS,
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
    language_rank: np.ndarray  # position in LANGUAGE_LEVELS (A0 = 0, native last)
    experience_years: np.ndarray  # years of work experience


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
    experience = frame["work_experience_years"].to_numpy(dtype=np.float64)
    level = language_level_rank(frame["language_level"].to_numpy())
    education = frame["education_level"].to_numpy(dtype=object)
    barrier = {b: frame[b].to_numpy(dtype=bool).astype(np.float64) for b in OUTCOME_BARRIERS}
    heavy = np.sum([barrier[b] for b in HEAVY_BARRIERS], axis=0)
    low_language = (level <= LANGUAGE_LEVELS.index("A2")).astype(np.float64)
    low_education = np.isin(education, ("none", "basic")).astype(np.float64)
    retention = sigmoid(
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
        little_experience=(experience < 2).astype(np.float64),
        business_plan=(
            frame["entrepreneurship_interest"].to_numpy(dtype=object) == "business_plan"
        ).astype(np.float64),
        heavy_barriers=heavy,
        barrier=barrier,
        retention=retention,
        language_rank=level.astype(np.float64),
        experience_years=experience,
    )


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))
