"""Empirical-Bayes shrinkage of the uplift shown to a caseworker: against the winner's curse.

The ranker's uplift for a client and service is noisy, and the service on top of a ranking
is there partly because its estimate came out high: the largest of some thirty noisy
estimates is biased upwards. Before this module, the top suggestion's predicted uplift
averaged 2-5 times its true uplift on held-out clients, and its nominal 90 % interval held
the truth for 64-79 % of top suggestions (docs/MODEL.md, "Intervals").

A shrunk estimate `E[true uplift | estimate]` has no such bias whatever the selection, as
far as its prior is right. The prior here has two levels, per target and service `k`, fitted
on the training episodes (`fit_shrinkage`):

- *The service's mean uplift* `m_k` (over the clients allowed it) is the AIPW mean of the
  pseudo-outcomes, whose cluster-robust variance `v_k` is its noise. Across services the
  true means are taken as drawn from `N(0, tau^2)`, `tau^2` by DerSimonian-Laird; the mean
  is shrunk toward zero by `lambda_k = tau^2 / (tau^2 + v_k)` (a rare service's mean
  little, a common one's less).
- *A client's deviation from the service mean* is mostly noise of the outcome model's
  interactions (the bootstrap of the final stage does not see it). Two DR-learners fitted
  on disjoint client folds (`intervals.OutOfFold.fold_coef`) estimate it: their difference
  has twice the variance of one, and a full-data fit about half that of one fold's (with F
  folds: `var(M_f - M_g) (F - 1)^2 / (2F)`). The share of the deviations' variance that is
  signal, pooled over services (one service's share is too noisy to use), is the
  deviations' shrinkage factor `lambda_w`.

The shown uplift is `lambda_k m_k + lambda_w (uplift - m_k)`, a line per target and service
stored in the calibration models' format (`a`, `b`, no indicator terms), so serving reads it
with `intervals.calibration_at`: a few array operations. Its posterior variance
`lambda_k v_k + lambda_w noise_w` goes into the interval with the calibration models'
measured error (`service_ranker`). The ranking does not change: services stay ordered by
the model's uplift, and a shown number may then be below the next one's (the page says the
two cannot be told apart).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import numpy as np
import pandas as pd

from models.persistence import persistable
from models.ranker.intervals import calibration_at, interval_around

# Fewer allowed training rows than this: the service is left unshrunk (it is not ranked).
MIN_ROWS: Final = 50


@persistable
@dataclass(frozen=True, slots=True)
class Shrinkage:
    """The fitted shrinkage, in the calibration models' format.

    Attributes
    ----------
    coef : ndarray (targets, services, 2 + m)
        `a`, `b`, then zeros for the m indicator terms: shown = a + b * uplift.
    cov : ndarray (targets, services, 2 + m, 2 + m)
        The posterior variance of the shown uplift in `[0, 0]`, zero elsewhere.
    prior_sd : ndarray (targets,)
        `tau`: the spread of the true service means.
    within_share : ndarray (targets,)
        `lambda_w`: the signal share of the deviations from the service mean.
    mean_share : ndarray (targets, services)
        `lambda_k`: how much of each service's mean is kept.
    """

    coef: np.ndarray
    cov: np.ndarray
    prior_sd: np.ndarray
    within_share: np.ndarray
    mean_share: np.ndarray


def fit_shrinkage(
    design: np.ndarray,
    uplift_coef: np.ndarray,
    fold_coef: list[np.ndarray],
    pseudo: np.ndarray,
    groups: np.ndarray,
    rankable: np.ndarray,
    n_indicators: int,
) -> Shrinkage:
    """The two-level shrinkage of each target's and service's uplift.

    Parameters
    ----------
    design : ndarray (n, n_coef)
        Training design (a column of ones, then the features).
    uplift_coef : ndarray (targets, n_coef, services)
        The served final stage.
    fold_coef : list of ndarray (targets, n_coef, services)
        The out-of-fold DR-learners (NaN for services a fold did not fit).
    pseudo : ndarray (n, targets, services)
        AIPW pseudo-outcomes.
    groups : ndarray (n,)
        Client codes (clusters of the means' errors).
    rankable : ndarray of bool (n, services)
        Rows where the service was allowed and supported.
    n_indicators : int
        Indicator terms of the calibration format (left zero).
    """
    n_targets, _, n_services = uplift_coef.shape
    n_params = 2 + n_indicators
    coef = np.zeros((n_targets, n_services, n_params))
    coef[..., 1] = 1.0
    cov = np.zeros((n_targets, n_services, n_params, n_params))
    prior_sd = np.zeros(n_targets)
    within_share = np.ones(n_targets)
    mean_share = np.ones((n_targets, n_services))
    codes, _ = pd.factorize(groups)
    n_folds = len(fold_coef)
    fold_factor = (n_folds - 1) ** 2 / (2 * n_folds)
    for t in range(n_targets):
        mean = np.full(n_services, np.nan)
        mean_var = np.full(n_services, np.nan)
        spread = np.zeros(n_services)
        noise = np.zeros(n_services)
        for k in range(n_services):
            rows = np.flatnonzero(rankable[:, k])
            fitted = [c[t, :, k] for c in fold_coef if np.isfinite(c[t, :, k]).all()]
            if len(rows) < MIN_ROWS:
                continue
            x = design[rows]
            uplift = x @ uplift_coef[t, :, k]
            mean[k] = uplift.mean()
            mean_var[k] = _clustered_mean_variance(pseudo[rows, t, k], codes[rows])
            spread[k] = uplift.var()
            pairs = [(a, b) for i, a in enumerate(fitted) for b in fitted[i + 1 :]]
            if pairs:
                noise[k] = fold_factor * np.mean([np.var(x @ (a - b)) for a, b in pairs])
        known = np.isfinite(mean) & (mean_var > 0)
        if not known.any():
            continue
        tau2 = _between_variance(mean[known], mean_var[known])
        share = np.ones(n_services)
        share[known] = tau2 / (tau2 + mean_var[known])
        varied = known & (spread > 0)
        total = spread[varied].sum()
        within = float(np.clip((total - noise[varied].sum()) / total, 0.0, 1.0)) if total else 1.0
        coef[t, known, 0] = (share[known] - within) * mean[known]
        coef[t, known, 1] = within
        cov[t, known, 0, 0] = share[known] * mean_var[known] + within * noise[known]
        prior_sd[t] = np.sqrt(tau2)
        within_share[t] = within
        mean_share[t] = share
    return Shrinkage(coef, cov, prior_sd, within_share, mean_share)


def _clustered_mean_variance(values: np.ndarray, codes: np.ndarray) -> float:
    """Variance of the mean of `values`, clustered by `codes` (clients)."""
    local, _ = pd.factorize(codes)
    sums = np.bincount(local, weights=values - values.mean())
    return float((sums**2).sum() / len(values) ** 2)


def _between_variance(estimates: np.ndarray, variances: np.ndarray) -> float:
    """DerSimonian-Laird spread of true values around zero, given noisy estimates of them."""
    weights = 1.0 / variances
    q = float(np.sum(weights * estimates**2))
    scale = float(weights.sum() - (weights**2).sum() / weights.sum())
    if scale <= 0:
        return 0.0
    return max((q - len(estimates)) / scale, 0.0)


def shrunk_interval(
    per_target: np.ndarray,
    indicators: np.ndarray,
    low: np.ndarray,
    high: np.ndarray,
    weights: np.ndarray,
    shrinkage: Shrinkage,
    calibration_coef: np.ndarray,
    calibration_cov: np.ndarray,
    interval: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The shown (shrunk) uplift on an objective and its interval.

    The half-width adds, as independent errors, the shrunk estimate's posterior spread (with
    the bootstrap spread scaled by its slope) and the calibration models' measured error
    against the pseudo-outcomes (`intervals.calibrated_interval`'s half-width): the first is
    the noise the prior knows of, the second the model's error it does not.

    Parameters
    ----------
    per_target : ndarray (..., targets, services)
        The model's uplift per target.
    indicators : ndarray (..., m)
        The clients' `CALIBRATION_FEATURES`.
    low, high : ndarray (..., services)
        Bootstrap percentiles on the objective.
    weights : ndarray (targets,)

    Returns
    -------
    shown, low, high : ndarray (..., services)
    """
    # The shrinkage lines have no indicator terms and a constant variance: a + b x, v.
    coef = shrinkage.coef
    shown_t = coef[..., 0] + coef[..., 1] * per_target
    shown_var = np.broadcast_to(shrinkage.cov[..., 0, 0], shown_t.shape)
    shown, prior_half = interval_around(
        shown_t, shown_var, shrinkage.coef[..., 1], low, high, weights, interval
    )
    calibrated_t, calibrated_var = calibration_at(
        per_target, indicators, calibration_coef, calibration_cov
    )
    _, model_half = interval_around(
        calibrated_t, calibrated_var, calibration_coef[..., 1], low, high, weights, interval
    )
    half = np.sqrt(prior_half**2 + model_half**2)
    return shown, shown - half, shown + half


def shown_coefficients(
    shrinkage: Shrinkage, uplift_coef: np.ndarray, weights: np.ndarray
) -> np.ndarray:
    """Coefficients (n_coef, services) of the shown uplift on an objective: design @ them.

    The shrinkage lines have no indicator terms, so `sum_t w_t (a_tk + b_tk x @ beta_tk)`
    is linear in the design (whose column 0 is 1): the drivers' counterfactual uplifts go
    through the same shrinkage as the shown one.
    """
    slopes = shrinkage.coef[..., 1] * weights[:, None]  # (targets, services)
    coef = np.einsum("tk,tpk->pk", slopes, uplift_coef)
    coef[0] += weights @ shrinkage.coef[..., 0]
    return coef
