"""The uplift intervals: bootstrap percentiles, and the calibrated out-of-fold intervals.

The bootstrap of the final stage (nuisances fixed) misses the shrinkage bias and the
nuisances' error. The calibrated intervals measure the model's error instead: a DR-learner
that never saw a fold predicts it (`out_of_fold_fits`), a calibration model per target
and service regresses the fold's pseudo-outcomes on those predictions and a few profile
indicators (`calibrate`, cluster-robust errors), and `calibrated_interval` centres the
interval on the calibrated uplift with its standard error and the bootstrap spread, widened
to hold the point estimate (docs/MODEL.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from statistics import NormalDist
from typing import Final

import numpy as np
import pandas as pd

from models.objectives import TARGETS
from models.ranker.final_stage import (
    final_stage,
    plug_in_effect,
    plug_in_projection,
    pseudo_outcomes,
)
from models.ranker.nuisances import sigmoid

# Profile indicators the calibration model adds to the prediction: effects differ along
# them, and an error that follows them is invisible to a line in the prediction alone.
CALIBRATION_FEATURES: Final = (
    "age_under_25",
    "long_term_unemployed",
    "low_language",
    "two_plus_barriers",
)


@dataclass(frozen=True, slots=True)
class OutOfFold:
    """The out-of-fold DR-learners: their predictions of the held-out fold, and themselves.

    Attributes
    ----------
    uplift : ndarray (n, targets, services)
        Each row predicted by the DR-learner that never saw its fold (NaN where the service
        is not allowed or not supported).
    fold_coef : list of ndarray (targets, n_coef, services)
        Each fold's DR-learner (fitted without the fold), NaN for services it did not fit:
        independent estimates of the same uplift when there are two folds.
    plug_in : ndarray (n, targets, services)
        The plug-in part of `uplift` (the outcome model's own effect, without the AIPW
        correction), NaN where `uplift` is.
    """

    uplift: np.ndarray
    fold_coef: list[np.ndarray]
    plug_in: np.ndarray


def out_of_fold_fits(
    design: np.ndarray,
    y: np.ndarray,
    action_index: np.ndarray,
    propensity: np.ndarray,
    fold_coefs: list[np.ndarray],
    masks: list[tuple[np.ndarray, np.ndarray]],
    folds: np.ndarray,
    alphas: np.ndarray,
    observation_weight: np.ndarray | None = None,
) -> OutOfFold:
    """Final-stage predictions of each row by a DR-learner that never saw the row's fold.

    For each fold: the outcome model fitted without it gives pseudo-outcomes of the other
    folds' rows (in sample for that model), a final stage with the chosen penalties is
    fitted on them, and it predicts the fold. Nothing of the fold's episodes enters its
    prediction, so the prediction's error is independent of the fold's pseudo-outcome noise
    (with the served, cross-fitted pseudo-outcomes it would not be: the other folds'
    plug-in effects come from an outcome model fitted on this fold, and a rare service's
    episodes pull that model towards their own outcomes).

    Returns
    -------
    OutOfFold
    """
    n = len(design)
    n_services = fold_coefs[0].shape[2] - 1
    oof = np.full((n, len(TARGETS), n_services), np.nan)
    oof_plug = np.full_like(oof, np.nan)
    fitted: list[np.ndarray] = []
    for f, coef_f in enumerate(fold_coefs):
        train = np.flatnonzero(folds != f)
        test = np.flatnonzero(folds == f)
        fold_uplift = np.full((len(TARGETS), design.shape[1], n_services), np.nan)
        fitted.append(fold_uplift)
        if len(train) == 0 or len(test) == 0:
            continue
        mu = sigmoid(np.einsum("np,tpa->nta", design[train], coef_f, optimize=True))
        pseudo = pseudo_outcomes(
            mu,
            y[train],
            action_index[train],
            propensity[train],
            None if observation_weight is None else observation_weight[train],
        )
        plug = plug_in_effect(mu)
        corr = pseudo - plug
        del mu, pseudo
        for mask_columns, mask in masks:
            fit_rows = np.flatnonzero(mask[train])
            predict_rows = test[mask[test]]
            if len(fit_rows) == 0:
                continue
            plug_k = plug[fit_rows][:, :, mask_columns].reshape(len(fit_rows), -1)
            corr_k = corr[fit_rows][:, :, mask_columns].reshape(len(fit_rows), -1)
            column_alphas = np.tile(alphas[mask_columns], len(TARGETS))
            coef = final_stage(
                design[train[fit_rows]], plug_k, corr_k, np.ones(len(fit_rows)), column_alphas
            )
            fold_uplift[:, :, mask_columns] = coef.reshape(
                design.shape[1], len(TARGETS), -1
            ).transpose(1, 0, 2)
            predicted = (design[predict_rows] @ coef).reshape(len(predict_rows), len(TARGETS), -1)
            plug_coef = plug_in_projection(design[train[fit_rows]], plug_k)
            plug_predicted = (design[predict_rows] @ plug_coef).reshape(predicted.shape)
            for j, k in enumerate(mask_columns):
                oof[predict_rows, :, k] = predicted[:, :, j]
                oof_plug[predict_rows, :, k] = plug_predicted[:, :, j]
    return OutOfFold(oof, fitted, oof_plug)


def calibrate(
    oof: np.ndarray, pseudo: np.ndarray, groups: np.ndarray, indicators: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Calibration model of the uplift against the pseudo-outcomes, per target and service.

    For the rows with an out-of-fold prediction `t` of a (target, service), an ordinary
    least-squares fit `pseudo ~ a + b t + indicators @ g`: the pseudo-outcomes are unbiased
    for the true uplift (the propensities are right or the outcome model is), and their
    noise averages out in the regression, so the fit says how the final stage's predictions
    relate to the truth (`b` < 1: part of the predicted heterogeneity is noise; `a` and `g`:
    offsets of the service overall and along the indicators). Its covariance is
    cluster-robust over clients (the groups).

    Returns
    -------
    coef : ndarray of shape (targets, services, 2 + m)
        `a`, `b`, `g`; the identity (0, 1, 0...) for services without (enough) rows.
    cov : ndarray of shape (targets, services, 2 + m, 2 + m)
        Their covariance; zero for those services.
    """
    n_targets, n_services = oof.shape[1], oof.shape[2]
    n_params = 2 + indicators.shape[1]
    coef_out = np.zeros((n_targets, n_services, n_params))
    coef_out[..., 1] = 1.0
    cov_out = np.zeros((n_targets, n_services, n_params, n_params))
    for t in range(n_targets):
        for k in range(n_services):
            rows = np.flatnonzero(np.isfinite(oof[:, t, k]))
            if len(rows) < 10 * n_params:
                continue
            x, y = oof[rows, t, k], pseudo[rows, t, k]
            basis = np.column_stack([np.ones(len(rows)), x, indicators[rows]])
            gram = basis.T @ basis
            if np.linalg.matrix_rank(gram) < n_params:  # e.g. an indicator constant here
                basis, keep = _independent_columns(basis)
                gram = basis.T @ basis
            else:
                keep = np.arange(n_params)
            if len(keep) < 2 or keep[1] != 1:
                continue
            bread = np.linalg.inv(gram)
            coef = bread @ (basis.T @ y)
            residual = y - basis @ coef
            codes, _ = pd.factorize(groups[rows])
            scores = np.column_stack(
                [np.bincount(codes, weights=basis[:, j] * residual) for j in range(len(keep))]
            )
            cov = bread @ (scores.T @ scores) @ bread
            coef_out[t, k] = 0.0
            coef_out[t, k, keep] = coef
            cov_out[t, k][np.ix_(keep, keep)] = cov
    return coef_out, cov_out


def _independent_columns(basis: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Keep columns left to right while they add rank (drops constant or duplicate ones)."""
    keep: list[int] = []
    for j in range(basis.shape[1]):
        trial = [*keep, j]
        if np.linalg.matrix_rank(basis[:, trial]) == len(trial):
            keep.append(j)
    return basis[:, keep], np.array(keep)


def percentile_rows(
    replicas: np.ndarray, interval: float, axis: int = 0, *, in_place: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Linear-interpolated central `interval` percentiles over `axis` (the bootstrap axis).

    Sorting runs along `axis`; give the bootstrap axis last (contiguous) for large batches:
    twice as fast as sorting across rows. (`np.partition` is slower still at 40 replicas.)
    `in_place=True` sorts `replicas` itself instead of a copy (a scratch array of a batch).
    """
    if in_place:
        replicas.sort(axis=axis)
        ordered = replicas
    else:
        ordered = np.sort(replicas, axis=axis)
    last = ordered.shape[axis] - 1
    out = []
    for q in ((1 - interval) / 2, (1 + interval) / 2):
        position = q * last
        lower = int(np.floor(position))
        upper = min(lower + 1, last)
        frac = position - lower
        below = np.take(ordered, lower, axis=axis)
        above = np.take(ordered, upper, axis=axis)
        out.append(below * (1 - frac) + above * frac)
    return out[0], out[1]


def calibrated_interval(
    per_target: np.ndarray,
    indicators: np.ndarray,
    point: np.ndarray,
    low: np.ndarray,
    high: np.ndarray,
    weights: np.ndarray,
    coef: np.ndarray,
    cov: np.ndarray,
    interval: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Interval around the calibrated uplift, holding the point estimate too.

    Parameters
    ----------
    per_target : ndarray (..., targets, services)
        The point estimates per target.
    indicators : ndarray (..., m)
        The clients' `CALIBRATION_FEATURES`.
    point, low, high : ndarray (..., services)
        The objective's point estimate and bootstrap percentiles.
    weights : ndarray (targets,)
        The objective's weights.
    coef, cov : ndarray
        The calibration models (`calibrate`).
    interval : float
        Nominal central coverage.

    Notes
    -----
    The calibration model of each target and service maps the point and the indicators to
    the calibrated uplift; its standard error there and the bootstrap spread (scaled by the
    slope) give the width. Targets are combined as if perfectly correlated (conservative).
    """
    calibrated_t, se2 = calibration_at(per_target, indicators, coef, cov)
    calibrated, half = interval_around(
        calibrated_t, se2, coef[..., 1], low, high, weights, interval
    )
    return np.minimum(point, calibrated - half), np.maximum(point, calibrated + half)


def interval_around(
    calibrated_t: np.ndarray,
    variance_t: np.ndarray,
    slope_t: np.ndarray,
    low: np.ndarray,
    high: np.ndarray,
    weights: np.ndarray,
    interval: float,
) -> tuple[np.ndarray, np.ndarray]:
    """The objective's calibrated uplift and the half-width of its interval.

    Per target (axis -2 of `calibrated_t`, `variance_t`: the calibration models' value and
    variance; `slope_t`, broadcast against them: their slopes `b`), combined with the
    objective's `weights`, targets as if perfectly correlated (conservative); the bootstrap
    percentiles `low`, `high` (..., services) add the final stage's spread scaled by the
    slope: half-width `z * sqrt(se^2 + (b * bootstrap sd)^2)`.
    """
    calibrated = _over_targets(calibrated_t, weights)
    se = _over_targets(np.sqrt(np.maximum(variance_t, 0.0)), weights)
    z = NormalDist().inv_cdf((1.0 + interval) / 2.0)
    slope = np.abs(_over_targets(np.broadcast_to(slope_t, calibrated_t.shape), weights))
    boot_sd = slope * np.maximum(high - low, 0.0) / (2.0 * z)
    return calibrated, z * np.sqrt(se**2 + boot_sd**2)


def _over_targets(values: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """`values` (..., targets, services) combined over the targets with `weights`."""
    if values.ndim == 2:
        # One client (the serving path): a plain product, a fraction of tensordot's overhead.
        return np.asarray(weights @ values)
    return np.tensordot(values, weights, axes=([-2], [0]))


def calibration_at(
    per_target: np.ndarray, indicators: np.ndarray, coef: np.ndarray, cov: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Each calibration model's prediction and its variance at (1, point, indicators).

    The basis of target t and service k is b = (1, x_tk, z) with the client's indicators z
    shared by every model, so `b @ coef_tk` and `b @ cov_tk @ b` split into a few terms
    that are plain matrix products over the clients (a nightly batch of 100,000 clients
    takes milliseconds, where the naive broadcast einsum took seconds).

    Returns
    -------
    calibrated, variance : ndarray (..., targets, services)
    """
    shape = per_target.shape
    n_targets, n_services = shape[-2:]
    pairs = n_targets * n_services
    x = per_target.reshape(-1, pairs)  # (N, t*k)
    z = indicators.reshape(-1, indicators.shape[-1])  # (N, m)
    m = z.shape[1]
    c = coef.reshape(pairs, 2 + m)
    s = cov.reshape(pairs, 2 + m, 2 + m)
    # b S b = [S00 + z.(S0z + Sz0) + z Szz z] + [S01 + S10 + z.(S1z + Sz1)] x + S11 x^2:
    # the brackets depend on z alone, so they are computed once per distinct z.
    # Fewer clients than distinct z (the one client served) use their own z directly.
    if m <= 12 and len(z) > 1 << m and np.isin(z, (0.0, 1.0)).all():
        # Indicators (the usual case): at most 2^m distinct z, looked up by their bits.
        code = z.astype(np.int64) @ (1 << np.arange(m))
        distinct = (np.arange(1 << m)[:, None] >> np.arange(m) & 1).astype(np.float64)
    else:
        distinct, code = z, np.arange(len(z))
    level = c[:, 0] + distinct @ c[:, 2:].T  # (distinct, t*k)
    zz = s[:, 2:, 2:].transpose(2, 0, 1).reshape(m, pairs * m)  # [j, (tk, i)] = Szz[tk, i, j]
    quadratic = ((distinct @ zz).reshape(-1, pairs, m) * distinct[:, None, :]).sum(axis=-1)
    constant = s[:, 0, 0] + distinct @ (s[:, 0, 2:] + s[:, 2:, 0]).T + quadratic
    slope = s[:, 0, 1] + s[:, 1, 0] + distinct @ (s[:, 1, 2:] + s[:, 2:, 1]).T
    calibrated = level[code] + c[:, 1] * x
    variance = constant[code] + (slope[code] + s[:, 1, 1] * x) * x
    return calibrated.reshape(shape), variance.reshape(shape)
