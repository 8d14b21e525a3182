"""The gate's decision: is a client Helsinki's, or the TE office's (docs/domain/RULES.md)?

The gate is the only part of Polku that decides on its own, so it follows predefined rules
with no discretion, and every decision says why, in Finnish, Swedish and English.

`assess_eligibility` decides one profile (the API); `assess_eligibility_frame` decides a
whole typed profile frame at once (training and batch scoring, no Python loop over rows).
Both hand their columns to the same `evaluate_rules`, one profile as arrays of length one,
so the two paths cannot disagree.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, Literal

import numpy as np
import pandas as pd

from models.eligibility.reasons import BENEFIT_NOTICE, Reason, reason
from models.eligibility.rule_sets import RuleSet, load_rule_sets
from models.eligibility.rules import (
    CONDITION_CODES,
    GATE_INPUT_COLUMNS,
    GROUP_CODES,
    RuleOutcomes,
    evaluate_rules,
)
from models.languages import LocalizedText
from models.profile import ClientProfile

REQUIRED_DATE_COLUMNS: Final = ("birth_date", "assessment_date")
REQUIRED_TEXT_COLUMNS: Final = (
    "home_municipality",
    "mother_tongue",
    "labour_market_status",
    "unemployment_benefit",
)

DECISION_COLUMNS: Final = (
    "eligible",
    "responsible_office",
    "target_groups",
    "failed_conditions",
    "reasons",
    "rules_version",
    "benefit_notice",
)

ResponsibleOffice = Literal["helsinki", "te_office"]


@dataclass(frozen=True, slots=True)
class EligibilityDecision:
    """The gate's decision for one profile.

    Attributes
    ----------
    eligible : bool
        True when every condition C1-C5 holds.
    responsible_office : {"helsinki", "te_office"}
        Helsinki's employment services when eligible, else the TE office.
    target_groups : tuple of str
        Every target group that holds (`GROUP_CODES` order), whether or not a condition fails.
    failed_conditions : tuple of str
        Every condition that fails (`CONDITION_CODES` order); empty when eligible.
    reasons : tuple of Reason
        One per failed condition, then one per target group that holds.
    rules_version : str
        The parameter set that decided.
    benefit_notice : LocalizedText
        That benefit decisions stay with the TE office: the gate never decides benefits.
    """

    eligible: bool
    responsible_office: ResponsibleOffice
    target_groups: tuple[str, ...]
    failed_conditions: tuple[str, ...]
    reasons: tuple[Reason, ...]
    rules_version: str
    benefit_notice: LocalizedText = BENEFIT_NOTICE


@functools.lru_cache(maxsize=4096)
def _decision(
    failed_conditions: tuple[str, ...], target_groups: tuple[str, ...], rules: RuleSet
) -> EligibilityDecision:
    """The decision for one outcome of the rules; few outcomes exist, so it is cached."""
    return EligibilityDecision(
        eligible=not failed_conditions,
        responsible_office="te_office" if failed_conditions else "helsinki",
        target_groups=target_groups,
        failed_conditions=failed_conditions,
        reasons=tuple(reason(code, rules) for code in failed_conditions + target_groups),
        rules_version=rules.version,
    )


def _decision_of(
    failed: Sequence[bool], holds: Sequence[bool], rules: RuleSet
) -> EligibilityDecision:
    """The decision for one row's flags: `failed` per condition code, `holds` per group code."""
    return _decision(
        tuple(c for c, f in zip(CONDITION_CODES, failed, strict=True) if f),
        tuple(g for g, h in zip(GROUP_CODES, holds, strict=True) if h),
        rules,
    )


def _distinct_outcomes(
    outcomes: RuleOutcomes, rule_sets: Sequence[RuleSet]
) -> tuple[np.ndarray, list[EligibilityDecision]]:
    """Number each row's outcome (rule set, failed conditions, groups) 0..k-1 and decide each
    of the k outcomes once: rows share few outcomes, so decisions are spread out, not redone.
    """
    table = pd.DataFrame(
        {
            "rule_set": outcomes.rule_set,
            **dict(zip(CONDITION_CODES, outcomes.failed.T, strict=True)),
            **dict(zip(GROUP_CODES, outcomes.groups.T, strict=True)),
        }
    )
    grouped = table.groupby(list(table.columns), sort=False)
    outcome_ids = grouped.ngroup().to_numpy()
    # `size()` lists the outcomes (rule set, failed..., groups...) in the order `ngroup`
    # numbers them.
    n_conditions = len(CONDITION_CODES)
    decisions = [
        _decision_of(key[1 : 1 + n_conditions], key[1 + n_conditions :], rule_sets[int(key[0])])
        for key in grouped.size().index
    ]
    return outcome_ids, decisions


def _gate_columns(frame: pd.DataFrame) -> dict[str, np.ndarray]:
    """The gate's columns as numpy arrays, refusing what would silently decide wrongly."""
    missing = [c for c in GATE_INPUT_COLUMNS if c not in frame.columns]
    if missing:
        raise ValueError(f"profile frame lacks the gate's columns: {', '.join(missing)}")
    columns: dict[str, np.ndarray] = {}
    for name in ("birth_date", "experiment_client_since", "assessment_date"):
        values = frame[name]
        if not pd.api.types.is_datetime64_any_dtype(values.dtype):
            values = pd.to_datetime(values)
        columns[name] = values.to_numpy().astype("datetime64[D]")
    for name in ("immigrant", "registered_jobseeker"):
        if not pd.api.types.is_bool_dtype(frame[name].dtype):
            raise ValueError(f"{name} must be a bool column, not {frame[name].dtype}")
        columns[name] = frame[name].to_numpy(dtype=bool)
    for name in REQUIRED_TEXT_COLUMNS:
        columns[name] = frame[name].to_numpy(dtype=object)
    # A missing value would pass for "not Helsinki" or "a foreign language": refuse it.
    missing_counts = {name: int(np.isnat(columns[name]).sum()) for name in REQUIRED_DATE_COLUMNS}
    missing_counts |= {name: int(frame[name].isna().sum()) for name in REQUIRED_TEXT_COLUMNS}
    for name, count in missing_counts.items():
        if count:
            raise ValueError(f"{name} is missing in {count} row(s) of the profile frame")
    return columns


def _profile_columns(profile: ClientProfile) -> dict[str, np.ndarray]:
    """The gate's columns of one profile, as arrays of length one."""
    return {
        "birth_date": np.array([profile.birth_date], dtype="datetime64[D]"),
        "home_municipality": np.array([profile.home_municipality], dtype=object),
        "mother_tongue": np.array([profile.mother_tongue], dtype=object),
        "immigrant": np.array([profile.immigrant], dtype=bool),
        "registered_jobseeker": np.array([profile.registered_jobseeker], dtype=bool),
        "labour_market_status": np.array([profile.labour_market_status], dtype=object),
        "unemployment_benefit": np.array([profile.unemployment_benefit], dtype=object),
        "experiment_client_since": np.array(
            [profile.experiment_client_since or "NaT"], dtype="datetime64[D]"
        ),
        "assessment_date": np.array([profile.assessment_date], dtype="datetime64[D]"),
    }


def _rule_sets(rules: RuleSet | None) -> tuple[RuleSet, ...]:
    return (rules,) if rules is not None else load_rule_sets()


def assess_eligibility(
    profile: ClientProfile, *, rules: RuleSet | None = None
) -> EligibilityDecision:
    """Decide whether one client belongs to Helsinki's employment services.

    Parameters
    ----------
    profile : ClientProfile
        A validated profile (see `models.profile_validation.parse_profile`).
    rules : RuleSet, optional
        Decide under this parameter set; by default the set in force on the assessment date.

    Returns
    -------
    EligibilityDecision

    Examples
    --------
    >>> import datetime as dt
    >>> p = ClientProfile(client_id="c1", birth_date=dt.date(2000, 1, 1),
    ...     home_municipality="091", mother_tongue="fi", immigrant=False,
    ...     registered_jobseeker=True, labour_market_status="unemployed",
    ...     unemployment_benefit="earnings_related_allowance",
    ...     assessment_date=dt.date(2023, 1, 2))
    >>> d = assess_eligibility(p)
    >>> d.eligible, d.target_groups, d.rules_version
    (True, ('under_30',), 'kuntakokeilu-amendment-2022')
    """
    sets = _rule_sets(rules)
    outcomes = evaluate_rules(_profile_columns(profile), sets)
    return _decision_of(outcomes.failed[0], outcomes.groups[0], sets[int(outcomes.rule_set[0])])


def assess_eligibility_frame(frame: pd.DataFrame, *, rules: RuleSet | None = None) -> pd.DataFrame:
    """Decide for every profile of a typed profile frame at once.

    Parameters
    ----------
    frame : pandas.DataFrame
        A typed profile frame (`models.profile_validation.parse_profile_frame(...).frame`, or
        any frame with the gate's columns: dates as datetime64, booleans as bool).
    rules : RuleSet, optional
        Decide every row under this set; by default each row's assessment date chooses.

    Returns
    -------
    pandas.DataFrame
        Index-aligned with `frame`; columns `DECISION_COLUMNS`, with the same values as
        `assess_eligibility` gives row by row (`target_groups`, `failed_conditions` and
        `reasons` as tuples, `benefit_notice` a `LocalizedText`).
    """
    sets = _rule_sets(rules)
    outcomes = evaluate_rules(_gate_columns(frame), sets)
    outcome_ids, decisions = _distinct_outcomes(outcomes, sets)

    def spread(attribute: str) -> np.ndarray:
        table = np.empty(len(decisions), dtype=object)
        for position, decision in enumerate(decisions):  # one pass per distinct outcome
            table[position] = getattr(decision, attribute)
        return table[outcome_ids]

    eligible = ~outcomes.failed.any(axis=1)
    return pd.DataFrame(
        {
            "eligible": eligible,
            "responsible_office": np.where(eligible, "helsinki", "te_office"),
            "target_groups": spread("target_groups"),
            "failed_conditions": spread("failed_conditions"),
            "reasons": spread("reasons"),
            "rules_version": spread("rules_version"),
            "benefit_notice": spread("benefit_notice"),
        },
        index=frame.index,
    )
