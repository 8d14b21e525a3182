"""The service ranker: for each client and service, the outcome without the service and the uplift.

Method (docs/MODEL.md has the why): a cross-fitted doubly robust learner (DR-learner).

1. Nuisances, cross-fitted over folds of clients: an outcome model per target (logistic
   regression on the features, the action, and action x feature interactions, so the
   outcome under every action comes from one matrix product) and the propensity of the
   logged action (the logged propensity when the logs carry it, else a multinomial logistic
   model over actions renormalised over the services the client was allowed).
2. AIPW pseudo-outcomes per service k against no service:
   ``mu_k(x) - mu_0(x) + 1[A=k] (Y - mu_k(x)) / e_k(x) - 1[A=none] (Y - mu_0(x)) / e_0(x)``,
   with propensities floored at `propensity_floor` (share floored is reported).
3. Final stage: a linear regression of the pseudo-outcomes on the features, per service and
   target, on the rows allowed that service: the outcome model's own effect plus a ridge
   fit of the AIPW correction, whose penalty is chosen by cross-validation. Serving is a
   matrix product.
4. Uncertainty: the final stage refitted on `n_bootstrap` Poisson bootstrap resamples of
   clients (nuisances held fixed), stored as a weight tensor. That spread alone misses the
   shrinkage bias and the nuisances' error, so by default (`interval_method="calibrated"`)
   a DR-learner that never saw a fold predicts it, a calibration model per target and
   service regresses the fold's pseudo-outcomes on those predictions and a few profile
   indicators (cluster-robust errors), and the interval is centred on the calibrated
   uplift with its standard error and the bootstrap spread, widened to hold the point
   estimate (docs/MODEL.md).

Examples
--------
>>> ranker = ServiceRanker(services=catalog.ids).fit(  # doctest: +SKIP
...     frame, episodes["service_id"], outcomes_from_episodes(episodes),
...     propensity=episodes["propensity"], allowed=catalog.allowed_frame(frame),
...     groups=episodes["client_id"])
>>> ranker.predict_uplift(frame).shape  # (n, len(TARGETS), len(ranker.services_))  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from statistics import NormalDist
from typing import Final

import numpy as np
import numpy.typing as npt
import pandas as pd
import scipy.sparse as sp
from sklearn.base import BaseEstimator
from sklearn.linear_model import LogisticRegression
from sklearn.utils.validation import check_is_fitted, check_scalar

from models.features import FeatureEncoder
from models.suggestions import TARGETS, Objective

NO_SERVICE: Final = "none"
# "bootstrap": percentiles of the final stage's bootstrap replicas (nuisances fixed);
# "calibrated": centred on the out-of-fold calibrated uplift, widened by its error (default).
INTERVAL_METHODS: Final = ("calibrated", "bootstrap")
# Episode outcome columns and how the targets are made of them.
EPISODE_OUTCOMES: Final = ("employed_6m", "education_6m", "employed_12m")


def outcomes_from_episodes(episodes: pd.DataFrame) -> np.ndarray:
    """The target matrix (n, len(TARGETS)) of 0/1 outcomes from an episodes frame.

    Uses the `TARGETS` columns when present, else builds them from the episode outcomes:
    `employment_or_education_6m = max(employed_6m, education_6m)` and
    `employment_12m = employed_12m`.

    Raises
    ------
    ValueError
        A column is missing or a value is not 0/1 (the message names row and column).
    """
    if all(t in episodes.columns for t in TARGETS):
        columns = {t: episodes[t] for t in TARGETS}
    else:
        missing = [c for c in EPISODE_OUTCOMES if c not in episodes.columns]
        if missing:
            raise ValueError(f"episodes lack outcome column(s) {', '.join(missing)}")
        for column in EPISODE_OUTCOMES:
            _check_binary(episodes[column].to_numpy(), column)
        columns = {
            "employment_or_education_6m": np.maximum(
                episodes["employed_6m"].to_numpy(), episodes["education_6m"].to_numpy()
            ),
            "employment_12m": episodes["employed_12m"],
        }
    out = np.column_stack([np.asarray(columns[t], dtype=np.float64) for t in TARGETS])
    for j, target in enumerate(TARGETS):
        _check_binary(out[:, j], target)
    return out


def _check_binary(values: np.ndarray, name: str) -> None:
    values = np.asarray(values, dtype=np.float64)
    bad = ~np.isin(values, (0.0, 1.0))
    if bad.any():
        row = int(np.flatnonzero(bad)[0]) + 1
        raise ValueError(f"row {row}: {name} must be 0 or 1")


def objective_weights(objective: Objective | str) -> np.ndarray:
    """The weight of each target of `TARGETS` (in that order) under an objective."""
    if isinstance(objective, str):
        objective = Objective.parse(objective)
    weights = dict(objective.weights)
    return np.array([weights.get(t, 0.0) for t in TARGETS], dtype=np.float64)


@dataclass(frozen=True, slots=True)
class ClientScores:
    """One client's scores on one objective for every service of the ranker (ranker order).

    Attributes
    ----------
    expected_without : float
        Predicted probability of the objective outcome with no service.
    uplift, uplift_low, uplift_high : ndarray of shape (n_services,)
        Point estimate and interval of the uplift (probability points / 100), calibrated
        or bootstrap percentiles by `interval_method`.
    """

    expected_without: float
    uplift: np.ndarray
    uplift_low: np.ndarray
    uplift_high: np.ndarray


class ServiceRanker(BaseEstimator):
    """Estimate, per client, target and service, the outcome without it and the uplift with it.

    A cross-fitted DR-learner (see the module docstring and docs/MODEL.md). Fitted on
    episodes of clients who passed the gate: the profile at assessment, the service received
    (or `"none"`), the outcomes, and ideally the logged propensity.

    Parameters
    ----------
    services : sequence of str, optional
        Service ids in the order of the `allowed` columns (normally the catalog order).
        Default: the sorted distinct services in the logs.
    n_folds : int, default 2
        Folds of clients for cross-fitting the nuisance models.
    propensity_floor : float, default 0.01
        Propensities below this are raised to it in the pseudo-outcomes (caps each weight at
        1 / floor); the share of treated rows affected is reported in `overlap_`.
    outcome_C : float, default 0.3
        Inverse L2 strength of the logistic outcome model.
    propensity_C : float, default 1.0
        Inverse L2 strength of the multinomial propensity model (when it is estimated).
    interaction_scale : float, default 0.3
        Scale of the service x feature columns of the outcome model; below 1 penalises the
        service-specific slopes more than the shared ones.
    final_alpha : float or "auto", default "auto"
        Ridge penalty of the final stage (on the sum of squared errors; the intercept is not
        penalised). "auto" picks one from `final_alpha_grid` by the cross-validated error of
        the pseudo-outcomes over the client folds, summed over services and targets (the
        DR-learner's own loss, whose expectation is the error against the true uplift plus
        a constant).
    final_alpha_grid : tuple of float
        Candidates for "auto".
    n_bootstrap : int, default 40
        Bootstrap refits of the final stage for the intervals (0: no intervals).
    interval : float, default 0.9
        Nominal central coverage of the intervals.
    interval_method : {"calibrated", "bootstrap"}, default "calibrated"
        "bootstrap": percentiles of the bootstrap replicas (the final stage's sampling
        noise only). "calibrated": centred on the out-of-fold calibrated uplift, with its
        standard error and the bootstrap spread, widened to hold the point estimate. Read
        at prediction time, so one fit serves both.
    min_treated : int, default 20
        Services received fewer times than this are marked unsupported (not ranked).
    max_iter : int, default 300
        Iterations of the logistic models' solver.
    random_state : int, default 0
        Seeds the folds and the bootstrap.

    Attributes
    ----------
    encoder_ : FeatureEncoder
    services_ : tuple of str
    targets_ : tuple of str
        `models.suggestions.TARGETS`.
    baseline_coef_ : ndarray of shape (n_targets, n_coef)
        Logit coefficients of the outcome without service (column 0 of the design is 1).
    uplift_coef_ : ndarray of shape (n_targets, n_coef, n_services)
        Final-stage coefficients: uplift on the probability scale.
    uplift_boot_ : ndarray of shape (n_bootstrap, n_targets, n_coef, n_services)
    calibration_coef_ : ndarray of shape (n_targets, n_services, 2 + m)
        Per target and service, the calibration model
        `pseudo ~ a + b * uplift + indicators @ g` fitted on out-of-fold predictions
        (`a`, `b`, `g`; the indicators are `CALIBRATION_FEATURES`). Identity (0, 1, 0...)
        for services without rows.
    calibration_cov_ : ndarray of shape (n_targets, n_services, 2 + m, 2 + m)
        Cluster-robust covariance of `calibration_coef_`.
    calibration_columns_ : ndarray of int, shape (m,)
        Feature columns of `CALIBRATION_FEATURES`.
    final_alpha_ : ndarray of shape (n_services,)
        The final-stage penalty used for each service.
    final_alpha_cv_ : pandas.DataFrame
        With `final_alpha="auto"`: the cross-validated loss of each candidate (rows) for
        each service (columns).
    supported_ : ndarray of bool, shape (n_services,)
        Services with at least `min_treated` logged episodes.
    propensity_source_ : {"logged", "estimated"}
    overlap_ : pandas.DataFrame
        Per action: `n_allowed`, `n_treated`, `share_floored` (treated rows whose propensity
        was below the floor), `min_propensity`, `ess` (effective sample size of the treated
        rows' inverse-propensity weights).
    n_logged_not_allowed_ : int
        Episodes whose logged service the `allowed` mask forbade (kept; counted as allowed).

    Notes
    -----
    The bootstrap percentiles alone cover the sampling noise of the final-stage fit, not
    the nuisances' error nor the bias of the shrinkage: on 30,000-client synthetic worlds
    their nominal 90 % held the true uplift for about 60 % of client-service pairs. The
    calibrated intervals (default) measure the model's error against out-of-fold
    pseudo-outcomes and held it for 87-90 % there and 84 % on a 100,000-client world,
    about twice as wide (BENCHMARKS.md, docs/MODEL.md): close to nominal, a little short,
    and blind to confounding by anything the profile does not record.
    """

    def __init__(
        self,
        *,
        services: Sequence[str] | None = None,
        n_folds: int = 2,
        propensity_floor: float = 0.01,
        outcome_C: float = 0.3,
        interaction_scale: float = 0.3,
        propensity_C: float = 1.0,
        final_alpha: float | str = "auto",
        final_alpha_grid: tuple[float, ...] = (10.0, 100.0, 1e3, 1e4, 1e5, 1e6),
        n_bootstrap: int = 40,
        interval: float = 0.9,
        interval_method: str = "calibrated",
        min_treated: int = 20,
        max_iter: int = 300,
        random_state: int = 0,
    ) -> None:
        self.services = services
        self.n_folds = n_folds
        self.propensity_floor = propensity_floor
        self.outcome_C = outcome_C
        self.interaction_scale = interaction_scale
        self.propensity_C = propensity_C
        self.final_alpha = final_alpha
        self.final_alpha_grid = final_alpha_grid
        self.n_bootstrap = n_bootstrap
        self.interval = interval
        self.interval_method = interval_method
        self.min_treated = min_treated
        self.max_iter = max_iter
        self.random_state = random_state

    # -- fitting ---------------------------------------------------------------------------

    def fit(
        self,
        X: pd.DataFrame,
        actions: npt.ArrayLike,
        outcomes: npt.ArrayLike,
        *,
        propensity: npt.ArrayLike | None = None,
        allowed: npt.ArrayLike | None = None,
        groups: npt.ArrayLike | None = None,
    ) -> ServiceRanker:
        """Fit on logged episodes.

        Parameters
        ----------
        X : pandas.DataFrame
            Typed profile frame, one row per episode.
        actions : array-like of str, shape (n,)
            Service received, or `"none"`.
        outcomes : array-like of shape (n, len(TARGETS))
            0/1 outcomes in `TARGETS` order (see `outcomes_from_episodes`).
        propensity : array-like of shape (n,), optional
            Logged probability of the logged action under the caseworkers' policy. Trusted
            when given (it was recorded at decision time); else estimated.
        allowed : array-like of bool, shape (n, n_services), optional
            Catalog limits per episode, columns in `services` order. Default: all allowed.
        groups : array-like of shape (n,), optional
            Client ids: folds and bootstrap resample clients, not episodes.

        Returns
        -------
        self
        """
        self._check_params()
        if not isinstance(X, pd.DataFrame):
            raise TypeError("X must be a typed profile DataFrame")
        n = len(X)
        if n == 0:
            raise ValueError("cannot fit on zero episodes")
        action_values = np.asarray(actions, dtype=object)
        y = np.asarray(outcomes, dtype=np.float64)
        if action_values.shape != (n,):
            raise ValueError(f"actions has {action_values.shape[0]} rows, X has {n}")
        if y.shape != (n, len(TARGETS)):
            raise ValueError(f"outcomes must have shape ({n}, {len(TARGETS)}), got {y.shape}")
        for j, target in enumerate(TARGETS):
            _check_binary(y[:, j], target)

        services = self._resolve_services(action_values)
        action_index = _action_index(action_values, services)
        n_services = len(services)
        allowed_mask = self._resolve_allowed(allowed, n, n_services)
        allowed_full = np.column_stack([np.ones(n, dtype=bool), allowed_mask])
        rows = np.arange(n)
        not_allowed = ~allowed_full[rows, action_index]
        self.n_logged_not_allowed_ = int(not_allowed.sum())
        allowed_full[rows[not_allowed], action_index[not_allowed]] = True

        self.encoder_ = FeatureEncoder().fit(X)
        features = self.encoder_.transform(X)
        design = _with_intercept(features)
        rng = np.random.default_rng(self.random_state)
        group_codes = _group_codes(groups, n)
        n_groups = int(group_codes.max()) + 1
        folds = rng.permutation(n_groups)[group_codes] % self.n_folds

        mu, self.baseline_coef_, self.outcome_coef_, fold_coefs = self._cross_fit_outcomes(
            features, action_index, y, folds, n_services
        )
        if propensity is None:
            logged_e = self._cross_fit_propensity(features, action_index, allowed_full, folds)
            self.propensity_source_ = "estimated"
        else:
            logged_e = np.asarray(propensity, dtype=np.float64)
            if logged_e.shape != (n,):
                raise ValueError(f"propensity has shape {logged_e.shape}, expected ({n},)")
            bad = ~np.isfinite(logged_e) | (logged_e <= 0) | (logged_e > 1)
            if bad.any():
                row = int(np.flatnonzero(bad)[0]) + 1
                raise ValueError(f"row {row}: propensity must lie in (0, 1]")
            self.propensity_source_ = "logged"

        floored = np.maximum(logged_e, self.propensity_floor)
        pseudo = _pseudo_outcomes(mu, y, action_index, floored)
        # The final stage fits the outcome model's own effect (plug-in, low noise) and the
        # AIPW correction apart; only the noisy correction is shrunk, so a large penalty falls
        # back to the outcome model's effect plus a constant correction, not to zero.
        plug_in = mu[:, :, 1:] - mu[:, :, :1]
        correction = pseudo - plug_in
        del pseudo
        counts = np.bincount(action_index, minlength=n_services + 1)
        self.supported_ = counts[1:] >= self.min_treated
        self.overlap_ = _overlap_table(
            ("none", *services), allowed_full, action_index, logged_e, self.propensity_floor
        )

        self.uplift_coef_ = np.zeros((len(TARGETS), design.shape[1], n_services))
        self.uplift_boot_ = np.zeros((self.n_bootstrap, *self.uplift_coef_.shape))
        boot_weights = rng.poisson(1.0, size=(self.n_bootstrap, n_groups))[:, group_codes]
        masks = _distinct_masks(allowed_mask, self.supported_)
        if self.final_alpha == "auto":
            grid = tuple(float(a) for a in self.final_alpha_grid)
            cv_loss = _ridge_cv_loss(
                design, plug_in, correction, masks, folds, self.n_folds, grid, n_services
            )
            # One penalty for all services: per-service choices chase the noise of small
            # services' pseudo-outcomes.
            best = grid[int(np.argmin(cv_loss.sum(axis=1)))]
            self.final_alpha_ = np.full(n_services, best)
            self.final_alpha_cv_ = pd.DataFrame(cv_loss, index=pd.Index(grid, name="alpha"))
            self.final_alpha_cv_.columns = list(services)
        else:
            self.final_alpha_ = np.full(n_services, float(self.final_alpha))
        for mask_columns, mask in masks:
            rows_k = np.flatnonzero(mask)
            x_k = design[rows_k]
            plug_k = plug_in[rows_k][:, :, mask_columns].reshape(len(rows_k), -1)
            corr_k = correction[rows_k][:, :, mask_columns].reshape(len(rows_k), -1)
            alphas = np.tile(self.final_alpha_[mask_columns], len(TARGETS))
            coef = _final_stage(x_k, plug_k, corr_k, np.ones(len(rows_k)), alphas)
            self.uplift_coef_[:, :, mask_columns] = _unstack(coef, len(mask_columns))
            for b in range(self.n_bootstrap):
                w = boot_weights[b, rows_k].astype(np.float64)
                coef_b = _final_stage(x_k, plug_k, corr_k, w, alphas)
                self.uplift_boot_[b][:, :, mask_columns] = _unstack(coef_b, len(mask_columns))

        oof = _out_of_fold_uplift(
            design, y, action_index, floored, fold_coefs, masks, folds, self.final_alpha_
        )
        names = self.encoder_.feature_names_out_
        self.calibration_columns_ = np.array([names.index(c) for c in CALIBRATION_FEATURES])
        self.calibration_coef_, self.calibration_cov_ = _calibrate(
            oof, plug_in + correction, group_codes, features[:, self.calibration_columns_]
        )
        self.services_ = tuple(services)
        self.targets_ = TARGETS
        self.n_features_in_ = features.shape[1]
        self.n_episodes_ = n
        return self

    def _check_params(self) -> None:
        check_scalar(self.n_folds, "n_folds", int, min_val=2)
        check_scalar(
            self.propensity_floor, "propensity_floor", float, min_val=0.0, max_val=0.5,
            include_boundaries="right",
        )  # fmt: skip
        check_scalar(self.outcome_C, "outcome_C", float, min_val=0.0, include_boundaries="neither")
        check_scalar(
            self.propensity_C, "propensity_C", float, min_val=0.0, include_boundaries="neither"
        )
        if self.final_alpha == "auto":
            if not self.final_alpha_grid or min(self.final_alpha_grid) < 0:
                raise ValueError("final_alpha_grid must hold non-negative penalties")
        elif isinstance(self.final_alpha, str):
            raise ValueError(f"final_alpha must be a number or 'auto', got {self.final_alpha!r}")
        else:
            check_scalar(self.final_alpha, "final_alpha", (int, float), min_val=0.0)
        check_scalar(self.n_bootstrap, "n_bootstrap", int, min_val=0)
        check_scalar(
            self.interaction_scale, "interaction_scale", (int, float), min_val=0.0,
            include_boundaries="neither",
        )  # fmt: skip
        check_scalar(
            self.interval, "interval", float, min_val=0.0, max_val=1.0,
            include_boundaries="neither",
        )  # fmt: skip
        if self.interval_method not in INTERVAL_METHODS:
            raise ValueError(
                f"interval_method must be one of {', '.join(INTERVAL_METHODS)}, "
                f"got {self.interval_method!r}"
            )
        check_scalar(self.min_treated, "min_treated", int, min_val=1)
        check_scalar(self.max_iter, "max_iter", int, min_val=1)

    def _resolve_services(self, action_values: np.ndarray) -> tuple[str, ...]:
        if self.services is None:
            observed = {str(a) for a in action_values} - {NO_SERVICE}
            return tuple(sorted(observed))
        services = tuple(str(s) for s in self.services)
        if NO_SERVICE in services:
            raise ValueError(f"services must not include {NO_SERVICE!r} (it is the baseline)")
        if len(set(services)) != len(services):
            raise ValueError("services contains duplicates")
        return services

    def _resolve_allowed(self, allowed: npt.ArrayLike | None, n: int, k: int) -> np.ndarray:
        if allowed is None:
            return np.ones((n, k), dtype=bool)
        if self.services is None:
            raise ValueError("pass `services` (column order of `allowed`) together with `allowed`")
        mask = np.asarray(allowed)
        if mask.shape != (n, k):
            raise ValueError(f"allowed must have shape ({n}, {k}), got {mask.shape}")
        return mask.astype(bool)

    def _cross_fit_outcomes(
        self,
        features: np.ndarray,
        action_index: np.ndarray,
        y: np.ndarray,
        folds: np.ndarray,
        n_services: int,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[np.ndarray]]:
        """Out-of-fold predicted outcome under every action, the fold-averaged models, and
        each fold's model (logit coefficients (targets, 1 + d, actions), fitted without it)."""
        n, d = features.shape
        n_targets = y.shape[1]
        mu = np.zeros((n, n_targets, n_services + 1))
        # Logit coefficients of the outcome under each action: (targets, 1 + d, actions).
        coef_sum = np.zeros((n_targets, d + 1, n_services + 1))
        fold_coefs = []
        design = _action_design(features, action_index, n_services, self.interaction_scale)
        for fold in range(self.n_folds):
            train = folds != fold
            test = ~train
            fold_coef = np.zeros_like(coef_sum)
            for t in range(n_targets):
                coef = self._fit_outcome(design[train], y[train, t], d, n_services)
                fold_coef[t] = coef
                logits = _with_intercept(features[test]) @ coef
                mu[test, t, :] = _sigmoid(logits)
            coef_sum += fold_coef
            fold_coefs.append(fold_coef)
        outcome_coef = coef_sum / self.n_folds
        return mu, outcome_coef[:, :, 0].copy(), outcome_coef, fold_coefs

    def _fit_outcome(
        self, design: sp.csr_matrix, y: np.ndarray, d: int, n_services: int
    ) -> np.ndarray:
        """Fit one logistic outcome model; return logit coefficients (1 + d, 1 + n_services)."""
        coef = np.zeros((d + 1, n_services + 1))
        if y.min() == y.max():  # one class only: a constant model
            p = np.clip(y.mean(), 1e-4, 1 - 1e-4)
            coef[0, :] = np.log(p / (1 - p))
            return coef
        model = LogisticRegression(C=self.outcome_C, max_iter=self.max_iter)
        model.fit(design, y)
        w = model.coef_.ravel()
        base = w[:d]
        action_shift = w[d : d + n_services]
        interactions = w[d + n_services :].reshape(n_services, d) * self.interaction_scale
        coef[0, :] = model.intercept_[0]
        coef[0, 1:] += action_shift
        coef[1:, :] = base[:, None]
        coef[1:, 1:] += interactions.T
        return coef

    def _cross_fit_propensity(
        self,
        features: np.ndarray,
        action_index: np.ndarray,
        allowed_full: np.ndarray,
        folds: np.ndarray,
    ) -> np.ndarray:
        """Out-of-fold probability of the logged action, renormalised over allowed actions."""
        n = len(features)
        out = np.zeros(n)
        for fold in range(self.n_folds):
            train = folds != fold
            test = ~train
            model = LogisticRegression(C=self.propensity_C, max_iter=self.max_iter)
            model.fit(features[train], action_index[train])
            proba = np.zeros((int(test.sum()), allowed_full.shape[1]))
            proba[:, model.classes_] = model.predict_proba(features[test])
            proba *= allowed_full[test]
            total = proba.sum(axis=1, keepdims=True)
            proba = np.divide(proba, total, out=np.zeros_like(proba), where=total > 0)
            out[test] = proba[np.arange(len(proba)), action_index[test]]
        # An action never seen in a training fold gets probability 0: floor it, do not drop it.
        return np.maximum(out, 1e-6)

    # -- prediction ------------------------------------------------------------------------

    def encode(self, X: pd.DataFrame) -> np.ndarray:
        """Design matrix (n, n_coef) of a typed profile frame: a column of ones, then features."""
        check_is_fitted(self, "uplift_coef_")
        return _with_intercept(self.encoder_.transform(X))

    def predict_baseline(self, X: pd.DataFrame) -> np.ndarray:
        """Probability of each target without any service, shape (n, n_targets)."""
        return self.baseline_from_design(self.encode(X))

    def predict_uplift(self, X: pd.DataFrame) -> np.ndarray:
        """Uplift of each service on each target, shape (n, n_targets, n_services)."""
        return self.uplift_from_design(self.encode(X))

    def predict_outcomes(self, X: pd.DataFrame) -> np.ndarray:
        """Probability of each target under no service (column 0) and each service.

        Returns
        -------
        ndarray of shape (n, n_targets, 1 + n_services); with a service it is the baseline
        plus the uplift, clipped to [0, 1].
        """
        design = self.encode(X)
        base = self.baseline_from_design(design)
        with_service = np.clip(base[:, :, None] + self.uplift_from_design(design), 0.0, 1.0)
        return np.concatenate([base[:, :, None], with_service], axis=2)

    def baseline_from_design(self, design: np.ndarray) -> np.ndarray:
        """`predict_baseline` on an already encoded design matrix."""
        check_is_fitted(self, "uplift_coef_")
        return _sigmoid(design @ self.baseline_coef_.T)

    def uplift_from_design(self, design: np.ndarray) -> np.ndarray:
        """`predict_uplift` on an already encoded design matrix."""
        check_is_fitted(self, "uplift_coef_")
        return np.einsum("np,tpk->ntk", design, self.uplift_coef_, optimize=True)

    def score_design(self, design: np.ndarray, objective: Objective | str) -> ClientScores:
        """Scores of one encoded client (design row of shape (n_coef,)) on an objective.

        The serving path: one small matrix product for the point estimates and the bootstrap
        replicas together; the interval is calibrated (`interval_method="calibrated"`, the
        default) or the replicas' percentiles.
        """
        check_is_fitted(self, "uplift_coef_")
        weights = objective_weights(objective)
        base = float(weights @ _sigmoid(self.baseline_coef_ @ design))
        serving = self._serving_matrix()
        values = design @ serving  # (targets * (1 + n_bootstrap) * services,)
        values = values.reshape(1 + self.n_bootstrap, len(TARGETS), -1)
        combined = np.tensordot(weights, values, axes=([0], [1]))  # (1 + n_bootstrap, services)
        uplift = combined[0]
        if self.n_bootstrap == 0:
            low, high = uplift.copy(), uplift.copy()
        else:
            low, high = _percentile_rows(combined[1:], self.interval)
        if self._calibrated_intervals():
            low, high = self._calibrated_interval(values[0], design, uplift, low, high, weights)
        return ClientScores(base, uplift, low, high)

    def objective_uplift_coef(self, objective: Objective | str) -> np.ndarray:
        """Uplift coefficients (n_coef, n_services) of an objective: design @ it = uplift."""
        check_is_fitted(self, "uplift_coef_")
        return np.tensordot(objective_weights(objective), self.uplift_coef_, axes=([0], [0]))

    def uplift_interval(
        self, X: pd.DataFrame, objective: Objective | str
    ) -> tuple[np.ndarray, np.ndarray]:
        """Interval (low, high) of each client's uplift per service (see `interval_method`)."""
        design = self.encode(X)
        weights = objective_weights(objective)
        point = design @ self.objective_uplift_coef(objective)
        if self.n_bootstrap == 0:
            low, high = point, point.copy()
        else:
            boot = np.tensordot(weights, self.uplift_boot_, axes=([0], [1]))  # (B, p, k)
            replicas = np.einsum("np,bpk->bnk", design, boot, optimize=True)
            low, high = _percentile_rows(replicas, self.interval)
        if self._calibrated_intervals():
            per_target = np.einsum("np,tpk->ntk", design, self.uplift_coef_, optimize=True)
            low, high = self._calibrated_interval(per_target, design, point, low, high, weights)
        return low, high

    def _calibrated_intervals(self) -> bool:
        # Rankers pickled before calibration existed carry neither the parameter nor the
        # line: they keep their bootstrap percentiles.
        method = self.__dict__.get("interval_method", "bootstrap")
        return method == "calibrated" and "calibration_coef_" in self.__dict__

    def _calibrated_interval(
        self,
        per_target: np.ndarray,
        design: np.ndarray,
        point: np.ndarray,
        low: np.ndarray,
        high: np.ndarray,
        weights: np.ndarray,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Interval around the calibrated uplift, holding the point estimate too.

        `per_target` (..., targets, services) are the point estimates per target, `design`
        (..., n_coef) the encoded clients, `point`, `low`, `high` (..., services) the
        objective's point and bootstrap percentiles. The calibration model of each target
        and service (fitted on out-of-fold pseudo-outcomes: `calibration_coef_`) maps the
        point and a few profile indicators to the calibrated uplift; its standard error
        there and the bootstrap spread (scaled by the slope) give the width. Targets are
        combined as if perfectly correlated (conservative).
        """
        check_is_fitted(self, "calibration_coef_")
        coef, cov = self.calibration_coef_, self.calibration_cov_
        indicators = design[..., self.calibration_columns_ + 1]  # (..., m)
        shape = per_target.shape
        basis = np.concatenate(
            [
                np.ones((*shape, 1)),
                per_target[..., None],
                np.broadcast_to(indicators[..., None, None, :], (*shape, indicators.shape[-1])),
            ],
            axis=-1,
        )  # (..., targets, services, 2 + m)
        calibrated_t = np.einsum("...tkp,tkp->...tk", basis, coef)
        se2 = (np.einsum("...tkp,tkpq->...tkq", basis, cov) * basis).sum(axis=-1)
        calibrated = np.einsum("t,...tk->...k", weights, calibrated_t)
        se = np.einsum("t,...tk->...k", weights, np.sqrt(np.maximum(se2, 0.0)))
        z = NormalDist().inv_cdf((1.0 + self.interval) / 2.0)
        slope = np.abs(weights @ coef[..., 1])
        boot_sd = slope * np.maximum(high - low, 0.0) / (2.0 * z)
        half = z * np.sqrt(se**2 + boot_sd**2)
        return np.minimum(point, calibrated - half), np.maximum(point, calibrated + half)

    def _serving_matrix(self) -> np.ndarray:
        # (n_coef, (1 + B) * targets * services), built once per process; not pickled.
        cached: np.ndarray | None = self.__dict__.get("_serving_cache")
        if cached is None:
            stacked = np.concatenate([self.uplift_coef_[None], self.uplift_boot_], axis=0)
            cached = np.ascontiguousarray(
                stacked.transpose(2, 0, 1, 3).reshape(stacked.shape[2], -1)
            )
            self.__dict__["_serving_cache"] = cached
        return cached

    def __getstate__(self) -> dict[str, object]:
        state = dict(super().__getstate__())
        state.pop("_serving_cache", None)
        return state


# -- helpers ---------------------------------------------------------------------------------


def _with_intercept(features: np.ndarray) -> np.ndarray:
    return np.hstack([np.ones((features.shape[0], 1)), features])


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(z, -35.0, 35.0)))


def _action_index(actions: np.ndarray, services: tuple[str, ...]) -> np.ndarray:
    lookup = {NO_SERVICE: 0, **{s: i + 1 for i, s in enumerate(services)}}
    out = np.empty(len(actions), dtype=np.int64)
    for row, action in enumerate(actions):
        try:
            out[row] = lookup[str(action)]
        except KeyError:
            raise ValueError(
                f"row {row + 1}: service {action!r} is not among the ranker's services"
            ) from None
    return out


def _group_codes(groups: npt.ArrayLike | None, n: int) -> np.ndarray:
    if groups is None:
        return np.arange(n)
    values = pd.Series(np.asarray(groups))
    if len(values) != n:
        raise ValueError(f"groups has {len(values)} rows, expected {n}")
    if values.isna().any():
        row = int(np.flatnonzero(values.isna().to_numpy())[0]) + 1
        raise ValueError(f"row {row}: group (client id) is missing")
    codes, _ = pd.factorize(values)
    return codes.astype(np.int64)


def _action_design(
    features: np.ndarray, action_index: np.ndarray, n_services: int, interaction_scale: float
) -> sp.csr_matrix:
    """Sparse [features, service one-hot, service x feature] (no columns for `none`).

    Interaction columns are multiplied by `interaction_scale`: under one L2 penalty that
    shrinks the service-specific slopes harder than the shared ones.
    """
    n, d = features.shape
    treated = action_index > 0
    per_row = d + treated.astype(np.int64) * (1 + d)
    indptr = np.concatenate([[0], np.cumsum(per_row)])
    indices = np.empty(indptr[-1], dtype=np.int64)
    data = np.empty(indptr[-1], dtype=np.float64)
    starts = indptr[:-1]
    base_cols = np.arange(d)
    # Every row: the d base features.
    positions = starts[:, None] + base_cols[None, :]
    indices[positions] = base_cols
    data[positions] = features
    # Treated rows: the service indicator and its d interactions.
    tr = np.flatnonzero(treated)
    service = action_index[tr] - 1
    indices[starts[tr] + d] = d + service
    data[starts[tr] + d] = 1.0
    inter_positions = starts[tr][:, None] + d + 1 + base_cols[None, :]
    indices[inter_positions] = d + n_services + service[:, None] * d + base_cols[None, :]
    data[inter_positions] = features[tr] * interaction_scale
    shape = (n, d + n_services + n_services * d)
    return sp.csr_matrix((data, indices, indptr), shape=shape)


def _pseudo_outcomes(
    mu: np.ndarray, y: np.ndarray, action_index: np.ndarray, propensity: np.ndarray
) -> np.ndarray:
    """AIPW pseudo-outcomes of each service against none, shape (n, targets, services)."""
    n = len(y)
    rows = np.arange(n)
    mu_logged = mu[rows, :, action_index]  # (n, targets)
    residual = (y - mu_logged) / propensity[:, None]
    pseudo = mu[:, :, 1:] - mu[:, :, :1]
    treated = action_index > 0
    pseudo[rows[treated], :, action_index[treated] - 1] += residual[treated]
    pseudo[~treated] -= residual[~treated][:, :, None]
    return pseudo


def _distinct_masks(
    allowed: np.ndarray, supported: np.ndarray
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Group supported services by identical allowed-row masks (they share one Gram matrix)."""
    groups: dict[bytes, list[int]] = {}
    for k in np.flatnonzero(supported):
        column = allowed[:, k]
        if column.any():
            groups.setdefault(np.packbits(column).tobytes(), []).append(int(k))
    return [(np.array(ks), allowed[:, ks[0]]) for ks in groups.values()]


# Penalty of the plug-in part of the final stage: only there to keep the solve stable.
PLUG_IN_ALPHA: Final = 1.0


def _final_stage(
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
    gram = xw.T @ x
    coef = _solve_ridge(gram, xw.T @ plug_in, PLUG_IN_ALPHA)
    corr_rhs = xw.T @ correction
    for alpha in np.unique(alphas):
        columns = alphas == alpha
        coef[:, columns] += _solve_ridge(gram, corr_rhs[:, columns], float(alpha))
    return coef


def _solve_ridge(gram: np.ndarray, rhs: np.ndarray, alpha: float) -> np.ndarray:
    penalised = gram.copy()
    penalised[np.diag_indices_from(penalised)] += alpha
    penalised[0, 0] += 1e-8 - alpha  # the intercept stays unpenalised
    try:
        return np.linalg.solve(penalised, rhs)
    except np.linalg.LinAlgError:  # e.g. alpha 0 on collinear one-hot columns
        return np.linalg.lstsq(penalised, rhs, rcond=None)[0]


def _ridge_cv_loss(
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
            fitted_plug = x_f @ _solve_ridge(gram_train, plug_all - plug_rhs[f], PLUG_IN_ALPHA)
            for i, alpha in enumerate(grid):
                coef = _solve_ridge(gram_train, corr_all - corr_rhs[f], alpha)
                errors = ((pseudo_f - fitted_plug - x_f @ coef) ** 2).sum(axis=0)
                loss[i, mask_columns] += errors.reshape(len(TARGETS), -1).sum(axis=0)
    return loss


def _out_of_fold_uplift(
    design: np.ndarray,
    y: np.ndarray,
    action_index: np.ndarray,
    propensity: np.ndarray,
    fold_coefs: list[np.ndarray],
    masks: list[tuple[np.ndarray, np.ndarray]],
    folds: np.ndarray,
    alphas: np.ndarray,
) -> np.ndarray:
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
    ndarray of shape (n, targets, services)
        NaN where the service is not allowed or not supported.
    """
    n = len(design)
    n_services = fold_coefs[0].shape[2] - 1
    oof = np.full((n, len(TARGETS), n_services), np.nan)
    for f, coef_f in enumerate(fold_coefs):
        train = np.flatnonzero(folds != f)
        test = np.flatnonzero(folds == f)
        if len(train) == 0 or len(test) == 0:
            continue
        mu = _sigmoid(np.einsum("np,tpa->nta", design[train], coef_f, optimize=True))
        pseudo = _pseudo_outcomes(mu, y[train], action_index[train], propensity[train])
        plug = mu[:, :, 1:] - mu[:, :, :1]
        corr = pseudo - plug
        del mu, pseudo
        for mask_columns, mask in masks:
            fit_rows = np.flatnonzero(mask[train])
            predict_rows = test[mask[test]]
            if len(fit_rows) == 0 or len(predict_rows) == 0:
                continue
            plug_k = plug[fit_rows][:, :, mask_columns].reshape(len(fit_rows), -1)
            corr_k = corr[fit_rows][:, :, mask_columns].reshape(len(fit_rows), -1)
            column_alphas = np.tile(alphas[mask_columns], len(TARGETS))
            coef = _final_stage(
                design[train[fit_rows]], plug_k, corr_k, np.ones(len(fit_rows)), column_alphas
            )
            predicted = (design[predict_rows] @ coef).reshape(len(predict_rows), len(TARGETS), -1)
            for j, k in enumerate(mask_columns):
                oof[predict_rows, :, k] = predicted[:, :, j]
    return oof


# Profile indicators the calibration model adds to the prediction: effects differ along
# them, and an error that follows them is invisible to a line in the prediction alone.
CALIBRATION_FEATURES: Final = (
    "age_under_25",
    "long_term_unemployed",
    "low_language",
    "two_plus_barriers",
)


def _calibrate(
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


def _unstack(coef: np.ndarray, n_columns: int) -> np.ndarray:
    """(n_coef, targets * k) from a stacked solve -> (targets, n_coef, k)."""
    n_coef = coef.shape[0]
    return coef.reshape(n_coef, len(TARGETS), n_columns).transpose(1, 0, 2)


def _percentile_rows(replicas: np.ndarray, interval: float) -> tuple[np.ndarray, np.ndarray]:
    """Linear-interpolated percentiles over axis 0 (the bootstrap axis)."""
    ordered = np.sort(replicas, axis=0)
    last = ordered.shape[0] - 1
    out = []
    for q in ((1 - interval) / 2, (1 + interval) / 2):
        position = q * last
        lower = int(np.floor(position))
        upper = min(lower + 1, last)
        frac = position - lower
        out.append(ordered[lower] * (1 - frac) + ordered[upper] * frac)
    return out[0], out[1]


def _overlap_table(
    actions: tuple[str, ...],
    allowed_full: np.ndarray,
    action_index: np.ndarray,
    propensity: np.ndarray,
    floor: float,
) -> pd.DataFrame:
    records = []
    for a, name in enumerate(actions):
        treated = action_index == a
        e = propensity[treated]
        inverse = 1.0 / np.maximum(e, floor)
        ess = float(inverse.sum() ** 2 / (inverse**2).sum()) if len(e) else 0.0
        records.append(
            {
                "action": name,
                "n_allowed": int(allowed_full[:, a].sum()),
                "n_treated": int(treated.sum()),
                "share_floored": float((e < floor).mean()) if len(e) else 0.0,
                "min_propensity": float(e.min()) if len(e) else float("nan"),
                "ess": ess,
            }
        )
    return pd.DataFrame.from_records(records)
