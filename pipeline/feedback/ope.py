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
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import numpy as np

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


def estimate(terms: np.ndarray, support: float) -> Estimate:
    """The mean of per-row terms with its normal 95 % interval."""
    value = float(terms.mean()) if len(terms) else float("nan")
    se = float(terms.std(ddof=1) / np.sqrt(len(terms))) if len(terms) > 1 else float("inf")
    return Estimate(value, value - Z95 * se, value + Z95 * se, support)


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
    logged_probability_of_policy: np.ndarray,
) -> Estimate:  # fmt: skip
    """Inverse probability weighting of a deterministic policy's choice (-1: none)."""
    terms = ipw_terms(policy, shown, shown_probability, reward)
    return estimate(terms, supported_share(logged_probability_of_policy))


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
) -> Estimate:
    """The doubly robust estimate (see the module docstring); `predicted` is (n, k + 1)."""
    terms = dr_terms(policy, shown, shown_probability, reward, followed, predicted)
    return estimate(terms, supported_share(logged_probability_of_policy))
