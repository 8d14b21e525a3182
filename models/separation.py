"""Can the model tell a ranked service from no service, and from the next one?

A ranking shows services in order, but an order is only worth reading where the model can
tell its entries apart. From each shown uplift and its interval (nominal `interval`
coverage), a normal approximation gives:

- `p_above_zero`: the probability that the true uplift is above zero (the service beats no
  service), with the standard deviation read from the interval's half on the side of zero
  (`half / z`; the interval is symmetric before it is clipped to what a probability allows);
- `p_above_next`: the probability that it is above the next ranked service's, with the two
  errors taken as independent (`sqrt(sd_1^2 + sd_2^2)`, each `sd = width / 2z`). The
  services' errors share the outcome model and are in fact positively correlated, which
  makes the true spread of the difference smaller: the probability is conservative.

A service is *told apart* from no service (or from the next one) when that probability is at
least `DISTINCT_PROBABILITY`; an interval wider than `WIDE_INTERVAL_SHARE` of the whole
outcome range (probabilities 0 to 1) is *wide*: it says little beyond "somewhere in here".
"""

from __future__ import annotations

from statistics import NormalDist
from typing import Final

import numpy as np
from scipy.special import ndtr

# A one-sided 95 %: with a 90 % interval, told apart from zero when the interval is clear of it.
DISTINCT_PROBABILITY: Final = 0.95
# An interval wider than a quarter of the 0-100 % range (25 percentage points) is "wide".
WIDE_INTERVAL_SHARE: Final = 0.25


def p_above_zero(
    shown: np.ndarray, low: np.ndarray, high: np.ndarray, interval: float
) -> np.ndarray:
    """Probability (normal approximation) that each true uplift is above zero."""
    z = NormalDist().inv_cdf((1.0 + interval) / 2.0)
    half = np.where(shown >= 0, shown - low, high - shown)
    return _probability(shown, half / z)


def p_above_next(
    shown: np.ndarray, low: np.ndarray, high: np.ndarray, interval: float
) -> np.ndarray:
    """Probability that each ranked service's true uplift is above the next one's.

    The arrays hold one ranking, best first (the last axis); NaN for the last service.
    """
    z = NormalDist().inv_cdf((1.0 + interval) / 2.0)
    sd = np.maximum(high - low, 0.0) / (2.0 * z)
    out = np.full(np.shape(shown), np.nan)
    if np.shape(shown)[-1] > 1:
        gap = shown[..., :-1] - shown[..., 1:]
        out[..., :-1] = _probability(gap, np.sqrt(sd[..., :-1] ** 2 + sd[..., 1:] ** 2))
    return out


def wide_interval(low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """Intervals wider than `WIDE_INTERVAL_SHARE` of the outcome range."""
    return np.asarray(high - low > WIDE_INTERVAL_SHARE)


def _probability(value: np.ndarray, sd: np.ndarray) -> np.ndarray:
    """P(N(value, sd) > 0); a zero sd gives 1, 0 or (at value 0) one half."""
    positive = sd > 0
    # 0 * inf is NaN where value is 0 (the one half); no division by a zero sd happens.
    with np.errstate(invalid="ignore"):
        ratio = np.where(positive, value / np.where(positive, sd, 1.0), np.sign(value) * np.inf)
    # ndtr takes infinities as they are (1 or 0), so only NaN needs replacing
    # (np.nan_to_num's scan for infinities costs as much as the rest for one ranking).
    ratio[np.isnan(ratio)] = 0.0
    return np.asarray(ndtr(ratio))
