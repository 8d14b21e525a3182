"""What a model version ships: the gate's rules versions, a catalog snapshot and the fitted ranker.

`PolkuModel.recommend` is the serving path for one client (gate, catalog limits, encode,
score, intervals, drivers); `PolkuModel.score_frame` scores a whole typed profile frame for
evaluation, and `PolkuModel.rank_frame` gives `recommend`'s answers for a whole frame at once
(the nightly batch of `polku score`). All three read the catalog from the snapshot taken at
training, so serving cannot drift from what the model was trained on.

Examples
--------
>>> model = PolkuModel.build(ranker, load_catalog())  # doctest: +SKIP
>>> decision, ranked = model.recommend(profile, "employment_12m", top_k=5)  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from models.catalog import Catalog
from models.catalog.limits import LimitVerdicts
from models.eligibility import (
    EligibilityDecision,
    assess_eligibility,
    assess_eligibility_frame,
    load_rule_sets,
)
from models.features import FeatureLayoutError
from models.objectives import DEFAULT_OBJECTIVE, TARGETS, Objective, as_objective
from models.persistence import persistable
from models.profile import ClientProfile
from models.ranker import ServiceRanker
from models.separation import p_above_next, p_above_zero, wide_interval
from models.suggestions import (
    Driver,
    ModelAnswer,
    NotSuggested,
    RankedService,
    TargetEffect,
)
from models.training_clients import METADATA_KEY as TRAINING_CLIENTS_KEY


@functools.cache
def _blas_pools() -> Any:
    # Built on first use (it inspects the loaded libraries), never at import.
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController().select(user_api="blas")


@contextlib.contextmanager
def one_blas_thread() -> Iterator[None]:
    """Hold BLAS to one thread for one client's products, restoring the pools after.

    The products are small, and waking a pool costs more than it saves. Where every pool
    already has one thread (a serving process, `service.threads`), nothing is changed: the
    limit and restore cost some 20 microseconds a call, a few percent of the whole answer.
    """
    pools = _blas_pools()
    if all(lib.num_threads == 1 for lib in pools.lib_controllers):
        yield
        return
    with pools.limit(limits=1):
        yield


# Objectives whose shown coefficients a bundle keeps (`PolkuModel._shown_coef`).
_SHOWN_COEF_CACHE = 16


class RulesVersionError(RuntimeError):
    """The gate decided under a rule set the model version was not built with."""


class IncompatibleModelError(RuntimeError):
    """A model version cannot be served by this code (e.g. fitted under another feature layout).

    Raised when a bundle is built or loaded, never half-way through a recommendation; a
    service reloading its model keeps the old one and reports the message.
    """


def consistent_outcomes(
    expected_without: npt.ArrayLike,
    uplift: npt.ArrayLike,
    uplift_low: npt.ArrayLike | None = None,
    uplift_high: npt.ArrayLike | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None, np.ndarray | None]:
    """Clip the numbers shown for a service so they agree with each other as probabilities.

    A linear uplift model can predict past 0 or 1 (a tiny model once showed "with 100 %,
    +117 points"). Both probabilities are clipped to [0, 1], the uplift is their difference,
    and the interval is clipped into what an uplift can be from this baseline,
    [-expected_without, 1 - expected_without]. Clipping is monotone, so the order of a
    client's services and the point's place inside its interval are kept.

    Parameters
    ----------
    expected_without : array-like
        Predicted outcome without any service (broadcast against `uplift`).
    uplift, uplift_low, uplift_high : array-like
        Model uplift and its interval (same shape).

    Returns
    -------
    expected_without, expected_with, uplift, uplift_low, uplift_high : ndarray
        `uplift == expected_with - expected_without` and the interval within the bounds.
    """
    without = np.clip(np.asarray(expected_without, dtype=np.float64), 0.0, 1.0)
    raw = np.asarray(uplift, dtype=np.float64)
    with_service = np.clip(without + raw, 0.0, 1.0)
    shown = with_service - without
    floor, ceiling = -without, 1.0 - without

    def bounded(values: npt.ArrayLike | None) -> np.ndarray | None:
        if values is None:
            return None
        return np.clip(np.asarray(values, dtype=np.float64), floor, ceiling)

    return without, with_service, shown, bounded(uplift_low), bounded(uplift_high)


@dataclass(frozen=True, slots=True)
class _Ranking:
    """One client's ranking as `PolkuModel._rank` leaves it for `recommend` and `answer`.

    `every` holds the ranker columns of all the services the client may take, best first
    (the suggestions are its first `len(ranked)`); `shown_every` their shown uplift, low
    and high (3, len(every)). `verdicts` are the catalog limits checked once (None for a
    non-client), which both chose `every` and name what closes the rest; `replicas` the
    client's `ServiceRanker.design_replicas`, which another target is scored from.
    """

    decision: EligibilityDecision
    ranked: tuple[RankedService, ...]
    every: np.ndarray
    design: np.ndarray | None
    verdicts: LimitVerdicts | None = None
    replicas: np.ndarray | None = None
    shown_every: np.ndarray | None = None


def practice_probabilities(logit: np.ndarray, allowed: np.ndarray) -> np.ndarray:
    """Each row's probability of each allowed service from its log-odds against none.

    A multinomial choice among the allowed services and none (log-odds 0), as the ranker's
    model of practice renormalises over the allowed actions; 0 where not allowed.
    """
    keyed = np.where(allowed, logit, -np.inf)
    top = np.maximum(keyed.max(axis=1, initial=-np.inf), 0.0)[:, None]  # none's log-odds: 0
    weight = np.where(allowed, np.exp(keyed - top), 0.0)
    return weight / (np.exp(-top) + weight.sum(axis=1, keepdims=True))


@dataclass(frozen=True, slots=True)
class FrameScores:
    """Scores of every row of a profile frame against every service of the model.

    Attributes
    ----------
    service_ids : tuple of str
        Column order of the matrices (the ranker's services, catalog order).
    eligible : ndarray of bool, shape (n,)
        The gate's decision per row.
    allowed : ndarray of bool, shape (n, n_services)
        Services the row may be offered: eligible, within catalog limits, and supported by
        the ranker (enough logged episodes).
    expected_without : ndarray of shape (n,)
        Predicted objective outcome without any service.
    uplift : ndarray of shape (n, n_services)
        The uplift shown on the objective (the shrunk estimate, `ServiceRanker.
        objective_shown_coef`), kept within [-expected_without, 1 - expected_without]
        (`consistent_outcomes`); NaN where not allowed.
    uplift_low, uplift_high : ndarray of shape (n, n_services) or None
        Intervals (only when asked for), within the same bounds; NaN where not allowed.
    rank_key : ndarray of shape (n, n_services) or None
        The model's uplift before shrinkage and clipping: services are ordered by it, as
        `recommend` orders them (a shown uplift may be below the next one's). Default:
        `uplift`.
    rules_version : ndarray of str, shape (n,), or None
        The rule set the gate decided each row under.
    practice : ndarray of shape (n, n_services) or None
        Today's practice (only when asked for): the probability that a caseworker gives the
        row each service, under the ranker's model of the logged choices
        (`ServiceRanker.practice_coef_`), over the allowed services and none; 0 where not
        allowed, so a row's sum is the chance it gets any service.
    """

    service_ids: tuple[str, ...]
    eligible: np.ndarray
    allowed: np.ndarray
    expected_without: np.ndarray
    uplift: np.ndarray
    uplift_low: np.ndarray | None = None
    uplift_high: np.ndarray | None = None
    rank_key: np.ndarray | None = None
    rules_version: np.ndarray | None = None
    practice: np.ndarray | None = None

    def _keyed(self) -> np.ndarray:
        key = self.uplift if self.rank_key is None else self.rank_key
        return np.where(self.allowed, key, -np.inf)

    def top(self, k: int = 1) -> np.ndarray:
        """Column indices of each row's k best allowed services (-1 where fewer exist)."""
        if k < 1:
            raise ValueError("k must be at least 1")
        order = np.argsort(-self._keyed(), axis=1, kind="stable")[:, :k]
        taken = np.take_along_axis(self.allowed, order, axis=1)
        return np.where(taken, order, -1)

    def top_service_ids(self, k: int = 1) -> np.ndarray:
        """Like `top`, as service ids (None where fewer exist); object array (n, k)."""
        ids = np.array([*self.service_ids, None], dtype=object)
        return ids[self.top(k)]  # -1 indexes the trailing None

    def to_frame(self) -> pd.DataFrame:
        """Long format: one row per (row, allowed service) with rank, with/without, uplift."""
        rows, cols = np.nonzero(self.allowed)
        ranks = np.argsort(np.argsort(-self._keyed(), axis=1, kind="stable"), axis=1) + 1
        base = self.expected_without[rows]
        uplift = self.uplift[rows, cols]
        out = pd.DataFrame(
            {
                "row": rows,
                "service_id": np.asarray(self.service_ids, dtype=object)[cols],
                "rank": ranks[rows, cols],
                "expected_without": base,
                "expected_with": base + uplift,
                "uplift": uplift,
            }
        )
        if self.uplift_low is not None and self.uplift_high is not None:
            out["uplift_low"] = self.uplift_low[rows, cols]
            out["uplift_high"] = self.uplift_high[rows, cols]
        return out.sort_values(["row", "rank"], kind="stable").reset_index(drop=True)


@dataclass(frozen=True, slots=True)
class RankedPairs:
    """`recommend`'s answers for a whole frame, flat: one entry per (row, ranked service).

    Attributes
    ----------
    service_ids : tuple of str
        What `service` indexes.
    rules_version : ndarray of str, shape (n,)
        The rule set each row of the frame was decided under.
    eligible : ndarray of bool, shape (n,)
        The gate's decision per row of the frame.
    row : ndarray of int, shape (m,)
        Position of the pair's row in the frame (ascending).
    rank : ndarray of int, shape (m,)
        1 for the row's best service.
    service : ndarray of int, shape (m,)
        Index into `service_ids`.
    expected_without, expected_with, uplift, uplift_low, uplift_high : ndarray (m,)
        As in `RankedService`.
    p_above_zero, p_above_next : ndarray (m,)
        As in `RankedService` (`p_above_next` NaN for a row's last ranked service).
    wide_interval : ndarray of bool (m,)
        As in `RankedService`.
    factors : tuple of str
        What `driver_index` indexes.
    driver_index : ndarray of int, shape (m, n_drivers)
        The pair's strongest drivers (index into `factors`), -1 past the last.
    driver_uplift_without : ndarray of shape (m, n_drivers)
        `Driver.uplift_without` of each (NaN past the last).
    """

    service_ids: tuple[str, ...]
    rules_version: np.ndarray
    eligible: np.ndarray
    row: np.ndarray
    rank: np.ndarray
    service: np.ndarray
    expected_without: np.ndarray
    expected_with: np.ndarray
    uplift: np.ndarray
    uplift_low: np.ndarray
    uplift_high: np.ndarray
    factors: tuple[str, ...]
    driver_index: np.ndarray
    driver_uplift_without: np.ndarray
    p_above_zero: np.ndarray
    p_above_next: np.ndarray
    wide_interval: np.ndarray

    def __len__(self) -> int:
        return len(self.row)


@persistable
class PolkuModel:
    """A model version: rules versions + catalog snapshot + fitted ranker (with its encoder).

    Parameters
    ----------
    ranker : ServiceRanker
        Fitted; its services must all be in the catalog.
    catalog_snapshot : dict
        `Catalog.to_snapshot()` of the catalog the ranker was trained with.
    rules_versions : sequence of str
        Versions of the gate's rule sets the model was built with; a decision under any
        other set is refused (`RulesVersionError`).
    trained_at : str, optional
        ISO timestamp (UTC) of training.
    metadata : dict, optional
        Free-form facts (data fingerprint, parameters) carried along.

    Attributes
    ----------
    catalog : Catalog
        Rebuilt from the snapshot.
    service_ids : tuple of str
        The ranker's services (catalog order).
    """

    def __init__(
        self,
        ranker: ServiceRanker,
        catalog_snapshot: dict[str, Any],
        rules_versions: Sequence[str],
        *,
        trained_at: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        self.ranker = ranker
        self.catalog_snapshot = catalog_snapshot
        self.rules_versions = tuple(rules_versions)
        self.trained_at = trained_at or dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        self.metadata = dict(metadata or {})
        self._prepare()

    @classmethod
    def build(
        cls,
        ranker: ServiceRanker,
        catalog: Catalog,
        *,
        trained_at: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> PolkuModel:
        """Bundle a fitted ranker with the catalog and the gate's current rule sets."""
        versions = tuple(rule_set.version for rule_set in load_rule_sets())
        return cls(
            ranker, catalog.to_snapshot(), versions, trained_at=trained_at, metadata=metadata
        )

    def _prepare(self) -> None:
        if not hasattr(self.ranker, "uplift_coef_"):
            raise ValueError("the ranker must be fitted before it is bundled")
        try:
            self.ranker.encoder_.check_layout()
        except FeatureLayoutError as exc:
            raise IncompatibleModelError(
                f"this model version cannot be served by this code: {exc}; retrain it with "
                "this code, or serve it with the polku version it was built with"
            ) from None
        self.feature_layout = self.ranker.encoder_.layout_fingerprint
        self.catalog = Catalog.from_snapshot(self.catalog_snapshot)
        unknown = [s for s in self.ranker.services_ if s not in self.catalog.ids]
        if unknown:
            raise ValueError(f"ranker services not in the catalog: {', '.join(unknown)}")
        self.service_ids: tuple[str, ...] = tuple(self.ranker.services_)
        self._catalog_columns = np.array([self.catalog.index(s) for s in self.service_ids])
        self._supported = np.asarray(self.ranker.supported_, dtype=bool)
        self._n_coef = self.ranker.encoder_.n_features_out_ + 1
        self._catalog_ids = self.catalog.ids  # a property that builds the tuple each time
        self._shown_coefs: dict[Objective, np.ndarray] = {}

    def __getstate__(self) -> dict[str, Any]:
        return {
            "ranker": self.ranker,
            "catalog_snapshot": self.catalog_snapshot,
            "rules_versions": self.rules_versions,
            "trained_at": self.trained_at,
            "metadata": self.metadata,
        }

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._prepare()

    # -- one client --------------------------------------------------------------------------

    def recommend(
        self,
        profile: ClientProfile,
        objective: Objective | str = DEFAULT_OBJECTIVE,
        top_k: int | None = None,
    ) -> tuple[EligibilityDecision, list[RankedService]]:
        """Gate the client, then rank every service they may take by uplift on the objective.

        Parameters
        ----------
        profile : ClientProfile
        objective : Objective or str, default "employment_or_education_6m"
        top_k : int, optional
            Return only the best `top_k` services.

        Returns
        -------
        decision : EligibilityDecision
        ranked : list of RankedService
            Empty for non-clients. Otherwise the allowed, supported services, best uplift
            first, each with its interval and the client's needs that drive it (largest
            share first).
        """
        with one_blas_thread():
            ranking = self._rank(profile, as_objective(objective), top_k)
        return ranking.decision, list(ranking.ranked)

    def answer(
        self,
        profile: ClientProfile,
        objective: Objective | str = DEFAULT_OBJECTIVE,
        top_k: int | None = None,
    ) -> ModelAnswer:
        """`recommend`, with each suggestion's effect on every target and why every other
        catalog service is not suggested (what the caseworker's answer shows).

        The ranking is `recommend`'s (the objective stays the key). Another target costs
        one `score_design` from the ranking's own product (the objective's own target is the
        ranking's numbers); the reasons for the services left out reuse the ranking's numbers
        and its one check of the catalog limits.
        """
        parsed = as_objective(objective)
        with one_blas_thread():
            ranking = self._rank(profile, parsed, top_k)
            if not ranking.decision.eligible:
                return ModelAnswer(
                    ranking.decision,
                    (),
                    tuple(NotSuggested(s, "not_a_client") for s in self._catalog_ids),
                )
            ranked = ranking.ranked
            if ranked:
                effects = self._effects_by_target(ranking, parsed)
                ranked = tuple(
                    replace(r, by_target=tuple(e[i] for e in effects)) for i, r in enumerate(ranked)
                )
        return ModelAnswer(ranking.decision, ranked, self._not_suggested(ranking))

    def _rank(self, profile: ClientProfile, parsed: Objective, top_k: int | None) -> _Ranking:
        """The one ranking of one client: gate, limits, encode, score, separation, drivers.

        Callers hold BLAS to one thread around it (`recommend`, `answer`).
        """
        if top_k is not None and top_k < 1:
            raise ValueError("top_k must be at least 1")
        decision = assess_eligibility(profile)
        self._check_rules(decision.rules_version)
        empty = np.zeros(0, dtype=np.int64)
        if not decision.eligible:
            return _Ranking(decision, (), empty, None)
        verdicts = self.catalog.verdicts(profile)
        allowed = verdicts.allowed[self._catalog_columns] & self._supported
        candidates = np.flatnonzero(allowed)
        if len(candidates) == 0:
            return _Ranking(decision, (), empty, None, verdicts)
        row, factors, counterfactuals = self.ranker.encoder_.encode_with_counterfactuals(profile)
        design = np.empty(self._n_coef)
        design[0] = 1.0
        design[1:] = row
        replicas = self.ranker.design_replicas(design)
        scores = self.ranker.score_design(design, parsed, replicas=replicas)
        # Ranked by the model's uplift; the numbers shown are the shrunk ones.
        every = candidates[np.argsort(-scores.uplift[candidates], kind="stable")]
        order = every if top_k is None else every[:top_k]
        without = self._driver_uplift(counterfactuals, parsed, order)
        # The numbers a caseworker sees must agree: probabilities in [0, 1], the uplift their
        # difference, the interval and the drivers' uplifts within what is possible from here.
        base, with_service, uplift, low, high = consistent_outcomes(
            scores.expected_without,
            scores.uplift_shown[every],
            scores.uplift_low[every],
            scores.uplift_high[every],
        )
        assert low is not None and high is not None
        without = np.clip(without, -base, 1.0 - base)
        # Against the next ranked service, shown or not: top_k only cuts the list.
        above_zero, above_next, wide = self._separation(uplift, low, high)
        # Each suggestion's needs, the one that moves its number most first (stable: ties
        # in factor order); read as Python numbers once, not element by element.
        n = len(order)
        strongest = np.argsort(-np.abs(uplift[:n] - without), axis=0, kind="stable").T.tolist()
        without_by_service = without.T.tolist()
        shown, with_, low_, high_ = (v[:n].tolist() for v in (uplift, with_service, low, high))
        zero_, next_, wide_ = (v[:n].tolist() for v in (above_zero, above_next, wide))
        base_ = float(base)
        ranked = []
        for i, k in enumerate(order.tolist()):
            rank = i + 1
            drivers = tuple(
                Driver(factor=factors[j], uplift_without=without_by_service[i][j])
                for j in strongest[i]
            )
            ranked.append(
                RankedService(
                    service_id=self.service_ids[k],
                    rank=rank,
                    expected_with=with_[i],
                    expected_without=base_,
                    uplift=shown[i],
                    uplift_low=low_[i],
                    uplift_high=high_[i],
                    drivers=drivers,
                    p_above_zero=zero_[i],
                    p_above_next=None if rank == len(every) else next_[i],
                    wide_interval=bool(wide_[i]),
                )
            )
        shown_every = np.stack([uplift, low, high])
        return _Ranking(decision, tuple(ranked), every, design, verdicts, replicas, shown_every)

    def _effects_by_target(
        self, ranking: _Ranking, parsed: Objective
    ) -> list[tuple[TargetEffect, ...]]:
        """Per target of `TARGETS`, the effect of each suggestion (suggestion order)."""
        assert ranking.design is not None and ranking.replicas is not None
        columns = ranking.every[: len(ranking.ranked)]
        out = []
        for target in TARGETS:
            if parsed.weights == ((target, 1.0),):
                # The objective is this target: its effects are the suggestions' own numbers.
                out.append(
                    tuple(
                        TargetEffect(
                            target=target,
                            expected_with=r.expected_with,
                            expected_without=r.expected_without,
                            uplift=r.uplift,
                            uplift_low=r.uplift_low,
                            uplift_high=r.uplift_high,
                        )
                        for r in ranking.ranked
                    )
                )
                continue
            # From the ranking's own product: the intervals of all the services cost little
            # more than of the few shown (the cost is per call, not per service).
            scores = self.ranker.score_design(
                ranking.design, Objective(((target, 1.0),)), replicas=ranking.replicas
            )
            base, with_service, uplift, low, high = consistent_outcomes(
                scores.expected_without,
                scores.uplift_shown[columns],
                scores.uplift_low[columns],
                scores.uplift_high[columns],
            )
            assert low is not None and high is not None
            out.append(
                tuple(
                    TargetEffect(
                        target=target,
                        expected_with=float(with_service[i]),
                        expected_without=float(base),
                        uplift=float(uplift[i]),
                        uplift_low=float(low[i]),
                        uplift_high=float(high[i]),
                    )
                    for i in range(len(columns))
                )
            )
        return out

    def _not_suggested(self, ranking: _Ranking) -> tuple[NotSuggested, ...]:
        """Every catalog service not among the suggestions, with its reason."""
        assert ranking.verdicts is not None
        lower = []
        for position in range(len(ranking.ranked), len(ranking.every)):
            assert ranking.shown_every is not None
            uplift, low, high = (float(v) for v in ranking.shown_every[:, position])
            lower.append(
                NotSuggested(
                    self.service_ids[ranking.every[position]],
                    "ranked_lower",
                    rank=position + 1,
                    uplift=uplift,
                    uplift_low=low,
                    uplift_high=high,
                )
            )
        # `every` is all the services the client may take that the ranker estimates: each
        # other one fails a limit (closed, naming it) or has no estimate (not supported).
        ranked = set(self._catalog_columns[ranking.every].tolist())
        closed_on = ranking.verdicts.closed_on()
        closed, unsupported = [], []
        for position, service_id in enumerate(self._catalog_ids):
            if position in ranked:
                continue
            failed = closed_on[position]
            if failed:
                closed.append(NotSuggested(service_id, "closed", limits=failed))
            else:
                unsupported.append(NotSuggested(service_id, "not_supported"))
        return (*lower, *closed, *unsupported)

    def _separation(
        self, uplift: np.ndarray, low: np.ndarray, high: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """`models.separation`'s probabilities and width flag of one ranking (best first)."""
        interval = self.ranker.interval
        return (
            p_above_zero(uplift, low, high, interval),
            p_above_next(uplift, low, high, interval),
            wide_interval(low, high),
        )

    def _drivers(
        self, profile: ClientProfile, objective: Objective | str, columns: np.ndarray
    ) -> tuple[tuple[str, ...], np.ndarray]:
        """Per need the client has, the uplift of each chosen service without that need."""
        factors, rows = self.ranker.encoder_.encode_counterfactuals(profile)
        return factors, self._driver_uplift(rows, objective, columns)

    def _driver_uplift(
        self, counterfactuals: np.ndarray, objective: Objective | str, columns: np.ndarray
    ) -> np.ndarray:
        """The uplift of each chosen service for each counterfactual row, (rows, columns)."""
        if len(counterfactuals) == 0:
            return np.zeros((0, len(columns)))
        design = np.empty((len(counterfactuals), self._n_coef))
        design[:, 0] = 1.0
        design[:, 1:] = counterfactuals
        coef = self._shown_coef(as_objective(objective))[:, columns]
        return design @ coef

    def _shown_coef(self, objective: Objective) -> np.ndarray:
        """`ServiceRanker.objective_shown_coef`, computed once per objective (read-only).

        A product over every target and coefficient that one client would repeat on every
        call; the cache holds the few objectives a service is asked for (bounded, as the
        objective comes from the request).
        """
        coef = self._shown_coefs.get(objective)
        if coef is None:
            if len(self._shown_coefs) >= _SHOWN_COEF_CACHE:
                self._shown_coefs.clear()
            coef = self.ranker.objective_shown_coef(objective)
            coef.setflags(write=False)
            self._shown_coefs[objective] = coef
        return coef

    def _check_rules(self, version: str) -> None:
        if version not in self.rules_versions:
            raise RulesVersionError(
                f"the gate decided under rules {version!r}, but this model was built with "
                f"{', '.join(self.rules_versions)}; retrain or roll the rules back"
            )

    # -- many clients ------------------------------------------------------------------------

    def score_frame(
        self,
        frame: pd.DataFrame,
        objective: Objective | str = DEFAULT_OBJECTIVE,
        *,
        with_intervals: bool = False,
        with_practice: bool = False,
        chunk_size: int = 20_000,
    ) -> FrameScores:
        """Gate and score every row of a typed profile frame against every service.

        Parameters
        ----------
        frame : pandas.DataFrame
            Typed profile frame.
        objective : Objective or str
        with_intervals : bool, default False
            Also compute the uplift intervals (slower: one product per bootstrap replica).
        with_practice : bool, default False
            Also give today's practice (`FrameScores.practice`); a ranker fitted before it
            kept a model of practice leaves it None.
        chunk_size : int
            Rows per chunk (bounds memory).

        Returns
        -------
        FrameScores
        """
        return self._score_frame(
            frame, as_objective(objective), with_intervals, chunk_size, with_practice=with_practice
        )

    def _score_frame(
        self,
        frame: pd.DataFrame,
        parsed: Objective,
        with_intervals: bool,
        chunk_size: int,
        design: np.ndarray | None = None,
        *,
        with_practice: bool = False,
    ) -> FrameScores:
        """`score_frame`, optionally on the frame's design matrix already encoded."""
        decisions = assess_eligibility_frame(frame)
        for version in pd.unique(decisions["rules_version"]):
            self._check_rules(str(version))
        eligible = decisions["eligible"].to_numpy(dtype=bool)
        allowed = self.catalog.allowed_frame(frame)[:, self._catalog_columns]
        allowed &= self._supported[None, :] & eligible[:, None]
        weights = parsed.target_weights
        coef = self.ranker.objective_uplift_coef(parsed)
        shown_coef = self.ranker.objective_shown_coef(parsed)
        n = len(frame)
        base = np.empty(n)
        raw = np.empty((n, len(self.service_ids)))
        uplift = np.empty_like(raw)
        low = np.empty_like(uplift) if with_intervals else None
        high = np.empty_like(uplift) if with_intervals else None
        practice_coef = getattr(self.ranker, "practice_coef_", None) if with_practice else None
        practice = None if practice_coef is None else np.empty_like(raw)
        for start in range(0, n, chunk_size):
            stop = min(start + chunk_size, n)
            if design is None:
                part = self.ranker.encode(frame.iloc[start:stop])
            else:
                part = design[start:stop]
            base[start:stop] = self.ranker.baseline_from_design(part) @ weights
            raw[start:stop] = part @ coef
            if practice is not None:
                practice[start:stop] = part @ practice_coef
            if low is not None and high is not None:
                shown = self.ranker.shown_interval_from_design(part, parsed)
                uplift[start:stop], low[start:stop], high[start:stop] = shown
            else:
                uplift[start:stop] = part @ shown_coef
        base, _, uplift, low, high = consistent_outcomes(base[:, None], uplift, low, high)
        base = base[:, 0]
        for values in (uplift, low, high, raw):
            if values is not None:
                values[~allowed] = np.nan
        rules = decisions["rules_version"].to_numpy(dtype=object)
        if practice is not None:
            practice = practice_probabilities(practice, allowed)
        return FrameScores(
            self.service_ids, eligible, allowed, base, uplift, low, high, raw, rules, practice
        )

    def rank_frame(
        self,
        frame: pd.DataFrame,
        objective: Objective | str = DEFAULT_OBJECTIVE,
        *,
        top_k: int | None = None,
        n_drivers: int = 3,
    ) -> RankedPairs:
        """`recommend` for every row of a typed profile frame at once (the nightly batch).

        The same gate, limits, order, clipped numbers, intervals and drivers as `recommend`
        gives each row, computed with matrix products over the whole frame: no loop over
        rows. Score a large cohort in chunks of some ten thousand rows (memory grows with
        rows x services x driver factors).

        Parameters
        ----------
        frame : pandas.DataFrame
            Typed profile frame.
        objective : Objective or str
        top_k : int, optional
            Keep each row's best `top_k` services (default: every allowed service).
        n_drivers : int, default 3
            Drivers kept per ranked service (strongest first, as `recommend` orders them).

        Returns
        -------
        RankedPairs
            One entry per (row, ranked service), rows in frame order, best service first;
            nothing for a non-client.
        """
        if top_k is not None and top_k < 1:
            raise ValueError("top_k must be at least 1")
        if n_drivers < 0:
            raise ValueError("n_drivers must be non-negative")
        parsed = as_objective(objective)
        rows, factors, counterfactuals = self.ranker.encoder_.transform_with_counterfactuals(frame)
        scores = self._score_frame(
            frame, parsed, True, max(len(frame), 1), self._with_intercept(rows)
        )
        assert scores.uplift_low is not None and scores.uplift_high is not None
        assert scores.rules_version is not None
        width = len(self.service_ids) if top_k is None else min(top_k, len(self.service_ids))
        # One service past the cut: each kept one is compared with the next ranked, as in
        # `recommend`.
        extended = min(width + 1, len(self.service_ids))
        top = scores.top(extended) if width else np.empty((len(frame), 0), dtype=np.int64)
        pair_rows, position = np.nonzero(top >= 0)
        columns = top[pair_rows, position]
        above_zero, above_next, wide = self._separation(
            scores.uplift[pair_rows, columns],
            scores.uplift_low[pair_rows, columns],
            scores.uplift_high[pair_rows, columns],
        )
        # The pairs run row by row, best first: a row's last pair has no next service.
        last = np.append(pair_rows[1:] != pair_rows[:-1], True)[: len(pair_rows)]
        above_next[last] = np.nan
        kept = position < width
        pair_rows, position, columns = pair_rows[kept], position[kept], columns[kept]
        above_zero, above_next, wide = above_zero[kept], above_next[kept], wide[kept]
        base = scores.expected_without[pair_rows]
        uplift = scores.uplift[pair_rows, columns]
        low = scores.uplift_low[pair_rows, columns]
        high = scores.uplift_high[pair_rows, columns]
        driver_index, driver_without = self._frame_drivers(
            len(frame), counterfactuals, parsed, pair_rows, columns, base, uplift, n_drivers
        )
        return RankedPairs(
            service_ids=self.service_ids,
            rules_version=scores.rules_version,
            eligible=scores.eligible,
            row=pair_rows,
            rank=position + 1,
            service=columns,
            expected_without=base,
            expected_with=base + uplift,
            uplift=uplift,
            uplift_low=low,
            uplift_high=high,
            factors=factors,
            driver_index=driver_index,
            driver_uplift_without=driver_without,
            p_above_zero=above_zero,
            p_above_next=above_next,
            wide_interval=wide,
        )

    def _with_intercept(self, rows: np.ndarray) -> np.ndarray:
        design = np.empty((len(rows), self._n_coef))
        design[:, 0] = 1.0
        design[:, 1:] = rows
        return design

    def _frame_drivers(
        self,
        n_rows: int,
        counterfactuals: Iterator[tuple[np.ndarray, np.ndarray]],
        objective: Objective,
        rows: np.ndarray,
        columns: np.ndarray,
        base: np.ndarray,
        shown: np.ndarray,
        n_drivers: int,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Each ranked pair's strongest drivers, as `recommend` picks and orders them.

        `counterfactuals` is `FeatureEncoder.transform_with_counterfactuals`' iterator.
        Returns the factor index of each pair's drivers (-1 past the last) and the uplift
        without each, both of shape (pairs, n_drivers).
        """
        n_pairs = len(rows)
        if n_pairs == 0:
            return np.empty((0, n_drivers), dtype=np.int64), np.empty((0, n_drivers))
        coef = self.ranker.objective_shown_coef(objective)
        by_factor = list(counterfactuals)
        # (factors, pairs): each factor fills one contiguous row.
        distance = np.full((len(by_factor), n_pairs), -1.0)
        without = np.zeros((len(by_factor), n_pairs))
        where = np.empty(n_rows, dtype=np.int64)
        for j, (index, encoded) in enumerate(by_factor):
            if len(index) == 0:
                continue
            # Only the rows with the need: the others cannot name it.
            where.fill(-1)
            where[index] = np.arange(len(index))
            position = where[rows]
            has = np.flatnonzero(position >= 0)
            uplift = self._with_intercept(encoded) @ coef  # (len(index), services)
            value = uplift.ravel()[position[has] * uplift.shape[1] + columns[has]]
            pair_base = base[has]
            np.clip(value, -pair_base, 1.0 - pair_base, out=value)
            without[j, has] = value
            distance[j, has] = np.abs(shown[has] - value)
        distance, without = distance.T, without.T
        # Largest distance first, ties in factor order (recommend's stable sort); a factor
        # the client does not have sorts last and is dropped.
        order = np.argsort(-distance, axis=1, kind="stable")[:, :n_drivers]
        present = np.take_along_axis(distance, order, axis=1) >= 0.0
        index_out = np.where(present, order, -1)
        kept = np.where(present, np.take_along_axis(without, order, axis=1), np.nan)
        return index_out, kept

    def describe(self) -> dict[str, Any]:
        """Plain facts about this version (for MLflow tags and the service's health route)."""
        return {
            "services": list(self.service_ids),
            "supported_services": [
                s for s, ok in zip(self.service_ids, self._supported, strict=True) if ok
            ],
            "rules_versions": list(self.rules_versions),
            "catalog_fingerprint": self.catalog.fingerprint,
            "feature_layout": self.feature_layout,
            "trained_at": self.trained_at,
            "propensity_source": self.ranker.propensity_source_,
            "n_episodes": int(self.ranker.n_episodes_),
            # The training clients' digests stay in the bundle; facts carry only their count.
            **{k: v for k, v in self.metadata.items() if k != TRAINING_CLIENTS_KEY},
            **(
                {"n_training_clients": self.metadata[TRAINING_CLIENTS_KEY]["n_clients"]}
                if TRAINING_CLIENTS_KEY in self.metadata
                else {}
            ),
        }
