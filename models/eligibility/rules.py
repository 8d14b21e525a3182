"""The gate's rules (docs/domain/RULES.md): conditions C1-C5 and the target groups.

Every rule works on numpy arrays, so the same functions decide a whole frame at once and one
profile as arrays of length one; `evaluate_rules` applies them all, each row under its own
parameter set, and says which conditions fail and which groups hold, as plain bool arrays.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Final, TypeVar

import numpy as np

from models.demographics import age_in_years, is_foreign_language, is_one_of
from models.eligibility.rule_sets import RuleSet, rule_set_index

# Condition codes in the order of docs/domain/RULES.md (C1-C5).
OUTSIDE_EXPERIMENT_PERIOD: Final = "outside_experiment_period"
NOT_HELSINKI_RESIDENT: Final = "not_helsinki_resident"
NOT_REGISTERED_JOBSEEKER: Final = "not_registered_jobseeker"
STATUS_NOT_COVERED: Final = "status_not_covered"
NO_TARGET_GROUP: Final = "no_target_group"
CONDITION_CODES: Final = (
    OUTSIDE_EXPERIMENT_PERIOD,
    NOT_HELSINKI_RESIDENT,
    NOT_REGISTERED_JOBSEEKER,
    STATUS_NOT_COVERED,
    NO_TARGET_GROUP,
)

# Target group codes in the order of docs/domain/RULES.md §2.
NO_EARNINGS_RELATED_ALLOWANCE: Final = "no_earnings_related_allowance"
UNDER_30: Final = "under_30"
FOREIGN_LANGUAGE: Final = "foreign_language"
CONTINUING_CLIENT: Final = "continuing_client"
GROUP_CODES: Final = (NO_EARNINGS_RELATED_ALLOWANCE, UNDER_30, FOREIGN_LANGUAGE, CONTINUING_CLIENT)

# Profile columns the rules read; need fields and gender are deliberately absent.
GATE_INPUT_COLUMNS: Final = (
    "birth_date",
    "home_municipality",
    "mother_tongue",
    "immigrant",
    "registered_jobseeker",
    "labour_market_status",
    "unemployment_benefit",
    "experiment_client_since",
    "assessment_date",
)


def inside_experiment_period(
    assessment_date: np.ndarray, period_start: np.ndarray, period_end: np.ndarray
) -> np.ndarray:
    """C1: the assessment date lies inside the experiment period (both ends included)."""
    return np.asarray((assessment_date >= period_start) & (assessment_date <= period_end))


def lives_in_municipality(home_municipality: np.ndarray, municipality: str) -> np.ndarray:
    """C2: the home municipality (kotikunta) is the experiment area's."""
    return np.asarray(home_municipality == municipality, dtype=bool)


def is_registered_jobseeker(registered_jobseeker: np.ndarray) -> np.ndarray:
    """C3: registered as a job seeker at the TE office."""
    return np.asarray(registered_jobseeker, dtype=bool)


def has_covered_status(labour_market_status: np.ndarray, covered: Sequence[str]) -> np.ndarray:
    """C4: the labour-market status is one the experiment covers."""
    return is_one_of(labour_market_status, covered)


def has_no_earnings_related_allowance(
    unemployment_benefit: np.ndarray, earnings_related_benefit: str
) -> np.ndarray:
    """Group: not entitled to earnings-related allowance (any other benefit, or none)."""
    return np.asarray(unemployment_benefit != earnings_related_benefit, dtype=bool)


def is_under_age_limit(
    birth_date: np.ndarray, assessment_date: np.ndarray, age_limit: np.ndarray
) -> np.ndarray:
    """Group: younger than the age limit on the assessment date."""
    return np.asarray(age_in_years(birth_date, assessment_date) < age_limit)


def is_foreign_language_speaker(mother_tongue: np.ndarray, immigrant: np.ndarray) -> np.ndarray:
    """Group: mother tongue not a national language, or an immigrant (models.demographics)."""
    return is_foreign_language(mother_tongue, immigrant)


def is_continuing_client(
    experiment_client_since: np.ndarray, assessment_date: np.ndarray
) -> np.ndarray:
    """Group: already a client of the experiment on the assessment date."""
    since = np.asarray(experiment_client_since, dtype="datetime64[D]")
    return np.asarray(~np.isnat(since) & (since <= assessment_date))


@dataclass(frozen=True, slots=True)
class RuleOutcomes:
    """What the rules found for each of n rows.

    Attributes
    ----------
    failed : ndarray of bool, shape (n, len(CONDITION_CODES))
        Column k is True where condition `CONDITION_CODES[k]` fails.
    groups : ndarray of bool, shape (n, len(GROUP_CODES))
        Column k is True where target group `GROUP_CODES[k]` holds.
    rule_set : ndarray of intp, shape (n,)
        Position of the deciding parameter set in the `rule_sets` evaluated under.
    """

    failed: np.ndarray
    groups: np.ndarray
    rule_set: np.ndarray


_H = TypeVar("_H", bound=Hashable)


def _per_rule_set(
    set_index: np.ndarray,
    rule_sets: Sequence[RuleSet],
    parameter: Callable[[RuleSet], _H],
    rule: Callable[[_H], np.ndarray],
) -> np.ndarray:
    """Apply `rule` with each row's own parameter value, once per distinct value."""
    values = [parameter(s) for s in rule_sets]
    distinct = list(dict.fromkeys(values))
    if len(distinct) == 1:
        return rule(distinct[0])
    result = np.zeros(set_index.shape, dtype=bool)
    for value in distinct:
        rows = np.isin(set_index, [k for k, v in enumerate(values) if v == value])
        result[rows] = rule(value)[rows]
    return result


def evaluate_rules(columns: Mapping[str, np.ndarray], rule_sets: Sequence[RuleSet]) -> RuleOutcomes:
    """Apply every rule to every row, each row under the set its assessment date chooses.

    Parameters
    ----------
    columns : mapping of str to ndarray
        The `GATE_INPUT_COLUMNS` as equal-length arrays: dates as datetime64[D] (NaT for no
        `experiment_client_since`), flags as bool, text as object.
    rule_sets : sequence of RuleSet
        The sets to choose from, oldest `in_force_from` first.
    """
    date = columns["assessment_date"]
    index = rule_set_index(date, rule_sets)
    start = np.array([s.period_start for s in rule_sets], dtype="datetime64[D]")[index]
    end = np.array([s.period_end for s in rule_sets], dtype="datetime64[D]")[index]
    age_limit = np.array([s.youth_age_limit for s in rule_sets], dtype=np.int64)[index]

    def by_set(parameter: Callable[[RuleSet], _H], rule: Callable[[_H], np.ndarray]) -> np.ndarray:
        return _per_rule_set(index, rule_sets, parameter, rule)

    groups = (
        by_set(
            lambda s: s.earnings_related_benefit,
            lambda b: has_no_earnings_related_allowance(columns["unemployment_benefit"], b),
        ),
        is_under_age_limit(columns["birth_date"], date, age_limit),
        is_foreign_language_speaker(columns["mother_tongue"], columns["immigrant"]),
        is_continuing_client(columns["experiment_client_since"], date),
    )
    holds = (
        inside_experiment_period(date, start, end),
        by_set(
            lambda s: s.home_municipality,
            lambda m: lives_in_municipality(columns["home_municipality"], m),
        ),
        is_registered_jobseeker(columns["registered_jobseeker"]),
        by_set(
            lambda s: s.covered_statuses,
            lambda c: has_covered_status(columns["labour_market_status"], c),
        ),
        np.logical_or.reduce(groups),  # C5: at least one target group
    )
    return RuleOutcomes(
        failed=~np.column_stack(holds),
        groups=np.column_stack(groups),
        rule_set=index,
    )
