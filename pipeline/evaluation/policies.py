"""The policies an evaluation compares: each picks one service (its top-1) per held-out episode.

A policy's choice is an integer array of action indices into the columns of an outcome matrix:
the catalog's services in catalog order, then "no service" last (`models.actions`). Every
policy but the caseworkers' picks among the services the client may take (the catalog's
limits); a client allowed none gets "no service".

- `polku_policy`: the model's highest expected uplift on the objective;
- `caseworker_policy`: what the caseworker logged (may be "no service");
- `random_policy`: a uniformly random allowed service (seeded);
- `PopularPolicy`: the allowed service caseworkers chose most often in the training episodes;
- `ImitationPolicy`: a classifier of the caseworker's choice, restricted to allowed services;
- `oracle_policy`: the allowed service with the best *true* outcome (evaluation only).
"""

from __future__ import annotations

from typing import Any, Final

import numpy as np
import numpy.typing as npt
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression

from models.actions import no_service_index

POLICY_NAMES: Final = ("polku", "caseworkers", "random", "popular", "imitation", "oracle")


def _allowed_matrix(allowed: npt.ArrayLike) -> np.ndarray:
    mask = np.asarray(allowed, dtype=bool)
    if mask.ndim != 2:
        raise ValueError(f"allowed must be a 2-d (episodes x services) array, got {mask.ndim}-d")
    return mask


def best_allowed(scores: npt.ArrayLike, allowed: npt.ArrayLike) -> np.ndarray:
    """Per row, the allowed service with the highest score; "no service" where none is allowed.

    Parameters
    ----------
    scores : array of shape (n_episodes, n_services)
        Higher is better. Scores of disallowed services are ignored (they may be NaN).
    allowed : bool array of shape (n_episodes, n_services)

    Returns
    -------
    int ndarray of shape (n_episodes,); ties go to the service listed first in the catalog.
    """
    mask = _allowed_matrix(allowed)
    values = np.asarray(scores, dtype=np.float64)
    if values.shape != mask.shape:
        raise ValueError(f"scores have shape {values.shape}, allowed {mask.shape}")
    usable = mask & ~np.isnan(values)
    masked = np.where(usable, values, -np.inf)
    choice = masked.argmax(axis=1).astype(np.int64)
    choice[~usable.any(axis=1)] = no_service_index(mask.shape[1])
    return choice


def polku_policy(uplift: npt.ArrayLike, allowed: npt.ArrayLike) -> np.ndarray:
    """Polku's top-1: the allowed service with the largest expected uplift on the objective."""
    return best_allowed(uplift, allowed)


def caseworker_policy(logged_action: npt.ArrayLike) -> np.ndarray:
    """The caseworkers' policy: the logged choice, as it is (including "no service")."""
    return np.asarray(logged_action, dtype=np.int64).copy()


def random_policy(allowed: npt.ArrayLike, seed: int) -> np.ndarray:
    """A uniformly random allowed service per row, reproducible from `seed`."""
    mask = _allowed_matrix(allowed)
    keys = np.random.default_rng(seed).random(mask.shape)
    return best_allowed(keys, mask)


def oracle_policy(true_outcomes: npt.ArrayLike, allowed: npt.ArrayLike) -> np.ndarray:
    """The best allowed service by the true outcome probabilities (known in a synthetic world).

    `true_outcomes` may carry the "no service" column last; only the service columns count.
    """
    mask = _allowed_matrix(allowed)
    truth = np.asarray(true_outcomes, dtype=np.float64)
    return best_allowed(truth[:, : mask.shape[1]], mask)


class PopularPolicy:
    """The allowed service caseworkers chose most often in the training episodes.

    Parameters
    ----------
    n_services : int
        Number of catalog services (actions `0 .. n_services - 1`; "no service" is not counted).

    Attributes
    ----------
    counts_ : ndarray of shape (n_services,)
        How often each service was chosen in the episodes `fit` saw.
    """

    def __init__(self, n_services: int) -> None:
        self.n_services = n_services

    def fit(self, logged_action: npt.ArrayLike) -> PopularPolicy:
        """Count the caseworkers' choices of each service."""
        actions = np.asarray(logged_action, dtype=np.int64)
        services = actions[actions < self.n_services]
        self.counts_ = np.bincount(services, minlength=self.n_services).astype(np.float64)
        return self

    def choose(self, allowed: npt.ArrayLike) -> np.ndarray:
        """The most chosen allowed service for each row."""
        if not hasattr(self, "counts_"):
            raise RuntimeError("PopularPolicy is not fitted; call fit first")
        mask = _allowed_matrix(allowed)
        return best_allowed(np.broadcast_to(self.counts_, mask.shape), mask)


class ImitationPolicy:
    """A classifier of the caseworker's choice, restricted at choice time to allowed services.

    The baseline a plain "learn from what caseworkers did" model would give: it copies
    today's practice. Fitted on the same features as the ranker (built by `models.features`).

    Parameters
    ----------
    n_services : int
        Number of catalog services; class `n_services` is "no service".
    estimator : classifier, optional
        Any scikit-learn classifier with `predict_proba`; defaults to a multinomial
        logistic regression on the ranker's features (seconds on 100,000 episodes and
        dozens of services, where a boosted multiclass model takes minutes).
    random_state : int
        Seed of the subsample.
    max_rows : int or None, default 20,000
        Fit on a seeded subsample of at most this many episodes (the caseworkers' habits
        are learnt long before 100,000 rows; the fit's cost grows with rows x services).
    """

    def __init__(
        self,
        n_services: int,
        estimator: Any | None = None,
        random_state: int = 0,
        max_rows: int | None = 20_000,
    ) -> None:
        self.n_services = n_services
        self.estimator = estimator
        self.random_state = random_state
        self.max_rows = max_rows

    def fit(self, features: npt.ArrayLike, logged_action: npt.ArrayLike) -> ImitationPolicy:
        """Learn to predict the logged action (services and "no service") from the features."""
        actions = np.asarray(logged_action, dtype=np.int64)
        if actions.size == 0:
            raise ValueError("no episodes to learn the caseworkers' choices from")
        base = self.estimator
        if base is None:
            base = LogisticRegression(C=1.0, max_iter=100, tol=1e-3)
        rows = np.arange(actions.size)
        if self.max_rows is not None and actions.size > self.max_rows:
            rng = np.random.default_rng(self.random_state)
            rows = np.sort(rng.choice(actions.size, self.max_rows, replace=False))
        self.classifier_ = clone(base).fit(np.asarray(features)[rows], actions[rows])
        return self

    def choice_probabilities(self, features: npt.ArrayLike) -> np.ndarray:
        """Estimated probability of each service (columns in catalog order, "none" last)."""
        if not hasattr(self, "classifier_"):
            raise RuntimeError("ImitationPolicy is not fitted; call fit first")
        proba = self.classifier_.predict_proba(np.asarray(features))
        full = np.zeros((proba.shape[0], self.n_services + 1))
        full[:, np.asarray(self.classifier_.classes_, dtype=np.int64)] = proba
        return full

    def choose(self, features: npt.ArrayLike, allowed: npt.ArrayLike) -> np.ndarray:
        """The allowed service a caseworker would most likely choose for each row."""
        mask = _allowed_matrix(allowed)
        return best_allowed(self.choice_probabilities(features)[:, : mask.shape[1]], mask)
