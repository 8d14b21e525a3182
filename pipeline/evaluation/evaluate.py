"""Score a ranker's top-1 policy against the baselines on held-out episodes.

`EvaluationData` holds what the evaluation reads, aligned row by row (profiles, logged
choice, propensity, observed reward, true outcome probabilities, allowed services);
`evaluate_policies` computes every figure of the report from it and the model's predicted
outcomes. Training (`pipeline.training.train`), `polku evaluate` and `polku promote` all call it, so
the three can never disagree on how a model is judged.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Final, Protocol

import numpy as np
import pandas as pd

from models.actions import allowed_actions, no_service_index, uplift_over_no_service
from models.groupings import AGE_BANDS, group_labels
from pipeline.effects.estimators import Estimate
from pipeline.effects.policy import evaluate_policy
from pipeline.evaluation import metrics
from pipeline.evaluation.policies import (
    POLICY_NAMES,
    ImitationPolicy,
    PopularPolicy,
    best_allowed,
    caseworker_policy,
    oracle_policy,
    polku_policy,
    random_policy,
)
from pipeline.evaluation.results import (
    OPE_ESTIMATORS,
    ByPolicy,
    Calibration,
    EvaluationSummary,
    GroupOffPolicy,
    GroupResult,
    Interval,
    OffPolicyEstimates,
    OracleGainByPolicy,
    PolicyDifference,
    UpliftSummary,
)

TOP_K: Final = 3
CALIBRATION_BINS: Final = 10


@dataclass(frozen=True)
class EvaluationData:
    """Held-out episodes, aligned row by row.

    Attributes
    ----------
    frame : DataFrame
        Typed profile columns of each episode (for the model and for the group slices).
    logged_action : int ndarray (n,)
        The caseworker's choice (service index, or `n_services` for no service).
    propensity : float ndarray (n,) or None
        Probability the caseworker's policy gave to the logged choice: logged, or estimated
        (`propensity_source`); None until estimated when the register logs none.
    reward : float ndarray (n,)
        Observed outcome of the objective (0/1, or a weighted mix of 0/1 outcomes).
    true_outcomes : float ndarray (n, n_services + 1) or None
        True probability of the objective's outcome under each service and under none; None
        without a truth (a real register: the evaluation is then off-policy only).
    allowed : bool ndarray (n, n_services)
        Services each client may take (catalog limits).
    propensity_source : {"logged", "estimated"}
    """

    frame: pd.DataFrame
    logged_action: np.ndarray
    propensity: np.ndarray | None
    reward: np.ndarray
    true_outcomes: np.ndarray | None
    allowed: np.ndarray
    propensity_source: str = "logged"

    def __post_init__(self) -> None:
        n = len(self.frame)
        if n == 0:
            raise ValueError("no held-out episodes to evaluate")
        n_services = self.allowed.shape[1]
        for name, array, shape in (
            ("logged_action", self.logged_action, (n,)),
            ("propensity", self.propensity, (n,)),
            ("reward", self.reward, (n,)),
            ("true_outcomes", self.true_outcomes, (n, n_services + 1)),
            ("allowed", self.allowed, (n, n_services)),
        ):
            if array is not None and array.shape != shape:
                raise ValueError(f"{name} has shape {array.shape}, expected {shape}")

    @property
    def n_services(self) -> int:
        return int(self.allowed.shape[1])

    @property
    def has_truth(self) -> bool:
        return self.true_outcomes is not None


@dataclass(frozen=True)
class Baselines:
    """The baselines fitted on the training episodes: most popular service, imitation."""

    popular: PopularPolicy
    imitation: ImitationPolicy
    seed: int = 0


@dataclass(frozen=True, eq=False)
class Evaluation:
    """Every figure of an evaluation, plus the arrays the report's plots draw from."""

    summary: EvaluationSummary
    choices: dict[str, np.ndarray] = field(repr=False)
    predicted: np.ndarray = field(repr=False)
    group_labels: dict[str, np.ndarray] = field(repr=False)
    # The episodes judged, with the propensities used (estimated when the register logs none).
    data: EvaluationData | None = field(default=None, repr=False)


def policy_choices(
    data: EvaluationData,
    predicted: np.ndarray,
    baselines: Baselines,
    imitation_features: np.ndarray,
    rankable: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """Each policy's top-1 choice on the held-out episodes, keyed by `POLICY_NAMES`.

    Polku picks among `rankable` services (those the model would rank: allowed and
    supported) when given, else among the allowed ones. Without a truth there is no oracle:
    its entry is "no service" for every episode and is never evaluated.
    """
    uplift = uplift_over_no_service(predicted)
    polku_allowed = data.allowed if rankable is None else data.allowed & rankable
    choices = {
        "polku": polku_policy(uplift, polku_allowed),
        "caseworkers": caseworker_policy(data.logged_action),
        "random": random_policy(data.allowed, baselines.seed),
        "popular": baselines.popular.choose(data.allowed),
        "imitation": baselines.imitation.choose(imitation_features, data.allowed),
        "oracle": oracle_policy(data.true_outcomes, data.allowed)
        if data.true_outcomes is not None
        else np.full(len(data.frame), data.n_services, dtype=np.int64),
    }
    assert tuple(choices) == POLICY_NAMES
    return choices


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def _interval(estimate: Estimate) -> Interval:
    return Interval(estimate.estimate, estimate.ci_low, estimate.ci_high)


def _per_episode_value(
    data: EvaluationData, predicted: np.ndarray, name: str, choice: np.ndarray
) -> np.ndarray:
    """What a policy's value averages per episode: the truth of its choice when known;
    without a truth the doubly robust term (the observed reward for the caseworkers, NaN for
    the oracle, which needs the truth)."""
    rows = np.arange(len(choice))
    if data.true_outcomes is not None:
        return np.asarray(data.true_outcomes[rows, choice], dtype=np.float64)
    if name == "caseworkers":
        return np.asarray(data.reward, dtype=np.float64)
    if name == "oracle":
        return np.full(len(choice), math.nan)
    assert data.propensity is not None
    weight = metrics.importance_weights(data.logged_action, data.propensity, choice)
    dr: np.ndarray = predicted[rows, choice] + weight * (
        data.reward - predicted[rows, data.logged_action]
    )
    return dr


def _gain_block(values: Mapping[str, float]) -> OracleGainByPolicy:
    return OracleGainByPolicy(
        **{
            f.name: _finite(
                metrics.oracle_gain_captured(
                    values[f.name], values["caseworkers"], values["oracle"]
                )
            )
            for f in fields(OracleGainByPolicy)
        }
    )


def evaluate_policies(
    data: EvaluationData,
    predicted: np.ndarray,
    baselines: Baselines,
    imitation_features: np.ndarray,
    rankable: np.ndarray | None = None,
    *,
    shown: ShownUplift | None = None,
) -> Evaluation:
    """Compute the evaluation of one model on held-out episodes.

    Parameters
    ----------
    data : EvaluationData
    predicted : ndarray of shape (n, n_services + 1)
        The model's predicted probability of the objective's outcome under each service and
        (last column) under none. Uplift is a service's column minus the last one.
    baselines : Baselines
        Fitted on the training episodes.
    imitation_features : ndarray
        The held-out episodes' features for the imitation classifier.
    rankable : bool ndarray of shape (n, n_services), optional
        Services the model would rank (see `policy_choices`).
    shown : ShownUplift, optional
        The uplift and intervals the model shows (e.g. `scoring.ModelPredictions`): judged
        against the truth over all pairs and the top-1 suggestions (`summary.intervals`).

    Returns
    -------
    Evaluation
        `summary` is the `EvaluationSummary`.
    """
    predicted = np.asarray(predicted, dtype=np.float64)
    expected = (len(data.frame), data.n_services + 1)
    if predicted.shape != expected:
        raise ValueError(f"predicted outcomes have shape {predicted.shape}, expected {expected}")
    if rankable is not None and rankable.shape != data.allowed.shape:
        raise ValueError(f"rankable has shape {rankable.shape}, expected {data.allowed.shape}")
    if data.propensity is None:
        raise ValueError(
            "the evaluation needs the propensity of each logged choice: logged, or estimated "
            "(pipeline.evaluation.version.estimated_propensity)"
        )
    choices = policy_choices(data, predicted, baselines, imitation_features, rankable)
    polku_allowed = data.allowed if rankable is None else data.allowed & rankable
    truth = data.true_outcomes
    uplift = uplift_over_no_service(predicted)
    oracle = choices["oracle"]
    rows = np.arange(len(data.frame))
    labels = group_labels(data.frame)
    clusters = data.frame["client_id"].astype(str).to_numpy() if "client_id" in data.frame else None

    # Each policy's value with client-clustered intervals (pipeline.effects.policy), overall
    # and by group. The caseworkers' policy is the logging policy: its value is the mean
    # observed reward (every estimator reduces to it), which is `logged_value`.
    evaluated = {
        name: evaluate_policy(
            data.reward,
            data.logged_action,
            data.propensity,
            choice,
            predicted,
            clusters=clusters,
            groups=labels,
            true_outcomes=truth,
        )
        for name, choice in choices.items()
        if name != "caseworkers" and (name != "oracle" or truth is not None)
    }
    polku_ev = evaluated["polku"]
    logged_interval = _interval(polku_ev.overall.logged_value)
    # Per episode, what each policy's value averages: the truth of its choice, or without a
    # truth the doubly robust term (the observed reward for the caseworkers).
    per_episode = {
        name: _per_episode_value(data, predicted, name, choice) for name, choice in choices.items()
    }
    values = {name: float(np.mean(v)) for name, v in per_episode.items()}

    ope: dict[str, OffPolicyEstimates] = {}
    for name, choice in choices.items():
        matched = int(np.sum(choice == data.logged_action))
        # The caseworkers' policy *is* the logging policy: its importance weights are
        # mu(a|x) / mu(a|x) = 1, so every estimator reduces to the on-policy mean.
        propensity = np.ones_like(data.propensity) if name == "caseworkers" else data.propensity
        if name == "caseworkers":
            intervals: dict[str, Interval] | None = dict.fromkeys(OPE_ESTIMATORS, logged_interval)
        elif name in evaluated:
            intervals = {k: _interval(evaluated[name].overall.values[k]) for k in OPE_ESTIMATORS}
        else:
            intervals = None
        estimable = intervals is not None
        headline = intervals["dr"] if intervals is not None else None
        ope[name] = OffPolicyEstimates(
            true=metrics.policy_value(truth, choice) if truth is not None else math.nan,
            ips=metrics.ips_estimate(data.reward, data.logged_action, propensity, choice)
            if estimable
            else math.nan,
            snips=_finite(
                metrics.snips_estimate(data.reward, data.logged_action, propensity, choice)
            )
            if estimable
            else None,
            dr=metrics.dr_estimate(data.reward, data.logged_action, propensity, choice, predicted)
            if estimable
            else math.nan,
            direct=float(np.mean(predicted[rows, choice])) if estimable else math.nan,
            matched_episodes=matched,
            estimate=headline.estimate if headline else math.nan,
            ci_low=headline.ci_low if headline else math.nan,
            ci_high=headline.ci_high if headline else math.nan,
            intervals=intervals,
        )
    gains = {k: _interval(polku_ev.overall.gains[k]) for k in OPE_ESTIMATORS}
    difference = PolicyDifference(
        estimate=gains["dr"].estimate,
        ci_low=gains["dr"].ci_low,
        ci_high=gains["dr"].ci_high,
        intervals=gains,
        true=polku_ev.overall.true_gain,
    )

    logged_prediction = np.clip(predicted[rows, data.logged_action], 0.0, 1.0)
    bins = metrics.reliability_bins(logged_prediction, data.reward, CALIBRATION_BINS)
    allowed_full = allowed_actions(data.allowed)
    no_service = no_service_index(data.n_services)
    allowed_uplift = uplift[data.allowed]
    top1_predicted = best_allowed_uplift(predicted, polku_allowed)
    mean_top1_predicted = (
        float(np.nanmean(top1_predicted)) if np.isfinite(top1_predicted).any() else math.nan
    )
    if truth is not None:
        true_uplift = uplift_over_no_service(truth)
        allowed_true_uplift = true_uplift[data.allowed]
        calibration = Calibration(
            brier=metrics.brier_score(logged_prediction, data.reward),
            ece=metrics.expected_calibration_error(
                logged_prediction, data.reward, CALIBRATION_BINS
            ),
            reliability=bins,
            mean_abs_error_vs_truth=float(np.mean(np.abs(predicted - truth)[allowed_full])),
            mean_abs_error_vs_truth_logged=float(
                np.mean(np.abs(logged_prediction - truth[rows, data.logged_action]))
            ),
        )
        uplift_summary = UpliftSummary(
            rmse_vs_truth=float(np.sqrt(np.mean((allowed_uplift - allowed_true_uplift) ** 2)))
            if allowed_uplift.size
            else math.nan,
            correlation_with_truth=_finite(
                float(np.corrcoef(allowed_uplift, allowed_true_uplift)[0, 1])
            )
            if allowed_uplift.size > 1
            and allowed_uplift.std() > 0
            and allowed_true_uplift.std() > 0
            else None,
            mean_top1_predicted=mean_top1_predicted,
            mean_top1_true=float(np.mean(truth[rows, choices["polku"]] - truth[:, no_service])),
        )
    else:
        calibration = Calibration(
            brier=metrics.brier_score(logged_prediction, data.reward),
            ece=metrics.expected_calibration_error(
                logged_prediction, data.reward, CALIBRATION_BINS
            ),
            reliability=bins,
            mean_abs_error_vs_truth=math.nan,
            mean_abs_error_vs_truth_logged=math.nan,
        )
        uplift_summary = UpliftSummary(
            rmse_vs_truth=math.nan,
            correlation_with_truth=None,
            mean_top1_predicted=mean_top1_predicted,
            mean_top1_true=math.nan,
        )

    by_group: dict[str, dict[str, GroupResult]] = {}
    for grouping, group_label in labels.items():
        text = np.array([str(label) for label in group_label], dtype=object)
        results: dict[str, GroupResult] = {}
        for label in sorted(set(text.tolist())):
            mask = text == label
            group_values = ByPolicy.from_mapping(
                {name: float(np.mean(per_episode[name][mask])) for name in POLICY_NAMES}
            )
            estimates = polku_ev.by_group.get(grouping, {}).get(label)
            group_ope = (
                None
                if estimates is None
                else GroupOffPolicy(
                    polku={k: _interval(estimates.values[k]) for k in OPE_ESTIMATORS},
                    caseworkers=dict.fromkeys(OPE_ESTIMATORS, _interval(estimates.logged_value)),
                    polku_minus_caseworkers={
                        k: _interval(estimates.gains[k]) for k in OPE_ESTIMATORS
                    },
                )
            )
            results[label] = GroupResult(
                n=int(mask.sum()),
                policy_value=group_values,
                oracle_gain_captured=_finite(
                    metrics.oracle_gain_captured(
                        group_values.polku, group_values.caseworkers, group_values.oracle
                    )
                )
                if truth is not None
                else None,
                top3_oracle_coverage=metrics.top_k_coverage(
                    uplift[mask], oracle[mask], polku_allowed[mask], TOP_K
                )
                if truth is not None
                else math.nan,
                brier=metrics.brier_score(logged_prediction[mask], data.reward[mask]),
                ope=group_ope,
            )
        if grouping == "age_band":  # youngest first, not alphabetical
            order = [band for band, _, _ in AGE_BANDS] + ["unknown"]
            results = {label: results[label] for label in order if label in results}
        by_group[grouping] = results

    summary = EvaluationSummary(
        n_episodes=len(rows),
        policy_value=ByPolicy.from_mapping(values),
        oracle_gain_captured=_finite(
            metrics.oracle_gain_captured(values["polku"], values["caseworkers"], values["oracle"])
        )
        if truth is not None
        else None,
        oracle_gain_captured_by_policy=_gain_block(values)
        if truth is not None
        else OracleGainByPolicy(None, None, None, None),
        top3_oracle_coverage=metrics.top_k_coverage(uplift, oracle, polku_allowed, TOP_K)
        if truth is not None
        else math.nan,
        ope=ByPolicy.from_mapping(ope),
        calibration=calibration,
        uplift=uplift_summary,
        by_group=by_group,
        evaluation_kind="truth" if truth is not None else "off_policy",
        ope_difference=difference,
        propensity={"source": data.propensity_source},
        intervals=_interval_honesty(shown, polku_allowed, choices["polku"], truth),
    )
    return Evaluation(summary, choices, predicted, labels, data)


class ShownUplift(Protocol):
    """The uplift a model shows per episode and service, with its interval (catalog order)."""

    @property
    def shown(self) -> np.ndarray | None: ...
    @property
    def shown_low(self) -> np.ndarray | None: ...
    @property
    def shown_high(self) -> np.ndarray | None: ...


def _interval_honesty(
    shown: ShownUplift | None,
    rankable: np.ndarray,
    top1: np.ndarray,
    truth: np.ndarray | None,
) -> metrics.IntervalHonesty | None:
    if shown is None or shown.shown is None or shown.shown_low is None or shown.shown_high is None:
        return None
    true_uplift = None if truth is None else uplift_over_no_service(truth)
    return metrics.interval_honesty(
        shown.shown, shown.shown_low, shown.shown_high, rankable, top1, true_uplift
    )


def fit_baselines(
    train_features: np.ndarray, train_logged_action: np.ndarray, n_services: int, seed: int
) -> Baselines:
    """Fit the most-popular and imitation baselines on the training episodes."""
    popular = PopularPolicy(n_services).fit(train_logged_action)
    imitation = ImitationPolicy(n_services, random_state=seed).fit(
        train_features, train_logged_action
    )
    return Baselines(popular, imitation, seed)


def best_allowed_uplift(predicted: np.ndarray, allowed: np.ndarray) -> np.ndarray:
    """Polku's top-1 uplift per row (NaN where no service is allowed), for the plots."""
    n_services = allowed.shape[1]
    uplift = uplift_over_no_service(predicted)
    choice = best_allowed(uplift, allowed)
    out = np.full(len(choice), np.nan)
    has = choice < n_services
    out[has] = uplift[np.flatnonzero(has), choice[has]]
    return out
