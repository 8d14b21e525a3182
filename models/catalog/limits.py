"""Who may take what: each service's limits applied to profiles, on numpy arrays.

Each limit is written once (`LimitTable.allowed`): the services' limits are compiled once
into arrays over the services, and every limit is one comparison of the rows' facts with
them, so a whole typed profile frame and one profile (arrays of length one) go through the
same code, with no per-service loop, and serving and training cannot disagree about who may
take what.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

import numpy as np

from models.catalog.services import ServiceLimits
from models.demographics import age_in_years, is_foreign_language
from models.profile import (
    BARRIER_FLAGS,
    EDUCATION_LEVELS,
    LABOUR_MARKET_STATUSES,
    LANGUAGE_LEVELS,
    UNEMPLOYMENT_BENEFITS,
)

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


def _code_index(values: np.ndarray, vocabulary: Sequence[str]) -> np.ndarray:
    """Each value's position in `vocabulary`; `len(vocabulary)` for a value outside it."""
    position = {value: i for i, value in enumerate(vocabulary)}
    lookup = np.frompyfunc(lambda v: position.get(v, len(vocabulary)), 1, 1)
    return np.asarray(lookup(values), dtype=np.int64)


def language_level_rank(levels: Any) -> np.ndarray:
    """Position of each language level in `LANGUAGE_LEVELS` (A0 = 0 ... native = 7)."""
    arr = np.asarray(levels, dtype=object)
    rank = _code_index(arr.ravel(), LANGUAGE_LEVELS).reshape(arr.shape)
    unknown = rank == len(LANGUAGE_LEVELS)
    if unknown.any():
        raise ValueError(f"unknown language level {arr[unknown][0]!r}")
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


def _value_table(allowed_lists: Sequence[tuple[str, ...]], vocabulary: Sequence[str]) -> np.ndarray:
    """(len(vocabulary) + 1, n_services): may a value take the service (last row: unknown)."""
    table = np.ones((len(vocabulary) + 1, len(allowed_lists)), dtype=bool)
    for j, allowed in enumerate(allowed_lists):
        if allowed:
            table[:, j] = [v in allowed for v in vocabulary] + [False]
    return table


@dataclass(frozen=True)
class LimitTable:
    """Every service's limits as arrays over the services, compiled once per catalog.

    A limit a service does not set is neutral (an age bound of -inf/+inf, a flag that is
    False, a value table that is all True), so each limit is one comparison between the
    rows' facts (n, 1) and the services' limits (1, m), alike for one profile and a frame.
    """

    min_age: np.ndarray
    max_age: np.ndarray
    foreign_only: np.ndarray
    min_months: np.ndarray
    partial_only: np.ndarray
    plan_only: np.ndarray
    interest_only: np.ndarray
    barrier_needed: np.ndarray
    barrier_ok: np.ndarray  # (len(BARRIER_FLAGS), m)
    status_ok: np.ndarray
    benefit_ok: np.ndarray
    education_ok: np.ndarray
    max_level: np.ndarray

    @classmethod
    def compile(cls, limits: Sequence[ServiceLimits]) -> LimitTable:
        def array(values: list[Any], dtype: Any) -> np.ndarray:
            return np.asarray(values, dtype=dtype)

        return cls(
            min_age=array([-np.inf if x.min_age is None else x.min_age for x in limits], float),
            max_age=array([np.inf if x.max_age is None else x.max_age for x in limits], float),
            foreign_only=array([x.foreign_language_only for x in limits], bool),
            min_months=array([x.min_unemployment_months for x in limits], np.int64),
            partial_only=array([x.reduced_work_ability_only for x in limits], bool),
            plan_only=array([x.business_plan_required for x in limits], bool),
            interest_only=array([x.entrepreneurship_interest_required for x in limits], bool),
            barrier_needed=array([bool(x.requires_barrier) for x in limits], bool),
            barrier_ok=array(
                [[flag in x.requires_barrier for x in limits] for flag in BARRIER_FLAGS], bool
            ).reshape(len(BARRIER_FLAGS), len(limits)),
            status_ok=_value_table(
                [x.labour_market_statuses for x in limits], LABOUR_MARKET_STATUSES
            ),
            benefit_ok=_value_table(
                [x.unemployment_benefits for x in limits], UNEMPLOYMENT_BENEFITS
            ),
            education_ok=_value_table([x.education_levels for x in limits], EDUCATION_LEVELS),
            max_level=array(
                [
                    len(LANGUAGE_LEVELS)
                    if x.max_language_level is None
                    else LANGUAGE_LEVELS.index(x.max_language_level)
                    for x in limits
                ],
                np.int64,
            ),
        )

    def checks(self, facts: _ProfileFacts) -> dict[str, np.ndarray]:
        """Each limit's test, (n_rows, n_services) each, under its `ServiceLimits` field name.

        A service that does not set a limit passes its test; `allowed` is all of them.
        """

        def column(values: np.ndarray) -> np.ndarray:
            return np.asarray(values).reshape(-1, 1)

        barriers = np.column_stack([facts.barriers[flag] for flag in BARRIER_FLAGS])
        has_barrier = (barriers.astype(np.uint8) @ self.barrier_ok.astype(np.uint8)) > 0
        return {
            "min_age": column(facts.age) >= self.min_age,
            "max_age": column(facts.age) <= self.max_age,
            "foreign_language_only": ~self.foreign_only | column(facts.foreign),
            "min_unemployment_months": column(facts.months) >= self.min_months,
            "reduced_work_ability_only": ~self.partial_only | column(facts.partial),
            "business_plan_required": ~self.plan_only | column(facts.interest == "business_plan"),
            "entrepreneurship_interest_required": ~self.interest_only
            | column(facts.interest != "none"),
            "requires_barrier": ~self.barrier_needed | has_barrier,
            "labour_market_statuses": self.status_ok[
                _code_index(facts.status, LABOUR_MARKET_STATUSES)
            ],
            "unemployment_benefits": self.benefit_ok[
                _code_index(facts.benefit, UNEMPLOYMENT_BENEFITS)
            ],
            "education_levels": self.education_ok[_code_index(facts.education, EDUCATION_LEVELS)],
            "max_language_level": column(facts.level_rank) <= self.max_level,
        }

    def allowed(self, facts: _ProfileFacts) -> np.ndarray:
        """(n_rows, n_services): where every limit a service sets holds."""
        return all_hold(self.checks(facts))


def all_hold(checks: Mapping[str, np.ndarray]) -> np.ndarray:
    """Where every one of `LimitTable.checks`' tests holds (the services a row may take)."""
    tests = iter(checks.values())
    out = np.array(next(tests), dtype=bool)
    for test in tests:
        out &= test
    return out


@dataclass(frozen=True, slots=True)
class LimitVerdicts:
    """One client's limit tests for every service, checked once (`Catalog.verdicts`).

    `allowed` is what `Catalog.allowed` answers; `closed_on()` names, per service (catalog
    order), the limits it closes on, what `Catalog.failed_limits` answers, from the same
    tests, so the ranking and the reasons for what it leaves out cannot disagree.
    """

    names: tuple[str, ...]
    passed: np.ndarray  # (n_limits, n_services) bool, in the order of `names`
    allowed: np.ndarray  # (n_services,) bool: every limit holds

    @classmethod
    def of(cls, checks: Mapping[str, np.ndarray]) -> LimitVerdicts:
        """From `LimitTable.checks` of one row."""
        passed = np.vstack([test[0] for test in checks.values()])
        return cls(tuple(checks), passed, all_hold(checks)[0])

    def closed_on(self) -> tuple[tuple[str, ...], ...]:
        """Per service, the limits that fail, in `LimitTable.checks` order (empty: allowed)."""
        # Plain lists: a few hundred booleans read faster in Python than by numpy calls.
        by_service = self.passed.T.tolist()
        return tuple(
            () if ok else tuple(n for n, held in zip(self.names, row, strict=True) if not held)
            for ok, row in zip(self.allowed.tolist(), by_service, strict=True)
        )


def profile_facts(columns: Mapping[str, Any]) -> _ProfileFacts:
    """The `LIMIT_COLUMNS` (equal-length arrays) as the limits compare them."""
    return _ProfileFacts.from_columns(columns)
