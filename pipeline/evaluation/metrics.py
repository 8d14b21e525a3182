"""Metrics of a policy's quality: true value, gain captured, off-policy estimates, calibration.

Pure functions on numpy arrays, so each is checked against hand-computed values. Conventions
shared by every function here:

- an *action* is a column index into an outcome matrix of shape ``(n_episodes, n_actions)``
  (the catalog's services in catalog order, then "no service" as the last column);
- a *policy's choice* is an integer array of shape ``(n_episodes,)`` of such indices;
- outcome probabilities and rewards lie in [0, 1].
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt


def _choice_array(choice: npt.ArrayLike, n_rows: int, n_actions: int, name: str) -> np.ndarray:
    chosen = np.asarray(choice)
    if chosen.shape != (n_rows,):
        raise ValueError(f"{name} must have shape ({n_rows},), got {chosen.shape}")
    if not np.issubdtype(chosen.dtype, np.integer):
        raise ValueError(f"{name} must hold integer action indices, got dtype {chosen.dtype}")
    if n_rows and (chosen.min() < 0 or chosen.max() >= n_actions):
        bad = int(np.flatnonzero((chosen < 0) | (chosen >= n_actions))[0])
        raise ValueError(
            f"{name}[{bad}] = {int(chosen[bad])} is not an action index in [0, {n_actions})"
        )
    return chosen


def _matrix(values: npt.ArrayLike, name: str) -> np.ndarray:
    matrix = np.asarray(values, dtype=np.float64)
    if matrix.ndim != 2:
        raise ValueError(f"{name} must be a 2-d (episodes x actions) array, got {matrix.ndim}-d")
    if matrix.shape[0] == 0:
        raise ValueError(f"{name} has no episodes")
    return matrix


def chosen_outcomes(outcomes: npt.ArrayLike, choice: npt.ArrayLike) -> np.ndarray:
    """The outcome of each episode under the action a policy chose for it.

    Parameters
    ----------
    outcomes : array of shape (n_episodes, n_actions)
    choice : int array of shape (n_episodes,)

    Returns
    -------
    ndarray of shape (n_episodes,)
    """
    matrix = _matrix(outcomes, "outcomes")
    chosen = _choice_array(choice, matrix.shape[0], matrix.shape[1], "choice")
    return matrix[np.arange(matrix.shape[0]), chosen]


def policy_value(true_outcomes: npt.ArrayLike, choice: npt.ArrayLike) -> float:
    """True value of a policy: the mean true probability of the outcome under its choices.

    Parameters
    ----------
    true_outcomes : array of shape (n_episodes, n_actions)
        True probability of the objective's outcome for each episode under each action.
    choice : int array of shape (n_episodes,)
        The action the policy takes in each episode.

    Returns
    -------
    float in [0, 1]

    Examples
    --------
    >>> policy_value([[0.1, 0.5], [0.3, 0.2]], [1, 0])
    0.4
    """
    return float(np.mean(chosen_outcomes(true_outcomes, choice)))


def oracle_gain_captured(value: float, baseline_value: float, oracle_value: float) -> float:
    """Share of the oracle's gain over a baseline that a policy captures.

    ``(value - baseline) / (oracle - baseline)``: 1 for a policy as good as the oracle, 0 for
    one no better than the baseline, negative for one worse. NaN when the oracle gains
    nothing over the baseline (the share is undefined).

    Examples
    --------
    >>> oracle_gain_captured(0.375, 0.25, 0.5)  # captures half of the oracle's gain
    0.5
    """
    gain = oracle_value - baseline_value
    if not math.isfinite(gain) or abs(gain) < 1e-12:
        return math.nan
    return (value - baseline_value) / gain


def top_k_coverage(
    scores: npt.ArrayLike,
    target_choice: npt.ArrayLike,
    allowed: npt.ArrayLike | None = None,
    k: int = 3,
) -> float:
    """Share of episodes whose target action is among the k best-scored allowed actions.

    Parameters
    ----------
    scores : array of shape (n_episodes, n_actions)
        The ranking policy's score of each action (higher ranks first).
    target_choice : int array of shape (n_episodes,)
        The action to look for (for example the oracle's choice).
    allowed : bool array of shape (n_episodes, n_actions), optional
        Actions that may be ranked at all; disallowed ones never count among the top k.
    k : int
        How many of the top-ranked actions count.

    Returns
    -------
    float in [0, 1]; ties are broken towards the lower action index, as ``argsort`` does.
    """
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    matrix = _matrix(scores, "scores")
    target = _choice_array(target_choice, matrix.shape[0], matrix.shape[1], "target_choice")
    if allowed is not None:
        mask = np.asarray(allowed, dtype=bool)
        if mask.shape != matrix.shape:
            raise ValueError(f"allowed must have shape {matrix.shape}, got {mask.shape}")
        matrix = np.where(mask, matrix, -np.inf)
    # Stable sort on the negated scores: highest first, ties by lower index.
    order = np.argsort(-matrix, axis=1, kind="stable")[:, :k]
    top = np.take_along_axis(matrix, order, axis=1)
    hit = (order == target[:, None]) & np.isfinite(top)
    return float(np.mean(hit.any(axis=1)))


# --- Off-policy estimates from logged data -------------------------------------------------


def _logged(
    rewards: npt.ArrayLike,
    logged_action: npt.ArrayLike,
    propensity: npt.ArrayLike,
    target_choice: npt.ArrayLike,
    n_actions: int | None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    reward = np.asarray(rewards, dtype=np.float64)
    if reward.ndim != 1 or reward.size == 0:
        raise ValueError("rewards must be a non-empty 1-d array")
    n = reward.size
    width = (
        n_actions
        if n_actions is not None
        else int(max(np.max(logged_action), np.max(target_choice)) + 1)
    )
    logged = _choice_array(logged_action, n, width, "logged_action")
    target = _choice_array(target_choice, n, width, "target_choice")
    prob = np.asarray(propensity, dtype=np.float64)
    if prob.shape != (n,):
        raise ValueError(f"propensity must have shape ({n},), got {prob.shape}")
    if not np.all((prob > 0) & (prob <= 1)):
        bad = int(np.flatnonzero(~((prob > 0) & (prob <= 1)))[0])
        raise ValueError(f"propensity[{bad}] = {prob[bad]} is not in (0, 1]")
    return reward, logged, prob, target


def importance_weights(
    logged_action: npt.ArrayLike,
    propensity: npt.ArrayLike,
    target_choice: npt.ArrayLike,
    clip: float | None = None,
) -> np.ndarray:
    """Weights ``1[logged == target] / propensity`` of a deterministic target policy.

    `clip`, when given, caps each weight (trading bias for variance).
    """
    logged = np.asarray(logged_action)
    target = np.asarray(target_choice)
    weight = (logged == target).astype(np.float64) / np.asarray(propensity, dtype=np.float64)
    return np.minimum(weight, clip) if clip is not None else weight


def ips_estimate(
    rewards: npt.ArrayLike,
    logged_action: npt.ArrayLike,
    propensity: npt.ArrayLike,
    target_choice: npt.ArrayLike,
    clip: float | None = None,
) -> float:
    """Inverse propensity scoring: ``mean(w * r)`` with ``w = 1[a = pi(x)] / p(a | x)``.

    Parameters
    ----------
    rewards : array of shape (n_episodes,)
        Observed outcome of each logged episode.
    logged_action : int array of shape (n_episodes,)
        The action the logging policy (the caseworker) took.
    propensity : array of shape (n_episodes,)
        Probability the logging policy gave to the logged action, in (0, 1].
    target_choice : int array of shape (n_episodes,)
        The action the evaluated (deterministic) policy would take.
    clip : float, optional
        Cap on each importance weight.

    Returns
    -------
    float, an unbiased estimate of the target policy's value when the propensities are right
    (and no clip is applied).
    """
    reward, logged, prob, target = _logged(rewards, logged_action, propensity, target_choice, None)
    weight = importance_weights(logged, prob, target, clip)
    return float(np.mean(weight * reward))


def snips_estimate(
    rewards: npt.ArrayLike,
    logged_action: npt.ArrayLike,
    propensity: npt.ArrayLike,
    target_choice: npt.ArrayLike,
) -> float:
    """Self-normalised IPS: ``sum(w * r) / sum(w)``; NaN when no logged action matches."""
    reward, logged, prob, target = _logged(rewards, logged_action, propensity, target_choice, None)
    weight = importance_weights(logged, prob, target)
    total = float(weight.sum())
    if total == 0.0:
        return math.nan
    return float(np.sum(weight * reward) / total)


def dr_estimate(
    rewards: npt.ArrayLike,
    logged_action: npt.ArrayLike,
    propensity: npt.ArrayLike,
    target_choice: npt.ArrayLike,
    predicted_outcomes: npt.ArrayLike,
    clip: float | None = None,
) -> float:
    """Doubly robust estimate: the outcome model's value plus an IPS correction of its error.

    ``mean(q(x, pi(x)) + w * (r - q(x, a)))`` where ``q`` is the outcome model's predicted
    probability (shape (n_episodes, n_actions)). Unbiased if either the propensities or the
    outcome model is right.
    """
    predicted = _matrix(predicted_outcomes, "predicted_outcomes")
    reward, logged, prob, target = _logged(
        rewards, logged_action, propensity, target_choice, predicted.shape[1]
    )
    if predicted.shape[0] != reward.size:
        raise ValueError(
            f"predicted_outcomes has {predicted.shape[0]} rows, rewards has {reward.size}"
        )
    rows = np.arange(reward.size)
    weight = importance_weights(logged, prob, target, clip)
    direct = predicted[rows, target]
    correction = weight * (reward - predicted[rows, logged])
    return float(np.mean(direct + correction))


# --- Calibration ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ReliabilityBins:
    """A binned reliability curve: per bin of predicted probability, mean prediction and rate.

    Attributes
    ----------
    edges : ndarray of shape (n_bins + 1,)
    count : ndarray of shape (n_bins,), episodes per bin
    mean_predicted : ndarray of shape (n_bins,), NaN for an empty bin
    observed_rate : ndarray of shape (n_bins,), NaN for an empty bin
    """

    edges: np.ndarray
    count: np.ndarray
    mean_predicted: np.ndarray
    observed_rate: np.ndarray

    def to_dict(self) -> dict[str, list[float] | list[int]]:
        """Plain lists (NaN as None-free floats are kept; JSON writers map NaN to null)."""
        return {
            "edges": [float(e) for e in self.edges],
            "count": [int(c) for c in self.count],
            "mean_predicted": [float(v) for v in self.mean_predicted],
            "observed_rate": [float(v) for v in self.observed_rate],
        }


def _probabilities(predicted: npt.ArrayLike, observed: npt.ArrayLike) -> tuple[np.ndarray, ...]:
    pred = np.asarray(predicted, dtype=np.float64).ravel()
    obs = np.asarray(observed, dtype=np.float64).ravel()
    if pred.shape != obs.shape:
        raise ValueError(f"predicted has {pred.size} values, observed has {obs.size}")
    if pred.size == 0:
        raise ValueError("no predictions to calibrate")
    if np.any((pred < 0) | (pred > 1)) or np.any(np.isnan(pred)):
        raise ValueError("predicted probabilities must lie in [0, 1]")
    if np.any((obs < 0) | (obs > 1)) or np.any(np.isnan(obs)):
        raise ValueError("observed outcomes must lie in [0, 1]")
    return pred, obs


def reliability_bins(
    predicted: npt.ArrayLike, observed: npt.ArrayLike, n_bins: int = 10
) -> ReliabilityBins:
    """Equal-width bins of predicted probability with the observed rate in each.

    A prediction of exactly 1 falls in the last bin; every other bin is half-open [lo, hi).
    """
    if n_bins < 1:
        raise ValueError(f"n_bins must be at least 1, got {n_bins}")
    pred, obs = _probabilities(predicted, observed)
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    index = np.clip(np.floor(pred * n_bins).astype(np.int64), 0, n_bins - 1)
    count = np.bincount(index, minlength=n_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_predicted = np.bincount(index, weights=pred, minlength=n_bins) / count
        observed_rate = np.bincount(index, weights=obs, minlength=n_bins) / count
    return ReliabilityBins(edges, count, mean_predicted, observed_rate)


def brier_score(predicted: npt.ArrayLike, observed: npt.ArrayLike) -> float:
    """Mean squared difference between predicted probability and outcome (0 is perfect).

    Examples
    --------
    >>> brier_score([0.0, 1.0, 0.5], [0, 1, 1])
    0.08333333333333333
    """
    pred, obs = _probabilities(predicted, observed)
    return float(np.mean((pred - obs) ** 2))


def expected_calibration_error(
    predicted: npt.ArrayLike, observed: npt.ArrayLike, n_bins: int = 10
) -> float:
    """ECE: the count-weighted mean gap between mean prediction and observed rate per bin."""
    bins = reliability_bins(predicted, observed, n_bins)
    filled = bins.count > 0
    gaps = np.abs(bins.mean_predicted[filled] - bins.observed_rate[filled])
    return float(np.sum(gaps * bins.count[filled]) / bins.count.sum())


# --- Slicing by group (the groups themselves: `models.groupings`) ----------------------


def mean_by_group(values: npt.ArrayLike, labels: npt.ArrayLike) -> dict[str, float]:
    """Mean of `values` within each label, keyed by the label as text, in sorted order."""
    vals = np.asarray(values, dtype=np.float64)
    labs = np.asarray(labels, dtype=object)
    if vals.shape != labs.shape:
        raise ValueError(f"values has shape {vals.shape}, labels {labs.shape}")
    text = np.array([str(label) for label in labs], dtype=object)
    return {str(label): float(vals[text == label].mean()) for label in sorted(set(text.tolist()))}


def policy_values_by_group(
    true_outcomes: npt.ArrayLike,
    choices: Mapping[str, npt.ArrayLike],
    labels: npt.ArrayLike,
) -> dict[str, dict[str, float | int]]:
    """For each group label: its episode count and the true value of every policy in it."""
    matrix = _matrix(true_outcomes, "true_outcomes")
    text = np.array([str(label) for label in np.asarray(labels, dtype=object)], dtype=object)
    if text.shape != (matrix.shape[0],):
        raise ValueError(f"labels must have shape ({matrix.shape[0]},), got {text.shape}")
    outcome = {name: chosen_outcomes(matrix, choice) for name, choice in choices.items()}
    table: dict[str, dict[str, float | int]] = {}
    for label in sorted(set(text.tolist())):
        rows = text == label
        entry: dict[str, float | int] = {"n": int(rows.sum())}
        entry.update({name: float(values[rows].mean()) for name, values in outcome.items()})
        table[label] = entry
    return table


# --- The intervals of the suggestions -----------------------------------------------------


@dataclass(frozen=True, slots=True)
class IntervalHonesty:
    """How the uplift shown for the suggestions compares with the truth.

    Over every rankable (row, service) pair and over each row's top-1 suggestion (rows
    whose policy choice is a service). Coverage and the predicted/true ratio are NaN
    without a truth.

    Attributes
    ----------
    interval_coverage : float
        Share of all pairs whose interval holds the true uplift.
    top1_interval_coverage : float
        The same over the top-1 suggestions.
    top1_mean_shown, top1_mean_true : float
        Mean shown and mean true uplift of the top-1 suggestions.
    top1_predicted_vs_true : float
        `top1_mean_shown / top1_mean_true` (1 is honest; above 1 the winner's curse).
    top1_interval_includes_zero : float
        Share of top-1 intervals that include zero (cannot be told from no service).
    top1_median_width : float
        Median width of the top-1 intervals (probability scale).
    n_pairs, n_top1 : int
    """

    interval_coverage: float
    top1_interval_coverage: float
    top1_mean_shown: float
    top1_mean_true: float
    top1_predicted_vs_true: float
    top1_interval_includes_zero: float
    top1_median_width: float
    n_pairs: int
    n_top1: int


def interval_honesty(
    shown: npt.ArrayLike,
    low: npt.ArrayLike,
    high: npt.ArrayLike,
    rankable: npt.ArrayLike,
    top1: npt.ArrayLike,
    true_uplift: npt.ArrayLike | None = None,
) -> IntervalHonesty:
    """The shown uplifts and intervals of the suggestions against the true uplift.

    Parameters
    ----------
    shown, low, high : arrays of shape (n_episodes, n_services)
        The uplift shown and its interval per service (NaN where not rankable).
    rankable : bool array of shape (n_episodes, n_services)
        Pairs the model ranks.
    top1 : int array of shape (n_episodes,)
        Each row's top-1 service; `n_services` (or any index past the services) where the
        row has none.
    true_uplift : array of shape (n_episodes, n_services), optional
        True uplift over no service.

    Examples
    --------
    >>> h = interval_honesty([[0.02, 0.01]], [[-0.01, -0.02]], [[0.05, 0.04]],
    ...                      [[True, True]], [0], [[0.03, 0.05]])
    >>> h.top1_interval_coverage, h.interval_coverage, h.top1_interval_includes_zero
    (1.0, 0.5, 1.0)
    """
    point = _matrix(shown, "shown")
    lower, upper = _matrix(low, "low"), _matrix(high, "high")
    mask = np.asarray(rankable, dtype=bool)
    choice = np.asarray(top1)
    if mask.shape != point.shape or lower.shape != point.shape or upper.shape != point.shape:
        raise ValueError("shown, low, high and rankable must have one shape")
    if choice.shape != (point.shape[0],):
        raise ValueError(f"top1 must have shape ({point.shape[0]},), got {choice.shape}")
    has = (choice >= 0) & (choice < point.shape[1])
    rows = np.flatnonzero(has)
    cols = choice[has]
    has_pair = mask[rows, cols]
    rows, cols = rows[has_pair], cols[has_pair]
    width = upper[rows, cols] - lower[rows, cols]
    zero = (lower[rows, cols] <= 0.0) & (upper[rows, cols] >= 0.0)
    nan = math.nan
    coverage = top1_coverage = mean_true = ratio = nan
    if true_uplift is not None:
        truth = _matrix(true_uplift, "true_uplift")
        if truth.shape != point.shape:
            raise ValueError(f"true_uplift must have shape {point.shape}, got {truth.shape}")
        inside = (lower <= truth) & (truth <= upper)
        coverage = float(inside[mask].mean()) if mask.any() else nan
        if len(rows):
            top1_coverage = float(inside[rows, cols].mean())
            mean_true = float(truth[rows, cols].mean())
            ratio = float(point[rows, cols].mean() / mean_true) if mean_true != 0 else nan
    return IntervalHonesty(
        interval_coverage=coverage,
        top1_interval_coverage=top1_coverage,
        top1_mean_shown=float(point[rows, cols].mean()) if len(rows) else nan,
        top1_mean_true=mean_true,
        top1_predicted_vs_true=ratio,
        top1_interval_includes_zero=float(zero.mean()) if len(rows) else nan,
        top1_median_width=float(np.median(width)) if len(rows) else nan,
        n_pairs=int(mask.sum()),
        n_top1=len(rows),
    )
