"""What if Polku had been followed: off-policy value of a policy against logged practice.

The logged practice is what caseworkers did; its value is the mean observed reward. A target
policy (Polku's top-1 suggestion) is valued from the same episodes with the estimators of
`pipeline.evaluation.metrics` (IPS, self-normalised IPS, doubly robust), which need the
logging propensity of each logged choice. Here each of them is written per episode, as ratio
terms (`pipeline.effects.estimators.RatioTerms`), which adds what the evaluation report does
not have: intervals (influence function, summed within clients), the gain over logged
practice with its own interval (the two share episodes, so the gain's interval is not the
difference of the two intervals), and the same by group.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final

import numpy as np
import numpy.typing as npt

from pipeline.effects.estimators import Estimate, RatioTerms, ratio_estimate
from pipeline.evaluation import metrics

POLICY_ESTIMATORS: Final = ("ips", "snips", "dr")
POLICY_LABELS: Final = {
    "ips": "IPS",
    "snips": "SNIPS (self-normalised)",
    "dr": "doubly robust",
}
MIN_MATCHED: Final = 30
MIN_GROUP_EPISODES: Final = 50


def policy_terms(
    reward: npt.ArrayLike,
    logged_action: npt.ArrayLike,
    propensity: npt.ArrayLike,
    target_choice: npt.ArrayLike,
    predicted: npt.ArrayLike,
) -> tuple[dict[str, RatioTerms], dict[str, RatioTerms], RatioTerms]:
    """Per-episode terms of the policy's value, of its gain over logged practice, and of the
    logged value.

    Parameters
    ----------
    reward : observed reward of each episode, shape (n,)
    logged_action : action index the caseworker took, shape (n,)
    propensity : probability the logging policy gave that action, in (0, 1], shape (n,)
    target_choice : action index the evaluated policy takes, shape (n,)
    predicted : outcome model's predicted reward under each action, shape (n, n_actions)

    Returns
    -------
    (values, gains, logged): `values[name]` and `gains[name]` for each of
    `POLICY_ESTIMATORS`, and the logged value's terms.
    """
    r = np.asarray(reward, dtype=np.float64)
    logged = np.asarray(logged_action, dtype=np.int64)
    target = np.asarray(target_choice, dtype=np.int64)
    q = np.asarray(predicted, dtype=np.float64)
    prob = np.asarray(propensity, dtype=np.float64)
    n = r.size
    if not (logged.shape == target.shape == prob.shape == (n,)) or q.shape[0] != n:
        raise ValueError(
            "reward, actions, propensity and predictions must have one row per episode"
        )
    if not np.all((prob > 0) & (prob <= 1)):
        bad = int(np.flatnonzero(~((prob > 0) & (prob <= 1)))[0])
        raise ValueError(f"propensity of episode {bad + 1} is {prob[bad]}, not in (0, 1]")
    weight = metrics.importance_weights(logged, prob, target)
    rows = np.arange(n)
    dr = q[rows, target] + weight * (r - q[rows, logged])
    ones, zeros = np.ones(n), np.zeros(n)
    values = {
        "ips": RatioTerms(weight * r, ones, zeros, ones),
        "snips": RatioTerms(weight * r, weight, zeros, ones),
        "dr": RatioTerms(dr, ones, zeros, ones),
    }
    gains = {
        "ips": RatioTerms(weight * r, ones, r, ones),
        "snips": RatioTerms(weight * r, weight, r, ones),
        "dr": RatioTerms(dr, ones, r, ones),
    }
    return values, gains, RatioTerms(r, ones, zeros, ones)


@dataclass(frozen=True)
class PolicyEstimates:
    """A policy's estimated value and gain over logged practice, on some episodes.

    Attributes
    ----------
    n_episodes : episodes used
    n_matched : episodes where the caseworker did what the policy would have done
    logged_value : mean observed reward (logged practice)
    values, gains : per estimator of `POLICY_ESTIMATORS`
    true_value, true_logged_value : the truth, when the world is synthetic
    warnings : what makes the numbers fragile
    """

    n_episodes: int
    n_matched: int
    logged_value: Estimate
    values: dict[str, Estimate]
    gains: dict[str, Estimate]
    true_value: float | None = None
    true_logged_value: float | None = None
    warnings: tuple[str, ...] = field(default=())

    @property
    def true_gain(self) -> float | None:
        """True value minus true logged value, when both are known."""
        if self.true_value is None or self.true_logged_value is None:
            return None
        return self.true_value - self.true_logged_value

    def to_dict(self) -> dict[str, object]:
        return {
            "n_episodes": self.n_episodes,
            "n_matched": self.n_matched,
            "logged_value": self.logged_value.to_dict(),
            "values": {k: v.to_dict() for k, v in self.values.items()},
            "gains": {k: v.to_dict() for k, v in self.gains.items()},
            "true_value": self.true_value,
            "true_logged_value": self.true_logged_value,
            "true_gain": self.true_gain,
            "warnings": list(self.warnings),
        }


@dataclass(frozen=True)
class PolicyEvaluation:
    """A policy against logged practice, overall and by group.

    `n_unobserved` counts the episodes left out because their reward is not yet observed
    (a censored register); they are in none of the estimates.
    """

    overall: PolicyEstimates
    by_group: dict[str, dict[str, PolicyEstimates]]
    n_unobserved: int = 0

    def to_dict(self) -> dict[str, object]:
        return {
            "n_unobserved_episodes": self.n_unobserved,
            "overall": self.overall.to_dict(),
            "by_group": {
                g: {level: e.to_dict() for level, e in levels.items()}
                for g, levels in self.by_group.items()
            },
        }


def _estimates(
    values: Mapping[str, RatioTerms],
    gains: Mapping[str, RatioTerms],
    logged: RatioTerms,
    matched: np.ndarray,
    mask: np.ndarray,
    clusters: np.ndarray | None,
    truth: tuple[np.ndarray, np.ndarray] | None,
) -> PolicyEstimates:
    n_matched = int((matched & mask).sum())
    warnings = []
    if n_matched < MIN_MATCHED:
        warnings.append(
            f"Only {n_matched} episodes in which the caseworker chose what the policy would "
            f"have (fewer than {MIN_MATCHED}): IPS and SNIPS rest on very few people, and "
            "the doubly robust value mostly on the outcome model."
        )
    method = "influence function" + (", cluster-robust" if clusters is not None else "")
    return PolicyEstimates(
        n_episodes=int(mask.sum()),
        n_matched=n_matched,
        logged_value=ratio_estimate("logged", logged, mask, clusters, method),
        values={k: ratio_estimate(k, t, mask, clusters, method) for k, t in values.items()},
        gains={k: ratio_estimate(k, t, mask, clusters, method) for k, t in gains.items()},
        true_value=None if truth is None else float(truth[0][mask].mean()),
        true_logged_value=None if truth is None else float(truth[1][mask].mean()),
        warnings=tuple(warnings),
    )


def evaluate_policy(
    reward: npt.ArrayLike,
    logged_action: npt.ArrayLike,
    propensity: npt.ArrayLike,
    target_choice: npt.ArrayLike,
    predicted: npt.ArrayLike,
    *,
    clusters: npt.ArrayLike | None = None,
    groups: Mapping[str, np.ndarray] | None = None,
    true_outcomes: npt.ArrayLike | None = None,
) -> PolicyEvaluation:
    """Value a policy against logged practice, with intervals, overall and by group.

    Parameters
    ----------
    reward, logged_action, propensity, target_choice, predicted : see `policy_terms`
    clusters : optional id per episode (a client); intervals sum influence within them
    groups : optional label arrays keyed by grouping (e.g. `age_band`)
    true_outcomes : optional true probability of the reward under each action, shape
        (n, n_actions), to report the true values beside the estimates (synthetic worlds)

    Examples
    --------
    >>> r = np.array([1.0, 0.0, 1.0, 0.0]); logged = np.array([0, 1, 0, 1])
    >>> q = np.full((4, 2), 0.5)
    >>> ev = evaluate_policy(r, logged, np.full(4, 0.5), np.zeros(4, dtype=int), q)
    >>> ev.overall.values["ips"].estimate, ev.overall.logged_value.estimate
    (1.0, 0.5)
    """
    values, gains, logged = policy_terms(
        reward, logged_action, propensity, target_choice, predicted
    )
    target = np.asarray(target_choice, dtype=np.int64)
    matched = np.asarray(logged_action, dtype=np.int64) == target
    codes = None
    if clusters is not None:
        _, codes = np.unique(np.asarray(clusters), return_inverse=True)
    truth = None
    if true_outcomes is not None:
        t = np.asarray(true_outcomes, dtype=np.float64)
        rows = np.arange(t.shape[0])
        truth = (t[rows, target], t[rows, np.asarray(logged_action, dtype=np.int64)])
    everyone = np.ones(target.size, dtype=bool)
    overall = _estimates(values, gains, logged, matched, everyone, codes, truth)
    by_group: dict[str, dict[str, PolicyEstimates]] = {}
    for grouping, labels in (groups or {}).items():
        text = np.asarray(labels).astype(str)
        by_group[grouping] = {
            level: _estimates(values, gains, logged, matched, text == level, codes, truth)
            for level in sorted(set(text.tolist()))
            if int((text == level).sum()) >= MIN_GROUP_EPISODES
        }
    return PolicyEvaluation(overall, by_group)
