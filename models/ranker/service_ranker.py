"""`ServiceRanker`: the DR-learner's estimator, composing its nuisances, final stage and intervals.

`fit` validates the logs, cross-fits the nuisances (`models.ranker.nuisances`), fits the
final stage and its bootstrap (`models.ranker.final_stage`) and the calibration models
(`models.ranker.intervals`); the prediction methods are matrix products over the stored
coefficients. Actions follow `models.actions` (services in order, "none" last).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted, check_scalar

from models.actions import NO_SERVICE, ActionSpace, allowed_actions, with_no_service
from models.features import FeatureEncoder
from models.objectives import (
    TARGETS,
    Objective,
    check_binary,
    objective_weights,
    target_observed,
)
from models.persistence import persistable
from models.ranker.final_stage import (
    distinct_masks,
    fit_plug_in,
    fit_uplift,
    plug_in_effect,
    pseudo_outcome_weights,
    pseudo_outcomes,
    ridge_cv_loss,
)
from models.ranker.intervals import (
    CALIBRATION_FEATURES,
    calibrate,
    calibrated_interval,
    out_of_fold_fits,
    percentile_rows,
)
from models.ranker.nuisances import (
    OBSERVED_FLOOR,
    PracticeFit,
    client_folds,
    cross_fit_outcomes,
    cross_fit_practice,
    observation_weights,
    sigmoid,
    with_intercept,
)
from models.ranker.shrinkage import fit_shrinkage, shown_coefficients, shrunk_interval
from models.ranker.stacking import (
    STACK_CANDIDATES,
    choose_candidate,
    fit_stack,
    stack_cv_loss,
)

# "shrunk": the shown uplift is the empirical-Bayes shrunk one, the interval around it
# (`models.ranker.shrinkage`; default); "calibrated": centred on the out-of-fold calibrated
# uplift, widened by its error and to hold the model's uplift; "bootstrap": percentiles of
# the final stage's bootstrap replicas (nuisances fixed).
INTERVAL_METHODS: Final = ("shrunk", "calibrated", "bootstrap")
# "auto": the stacking candidate with the smallest cross-validated DR loss
# (`models.ranker.stacking`); or one candidate by name ("dr": the final stage as it is).
STACK_CHOICES: Final = ("auto", *STACK_CANDIDATES)
# Training rows per fold of the practice model when the propensities are logged (only
# its log-odds are needed then): practice is learnt long before, and the fit costs rows x actions.
PRACTICE_MAX_ROWS: Final = 20_000


@dataclass(frozen=True, slots=True)
class ClientScores:
    """One client's scores on one objective for every service of the ranker (ranker order).

    Attributes
    ----------
    expected_without : float
        Predicted probability of the objective outcome with no service.
    uplift, uplift_low, uplift_high : ndarray of shape (n_services,)
        The model's uplift (what services are ranked by; probability points / 100) and the
        interval, by `interval_method`.
    shown : ndarray of shape (n_services,), optional
        The uplift to show (`interval_method="shrunk"`: the shrunk estimate the interval is
        centred on); None: `uplift`.
    """

    expected_without: float
    uplift: np.ndarray
    uplift_low: np.ndarray
    uplift_high: np.ndarray
    shown: np.ndarray | None = None

    @property
    def uplift_shown(self) -> np.ndarray:
        """The uplift a caseworker reads (`shown`, else the model's)."""
        return self.uplift if self.shown is None else self.shown


@persistable
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
    interval_method : {"shrunk", "calibrated", "bootstrap"}, default "shrunk"
        "bootstrap": percentiles of the bootstrap replicas (the final stage's sampling
        noise only). "calibrated": centred on the out-of-fold calibrated uplift, with its
        standard error and the bootstrap spread, widened to hold the point estimate.
        "shrunk": the uplift shown is the empirical-Bayes shrunk estimate (against the
        winner's curse of the top suggestion), the interval is centred on it and adds its
        posterior spread to the calibrated error (`models.ranker.shrinkage`). Read at
        prediction time, so one fit serves all three.
    min_treated : int, default 20
        Services received fewer times than this are marked unsupported (not ranked).
    stack : {"auto", "dr", "scaled_dr_and_practice", "dr_plug_in_and_practice"}
        How the served uplift is made from the final stage (`models.ranker.stacking`;
        default "auto"): "dr" serves the final stage as it is; "scaled_dr_and_practice"
        serves `a + b * final stage + c * practice log-odds` fitted on out-of-fold
        predictions; "dr_plug_in_and_practice" adds `d * plug-in part` (the outcome model's
        own effect); "auto" takes the candidate of lowest cross-validated DR loss among
        those credibly better than the final stage.
    stack_weights : bool, default True
        Weigh each (client, service) pair in the stacking's least squares and its
        cross-validated loss by the inverse variance of its pseudo-outcome
        (`final_stage.pseudo_outcome_weights`); False: equal weights, as before December 2026.
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
    outcome_coef_ : ndarray of shape (n_targets, n_coef, n_services + 1)
        Fold-averaged logit coefficients of the outcome model under each action, in
        `models.actions` order ("none" last).
    baseline_coef_ : ndarray of shape (n_targets, n_coef)
        Logit coefficients of the outcome without service (column 0 of the design is 1).
    uplift_coef_ : ndarray of shape (n_targets, n_coef, n_services)
        Coefficients of the served uplift on the probability scale (the stacked one).
    dr_uplift_coef_ : ndarray of shape (n_targets, n_coef, n_services)
        The final stage's own coefficients, before the stacking.
    practice_coef_ : ndarray of shape (n_coef, n_services)
        Fold-averaged log-odds of each service against no service under the model of the
        caseworkers' choices (`design @ practice_coef_`).
    stack_ : str
        The stacking used (`stack`, or the one "auto" chose).
    stack_coef_ : ndarray of shape (n_targets, n_services, 3)
        Its `a`, `b`, `c` (`models.ranker.stacking.STACK_TERMS`).
    stack_plug_in_ : ndarray of shape (n_targets, n_services)
        Its `d`, the weight of the plug-in part (0 unless "dr_plug_in_and_practice").
    stack_cv_ : pandas.DataFrame
        The cross-validated DR loss of each stacking candidate (per target, summed) and the
        client-clustered standard error of its difference from "dr".
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
    shrinkage_ : models.ranker.shrinkage.Shrinkage
        The empirical-Bayes shrinkage of the shown uplift (`interval_method="shrunk"`).
    final_alpha_ : ndarray of shape (n_services,)
        The final-stage penalty used for each service.
    final_alpha_cv_ : pandas.DataFrame
        With `final_alpha="auto"`: the cross-validated loss of each candidate (rows) for
        each service (columns).
    supported_ : ndarray of bool, shape (n_services,)
        Services with at least `min_treated` logged episodes.
    propensity_source_ : {"logged", "estimated"}
    overlap_ : pandas.DataFrame
        Per action ("none" last): `n_allowed`, `n_treated`, `share_floored` (treated rows
        whose propensity was below the floor), `min_propensity`, `ess` (effective sample size
        of the treated rows' inverse-propensity weights).
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
        interval_method: str = "shrunk",
        min_treated: int = 20,
        stack: str = "auto",
        stack_weights: bool = True,
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
        self.stack = stack
        self.stack_weights = stack_weights
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
            0/1 outcomes in `TARGETS` order (see `outcomes_from_episodes`); NaN where not
            yet observed (`nuisances.observation_weights` says how those episodes enter).
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
            check_binary(y[:, j], target, allow_missing=True)
        observed = target_observed(y)
        self.n_observed_ = dict(zip(TARGETS, observed.sum(axis=0).tolist(), strict=True))
        _check_observed(self.n_observed_, n, self.min_treated)

        space = self._resolve_actions(action_values)
        services = space.service_ids
        action_index = space.indices(action_values)
        n_services = space.n_services
        allowed_mask = self._resolve_allowed(allowed, n, n_services)
        action_mask = allowed_actions(allowed_mask)
        rows = np.arange(n)
        not_allowed = ~action_mask[rows, action_index]
        self.n_logged_not_allowed_ = int(not_allowed.sum())
        action_mask[rows[not_allowed], action_index[not_allowed]] = True

        self.encoder_ = FeatureEncoder().fit(X)
        features = self.encoder_.transform(X)
        design = with_intercept(features)
        rng = np.random.default_rng(self.random_state)
        group_codes = _group_codes(groups, n)
        n_groups = int(group_codes.max()) + 1
        folds = client_folds(group_codes, self.n_folds, rng)

        outcome_fit = cross_fit_outcomes(
            features,
            action_index,
            y,
            folds,
            self.n_folds,
            n_services,
            C=self.outcome_C,
            interaction_scale=self.interaction_scale,
            max_iter=self.max_iter,
            observed=observed,
        )
        mu = outcome_fit.mu
        observation = observation_weights(
            features,
            action_index,
            observed,
            n_services,
            C=self.propensity_C,
            max_iter=self.max_iter,
        )
        self.outcome_coef_ = outcome_fit.coef
        self.baseline_coef_ = outcome_fit.baseline_coef
        # The model of practice: the propensities when the logs carry none, and in any
        # case the log-odds of each service that the stacking may lean on.
        practice = cross_fit_practice(
            features,
            action_index,
            action_mask,
            folds,
            self.n_folds,
            C=self.propensity_C,
            max_iter=self.max_iter,
            # Only the log-odds are needed when the propensities are logged: a subsample
            # and a looser tolerance (the imitation baseline's) are enough for them.
            max_rows=None if propensity is None else PRACTICE_MAX_ROWS,
            tol=1e-4 if propensity is None else 1e-3,
            random_state=self.random_state,
        )
        if propensity is None:
            logged_e = practice.propensity
            self.propensity_source_ = "estimated"
        else:
            logged_e = _checked_propensity(propensity, n)
            self.propensity_source_ = "logged"

        floored = np.maximum(logged_e, self.propensity_floor)
        pseudo = pseudo_outcomes(mu, y, action_index, floored, observation)
        # The final stage fits the outcome model's own effect (plug-in, low noise) and the
        # AIPW correction apart; only the noisy correction is shrunk, so a large penalty falls
        # back to the outcome model's effect plus a constant correction, not to zero.
        plug_in = plug_in_effect(mu)
        correction = pseudo - plug_in
        del pseudo
        counts = np.bincount(action_index, minlength=space.n_actions)
        self.supported_ = counts[:n_services] >= self.min_treated
        self.overlap_ = _overlap_table(
            space.ids, action_mask, action_index, logged_e, self.propensity_floor
        )

        boot_weights = rng.poisson(1.0, size=(self.n_bootstrap, n_groups))[:, group_codes]
        masks = distinct_masks(allowed_mask, self.supported_)
        if self.final_alpha == "auto":
            grid = tuple(float(a) for a in self.final_alpha_grid)
            cv_loss = ridge_cv_loss(
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
        self.uplift_coef_, self.uplift_boot_ = fit_uplift(
            design, plug_in, correction, masks, self.final_alpha_, boot_weights
        )
        plug_in_coef = fit_plug_in(design, plug_in, masks)

        out_of_fold = out_of_fold_fits(
            design,
            y,
            action_index,
            floored,
            outcome_fit.fold_coefs,
            masks,
            folds,
            self.final_alpha_,
            observation,
        )
        pseudo = plug_in + correction
        del plug_in, correction
        oof = self._fit_stack(
            out_of_fold.uplift,
            out_of_fold.plug_in,
            plug_in_coef,
            pseudo,
            practice,
            group_codes,
            allowed_mask,
        )
        names = self.encoder_.feature_names_out_
        self.calibration_columns_ = np.array([names.index(c) for c in CALIBRATION_FEATURES])
        # The intervals describe the DR-learner's own estimate (as the shown number does):
        # calibrated against the stacked predictions, whose spread the stacking shrinks, the
        # half-widths spanned every possible value at 10,000 clients.
        self.calibration_coef_, self.calibration_cov_ = calibrate(
            out_of_fold.uplift, pseudo, group_codes, features[:, self.calibration_columns_]
        )
        # The shown number shrinks the DR-learner's own estimate (the ranking's stacked one
        # is already pulled toward practice; shrinking it again took the top suggestion's
        # shown uplift to a tenth of its truth on three worlds).
        self.shrinkage_ = fit_shrinkage(
            design,
            self._shrink_base(),
            out_of_fold.fold_coef,
            pseudo,
            group_codes,
            np.isfinite(oof).all(axis=1),
            len(CALIBRATION_FEATURES),
        )
        self.services_ = services
        self.targets_ = TARGETS
        self.n_features_in_ = features.shape[1]
        self.n_episodes_ = n
        return self

    def _fit_stack(
        self,
        oof: np.ndarray,
        oof_plug: np.ndarray,
        plug_coef: np.ndarray,
        pseudo: np.ndarray,
        practice: PracticeFit,
        group_codes: np.ndarray,
        allowed_mask: np.ndarray,
    ) -> np.ndarray:
        """Choose and fit the stacking (`models.ranker.stacking`); the stacked out-of-fold uplift.

        Replaces `uplift_coef_` and `uplift_boot_` by their stacked versions (the final
        stage's own stay in `dr_uplift_coef_`). `oof_plug` and `plug_coef` are the final
        stage's plug-in part, out of fold and fitted on all rows.
        """
        scored = np.isfinite(oof).any(axis=(0, 1))
        weights = (
            pseudo_outcome_weights(practice.logit, allowed_mask, self.propensity_floor)
            if self.stack_weights
            else None
        )
        self.stack_cv_ = stack_cv_loss(
            oof,
            pseudo,
            practice.logit,
            group_codes,
            self.n_folds,
            self.random_state,
            plug=oof_plug,
            weights=weights,
        )
        if self.stack == "auto":
            self.stack_ = choose_candidate(self.stack_cv_)
        else:
            self.stack_ = str(self.stack)
        stack = fit_stack(
            oof,
            pseudo,
            practice.logit,
            STACK_CANDIDATES[self.stack_],
            plug=oof_plug,
            weights=weights,
        )
        self.stack_coef_ = stack.coef
        self.stack_plug_in_ = (
            np.zeros(stack.coef.shape[:2]) if stack.plug_in is None else stack.plug_in
        )
        self.practice_coef_ = practice.coef
        self.dr_uplift_coef_ = self.uplift_coef_
        self.uplift_coef_ = stack.design_coef(self.uplift_coef_, practice.coef, scored, plug_coef)
        self.uplift_boot_ = stack.design_coef(self.uplift_boot_, practice.coef, scored, plug_coef)
        return stack.apply(oof, practice.logit, oof_plug)

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
        if self.stack not in STACK_CHOICES:
            raise ValueError(f"stack must be one of {', '.join(STACK_CHOICES)}, got {self.stack!r}")
        if not isinstance(self.stack_weights, bool):
            raise ValueError(f"stack_weights must be True or False, got {self.stack_weights!r}")
        check_scalar(self.max_iter, "max_iter", int, min_val=1)

    def _resolve_actions(self, action_values: np.ndarray) -> ActionSpace:
        if self.services is None:
            observed = {str(a) for a in action_values} - {NO_SERVICE}
            return ActionSpace(sorted(observed))
        return ActionSpace(self.services)

    def _resolve_allowed(self, allowed: npt.ArrayLike | None, n: int, k: int) -> np.ndarray:
        if allowed is None:
            return np.ones((n, k), dtype=bool)
        if self.services is None:
            raise ValueError("pass `services` (column order of `allowed`) together with `allowed`")
        mask = np.asarray(allowed)
        if mask.shape != (n, k):
            raise ValueError(f"allowed must have shape ({n}, {k}), got {mask.shape}")
        return mask.astype(bool)

    # -- prediction ------------------------------------------------------------------------

    def encode(self, X: pd.DataFrame) -> np.ndarray:
        """Design matrix (n, n_coef) of a typed profile frame: a column of ones, then features."""
        check_is_fitted(self, "uplift_coef_")
        return with_intercept(self.encoder_.transform(X))

    def predict_baseline(self, X: pd.DataFrame) -> np.ndarray:
        """Probability of each target without any service, shape (n, n_targets)."""
        return self.baseline_from_design(self.encode(X))

    def predict_uplift(self, X: pd.DataFrame) -> np.ndarray:
        """Uplift of each service on each target, shape (n, n_targets, n_services)."""
        return self.uplift_from_design(self.encode(X))

    def predict_outcomes(self, X: pd.DataFrame) -> np.ndarray:
        """Probability of each target under each service and (last) under no service.

        Returns
        -------
        ndarray of shape (n, n_targets, n_services + 1), actions in `models.actions` order;
        with a service it is the baseline plus the uplift, clipped to [0, 1].
        """
        design = self.encode(X)
        base = self.baseline_from_design(design)
        with_service = np.clip(base[:, :, None] + self.uplift_from_design(design), 0.0, 1.0)
        return with_no_service(with_service, base)

    def baseline_from_design(self, design: np.ndarray) -> np.ndarray:
        """`predict_baseline` on an already encoded design matrix."""
        check_is_fitted(self, "uplift_coef_")
        return sigmoid(design @ self.baseline_coef_.T)

    def uplift_from_design(self, design: np.ndarray) -> np.ndarray:
        """`predict_uplift` on an already encoded design matrix."""
        check_is_fitted(self, "uplift_coef_")
        return np.einsum("np,tpk->ntk", design, self.uplift_coef_, optimize=True)

    def design_replicas(self, design: np.ndarray) -> np.ndarray:
        """Every target's uplift of every service for one encoded client (design row of shape
        (n_coef,)): the point estimate, then each bootstrap replica, (1 + n_bootstrap,
        targets, services) from one product. `score_design` reads it for any objective, so a
        second objective of the same client need not repeat the product."""
        check_is_fitted(self, "uplift_coef_")
        return self._replicas(design)

    def _replicas(self, design: np.ndarray) -> np.ndarray:
        values = design @ self._serving_matrix()  # (targets * (1 + n_bootstrap) * services,)
        return values.reshape(1 + self.n_bootstrap, len(TARGETS), -1)

    def score_design(
        self,
        design: np.ndarray,
        objective: Objective | str,
        *,
        replicas: np.ndarray | None = None,
    ) -> ClientScores:
        """Scores of one encoded client (design row of shape (n_coef,)) on an objective.

        The serving path: one small matrix product for the point estimates and the bootstrap
        replicas together (`replicas`: `design_replicas(design)` when already computed for
        this client, as for a second objective); the interval is calibrated
        (`interval_method="calibrated"`, the default) or the replicas' percentiles.
        """
        check_is_fitted(self, "uplift_coef_")
        weights = objective_weights(objective)
        base = float(weights @ sigmoid(self.baseline_coef_ @ design))
        values = self._replicas(design) if replicas is None else replicas
        combined = np.tensordot(weights, values, axes=([0], [1]))  # (1 + n_bootstrap, services)
        uplift = combined[0]
        if self.n_bootstrap == 0:
            low, high = uplift.copy(), uplift.copy()
        else:
            low, high = percentile_rows(combined[1:], self.interval)
        if self._shrinks():
            own = design @ self._shrink_base()  # (targets, services)
            shown, low, high = self._shrunk_interval(own, design, low, high, weights)
            return ClientScores(base, uplift, low, high, shown)
        if self.interval_method != "bootstrap":
            own = design @ self._shrink_base()
            low, high = self._calibrated_interval(own, design, uplift, low, high, weights)
        return ClientScores(base, uplift, low, high)

    def objective_uplift_coef(self, objective: Objective | str) -> np.ndarray:
        """Uplift coefficients (n_coef, n_services) of an objective: design @ it = uplift."""
        check_is_fitted(self, "uplift_coef_")
        return np.tensordot(objective_weights(objective), self.uplift_coef_, axes=([0], [0]))

    def objective_shown_coef(self, objective: Objective | str) -> np.ndarray:
        """Coefficients (n_coef, n_services) of the uplift to show: design @ them.

        The shrunk uplift with `interval_method="shrunk"`, else `objective_uplift_coef`.
        """
        if not self._shrinks():
            return self.objective_uplift_coef(objective)
        weights = objective_weights(objective)
        return shown_coefficients(self.shrinkage_, self._shrink_base(), weights)

    def uplift_interval(
        self, X: pd.DataFrame, objective: Objective | str
    ) -> tuple[np.ndarray, np.ndarray]:
        """Interval (low, high) of each client's uplift per service (see `interval_method`)."""
        return self.uplift_interval_from_design(self.encode(X), objective)

    def uplift_interval_from_design(
        self, design: np.ndarray, objective: Objective | str
    ) -> tuple[np.ndarray, np.ndarray]:
        """`uplift_interval` on an already encoded design matrix."""
        _, low, high = self.shown_interval_from_design(design, objective)
        return low, high

    def shown_interval_from_design(
        self, design: np.ndarray, objective: Objective | str
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The uplift to show and its interval, (n, n_services) each (see `interval_method`).

        The shown uplift is the shrunk estimate with `interval_method="shrunk"`, else the
        model's uplift.
        """
        check_is_fitted(self, "uplift_coef_")
        weights = objective_weights(objective)
        point = design @ self.objective_uplift_coef(objective)
        if self.n_bootstrap == 0:
            low, high = point, point.copy()
        else:
            boot = np.tensordot(weights, self.uplift_boot_, axes=([0], [1]))  # (B, p, k)
            n_boot, n_coef, n_services = boot.shape
            # One product, replicas last: (n, k, B), so the percentiles read contiguous rows.
            stacked = boot.transpose(1, 2, 0).reshape(n_coef, n_services * n_boot)
            replicas = (design @ stacked).reshape(len(design), n_services, n_boot)
            low, high = percentile_rows(replicas, self.interval, axis=-1, in_place=True)
        if self.interval_method == "bootstrap":
            return point, low, high
        if self._shrinks():
            base = np.einsum("np,tpk->ntk", design, self._shrink_base(), optimize=True)
            return self._shrunk_interval(base, design, low, high, weights)
        per_target = np.einsum("np,tpk->ntk", design, self._shrink_base(), optimize=True)
        low, high = self._calibrated_interval(per_target, design, point, low, high, weights)
        return point, low, high

    def _shrink_base(self) -> np.ndarray:
        """What the shown uplift shrinks: the DR-learner's own coefficients (before the
        stacking with practice), or the served ones for a ranker without stacking."""
        base: np.ndarray = getattr(self, "dr_uplift_coef_", self.uplift_coef_)
        return base

    def _shrinks(self) -> bool:
        # Models pickled before the shrinkage existed serve the calibrated intervals.
        return self.interval_method == "shrunk" and hasattr(self, "shrinkage_")

    def _shrunk_interval(
        self,
        per_target: np.ndarray,
        design: np.ndarray,
        low: np.ndarray,
        high: np.ndarray,
        weights: np.ndarray,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """`shrinkage.shrunk_interval` with this ranker's shrinkage and calibration models."""
        return shrunk_interval(
            per_target,
            design[..., self.calibration_columns_ + 1],
            low,
            high,
            weights,
            self.shrinkage_,
            self.calibration_coef_,
            self.calibration_cov_,
            self.interval,
        )

    def _calibrated_interval(
        self,
        per_target: np.ndarray,
        design: np.ndarray,
        point: np.ndarray,
        low: np.ndarray,
        high: np.ndarray,
        weights: np.ndarray,
    ) -> tuple[np.ndarray, np.ndarray]:
        """`intervals.calibrated_interval` with this ranker's calibration models."""
        indicators = design[..., self.calibration_columns_ + 1]  # (..., m)
        return calibrated_interval(
            per_target,
            indicators,
            point,
            low,
            high,
            weights,
            self.calibration_coef_,
            self.calibration_cov_,
            self.interval,
        )

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


# A target known for fewer episodes than this share cannot be learnt (it matches the floor of
# the observation probabilities: below it, the few known outcomes would carry weights past 20).
MIN_OBSERVED_SHARE = OBSERVED_FLOOR


def _check_observed(n_observed: dict[str, int], n: int, min_treated: int) -> None:
    """Raise ValueError naming each target whose known outcomes are too few to learn it."""
    needed = max(min_treated, math.ceil(MIN_OBSERVED_SHARE * n))
    short = [
        f"{target} is known for {count:,} of {n:,} episodes"
        for target, count in n_observed.items()
        if count < needed
    ]
    if short:
        raise ValueError(
            f"{'; '.join(short)}: at least {needed:,} are needed to learn an outcome "
            "(train on an earlier period, whose outcomes have been observed)"
        )


def _checked_propensity(propensity: npt.ArrayLike, n: int) -> np.ndarray:
    values = np.asarray(propensity, dtype=np.float64)
    if values.shape != (n,):
        raise ValueError(f"propensity has shape {values.shape}, expected ({n},)")
    bad = ~np.isfinite(values) | (values <= 0) | (values > 1)
    if bad.any():
        row = int(np.flatnonzero(bad)[0]) + 1
        raise ValueError(f"row {row}: propensity must lie in (0, 1]")
    return values


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


def _overlap_table(
    actions: tuple[str, ...],
    allowed_actions: np.ndarray,
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
                "n_allowed": int(allowed_actions[:, a].sum()),
                "n_treated": int(treated.sum()),
                "share_floored": float((e < floor).mean()) if len(e) else 0.0,
                "min_propensity": float(e.min()) if len(e) else float("nan"),
                "ess": ess,
            }
        )
    return pd.DataFrame.from_records(records)
