"""What Polku predicts and ranks by: the outcome names, the targets and the objectives.

Three vocabularies, each written here once:

- the *episode outcomes*, the 0/1 columns a register extract (or the synthetic world) logs
  per episode: `EPISODE_OUTCOMES`;
- the *truth outcomes*, the probabilities a synthetic world knows per episode and action:
  `TRUTH_OUTCOMES` (the episode outcomes and the six-month union);
- the *targets*, the ranker's outcomes (`TARGETS`), each made of episode outcomes
  (`outcomes_from_episodes`) and read from the truth by `TRUTH_OUTCOME_OF_TARGET`.

An *objective* is a weighted mix of the targets; `Objective.parse` is the one parser of its
text form, and `as_objective` the one place a caller's `Objective | str` becomes an
`Objective`.

Examples
--------
>>> Objective.parse("employment_12m").weights
(('employment_12m', 1.0),)
>>> Objective.parse("employment_or_education_6m=0.7,employment_12m=0.3").name
'employment_or_education_6m=0.7,employment_12m=0.3'
>>> objective_weights("employment_12m").tolist()
[0.0, 1.0]
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Final

import numpy as np
import pandas as pd

# 0/1 outcomes logged per episode (register extract, synthetic episodes).
EPISODE_OUTCOMES: Final = ("employed_6m", "education_6m", "employed_12m")
# Months after the assessment at which each is measured: an extract taken earlier cannot
# hold it yet (a register is censored).
OUTCOME_HORIZON_MONTHS: Final = {"employed_6m": 6, "education_6m": 6, "employed_12m": 12}
assert tuple(OUTCOME_HORIZON_MONTHS) == EPISODE_OUTCOMES
# True probabilities a synthetic world knows per episode and action.
TRUTH_OUTCOMES: Final = (
    "employed_6m",
    "education_6m",
    "employment_or_education_6m",
    "employed_12m",
)
# What the ranker predicts for each client and service (probabilities of the outcome).
TARGETS: Final = ("employment_or_education_6m", "employment_12m")
DEFAULT_OBJECTIVE: Final = "employment_or_education_6m"
# The truth outcome each target is (the world names its truth by outcome).
TRUTH_OUTCOME_OF_TARGET: Final = {
    "employment_or_education_6m": "employment_or_education_6m",
    "employment_12m": "employed_12m",
}
assert set(TRUTH_OUTCOME_OF_TARGET) == set(TARGETS)
assert set(TRUTH_OUTCOME_OF_TARGET.values()) <= set(TRUTH_OUTCOMES)


@dataclass(frozen=True, slots=True)
class Objective:
    """A weighted mix of the targets; a named objective puts all its weight on one target.

    Attributes
    ----------
    weights : tuple of (target, weight)
        Positive-or-zero weights summing to 1, in `TARGETS` order.
    """

    weights: tuple[tuple[str, float], ...]

    @classmethod
    def parse(cls, spec: str) -> Objective:
        """Read `target` or `target=w,target=w` (weights non-negative, summing to 1).

        Raises
        ------
        ValueError
            Unknown or repeated target, a weight that is not a number in [0, 1], or
            weights that do not sum to 1.
        """
        return _parse(spec.strip())

    @property
    def name(self) -> str:
        """The canonical text form (`parse(name) == self`)."""
        if len(self.weights) == 1 and self.weights[0][1] == 1.0:
            return self.weights[0][0]
        return ",".join(f"{target}={weight:g}" for target, weight in self.weights)

    @property
    def target_weights(self) -> np.ndarray:
        """The weight of each target of `TARGETS`, in that order (a fresh array)."""
        weights = dict(self.weights)
        return np.array([weights.get(t, 0.0) for t in TARGETS], dtype=np.float64)


@functools.lru_cache(maxsize=64)
def _parse(spec: str) -> Objective:
    # Cached: the serving path meets the same few objective strings on every request.
    if "=" not in spec:
        if spec not in TARGETS:
            raise ValueError(f"unknown objective {spec!r}; expected one of {', '.join(TARGETS)}")
        return Objective(((spec, 1.0),))
    weights: dict[str, float] = {}
    for part in spec.split(","):
        target, _, raw_weight = part.partition("=")
        target = target.strip()
        if target not in TARGETS:
            raise ValueError(f"unknown target {target!r} in objective; expected {TARGETS}")
        if target in weights:
            raise ValueError(f"target {target!r} appears twice in the objective")
        try:
            weight = float(raw_weight)
        except ValueError:
            raise ValueError(f"weight of {target!r} is not a number") from None
        if not 0.0 <= weight <= 1.0:
            raise ValueError(f"weight of {target!r} must lie in [0, 1]")
        weights[target] = weight
    if abs(sum(weights.values()) - 1.0) > 1e-9:
        raise ValueError("objective weights must sum to 1")
    return Objective(tuple((t, weights[t]) for t in TARGETS if t in weights))


def as_objective(objective: Objective | str) -> Objective:
    """`objective` itself, or its text parsed (`Objective.parse`)."""
    return objective if isinstance(objective, Objective) else Objective.parse(objective)


def objective_weights(objective: Objective | str) -> np.ndarray:
    """The weight of each target of `TARGETS` (in that order) under an objective."""
    return as_objective(objective).target_weights


def outcomes_from_episodes(episodes: pd.DataFrame) -> np.ndarray:
    """The target matrix (n, len(TARGETS)) of 0/1 outcomes from an episodes frame.

    Uses the `TARGETS` columns when present, else builds them from the episode outcomes:
    `employment_or_education_6m = max(employed_6m, education_6m)` and
    `employment_12m = employed_12m`. An outcome not yet observed (a register is censored:
    a recent episode's 12-month outcome is still ahead) is NaN, and so is the six-month
    union unless both of its parts are known (`target_observed`).

    Raises
    ------
    ValueError
        A column is missing or a value is neither 0, 1 nor missing (the message names row
        and column).
    """
    if all(t in episodes.columns for t in TARGETS):
        columns = {t: episodes[t] for t in TARGETS}
    else:
        missing = [c for c in EPISODE_OUTCOMES if c not in episodes.columns]
        if missing:
            raise ValueError(f"episodes lack outcome column(s) {', '.join(missing)}")
        for column in EPISODE_OUTCOMES:
            check_binary(episodes[column].to_numpy(), column, allow_missing=True)
        # np.maximum propagates NaN: the union is known only when both parts are. Reading a
        # lone 1 as known would keep the episodes that found work early and drop the
        # others, biasing the six-month outcome up.
        columns = {
            "employment_or_education_6m": np.maximum(
                episodes["employed_6m"].to_numpy(dtype=np.float64),
                episodes["education_6m"].to_numpy(dtype=np.float64),
            ),
            "employment_12m": episodes["employed_12m"],
        }
    out = np.column_stack([np.asarray(columns[t], dtype=np.float64) for t in TARGETS])
    for j, target in enumerate(TARGETS):
        check_binary(out[:, j], target, allow_missing=True)
    return out


def target_observed(outcomes: np.ndarray) -> np.ndarray:
    """Which outcomes of a target matrix (from `outcomes_from_episodes`) are observed."""
    return ~np.isnan(np.asarray(outcomes, dtype=np.float64))


def check_binary(values: np.ndarray, name: str, *, allow_missing: bool = False) -> None:
    """Raise ValueError naming the first row (1-based) of `values` that is not 0 or 1
    (NaN, an outcome not yet observed, passes when `allow_missing`)."""
    values = np.asarray(values, dtype=np.float64)
    bad = ~np.isin(values, (0.0, 1.0))
    if allow_missing:
        bad &= ~np.isnan(values)
    if bad.any():
        row = int(np.flatnonzero(bad)[0]) + 1
        blank = " (or missing while not yet observed)" if allow_missing else ""
        raise ValueError(f"row {row}: {name} must be 0 or 1{blank}")
