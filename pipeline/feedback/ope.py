"""Off-policy estimates of a suggestion policy from logs with the logged probabilities.

One source for both users: `polku evaluate-feedback` on real feedback episodes
(`pipeline.feedback.evaluate`) and the simulated loop (`pipeline.loop.simulate`).

The quantity is the value of *showing* a policy's choice first, with the caseworkers as
they are (they follow or not): an intent-to-treat value, which is what a suggestion
policy can deliver. Because Polku drew what it showed with known probabilities, inverse
probability weighting is unbiased wherever the evaluated policy's choice had a positive
logged probability; where it had none (no exploration, or a service outside the drawn
candidates) nothing in the logs speaks for it, and `support` says how often that was.

- IPW: the mean of `1{shown = policy} / p(shown) * reward`;
- DR: adds a model of the suggestion's value, `q(x, a) = f * m(x, a) + (1 - f) * ybar`,
  with `m` the evaluated model's predicted outcome of taking `a`, `f` the logged follow
  rate and `ybar` the mean reward of the overridden: the direct term covers rows without
  support, the weighted residual corrects it where there is support.

Both come with a normal 95 % interval from the per-row terms' standard error.

The policy judged must not have been learnt from the rows that judge it. A model retrained
on a period's logs prefers, client by client, what happened to work in those logs; judged
on the same rows its estimates are flattered (the simulated loop at follow 0.9: the next
model's IPW +1.6 points, 0.7 standard errors, DR +0.9; cross-fitted -0.4 and -0.4,
BENCHMARKS.md `learning_loop_cf_follow90`). The logged probability is the right weight
(the served model, judged on rows it did not learn from, is unbiased with honest standard
errors) and persons' repeated episodes barely widen the standard error (clustered by
person: 1.01 times). `person_folds` and `by_own_fold` cross-fit: the rows of each fold
are judged by the model fitted without that fold, all of a person's episodes in one fold
(the ranker learns a person from each of them); `estimate(..., folds)` then bounds the
standard error for the folds' correlated errors.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import numpy as np

from models.ranker.nuisances import client_folds

Z95: Final = 1.959963984540054


@dataclass(frozen=True)
class Estimate:
    """One off-policy estimate with its 95 % interval and the share of supported rows."""

    value: float
    low: float
    high: float
    support: float

    def covers(self, truth: float) -> bool:
        return self.low <= truth <= self.high


def estimate(terms: np.ndarray, support: float, folds: np.ndarray | None = None) -> Estimate:
    """The mean of per-row terms with its normal 95 % interval.

    With `folds` (the rows were judged cross-fitted, `person_folds`), the standard error is
    bounded by the folds' own, weighted by their shares of the rows: each fold's mean is
    unbiased, but the folds' errors are correlated (fold A's policy was chosen where A's
    outcomes were high, and A's outcomes judge fold B's policy, which B's outcomes chose;
    an unstable learner makes the correlation strong), and `sd(sum w_f e_f) <= sum w_f
    sd(e_f)` whatever the correlation. About sqrt(n_folds) wider than the rows taken as
    independent.
    """
    value = float(terms.mean()) if len(terms) else float("nan")
    if folds is None:
        se = _standard_error(terms)
    else:
        if len(folds) != len(terms):
            raise ValueError(f"{len(folds)} folds for {len(terms)} rows")
        se = sum(
            float((folds == fold).mean()) * _standard_error(terms[folds == fold])
            for fold in np.unique(folds)
        )
    return Estimate(value, value - Z95 * se, value + Z95 * se, support)


def _standard_error(terms: np.ndarray) -> float:
    return float(terms.std(ddof=1) / np.sqrt(len(terms))) if len(terms) > 1 else float("inf")


def matches(policy: np.ndarray, shown: np.ndarray) -> np.ndarray:
    """Rows whose logged first place is the policy's (-1 for none on either side)."""
    return policy == shown


def supported_share(logged_probability_of_policy: np.ndarray) -> float:
    """Share of rows whose policy choice had a positive logged probability."""
    return (
        float((logged_probability_of_policy > 0).mean())
        if len(logged_probability_of_policy)
        else 0.0
    )


def ipw_terms(
    policy: np.ndarray, shown: np.ndarray, shown_probability: np.ndarray, reward: np.ndarray
) -> np.ndarray:
    """Per row `1{shown = policy} / p(shown) * reward`."""
    return matches(policy, shown) / shown_probability * reward


def ipw(
    policy: np.ndarray, shown: np.ndarray, shown_probability: np.ndarray, reward: np.ndarray,
    logged_probability_of_policy: np.ndarray, folds: np.ndarray | None = None,
) -> Estimate:  # fmt: skip
    """Inverse probability weighting of a deterministic policy's choice (-1: none); `folds`:
    the policy was cross-fitted over them (`estimate`)."""
    terms = ipw_terms(policy, shown, shown_probability, reward)
    return estimate(terms, supported_share(logged_probability_of_policy), folds)


def dr_terms(
    policy: np.ndarray,
    shown: np.ndarray,
    shown_probability: np.ndarray,
    reward: np.ndarray,
    followed: np.ndarray,
    predicted: np.ndarray,
) -> np.ndarray:
    """Per row the doubly robust term (module docstring); `predicted` is (n, k + 1)."""
    has = shown >= 0
    follow = float(followed[has].mean()) if has.any() else 0.0
    overridden = has & ~followed
    ybar = float(reward[overridden].mean()) if overridden.any() else float(reward.mean())
    rows = np.arange(len(policy))
    none = predicted.shape[1] - 1

    def q(action: np.ndarray) -> np.ndarray:
        m = predicted[rows, np.where(action >= 0, action, none)]
        m = np.nan_to_num(m, nan=ybar)
        return np.where(action >= 0, follow * m + (1.0 - follow) * ybar, reward.mean())

    weight = matches(policy, shown) / shown_probability
    return q(policy) + weight * (reward - q(shown))


def doubly_robust(
    policy: np.ndarray,
    shown: np.ndarray,
    shown_probability: np.ndarray,
    reward: np.ndarray,
    followed: np.ndarray,
    predicted: np.ndarray,
    logged_probability_of_policy: np.ndarray,
    folds: np.ndarray | None = None,
) -> Estimate:
    """The doubly robust estimate (see the module docstring); `predicted` is (n, k + 1);
    `folds`: the policy and `predicted` were cross-fitted over them (`estimate`)."""
    terms = dr_terms(policy, shown, shown_probability, reward, followed, predicted)
    return estimate(terms, supported_share(logged_probability_of_policy), folds)


def person_folds(keys: np.ndarray, n_folds: int, seed: int) -> np.ndarray:
    """Each row's fold (0 .. n_folds - 1), all rows of a person in one fold.

    Persons are shuffled with `seed` and dealt round the folds, so fold sizes in persons
    differ by at most one.
    """
    keys = np.asarray(keys)
    if n_folds < 2:
        raise ValueError(f"n_folds must be at least 2, got {n_folds!r}")
    persons, person_of_row = np.unique(keys, return_inverse=True)
    if len(persons) < n_folds:
        raise ValueError(f"{len(persons)} persons cannot fill {n_folds} folds")
    return client_folds(person_of_row, n_folds, np.random.default_rng(seed))


def by_own_fold(folds: np.ndarray, per_fold: Sequence[np.ndarray]) -> np.ndarray:
    """Row i of `per_fold[folds[i]]`: each row as the model fitted without its fold sees it."""
    if len(per_fold) <= int(folds.max(initial=-1)):
        raise ValueError(f"{len(per_fold)} fold results for folds up to {int(folds.max())}")
    shapes = {a.shape for a in per_fold}
    if len(shapes) != 1 or next(iter(shapes))[0] != len(folds):
        raise ValueError(f"every fold's result must have {len(folds)} rows, got {shapes}")
    stacked = np.stack(per_fold)
    return stacked[folds, np.arange(len(folds))]
