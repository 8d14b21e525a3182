"""The DR-learner's nuisances: the outcome under every action, the logged action's propensity
and, where outcomes are not yet observed, the probability that they are.

The first two are cross-fitted over folds of clients, so each episode's nuisance
predictions come from models that never saw it. Actions follow `models.actions`: services
in order, then "no service" last (index `n_services`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from sklearn.linear_model import LogisticRegression


def with_intercept(features: np.ndarray) -> np.ndarray:
    """The design matrix: a column of ones, then the features."""
    return np.hstack([np.ones((features.shape[0], 1)), features])


def sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(z, -35.0, 35.0)))


def client_folds(client_codes: np.ndarray, n_folds: int, rng: np.random.Generator) -> np.ndarray:
    """Each row's fold: clients (codes 0 .. n_clients - 1) shuffled and dealt round the folds,
    so all of a client's rows share one fold and fold sizes in clients differ by at most one.

    The one rule of cross-fitting by client: the ranker's nuisances and the off-policy
    estimates of a retrained model (`pipeline.feedback.ope.person_folds`) both use it.
    """
    n_clients = int(client_codes.max(initial=-1)) + 1
    return (rng.permutation(n_clients) % n_folds)[client_codes]


@dataclass(frozen=True)
class OutcomeFit:
    """Cross-fitted outcome models of every target.

    Attributes
    ----------
    mu : ndarray of shape (n, targets, n_services + 1)
        Out-of-fold probability of each target under each action ("none" last).
    coef : ndarray of shape (targets, 1 + d, n_services + 1)
        Fold-averaged logit coefficients of the outcome under each action.
    fold_coefs : list of ndarray
        Each fold's coefficients (same shape), fitted without that fold.
    """

    mu: np.ndarray
    coef: np.ndarray
    fold_coefs: list[np.ndarray]

    @property
    def baseline_coef(self) -> np.ndarray:
        """Logit coefficients (targets, 1 + d) of the outcome with no service."""
        return self.coef[:, :, -1].copy()


def action_design(
    features: np.ndarray, action_index: np.ndarray, n_services: int, interaction_scale: float
) -> sp.csr_matrix:
    """Sparse [features, service one-hot, service x feature] (no columns for "none").

    Interaction columns are multiplied by `interaction_scale`: under one L2 penalty that
    shrinks the service-specific slopes harder than the shared ones.
    """
    n, d = features.shape
    treated = action_index < n_services
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
    service = action_index[tr]
    indices[starts[tr] + d] = d + service
    data[starts[tr] + d] = 1.0
    inter_positions = starts[tr][:, None] + d + 1 + base_cols[None, :]
    indices[inter_positions] = d + n_services + service[:, None] * d + base_cols[None, :]
    data[inter_positions] = features[tr] * interaction_scale
    shape = (n, d + n_services + n_services * d)
    return sp.csr_matrix((data, indices, indptr), shape=shape)


def fit_outcome(
    design: sp.csr_matrix,
    y: np.ndarray,
    d: int,
    n_services: int,
    *,
    C: float,
    interaction_scale: float,
    max_iter: int,
) -> np.ndarray:
    """Fit one logistic outcome model; return logit coefficients (1 + d, n_services + 1)."""
    coef = np.zeros((d + 1, n_services + 1))
    if y.min() == y.max():  # one class only: a constant model
        p = np.clip(y.mean(), 1e-4, 1 - 1e-4)
        coef[0, :] = np.log(p / (1 - p))
        return coef
    model = LogisticRegression(C=C, max_iter=max_iter)
    model.fit(design, y)
    w = model.coef_.ravel()
    base = w[:d]
    action_shift = w[d : d + n_services]
    interactions = w[d + n_services :].reshape(n_services, d) * interaction_scale
    coef[0, :] = model.intercept_[0]
    coef[0, :n_services] += action_shift
    coef[1:, :] = base[:, None]
    coef[1:, :n_services] += interactions.T
    return coef


def cross_fit_outcomes(
    features: np.ndarray,
    action_index: np.ndarray,
    y: np.ndarray,
    folds: np.ndarray,
    n_folds: int,
    n_services: int,
    *,
    C: float,
    interaction_scale: float,
    max_iter: int,
    observed: np.ndarray | None = None,
) -> OutcomeFit:
    """Out-of-fold outcome under every action, the fold-averaged models and each fold's.

    `observed` (n, targets) marks the outcomes known (default: all); each target's models
    are fitted on its known outcomes only, and predict every row.
    """
    n, d = features.shape
    n_targets = y.shape[1]
    mu = np.zeros((n, n_targets, n_services + 1))
    coef_sum = np.zeros((n_targets, d + 1, n_services + 1))
    fold_coefs = []
    design = action_design(features, action_index, n_services, interaction_scale)
    known = np.ones(y.shape, dtype=bool) if observed is None else observed
    for fold in range(n_folds):
        test = folds == fold
        fold_coef = np.zeros_like(coef_sum)
        for t in range(n_targets):
            train = ~test & known[:, t]
            coef = fit_outcome(
                design[train],
                y[train, t],
                d,
                n_services,
                C=C,
                interaction_scale=interaction_scale,
                max_iter=max_iter,
            )
            fold_coef[t] = coef
            mu[test, t, :] = sigmoid(with_intercept(features[test]) @ coef)
        coef_sum += fold_coef
        fold_coefs.append(fold_coef)
    return OutcomeFit(mu, coef_sum / n_folds, fold_coefs)


# Observation probabilities below this are raised to it: caps an episode's weight at 20.
OBSERVED_FLOOR = 0.05


def observation_weights(
    features: np.ndarray,
    action_index: np.ndarray,
    observed: np.ndarray,
    n_services: int,
    *,
    C: float,
    max_iter: int,
) -> np.ndarray:
    """Inverse-probability-of-observation weights (n, targets): 0 where an outcome is unknown.

    A register is censored: a recent episode's outcome is still ahead. Where that is
    missing at random given the profile and the action (censoring by date is, unless who
    comes or what is given drifts in ways the profile does not record), the AIPW correction
    `R (Y - mu) / (e P(R=1 | x, a))` keeps the pseudo-outcomes unbiased while every episode
    stays in the final stage (an unknown outcome adds the outcome model's effect alone).
    `P(R=1 | x, a)` is a logistic regression of `R` on the features and the action,
    floored at `OBSERVED_FLOOR`. A target known everywhere has weight 1 everywhere, so
    its fit is exactly the uncensored one.
    """
    n = len(features)
    weights = observed.astype(np.float64)
    if observed.all():
        return weights
    action = sp.csr_matrix((np.ones(n), (np.arange(n), action_index)), shape=(n, n_services + 1))
    design = sp.hstack([sp.csr_matrix(features), action[:, :n_services]]).tocsr()
    for t in range(observed.shape[1]):
        known = observed[:, t]
        if known.all():
            continue
        model = LogisticRegression(C=C, max_iter=max_iter).fit(design, known)
        probability = model.predict_proba(design[known])[:, 1]
        weights[known, t] = 1.0 / np.maximum(probability, OBSERVED_FLOOR)
    return weights


@dataclass(frozen=True)
class PracticeFit:
    """Cross-fitted model of today's practice: which action a caseworker takes for a client.

    Attributes
    ----------
    propensity : ndarray of shape (n,)
        Out-of-fold probability of the logged action, renormalised over the allowed actions
        (the propensity when the logs carry none).
    logit : ndarray of shape (n, n_services)
        Out-of-fold log-odds of each service against no service, `log e_k(x) / e_0(x)`
        (before the allowed-mask renormalisation, which leaves these ratios unchanged).
    coef : ndarray of shape (1 + d, n_services)
        Fold-averaged coefficients of those log-odds: `design @ coef` (linear in the design).
    """

    propensity: np.ndarray
    logit: np.ndarray
    coef: np.ndarray


# Log-odds given to a service never logged in a training fold (its probability ~ e^-12).
_UNSEEN_LOGIT = -12.0


def _practice_coef(model: LogisticRegression, d: int, n_actions: int) -> np.ndarray:
    """(1 + d, n_services) log-odds coefficients of each service against none."""
    classes = np.asarray(model.classes_, dtype=np.int64)
    full = np.zeros((1 + d, n_actions))
    full[0, :] = _UNSEEN_LOGIT
    if len(classes) == 2:  # sklearn gives one row for two classes: log-odds of the second
        full[0, classes[0]] = 0.0
        full[0, classes[1]] = model.intercept_[0]
        full[1:, classes[1]] = model.coef_[0]
    else:
        full[0, classes] = model.intercept_
        full[1:, classes] = model.coef_.T
    none = n_actions - 1
    if none not in classes:  # no "none" in the fold: read the log-odds against the mean
        return full[:, :-1] - full[:, classes].mean(axis=1, keepdims=True)
    return full[:, :-1] - full[:, none : none + 1]


def cross_fit_practice(
    features: np.ndarray,
    action_index: np.ndarray,
    allowed_actions: np.ndarray,
    folds: np.ndarray,
    n_folds: int,
    *,
    C: float,
    max_iter: int,
    max_rows: int | None = None,
    tol: float = 1e-4,
    random_state: int = 0,
) -> PracticeFit:
    """A multinomial logistic model of the logged action, cross-fitted over the client folds.

    `allowed_actions` is (n, n_services + 1), "none" (always allowed) last. With `max_rows`,
    each fold's model is fitted on a seeded subsample of at most that many training rows
    (practice is learnt long before 100,000 episodes, and the fit costs rows x actions).
    """
    n, d = features.shape
    n_actions = allowed_actions.shape[1]
    design = with_intercept(features)
    propensity = np.zeros(n)
    logit = np.zeros((n, n_actions - 1))
    coef_sum = np.zeros((1 + d, n_actions - 1))
    rng = np.random.default_rng(random_state)
    for fold in range(n_folds):
        train = np.flatnonzero(folds != fold)
        test = folds == fold
        if max_rows is not None and len(train) > max_rows:
            train = np.sort(rng.choice(train, max_rows, replace=False))
        model = LogisticRegression(C=C, max_iter=max_iter, tol=tol)
        model.fit(features[train], action_index[train])
        coef = _practice_coef(model, d, n_actions)
        coef_sum += coef
        logit[test] = design[test] @ coef
        proba = np.zeros((int(test.sum()), n_actions))
        proba[:, model.classes_] = model.predict_proba(features[test])
        proba *= allowed_actions[test]
        total = proba.sum(axis=1, keepdims=True)
        proba = np.divide(proba, total, out=np.zeros_like(proba), where=total > 0)
        propensity[test] = proba[np.arange(len(proba)), action_index[test]]
    # An action never seen in a training fold gets probability 0: floor it, do not drop it.
    return PracticeFit(np.maximum(propensity, 1e-6), logit, coef_sum / n_folds)
