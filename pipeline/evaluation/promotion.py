"""The promotion rule: a challenger replaces the champion only if it is no worse for anyone.

Pure comparison of two evaluations made on the same held-out episodes (same data, same
split, same baselines): the challenger must not be worse on Polku's overall true policy
value, and in no group (age band, language group, gender, long-term unemployed) may its
policy value fall more than `group_tolerance` below the champion's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from pipeline.evaluation.results import EvaluationSummary

DEFAULT_GROUP_TOLERANCE: Final = 0.01
# Floating-point slack for "not worse": identical models evaluate to identical values, but
# sums in a different order may differ in the last bits.
VALUE_SLACK: Final = 1e-12


@dataclass(frozen=True, slots=True)
class GroupChange:
    """Polku's policy value in one group under the champion and under the challenger."""

    grouping: str
    group: str
    n: int
    champion: float
    challenger: float

    @property
    def change(self) -> float:
        return self.challenger - self.champion

    def to_json(self) -> dict[str, Any]:
        return {
            "grouping": self.grouping,
            "group": self.group,
            "n": self.n,
            "champion": self.champion,
            "challenger": self.challenger,
            "change": self.change,
        }


@dataclass(frozen=True)
class PromotionDecision:
    """Whether to promote, and why (one plain sentence per reason)."""

    promote: bool
    reasons: tuple[str, ...]
    champion_value: float
    challenger_value: float
    group_changes: tuple[GroupChange, ...]

    def to_json(self) -> dict[str, Any]:
        """Plain values for JSON and MLflow."""
        return {
            "promote": self.promote,
            "reasons": list(self.reasons),
            "champion_policy_value": self.champion_value,
            "challenger_policy_value": self.challenger_value,
            "group_changes": [change.to_json() for change in self.group_changes],
        }


def compare_evaluations(
    champion: EvaluationSummary,
    challenger: EvaluationSummary,
    group_tolerance: float = DEFAULT_GROUP_TOLERANCE,
) -> PromotionDecision:
    """Decide on promotion from two evaluation summaries of the same held-out episodes.

    Parameters
    ----------
    champion, challenger : EvaluationSummary
        `Evaluation.summary` of each model (its overall and per-group policy values).
    group_tolerance : float
        Largest allowed drop of Polku's policy value in any group (probability points / 100).

    Returns
    -------
    PromotionDecision
    """
    if group_tolerance < 0:
        raise ValueError(f"group_tolerance must not be negative, got {group_tolerance}")
    if champion.n_episodes != challenger.n_episodes:
        raise ValueError(
            "the two evaluations are not on the same held-out episodes "
            f"({champion.n_episodes} against {challenger.n_episodes})"
        )
    old = float(champion.policy_value.polku)
    new = float(challenger.policy_value.polku)
    reasons: list[str] = []
    if new < old - VALUE_SLACK:
        reasons.append(f"the challenger's policy value {new:.4f} is below the champion's {old:.4f}")
    changes: list[GroupChange] = []
    for grouping, table in champion.by_group.items():
        for group, entry in table.items():
            other = challenger.by_group.get(grouping, {}).get(group)
            if other is None:
                continue
            change = GroupChange(
                grouping,
                group,
                entry.n,
                float(entry.policy_value.polku),
                float(other.policy_value.polku),
            )
            changes.append(change)
            if change.change < -group_tolerance - VALUE_SLACK:
                reasons.append(
                    f"group {grouping}={group} (n={change.n}) loses {-change.change:.4f} "
                    f"(from {change.champion:.4f} to {change.challenger:.4f}), more than the "
                    f"tolerance {group_tolerance:g}"
                )
    promote = not reasons
    if promote:
        reasons.append(
            f"the challenger's policy value {new:.4f} is not below the champion's {old:.4f} "
            f"and no group loses more than {group_tolerance:g}"
        )
    return PromotionDecision(promote, tuple(reasons), old, new, tuple(changes))
