"""The DR-learner's final stage: AIPW pseudo-outcomes regressed on the features by ridge.

Per service and target, on the rows allowed that service: the outcome model's own effect
(the plug-in, lightly penalised) plus a ridge fit of the AIPW correction, whose penalty is
chosen by cross-validation over the client folds. Actions follow `models.actions`
("none" last).
"""

from __future__ import annotations

from typing import Final

import numpy as np

from models.objectives import TARGETS

# Penalty of the plug-in part of the final stage: only there to keep the solve stable.
PLUG_IN_ALPHA: Final = 1.0


def plug_in_effect(mu: np.ndarray) -> np.ndarray:
    """The outcome model's effect of each service against none, (n, targets, services)."""
    return mu[:, :, :-1] - mu[:, :, -1:]


def pseudo_outcomes(
    mu: np.ndarray,
    y: np.ndarray,
    action_index: np.ndarray,
    propensity: np.ndarray,
    observation_weight: np.ndarray | None = None,
) -> np.ndarray:
    """AIPW pseudo-outcomes of each service against none, shape (n, targets, services).

    ``mu_k(x) - mu_0(x) + 1[A=k] (Y - mu_k(x)) / e_k(x) - 1[A=none] (Y - mu_0(x)) / e_0(x)``,
    the corrections multiplied by `observation_weight` (n, targets) when outcomes may be
    unknown (`nuisances.observation_weights`: 0 where `y` is NaN).
    """
    n = len(y)
    n_services = mu.shape[2] - 1
    rows = np.arange(n)
    mu_logged = mu[rows, :, action_index]  # (n, targets)
    residual = (y - mu_logged) / propensity[:, None]
    if observation_weight is not None:
        residual = np.where(observation_weight > 0, residual * observation_weight, 0.0)
    pseudo = plug_in_effect(mu)
    treated = action_index < n_services
    pseudo[rows[treated], :, action_index[treated]] += residual[treated]
    pseudo[~treated] -= residual[~treated][:, :, None]
    return pseudo


def pseudo_outcome_weights(
    practice_logit: np.ndarray, allowed: np.ndarray, floor: float
) -> np.ndarray:
    """Inverse-variance weights (n, services) of the AIPW pseudo-outcomes, from x alone.

    The pseudo-outcome of service k carries `(Y - mu_k) / e_k` where k was taken and
    `(Y - mu_0) / e_0` where none was, so its variance given x is about
    `s^2 (1 / e_k + 1 / e_0)`. Each pair is weighted by the inverse of `1 / e_k + 1 / e_0`
    (propensities from the practice model's log-odds, floored as in the pseudo-outcomes).
    The weights depend on x only, so the weighted loss is still the weighted error against
    the true uplift plus a constant; what changes is that a few pairs with tiny
    propensities (weights up to 100) no longer decide a least-squares fit.
    """
    logit = np.where(allowed, practice_logit, -np.inf)
    top = np.maximum(logit.max(axis=1, keepdims=True), 0.0)
    odds = np.exp(logit - top)
    none = np.exp(-top)
    total = odds.sum(axis=1, keepdims=True) + none
    e_k = np.maximum(odds / total, floor)
    e_0 = np.maximum(none / total, floor)
    return np.where(allowed, 1.0 / (1.0 / e_k + 1.0 / e_0), 0.0)


def distinct_masks(
    allowed: np.ndarray, supported: np.ndarray
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Group supported services by identical allowed-row masks (they share one Gram matrix)."""
    groups: dict[bytes, list[int]] = {}
    for k in np.flatnonzero(supported):
        column = allowed[:, k]
        if column.any():
            groups.setdefault(np.packbits(column).tobytes(), []).append(int(k))
    return [(np.array(ks), allowed[:, ks[0]]) for ks in groups.values()]


def final_stage(
    x: np.ndarray,
    plug_in: np.ndarray,
    correction: np.ndarray,
    weights: np.ndarray,
    alphas: np.ndarray,
) -> np.ndarray:
    """Weighted linear fit of plug-in effect + AIPW correction; returns (n_coef, n_outputs).

    Equal to a ridge regression of the pseudo-outcomes whose penalty (`alphas`, one per
    output column) pulls the coefficients towards the outcome model's linearised effect
    instead of towards zero.
    """
    xw = x * weights[:, None]
    return final_stage_from_moments(xw.T @ x, xw.T @ plug_in, xw.T @ correction, alphas)


def final_stage_from_moments(
    gram: np.ndarray, plug_rhs: np.ndarray, corr_rhs: np.ndarray, alphas: np.ndarray
) -> np.ndarray:
    """`final_stage` from its weighted moments `X'WX`, `X'W plug_in`, `X'W correction`."""
    coef = solve_ridge(gram, plug_rhs, PLUG_IN_ALPHA)
    for alpha in np.unique(alphas):
        columns = alphas == alpha
        coef[:, columns] += solve_ridge(gram, corr_rhs[:, columns], float(alpha))
    return coef


def solve_ridge(gram: np.ndarray, rhs: np.ndarray, alpha: float) -> np.ndarray:
    """Solve (gram + alpha I) coef = rhs with the intercept (row 0) unpenalised."""
    penalised = gram.copy()
    penalised[np.diag_indices_from(penalised)] += alpha
    penalised[0, 0] += 1e-8 - alpha  # the intercept stays unpenalised
    try:
        return np.linalg.solve(penalised, rhs)
    except np.linalg.LinAlgError:  # e.g. alpha 0 on collinear one-hot columns
        return np.linalg.lstsq(penalised, rhs, rcond=None)[0]


def ridge_cv_loss(
    design: np.ndarray,
    plug_in: np.ndarray,
    correction: np.ndarray,
    masks: list[tuple[np.ndarray, np.ndarray]],
    folds: np.ndarray,
    n_folds: int,
    grid: tuple[float, ...],
    n_services: int,
) -> np.ndarray:
    """Held-out squared error of the pseudo-outcomes, shape (len(grid), n_services).

    Summed over the client folds and the targets.
    """
    loss = np.zeros((len(grid), n_services))
    for mask_columns, mask in masks:
        rows_k = np.flatnonzero(mask)
        x_k = design[rows_k]
        plug_k = plug_in[rows_k][:, :, mask_columns].reshape(len(rows_k), -1)
        corr_k = correction[rows_k][:, :, mask_columns].reshape(len(rows_k), -1)
        fold_k = folds[rows_k]
        in_fold = [fold_k == f for f in range(n_folds)]
        grams = [x_k[m].T @ x_k[m] for m in in_fold]
        plug_rhs = [x_k[m].T @ plug_k[m] for m in in_fold]
        corr_rhs = [x_k[m].T @ corr_k[m] for m in in_fold]
        gram_all, plug_all, corr_all = sum(grams), sum(plug_rhs), sum(corr_rhs)
        for f, m in enumerate(in_fold):
            if not m.any():
                continue
            gram_train = gram_all - grams[f]
            x_f = x_k[m]
            pseudo_f = plug_k[m] + corr_k[m]
            fitted_plug = x_f @ solve_ridge(gram_train, plug_all - plug_rhs[f], PLUG_IN_ALPHA)
            for i, alpha in enumerate(grid):
                coef = solve_ridge(gram_train, corr_all - corr_rhs[f], alpha)
                errors = ((pseudo_f - fitted_plug - x_f @ coef) ** 2).sum(axis=0)
                loss[i, mask_columns] += errors.reshape(len(TARGETS), -1).sum(axis=0)
    return loss


def fit_uplift(
    design: np.ndarray,
    plug_in: np.ndarray,
    correction: np.ndarray,
    masks: list[tuple[np.ndarray, np.ndarray]],
    alphas: np.ndarray,
    boot_weights: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """The final stage and its bootstrap refits, one solve per group of services.

    Parameters
    ----------
    design : ndarray (n, n_coef)
    plug_in, correction : ndarray (n, targets, services)
    masks : from `distinct_masks`
    alphas : ndarray (services,)
        The penalty of each service.
    boot_weights : ndarray (n_bootstrap, n)
        Poisson weights of each row in each replica.

    Returns
    -------
    coef : ndarray (targets, n_coef, services)
        Zero for services in no mask (unsupported or never allowed).
    boot : ndarray (n_bootstrap, targets, n_coef, services)
    """
    n_services = plug_in.shape[2]
    coef_out = np.zeros((len(TARGETS), design.shape[1], n_services))
    boot_out = np.zeros((len(boot_weights), *coef_out.shape))
    n = len(design)
    replicas = np.vstack([np.ones((1, n)), np.asarray(boot_weights, dtype=np.float64)])
    # Most rows are allowed most services, so a mask over more than half the rows takes
    # its moments as those of all rows less those of the rows outside it: the full moments
    # are summed once per replica (over the columns such masks need), and each mask then
    # costs its smaller side (the bootstrap was a third of a 100k-client fit).
    wide = [bool(2 * mask.sum() > n) for _, mask in masks]
    wide_columns = np.unique(
        np.concatenate(
            [_mask_outputs(c, n_services) for (c, _), w in zip(masks, wide, strict=True) if w]
            or [np.zeros(0, dtype=np.int64)]
        )
    )
    plug_all = plug_in.reshape(n, -1)
    corr_all = correction.reshape(n, -1)
    wide_plug, wide_corr = _finite(plug_all[:, wide_columns], corr_all[:, wide_columns])
    full = [_moments(design, w, wide_plug, wide_corr) for w in replicas] if any(wide) else []
    for (mask_columns, mask), is_wide in zip(masks, wide, strict=True):
        columns = _mask_outputs(mask_columns, n_services)
        rows = np.flatnonzero(~mask if is_wide else mask)
        x_r = design[rows]
        plug_r, corr_r = _finite(plug_all[rows][:, columns], corr_all[rows][:, columns])
        where = np.searchsorted(wide_columns, columns) if is_wide else columns
        penalties = np.tile(alphas[mask_columns], len(TARGETS))
        for b, weights in enumerate(replicas):
            gram, plug_rhs, corr_rhs = _moments(x_r, weights[rows], plug_r, corr_r)
            if is_wide:
                gram = full[b][0] - gram
                plug_rhs = full[b][1][:, where] - plug_rhs
                corr_rhs = full[b][2][:, where] - corr_rhs
            coef = final_stage_from_moments(gram, plug_rhs, corr_rhs, penalties)
            target = coef_out if b == 0 else boot_out[b - 1]
            target[:, :, mask_columns] = unstack(coef, len(mask_columns))
    return coef_out, boot_out


def _finite(*arrays: np.ndarray) -> tuple[np.ndarray, ...]:
    """The arrays (fresh copies) with a disallowed pair's NaN read as 0: a wide mask's rows
    outside it enter its full and its complement moments alike, so they cancel."""
    return tuple(np.nan_to_num(a, copy=False) for a in arrays)


def _moments(
    x: np.ndarray, weights: np.ndarray, plug_in: np.ndarray, correction: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """`X'WX`, `X'W plug_in`, `X'W correction` of some rows."""
    xw = x * weights[:, None]
    return xw.T @ x, xw.T @ plug_in, xw.T @ correction


def _mask_outputs(mask_columns: np.ndarray, n_services: int) -> np.ndarray:
    """Columns of a (targets * services) flattening that `[:, :, mask_columns]` keeps, in
    the order of `plug_in[:, :, mask_columns].reshape(n, -1)` (target-major)."""
    return (np.arange(len(TARGETS))[:, None] * n_services + mask_columns[None, :]).ravel()


def plug_in_projection(x: np.ndarray, plug_in: np.ndarray) -> np.ndarray:
    """The final stage's plug-in part alone: (n_coef, n_outputs), as in `final_stage`."""
    return solve_ridge(x.T @ x, x.T @ plug_in, PLUG_IN_ALPHA)


def fit_plug_in(
    design: np.ndarray, plug_in: np.ndarray, masks: list[tuple[np.ndarray, np.ndarray]]
) -> np.ndarray:
    """The plug-in part of the final stage (`fit_uplift` without the correction).

    Returns
    -------
    ndarray (targets, n_coef, services); zero for services in no mask.
    """
    n_services = plug_in.shape[2]
    out = np.zeros((len(TARGETS), design.shape[1], n_services))
    for mask_columns, mask in masks:
        rows_k = np.flatnonzero(mask)
        plug_k = plug_in[rows_k][:, :, mask_columns].reshape(len(rows_k), -1)
        coef = plug_in_projection(design[rows_k], plug_k)
        out[:, :, mask_columns] = unstack(coef, len(mask_columns))
    return out


def unstack(coef: np.ndarray, n_columns: int) -> np.ndarray:
    """(n_coef, targets * k) from a stacked solve -> (targets, n_coef, k)."""
    n_coef = coef.shape[0]
    return coef.reshape(n_coef, len(TARGETS), n_columns).transpose(1, 0, 2)
