"""The learning loop end to end on the synthetic world, with or without exploration.

Round 1: the world's caseworkers choose on their own (their logs carry their exact
propensities, as a generated register does) and the first model is trained on them. Each
later round: a fresh period of clients (`pipeline.loop.periods`), served by the current
model (`pipeline.loop.serve`): caseworkers follow the service shown first with probability
`follow`, outcomes are drawn from the world's truth; then the model is retrained on
every round so far. Logged propensities of the later rounds are exact too (Polku's own
draw mixed with the caseworkers' practice, which the simulation knows): both arms get
the same advantage, so the comparison is of what exploration adds to the data.

Both arms see the same periods and the same first model (common random numbers); only
the serving differs. Per round it records, per group of `periods.GROUPS`, the true value
of the policy served, of the served model's best-first policy ("greedy"), of the
caseworkers alone and of the oracle (the true best allowed service shown first); and the
off-policy estimates (`pipeline.feedback.ope`) with their truth of (a) the served model's
greedy policy on its own round and (b) the next model's greedy policy on the round it
learnt from, before it is served: in-sample (the next model judges rows it learnt from,
which flatters it) and cross-fitted (`cross_fit_folds` models, each fitted without one
fold of the round's persons, judge that fold; against the next model's truth and against
the truth of the fold models' own choices).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from functools import partial
from typing import Any

import numpy as np
import pandas as pd

from models.bundle import PolkuModel
from models.catalog import Catalog, load_catalog
from models.exploration import ExplorationRule
from models.objectives import DEFAULT_OBJECTIVE, Objective
from models.ranker import ServiceRanker
from pipeline.feedback.ope import Estimate, by_own_fold, doubly_robust, ipw, person_folds
from pipeline.loop.periods import Period, draw_period
from pipeline.loop.serve import (
    ServedLog,
    Suggestions,
    draw_rewards,
    one_hot,
    serve,
    suggest,
    true_values,
)
from pipeline.synth.scenarios import DEFAULT_SCENARIO, scenario_catalog, scenario_named
from pipeline.threads import limited_threads

Progress = Callable[[str], None]


@dataclass(frozen=True)
class LoopConfig:
    """One simulated loop.

    Attributes
    ----------
    seed : seeds the periods, the serving draws and the ranker
    rounds : round 1 (caseworkers only) and `rounds - 1` served rounds
    initial_persons, persons_per_round : persons of round 1's world and of each later period
        (about 1.2 eligible assessments each)
    follow : probability that a caseworker takes the service shown first
    objective : what the ranker ranks by and the values are measured on
    n_bootstrap : the ranker's bootstrap refits (its intervals)
    cross_fit_folds : folds of each served round's persons for the cross-fitted estimate of
        the next model (one extra fit per fold and round); 0: not estimated
    scenario : the synthetic world's structural scenario (`pipeline.synth.scenarios.SCENARIOS`)
        every period, its truth and its caseworkers' practice are drawn in
    """

    seed: int = 0
    rounds: int = 7
    initial_persons: int = 6000
    persons_per_round: int = 4000
    follow: float = 0.6
    objective: str = DEFAULT_OBJECTIVE
    n_bootstrap: int = 10
    cross_fit_folds: int = 2
    scenario: str = DEFAULT_SCENARIO

    def __post_init__(self) -> None:
        scenario_named(self.scenario)  # refuses an unknown name, naming the known ones
        if self.rounds < 2:
            raise ValueError("rounds must be at least 2 (round 1 and one served round)")
        if not 0.0 <= self.follow <= 1.0:
            raise ValueError(f"follow must be within [0, 1], got {self.follow!r}")
        if self.cross_fit_folds == 1 or self.cross_fit_folds < 0:
            raise ValueError(f"cross_fit_folds must be 0 or >= 2, got {self.cross_fit_folds!r}")


@dataclass
class OffPolicy:
    """IPW and DR estimates of one policy's value and its true value on the same clients.

    `own_truth`: where the rows were judged by other policies (the fold models of a
    cross-fit), their true value, beside `truth` (the policy the estimate stands for).
    """

    truth: float
    ipw: Estimate
    dr: Estimate
    own_truth: float | None = None

    def row(self, prefix: str) -> dict[str, float]:
        out = {f"{prefix}_truth": self.truth}
        for name, estimate in (("ipw", self.ipw), ("dr", self.dr)):
            out.update(
                {
                    f"{prefix}_{name}": estimate.value,
                    f"{prefix}_{name}_low": estimate.low,
                    f"{prefix}_{name}_high": estimate.high,
                    f"{prefix}_{name}_covers": float(estimate.covers(self.truth)),
                }
            )
            if self.own_truth is not None:
                out[f"{prefix}_{name}_covers_own"] = float(estimate.covers(self.own_truth))
        if self.own_truth is not None:
            out[f"{prefix}_own_truth"] = self.own_truth
        out[f"{prefix}_support"] = self.ipw.support
        return out


@dataclass
class RoundResult:
    """What one round measured (values are means over the period's clients)."""

    arm: str
    round: int
    n_train: int
    n_clients: int
    served: dict[str, float]
    greedy: dict[str, float]
    caseworkers: dict[str, float]
    oracle: dict[str, float]
    randomised_share: float = 0.0
    followed_share: float = 0.0
    ope_greedy: OffPolicy | None = None
    ope_next: OffPolicy | None = None
    ope_next_cross_fit: OffPolicy | None = None
    diagnostics: dict[str, OffPolicy] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    def rows(self) -> list[dict[str, Any]]:
        """Long rows: one per group, with the round's off-policy columns on each."""
        common: dict[str, Any] = {
            "arm": self.arm,
            "round": self.round,
            "n_train": self.n_train,
            "n_clients": self.n_clients,
            "randomised_share": self.randomised_share,
            "followed_share": self.followed_share,
        }
        if self.ope_greedy is not None:
            common.update(self.ope_greedy.row("ope_greedy"))
        if self.ope_next is not None:
            common.update(self.ope_next.row("ope_next"))
        if self.ope_next_cross_fit is not None:
            common.update(self.ope_next_cross_fit.row("ope_next_cf"))
        for prefix, off_policy in self.diagnostics.items():
            common.update(off_policy.row(prefix))
        return [
            {
                **common,
                "group": group,
                "served": self.served[group],
                "greedy": self.greedy[group],
                "caseworkers": self.caseworkers[group],
                "oracle": self.oracle[group],
            }
            for group in self.served
        ]


@dataclass
class _Logs:
    """Every episode so far, as the ranker is fitted on them."""

    frames: list[pd.DataFrame] = field(default_factory=list)
    actions: list[np.ndarray] = field(default_factory=list)
    outcomes: list[np.ndarray] = field(default_factory=list)
    propensity: list[np.ndarray] = field(default_factory=list)

    def add(
        self, frame: pd.DataFrame, action: np.ndarray, outcomes: np.ndarray, p: np.ndarray
    ) -> _Logs:
        return _Logs(
            [*self.frames, frame],
            [*self.actions, action],
            [*self.outcomes, outcomes],
            [*self.propensity, p],
        )

    def __len__(self) -> int:
        return sum(len(f) for f in self.frames)


def fit(logs: _Logs, catalog: Catalog, config: LoopConfig, seed: int) -> PolkuModel:
    """Retrain the ranker on every episode so far (the loop's `polku train`, without MLflow)."""
    frame = pd.concat(logs.frames, ignore_index=True)
    action_ids = np.array([*catalog.ids, "none"], dtype=object)
    ranker = ServiceRanker(services=catalog.ids, n_bootstrap=config.n_bootstrap, random_state=seed)
    with limited_threads():
        ranker.fit(
            frame,
            action_ids[np.concatenate(logs.actions)],
            np.concatenate(logs.outcomes),
            propensity=np.concatenate(logs.propensity),
            allowed=catalog.allowed_frame(frame),
            groups=frame["client_id"].to_numpy(),
        )
    return PolkuModel.build(ranker, catalog)


def _by_group(period: Period, values: np.ndarray) -> dict[str, float]:
    return {name: float(values[mask].mean()) for name, mask in period.groups.items() if mask.any()}


def _values(
    period: Period, served: np.ndarray, greedy: np.ndarray | None, follow: float
) -> tuple[dict[str, float], dict[str, float], dict[str, float], dict[str, float]]:
    """True values by group of the served policy, the greedy one, the caseworkers alone and
    the oracle; `greedy` None: nothing was suggested (round 1)."""
    k = period.allowed.shape[1]
    alone = np.zeros((len(period), k))
    best_first = served if greedy is None else one_hot(greedy, k)
    return (
        _by_group(period, true_values(period, served, follow)),
        _by_group(period, true_values(period, best_first, follow)),
        _by_group(period, true_values(period, alone, follow)),
        _by_group(period, true_values(period, one_hot(_oracle(period), k), follow)),
    )


def _oracle(period: Period) -> np.ndarray:
    masked = np.where(period.allowed, period.value[:, :-1], -np.inf)
    best = masked.argmax(axis=1)
    best[~period.allowed.any(axis=1)] = -1
    return best


def _off_policy(
    period: Period,
    policy: np.ndarray,
    log: ServedLog,
    logged: Suggestions,
    predicted: np.ndarray,
    follow: float,
    stands_for: np.ndarray | None = None,
    folds: np.ndarray | None = None,
) -> OffPolicy:
    """Estimates of showing `policy` first, from a period's logs, beside its truth;
    `stands_for`: the policy the estimate is meant for when `policy` is its cross-fit
    over `folds`."""
    rows = np.arange(len(policy))
    logged_p = np.where(
        policy >= 0, logged.probabilities[rows, np.maximum(policy, 0)], (log.shown < 0) * 1.0
    )
    k = logged.probabilities.shape[1]

    def truth_of(choice: np.ndarray) -> float:
        return float(true_values(period, one_hot(choice, k), follow).mean())

    truth = truth_of(policy)
    return OffPolicy(
        truth=truth if stands_for is None else truth_of(stands_for),
        own_truth=None if stands_for is None else truth,
        ipw=ipw(policy, log.shown, log.shown_probability, log.reward, logged_p, folds),
        dr=doubly_robust(
            policy,
            log.shown,
            log.shown_probability,
            log.reward,
            log.followed,
            predicted,
            logged_p,
            folds,
        ),
    )


def _held_out_suggestions(
    before: _Logs,
    period: Period,
    log: ServedLog,
    catalog: Catalog,
    config: LoopConfig,
    seed: int,
    objective: Objective,
) -> tuple[Suggestions, np.ndarray]:
    """The next model's greedy choices and predictions cross-fitted over the period's persons
    (each fold as seen by a model fitted on `before` and the period's other folds), and the
    folds."""
    folds = person_folds(period.frame["client_id"].to_numpy(), config.cross_fit_folds, seed)
    per_fold = []
    for fold in range(config.cross_fit_folds):
        keep = folds != fold
        others = period.frame.loc[keep].reset_index(drop=True)
        logs = before.add(others, log.action[keep], log.outcomes[keep], log.propensity[keep])
        per_fold.append(suggest(fit(logs, catalog, config, seed), period, objective, None))
    held_out = Suggestions(
        probabilities=by_own_fold(folds, [s.probabilities for s in per_fold]),
        greedy=by_own_fold(folds, [s.greedy for s in per_fold]),
        predicted=by_own_fold(folds, [s.predicted for s in per_fold]),
    )
    return held_out, folds


def run_loop(
    config: LoopConfig,
    arms: dict[str, ExplorationRule | None],
    progress: Progress | None = None,
    catalog: Catalog | None = None,
) -> list[RoundResult]:
    """Run the loop once per arm (name -> exploration rule, None: no exploration)."""
    say = progress or (lambda _message: None)
    base = catalog or load_catalog()
    # The periods derive the scenario's catalog from `base` as the generator does; the
    # models rank that one (a scenario may split services into variants).
    catalog = scenario_catalog(scenario_named(config.scenario), base)
    objective = Objective.parse(config.objective)
    first = draw_period(config.initial_persons, config.seed, 0, base, objective, config.scenario)
    start = _Logs().add(
        first.frame, first.logged_action, first.logged_outcomes, first.logged_propensity
    )
    say(f"seed {config.seed} ({config.scenario}): round 1, {len(first):,} logged episodes")
    first_model = fit(start, catalog, config, config.seed)
    periods = [
        draw_period(config.persons_per_round, config.seed, r, base, objective, config.scenario)
        for r in range(1, config.rounds)
    ]
    results: list[RoundResult] = []
    nobody = np.zeros(first.allowed.shape)
    for arm, (name, rule) in enumerate(arms.items()):
        results.append(
            RoundResult(name, 1, 0, len(first), *_values(first, nobody, None, config.follow))
        )
        model, logs = first_model, start
        for r, period in enumerate(periods, start=2):
            rng = np.random.default_rng([config.seed, r, arm])
            suggested = suggest(model, period, objective, rule)
            log = serve(period, suggested, config.follow, objective, rng)
            result = RoundResult(
                name,
                r,
                len(logs),
                len(period),
                *_values(period, suggested.probabilities, suggested.greedy, config.follow),
                randomised_share=float(((suggested.probabilities > 0).sum(axis=1) > 1).mean()),
                followed_share=float(log.followed.mean()),
            )
            result.ope_greedy = _off_policy(
                period, suggested.greedy, log, suggested, suggested.predicted, config.follow
            )
            before, logs = logs, logs.add(period.frame, log.action, log.outcomes, log.propensity)
            model = fit(logs, catalog, config, config.seed + r)
            following = suggest(model, period, objective, None)
            result.ope_next = _off_policy(
                period, following.greedy, log, suggested, following.predicted, config.follow
            )
            if config.cross_fit_folds:
                held_out, folds = _held_out_suggestions(
                    before, period, log, catalog, config, config.seed + r, objective
                )
                judged_held_out = partial(
                    _off_policy,
                    period,
                    held_out.greedy,
                    log,
                    suggested,
                    held_out.predicted,
                    config.follow,
                    stands_for=following.greedy,
                )
                result.ope_next_cross_fit = judged_held_out(folds=folds)
                # Why the in-sample estimate misses: the same rows with rows taken as
                # independent, and in-sample with outcomes the next model never saw.
                result.diagnostics["ope_next_cf_naive"] = judged_held_out()
            unseen = np.random.default_rng([config.seed, r, arm, 1])
            redrawn = replace(log, reward=draw_rewards(period, log.action, objective, unseen)[1])
            result.diagnostics["ope_next_redrawn"] = _off_policy(
                period, following.greedy, redrawn, suggested, following.predicted, config.follow
            )
            results.append(result)
            say(
                f"seed {config.seed} {name} round {r}: served {result.served['all']:.4f}, "
                f"greedy {result.greedy['all']:.4f}, caseworkers {result.caseworkers['all']:.4f}, "
                f"oracle {result.oracle['all']:.4f}; trained on {len(logs):,}"
            )
    return results


def results_frame(results: list[RoundResult]) -> pd.DataFrame:
    """All rounds' long rows (`RoundResult.rows`) as one frame."""
    return pd.DataFrame([row for result in results for row in result.rows()])


__all__ = ["LoopConfig", "RoundResult", "asdict", "results_frame", "run_loop"]
