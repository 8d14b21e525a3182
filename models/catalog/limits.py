"""Who may take what: each service's limits applied to profiles, on numpy arrays.

Each limit is written once (`allowed_by_limits`); a whole typed profile frame and one
profile (as arrays of length one) go through the same code, so serving and training cannot
disagree about who may take what.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

import numpy as np

from models.catalog.services import Service, ServiceLimits
from models.demographics import age_in_years, is_foreign_language, is_one_of
from models.profile import BARRIER_FLAGS, LANGUAGE_LEVELS

# Profile columns the limits read; allowed_frame needs only these.
LIMIT_COLUMNS: Final = (
    "birth_date",
    "assessment_date",
    "mother_tongue",
    "immigrant",
    "labour_market_status",
    "unemployment_benefit",
    "unemployment_months",
    "education_level",
    "language_level",
    "work_ability",
    "entrepreneurship_interest",
    *BARRIER_FLAGS,
)


def language_level_rank(levels: Any) -> np.ndarray:
    """Position of each language level in `LANGUAGE_LEVELS` (A0 = 0 ... native = 7)."""
    arr = np.asarray(levels, dtype=object)
    rank = np.full(arr.shape, -1, dtype=np.int64)
    for i, level in enumerate(LANGUAGE_LEVELS):
        rank[arr == level] = i
    if (rank < 0).any():
        bad = arr[rank < 0][0]
        raise ValueError(f"unknown language level {bad!r}")
    return rank


@dataclass(frozen=True, slots=True)
class _ProfileFacts:
    """The profile columns as the limits compare them, derived once for all services."""

    n: int
    age: np.ndarray
    foreign: np.ndarray
    months: np.ndarray
    partial: np.ndarray
    interest: np.ndarray
    status: np.ndarray
    benefit: np.ndarray
    education: np.ndarray
    level_rank: np.ndarray
    barriers: dict[str, np.ndarray]

    @classmethod
    def from_columns(cls, col: Mapping[str, Any]) -> _ProfileFacts:
        return cls(
            n=len(col["birth_date"]),
            age=age_in_years(
                np.asarray(col["birth_date"], dtype="datetime64[D]"),
                np.asarray(col["assessment_date"], dtype="datetime64[D]"),
            ),
            foreign=is_foreign_language(
                col["mother_tongue"], np.asarray(col["immigrant"], dtype=bool)
            ),
            months=np.asarray(col["unemployment_months"], dtype=np.int64),
            partial=np.asarray(col["work_ability"], dtype=object) == "partial",
            interest=np.asarray(col["entrepreneurship_interest"], dtype=object),
            status=np.asarray(col["labour_market_status"], dtype=object),
            benefit=np.asarray(col["unemployment_benefit"], dtype=object),
            education=np.asarray(col["education_level"], dtype=object),
            level_rank=language_level_rank(col["language_level"]),
            barriers={flag: np.asarray(col[flag], dtype=bool) for flag in BARRIER_FLAGS},
        )


def _allowed_by(lim: ServiceLimits, facts: _ProfileFacts) -> np.ndarray:
    """Which rows one service's limits let through: those where every limit it sets holds."""
    holds: list[np.ndarray] = []
    if lim.min_age is not None:
        holds.append(facts.age >= lim.min_age)
    if lim.max_age is not None:
        holds.append(facts.age <= lim.max_age)
    if lim.foreign_language_only:
        holds.append(facts.foreign)
    if lim.min_unemployment_months:
        holds.append(facts.months >= lim.min_unemployment_months)
    if lim.reduced_work_ability_only:
        holds.append(facts.partial)
    if lim.business_plan_required:
        holds.append(facts.interest == "business_plan")
    if lim.entrepreneurship_interest_required:
        holds.append(facts.interest != "none")
    if lim.requires_barrier:
        holds.append(np.logical_or.reduce([facts.barriers[b] for b in lim.requires_barrier]))
    if lim.labour_market_statuses:
        holds.append(is_one_of(facts.status, lim.labour_market_statuses))
    if lim.unemployment_benefits:
        holds.append(is_one_of(facts.benefit, lim.unemployment_benefits))
    if lim.education_levels:
        holds.append(is_one_of(facts.education, lim.education_levels))
    if lim.max_language_level is not None:
        holds.append(facts.level_rank <= LANGUAGE_LEVELS.index(lim.max_language_level))
    if not holds:
        return np.ones(facts.n, dtype=bool)
    return np.logical_and.reduce(holds)


def allowed_by_limits(services: Sequence[Service], columns: Mapping[str, Any]) -> np.ndarray:
    """Which services each row may take.

    Parameters
    ----------
    services : sequence of Service
        In the order of the result's columns.
    columns : mapping of str to array-like
        The `LIMIT_COLUMNS` as equal-length arrays.

    Returns
    -------
    ndarray of bool, shape (n_rows, n_services)
    """
    facts = _ProfileFacts.from_columns(columns)
    allowed = np.empty((facts.n, len(services)), dtype=bool)
    for j, service in enumerate(services):
        allowed[:, j] = _allowed_by(service.limits, facts)
    return allowed
