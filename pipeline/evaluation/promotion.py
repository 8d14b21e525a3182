"""The promotion rule: a challenger replaces the champion only if it is credibly no worse.

`compare_paired` is the rule `polku promote` applies. It needs no truth: on the same
held-out episodes, each policy's doubly robust (DR) term per episode (its outcome model's
value plus an importance-weighted correction, as `pipeline.effects.policy.policy_terms`
writes it) is differenced, episode by episode, and the mean difference gets a 95 % interval
whose influence terms are summed within clients (a person assessed twice counts once). The
challenger is promoted when

- overall, the lower bound of the 95 % interval of challenger minus champion is above
  ``-margin`` (the challenger is credibly no worse than the champion by more than the
  margin: a non-inferiority test, so a difference at noise level on enough episodes
  promotes, and an interval too wide to tell refuses), and
- no group (age band, language group, gender, long-term unemployed) of at least
  `min_group_episodes` episodes is credibly worse: the whole 95 % interval of its
  difference below ``-margin`` (its upper bound too). A group's interval is wide, so the
  overall test's reading (its lower bound below ``-margin``) would let noise in any group
  veto every challenger: on the tests' tiny world a group of 213 episodes at
  +0.013 [-0.012, +0.038] did. Smaller groups are reported but cannot block (two people
  cannot veto a model).

When the world provides the truth, the true values are carried beside the estimates (they
never decide). `compare_evaluations` is the older rule on true values alone, kept for
synthetic studies.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from pipeline.effects.estimators import RatioTerms, ratio_estimate
from pipeline.evaluation.promotion_defaults import DEFAULT_MARGIN, DEFAULT_MIN_GROUP_EPISODES
from pipeline.evaluation.results import EvaluationSummary

DEFAULT_GROUP_TOLERANCE: Final = 0.01
CRITERION: Final = "doubly_robust_paired_difference"
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
    difference: Difference | None = None

    @property
    def change(self) -> float:
        return self.challenger - self.champion

    def to_json(self) -> dict[str, Any]:
        head = {
            "grouping": self.grouping,
            "group": self.group,
            "n": self.n,
            "champion": self.champion,
            "challenger": self.challenger,
            "change": self.change,
        }
        if self.difference is None:
            return head
        return {**head, **self.difference.to_json()}


@dataclass(frozen=True, slots=True)
class Difference:
    """Challenger minus champion by the doubly robust estimate, with its paired interval.

    `n_clients` counts the clusters of the interval; `can_block` is whether the episodes
    reached the minimum size to block; `below_margin` whether it blocks (overall: `ci_low`
    below ``-margin``; a group: `ci_high` too); `true_change` the true difference when the
    world knows it.
    """

    estimate: float
    std_error: float
    ci_low: float
    ci_high: float
    n_clients: int
    can_block: bool
    below_margin: bool
    true_change: float | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "ci_low": self.ci_low,
            "ci_high": self.ci_high,
            "std_error": self.std_error,
            "n_clients": self.n_clients,
            "can_block": self.can_block,
            "below_margin": self.below_margin,
            "true_change": self.true_change,
        }


@dataclass(frozen=True)
class PromotionDecision:
    """Whether to promote, and why (one plain sentence per reason)."""

    promote: bool
    reasons: tuple[str, ...]
    champion_value: float
    challenger_value: float
    group_changes: tuple[GroupChange, ...]
    difference: Difference | None = None
    margin: float | None = None
    min_group_episodes: int | None = None
    true_values: tuple[float, float] | None = field(default=None)

    def to_json(self) -> dict[str, Any]:
        """Plain values for JSON and MLflow.

        The first five keys are those of every decision; a paired (doubly robust) decision
        adds the criterion, margin, minimum group size, the overall difference with its
        interval, and the true values (null without truth).
        """
        head = {
            "promote": self.promote,
            "reasons": list(self.reasons),
            "champion_policy_value": self.champion_value,
            "challenger_policy_value": self.challenger_value,
            "group_changes": [change.to_json() for change in self.group_changes],
        }
        if self.difference is None:
            return head
        true = self.true_values
        return {
            **head,
            "criterion": CRITERION,
            "margin": self.margin,
            "min_group_episodes": self.min_group_episodes,
            "difference": {
                "estimate": self.difference.estimate,
                **self.difference.to_json(),
            },
            "champion_true_policy_value": None if true is None else true[0],
            "challenger_true_policy_value": None if true is None else true[1],
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


@dataclass(frozen=True)
class PairedEpisodes:
    """Both policies on the same held-out episodes, one row per episode.

    Attributes
    ----------
    champion_dr, challenger_dr : float ndarray (n,)
        Each policy's doubly robust term per episode (their means are the DR values).
    clients : ndarray (n,)
        The client of each episode (the interval's clusters).
    groups : mapping of grouping to label ndarray (n,)
        The audit slices (`models.groupings.group_labels`).
    champion_true, challenger_true : float ndarray (n,), optional
        True outcome probability under each policy's choice, when the world knows it.
    """

    champion_dr: np.ndarray
    challenger_dr: np.ndarray
    clients: np.ndarray
    groups: Mapping[str, np.ndarray]
    champion_true: np.ndarray | None = None
    challenger_true: np.ndarray | None = None

    def __post_init__(self) -> None:
        n = len(self.champion_dr)
        if n == 0:
            raise ValueError("no held-out episodes to compare the two versions on")
        arrays: dict[str, npt.ArrayLike | None] = {
            "challenger_dr": self.challenger_dr,
            "clients": self.clients,
            "champion_true": self.champion_true,
            "challenger_true": self.challenger_true,
            **{f"groups[{name}]": labels for name, labels in self.groups.items()},
        }
        for name, array in arrays.items():
            if array is not None and len(np.asarray(array)) != n:
                raise ValueError(
                    f"{name} has {len(np.asarray(array))} rows, the champion's terms {n}: "
                    "the two versions must be compared on the same episodes"
                )


def _difference(
    paired: PairedEpisodes,
    codes: np.ndarray,
    mask: np.ndarray,
    margin: float,
    can_block: bool,
    *,
    whole_interval: bool = False,
) -> Difference:
    """The paired difference on `mask`; `below_margin` (blocking) when its lower bound is
    below ``-margin``, or with `whole_interval` (a group) when its upper bound is too."""
    n = len(paired.champion_dr)
    ones = np.ones(n)
    terms = RatioTerms(
        np.asarray(paired.challenger_dr, dtype=np.float64),
        ones,
        np.asarray(paired.champion_dr, dtype=np.float64),
        ones,
    )
    estimate = ratio_estimate("dr_difference", terms, mask, codes, "influence, cluster-robust")
    true_change = None
    if paired.champion_true is not None and paired.challenger_true is not None:
        true_change = float(
            np.mean(np.asarray(paired.challenger_true)[mask])
            - np.mean(np.asarray(paired.champion_true)[mask])
        )
    worse = bool((estimate.ci_high if whole_interval else estimate.ci_low) < -margin)
    return Difference(
        estimate=estimate.estimate,
        std_error=estimate.std_error,
        ci_low=estimate.ci_low,
        ci_high=estimate.ci_high,
        n_clients=int(np.unique(codes[mask]).size),
        can_block=can_block,
        below_margin=worse and can_block,
        true_change=true_change,
    )


def _figures(d: Difference) -> str:
    text = f"{d.estimate:+.4f} [95% CI {d.ci_low:+.4f}, {d.ci_high:+.4f}]"
    if d.true_change is not None:
        text += f" (true {d.true_change:+.4f})"
    return text


def compare_paired(
    paired: PairedEpisodes,
    margin: float = DEFAULT_MARGIN,
    min_group_episodes: int = DEFAULT_MIN_GROUP_EPISODES,
) -> PromotionDecision:
    """Decide on promotion from both policies' DR terms on the same held-out episodes.

    Parameters
    ----------
    paired : PairedEpisodes
    margin : float
        How much worse (policy value) the lower bound of the 95 % interval of challenger
        minus champion may be; 0 demands that the interval not lie below zero at all.
    min_group_episodes : int
        Groups with fewer held-out episodes are reported but cannot block.

    Returns
    -------
    PromotionDecision
        `reasons` always holds one sentence on the overall comparison and one on the
        groups.

    Examples
    --------
    >>> same = np.array([0.2, 0.4, 0.6, 0.8])
    >>> paired = PairedEpisodes(same, same, np.array(["a", "a", "b", "c"]), {})
    >>> compare_paired(paired).promote
    True
    """
    if margin < 0:
        raise ValueError(f"margin must not be negative, got {margin}")
    if min_group_episodes < 1:
        raise ValueError(f"min_group_episodes must be at least 1, got {min_group_episodes}")
    _, codes = np.unique(np.asarray(paired.clients).astype(str), return_inverse=True)
    n = len(paired.champion_dr)
    everyone = np.ones(n, dtype=bool)
    overall = _difference(paired, codes, everyone, margin, can_block=True)
    champion_value = float(np.mean(paired.champion_dr))
    challenger_value = float(np.mean(paired.challenger_dr))
    values = (
        f"doubly robust value {challenger_value:.4f} against the champion's {champion_value:.4f}"
    )
    true_values = None
    if paired.champion_true is not None and paired.challenger_true is not None:
        true_values = (
            float(np.mean(paired.champion_true)),
            float(np.mean(paired.challenger_true)),
        )
        values += f" (true {true_values[1]:.4f} against {true_values[0]:.4f})"
    verdict = (
        f"lower 95% bound below the margin -{margin:g}: not shown to be within the margin"
        if overall.below_margin
        else f"lower 95% bound above the margin -{margin:g}: not credibly worse"
    )
    # "below" as printed: a difference that rounds to zero is not called below.
    below = round(overall.estimate, 4) < 0
    relation = "is below the champion's" if below else "is not below the champion's"
    overall_reason = (
        f"overall: the challenger's {values} {relation}: difference {_figures(overall)} on "
        f"{n} episodes of {overall.n_clients} clients, {verdict}"
    )
    changes: list[GroupChange] = []
    blocking: list[GroupChange] = []
    too_small = 0
    for grouping, labels in paired.groups.items():
        text = np.asarray(labels).astype(str)
        for group in sorted(set(text.tolist())):
            mask = text == group
            size = int(mask.sum())
            can_block = size >= min_group_episodes
            too_small += not can_block
            change = GroupChange(
                grouping,
                group,
                size,
                float(np.mean(np.asarray(paired.champion_dr)[mask])),
                float(np.mean(np.asarray(paired.challenger_dr)[mask])),
                _difference(paired, codes, mask, margin, can_block, whole_interval=True),
            )
            changes.append(change)
            if change.difference is not None and change.difference.below_margin:
                blocking.append(change)
    checked = len(changes) - too_small
    if blocking:
        parts = [
            f"{c.grouping}={c.group} (n={c.n}) {_figures(c.difference)}"
            for c in blocking
            if c.difference is not None
        ]
        group_reason = (
            f"groups: {len(blocking)} of the {checked} groups of at least "
            f"{min_group_episodes} episodes are credibly worse (the whole 95% interval below "
            f"the margin -{margin:g}): " + "; ".join(parts)
        )
    else:
        group_reason = (
            f"groups: none of the {checked} groups of at least {min_group_episodes} "
            f"episodes is credibly worse (the whole 95% interval below the margin -{margin:g})"
        )
    if too_small:
        group_reason += f" ({too_small} smaller groups reported, not blocking)"
    promote = not overall.below_margin and not blocking
    return PromotionDecision(
        promote,
        (overall_reason, group_reason),
        champion_value,
        challenger_value,
        tuple(changes),
        overall,
        margin,
        min_group_episodes,
        true_values,
    )
