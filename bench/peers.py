"""The causal-ML peers Polku is benchmarked against, one small adapter class per peer.

Every peer sees what Polku's ranker sees (`PeerData`): the training episodes' features (the
`models.features.FeatureEncoder` output), logged action (catalog services in order, "no
service" last), observed reward of the objective and the services each client was allowed
(catalog limits); it returns the predicted uplift over no service of every allowed service
for the held-out clients, NaN where it has none. The bench picks each peer's top-1 from that
exactly as it picks Polku's.

The EconML and CausalML learners are fitted one service against no service at a time, on the
training episodes allowed that service that got it or got nothing (`BinaryPerService`): that
is how the allowed-service masks reach a binary-treatment learner, and what the multi-valued
ones do internally anyway (a separate final stage per treatment). A service with fewer than
`MIN_TREATED` such episodes on either side gets no uplift, like Polku's `min_treated`.

The libraries come from the `bench` extra (`pip install -e '.[bench]'`) and are imported
only when a peer is fitted; `HGBTLearner` needs scikit-learn only.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, replace
from typing import Any, ClassVar, Final

import numpy as np

MIN_TREATED: Final = 20
# Boosted nuisances: one setting for every peer, not tuned per world (Polku is not either).
LGBM_PARAMS: Final[dict[str, Any]] = {
    "n_estimators": 150,
    "learning_rate": 0.05,
    "num_leaves": 15,
    "min_child_samples": 40,
    "subsample": 0.8,
    "subsample_freq": 1,
    "colsample_bytree": 0.8,
    "n_jobs": 1,
    "verbose": -1,
}
# Propensities of one service against none are clipped here (weights of at most 50).
PROPENSITY_CLIP: Final = 0.02


@dataclass(frozen=True)
class PeerData:
    """What every peer is fitted on and predicts for, aligned row by row.

    Attributes
    ----------
    x_train, x_test : float ndarray (n, n_features)
        Features of the training and held-out episodes.
    action_train : int ndarray (n_train,)
        Logged action: a service index, or `n_services` for no service.
    reward_train : float ndarray (n_train,)
        Observed reward of the objective.
    allowed_train, allowed_test : bool ndarray (n, n_services)
        Services each episode's client could take.
    seed : int
    """

    x_train: np.ndarray
    action_train: np.ndarray
    reward_train: np.ndarray
    allowed_train: np.ndarray
    x_test: np.ndarray
    allowed_test: np.ndarray
    seed: int = 0

    @property
    def n_services(self) -> int:
        return int(self.allowed_train.shape[1])

    @property
    def binary_reward(self) -> bool:
        return bool(np.isin(self.reward_train, (0.0, 1.0)).all())

    def subsample(self, max_rows: int | None) -> PeerData:
        """The same data with at most `max_rows` training episodes (seeded, order kept)."""
        n = len(self.action_train)
        if max_rows is None or n <= max_rows:
            return self
        rows = np.sort(np.random.default_rng(self.seed).choice(n, max_rows, replace=False))
        return replace(
            self,
            x_train=self.x_train[rows],
            action_train=self.action_train[rows],
            reward_train=self.reward_train[rows],
            allowed_train=self.allowed_train[rows],
        )


class Peer:
    """A peer: `uplift(data)` gives (n_test, n_services) predicted uplift, NaN where none.

    `max_rows` caps the training episodes it is fitted on (a peer too slow for the machine
    is subsampled rather than dropped; the bench says so).
    """

    name: ClassVar[str]
    label: ClassVar[str]

    def __init__(self, max_rows: int | None = None) -> None:
        self.max_rows = max_rows

    def uplift(self, data: PeerData) -> np.ndarray:
        with warnings.catch_warnings():
            # EconML hands its classifiers column vectors, and warns that the linear final
            # stage's inference is invalid on collinear features: neither touches the
            # point estimates the bench ranks by.
            warnings.filterwarnings("ignore", message="A column-vector y was passed")
            warnings.filterwarnings("ignore", message="Co-variance matrix is underdetermined")
            return self._uplift(data.subsample(self.max_rows))

    def _uplift(self, data: PeerData) -> np.ndarray:
        raise NotImplementedError


def binary_problems(data: PeerData) -> list[tuple[int, np.ndarray, np.ndarray]]:
    """Per service with enough support: (service, training rows, treated indicator on them).

    The rows are the training episodes allowed the service that got it or got no service.
    """
    none = data.n_services
    problems = []
    for service in range(data.n_services):
        rows = np.flatnonzero(
            data.allowed_train[:, service]
            & ((data.action_train == service) | (data.action_train == none))
        )
        treated = (data.action_train[rows] == service).astype(np.int64)
        if treated.sum() < MIN_TREATED or (1 - treated).sum() < MIN_TREATED:
            continue
        if not data.allowed_test[:, service].any():
            continue
        problems.append((service, rows, treated))
    return problems


class BinaryPerService(Peer):
    """A binary-treatment learner fitted per service against no service (`binary_problems`)."""

    def _uplift(self, data: PeerData) -> np.ndarray:
        out = np.full((len(data.x_test), data.n_services), np.nan)
        binary = data.binary_reward
        for service, rows, treated in binary_problems(data):
            test = data.allowed_test[:, service]
            out[test, service] = self.effect(
                data.x_train[rows],
                treated,
                data.reward_train[rows],
                data.x_test[test],
                binary,
                data.seed + service,
            )
        return out

    def effect(
        self,
        x: np.ndarray,
        treated: np.ndarray,
        reward: np.ndarray,
        x_test: np.ndarray,
        binary: bool,
        seed: int,
    ) -> np.ndarray:
        """Predicted effect of treatment on the rows of `x_test`."""
        raise NotImplementedError


def _lgbm_regressor(seed: int, **overrides: Any) -> Any:
    from lightgbm import LGBMRegressor

    return LGBMRegressor(**{**LGBM_PARAMS, "random_state": seed, **overrides})


def _lgbm_classifier(seed: int, **overrides: Any) -> Any:
    from lightgbm import LGBMClassifier

    return LGBMClassifier(**{**LGBM_PARAMS, "random_state": seed, **overrides})


def _outcome_model(binary: bool, seed: int) -> Any:
    return _lgbm_classifier(seed) if binary else _lgbm_regressor(seed)


class DRLearnerLinear(BinaryPerService):
    """EconML `LinearDRLearner`: LightGBM nuisances, linear final stage."""

    name = "drlearner_linear"
    label = "EconML DRLearner (LightGBM nuisances, linear final)"

    def effect(
        self,
        x: np.ndarray,
        treated: np.ndarray,
        reward: np.ndarray,
        x_test: np.ndarray,
        binary: bool,
        seed: int,
    ) -> np.ndarray:
        from econml.dr import LinearDRLearner

        learner = LinearDRLearner(
            model_propensity=_lgbm_classifier(seed),
            model_regression=_outcome_model(binary, seed),
            discrete_outcome=binary,
            min_propensity=PROPENSITY_CLIP,
            cv=2,
            random_state=seed,
        )
        learner.fit(reward, treated, X=x)
        return np.asarray(learner.effect(x_test), dtype=np.float64).reshape(-1)


class DRLearnerBoosted(BinaryPerService):
    """EconML `DRLearner`: LightGBM nuisances, LightGBM final stage."""

    name = "drlearner_boosted"
    label = "EconML DRLearner (LightGBM nuisances, boosted final)"

    def effect(
        self,
        x: np.ndarray,
        treated: np.ndarray,
        reward: np.ndarray,
        x_test: np.ndarray,
        binary: bool,
        seed: int,
    ) -> np.ndarray:
        from econml.dr import DRLearner

        learner = DRLearner(
            model_propensity=_lgbm_classifier(seed),
            model_regression=_outcome_model(binary, seed),
            # Pseudo-outcomes are noisy: larger leaves than the nuisances.
            model_final=_lgbm_regressor(seed, min_child_samples=200, n_estimators=100),
            discrete_outcome=binary,
            min_propensity=PROPENSITY_CLIP,
            cv=2,
            random_state=seed,
        )
        learner.fit(reward, treated, X=x)
        return np.asarray(learner.effect(x_test), dtype=np.float64).reshape(-1)


class ForestDR(BinaryPerService):
    """EconML `ForestDRLearner`: LightGBM nuisances, a generalised random forest final."""

    name = "forest_dr"
    label = "EconML ForestDRLearner (LightGBM nuisances)"

    def effect(
        self,
        x: np.ndarray,
        treated: np.ndarray,
        reward: np.ndarray,
        x_test: np.ndarray,
        binary: bool,
        seed: int,
    ) -> np.ndarray:
        from econml.dr import ForestDRLearner

        learner = ForestDRLearner(
            model_propensity=_lgbm_classifier(seed),
            model_regression=_outcome_model(binary, seed),
            discrete_outcome=binary,
            min_propensity=PROPENSITY_CLIP,
            cv=2,
            n_estimators=100,
            min_samples_leaf=20,
            n_jobs=1,
            random_state=seed,
        )
        learner.fit(reward, treated, X=x)
        return np.asarray(learner.effect(x_test), dtype=np.float64).reshape(-1)


class XLearner(BinaryPerService):
    """CausalML X-learner (`BaseXClassifier` on a 0/1 reward, else `BaseXRegressor`),
    LightGBM outcome and effect learners, with a cross-fitted LightGBM propensity (the
    same model the DR learners use, instead of CausalML's default elastic net)."""

    name = "x_learner"
    label = "CausalML X-learner (LightGBM)"

    def effect(
        self,
        x: np.ndarray,
        treated: np.ndarray,
        reward: np.ndarray,
        x_test: np.ndarray,
        binary: bool,
        seed: int,
    ) -> np.ndarray:
        from causalml.inference.meta import BaseXClassifier, BaseXRegressor
        from sklearn.model_selection import cross_val_predict

        propensity_model = _lgbm_classifier(seed)
        p_train = cross_val_predict(propensity_model, x, treated, cv=2, method="predict_proba")
        p_test = propensity_model.fit(x, treated).predict_proba(x_test)
        p_train = np.clip(p_train[:, 1], PROPENSITY_CLIP, 1 - PROPENSITY_CLIP)
        p_test = np.clip(p_test[:, 1], PROPENSITY_CLIP, 1 - PROPENSITY_CLIP)
        if binary:
            learner: Any = BaseXClassifier(
                outcome_learner=_lgbm_classifier(seed),
                effect_learner=_lgbm_regressor(seed),
                control_name=0,
            )
        else:
            learner = BaseXRegressor(learner=_lgbm_regressor(seed), control_name=0)
        learner.fit(x, treatment=treated, y=reward, p=p_train)
        return np.asarray(
            learner.predict(x_test, p=p_test, verbose=False), dtype=np.float64
        ).reshape(-1)


class HGBTLearner(Peer):
    """A T-learner of scikit-learn `HistGradientBoosting` models: one outcome model per
    action (each service, and no service) on the episodes that got it; uplift is a
    service's prediction minus no service's."""

    name = "hgb_t_learner"
    label = "HistGradientBoosting T-learner (scikit-learn)"

    def _uplift(self, data: PeerData) -> np.ndarray:
        none = data.n_services
        without = self._outcome(data, none)
        out = np.full((len(data.x_test), data.n_services), np.nan)
        if without is None:
            return out
        for service in range(data.n_services):
            test = data.allowed_test[:, service]
            if not test.any():
                continue
            with_service = self._outcome(data, service, test)
            if with_service is not None:
                out[test, service] = with_service - without[test]
        return out

    def _outcome(
        self, data: PeerData, action: int, test: np.ndarray | None = None
    ) -> np.ndarray | None:
        """Predicted reward under `action` on the held-out rows `test` (all by default)."""
        from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

        rows = data.action_train == action
        if rows.sum() < MIN_TREATED:
            return None
        x_test = data.x_test if test is None else data.x_test[test]
        y = data.reward_train[rows]
        if data.binary_reward:
            if y.min() == y.max():
                return np.full(len(x_test), float(y[0]))
            model: Any = HistGradientBoostingClassifier(
                max_iter=150, learning_rate=0.05, random_state=data.seed
            )
            model.fit(data.x_train[rows], y.astype(np.int64))
            return np.asarray(model.predict_proba(x_test)[:, 1], dtype=np.float64)
        model = HistGradientBoostingRegressor(
            max_iter=150, learning_rate=0.05, random_state=data.seed
        )
        model.fit(data.x_train[rows], y)
        return np.asarray(model.predict(x_test), dtype=np.float64)


PEERS: Final[dict[str, type[Peer]]] = {
    cls.name: cls for cls in (DRLearnerLinear, DRLearnerBoosted, ForestDR, XLearner, HGBTLearner)
}
