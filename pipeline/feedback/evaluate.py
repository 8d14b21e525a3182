"""Off-policy evaluation of real feedback episodes (`polku evaluate-feedback`).

The episodes are what `polku feedback` writes: per decided recommendation the service shown
first, the probability it was shown first with (`suggestion_probability`: below 1 where
Polku randomised, `models.exploration`), every service's chance of the first place
(`first_place_probabilities`), whether the caseworker took it, and the outcomes. The value
estimated is that of *showing* a policy's choice first with the caseworkers as they are
(they follow or not): the intent-to-treat value a suggestion policy can deliver
(`pipeline.feedback.ope`).

Three policies:

- *served*: what Polku showed, exploration included. Its value is the plain mean of the
  rewards (it is the logging policy);
- *served model's best first*: the served model's own top (`model_top_service_id`), by IPW.
  It always had a positive chance of the first place, so its support is complete;
- *candidate* (a registered version, the champion): its best allowed service for each
  episode's profile, by IPW and DR (the candidate's own predicted outcomes as the direct
  term), and its paired difference from the served value. Only episodes where its choice
  had a positive logged chance speak for it without a model (`support`); IPW counts the
  others as zero, so it is unbiased only at full support, and DR fills them from the
  candidate's outcome model (which is then what the estimate rests on there).

A candidate is judged only on episodes assessed after its training data: the others may
be among the episodes it learnt from, which flatters it (`pipeline.feedback.training_period`;
`allow_training_period` keeps them, and the outputs say so). Every bad row and field is
named (`pipeline.feedback.inputs.Problem`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from typing import Any, Final

import numpy as np
import pandas as pd

from models.bundle import PolkuModel
from models.objectives import TARGETS, Objective
from models.profile_validation import parse_profile_frame
from pipeline.feedback.inputs import (
    MIN_EPISODES,
    FeedbackError,
    Problem,
    describe_problems,
    is_blank,
    parse_bool,
    parse_outcome,
    raise_problems,
)
from pipeline.feedback.ope import (
    Estimate,
    doubly_robust,
    dr_terms,
    estimate,
    ipw,
    ipw_terms,
    supported_share,
)
from pipeline.feedback.training_period import PeriodCheck, check_training_period

SOURCE: Final = "feedback episodes"
REQUIRED: Final = (
    "request_id",
    "suggested_service_id",
    "suggestion_probability",
    "followed_top",
    "employed_6m",
    "education_6m",
    "employed_12m",
)
MODEL_TOP: Final = "model_top_service_id"
CHANCES: Final = "first_place_probabilities"
# How far logged probabilities may be from summing to 1 or from the first place's: the
# audit row keeps each to 6 decimals, so up to 8 candidates' rounding add up to 4e-6.
_TOLERANCE: Final = 1e-4


@dataclass(frozen=True)
class LoggedEpisodes:
    """The episodes whose objective outcome is known, as the estimators read them.

    Attributes
    ----------
    frame : the usable episode rows (index 0..n-1)
    actions : the service ids seen in the logs (column order of the indices below)
    shown : (n,) index of the service shown first (-1: nothing suggested)
    shown_probability : (n,) its probability of the first place (1 where nothing)
    chances : per row, service id -> chance of the first place, or None where the
        episodes do not carry `first_place_probabilities`
    followed : (n,) the caseworker took the service shown first
    reward : (n,) the objective's realised outcome
    randomised : (n,) more than one service could have been shown first
    n_read, n_unknown : rows read; rows left out because the outcome is not known yet
    file_rows : (n,) each usable row's row in the file (1 = the first data row)
    """

    frame: pd.DataFrame
    actions: tuple[str, ...]
    shown: np.ndarray
    shown_probability: np.ndarray
    chances: list[dict[str, float]] | None
    followed: np.ndarray
    reward: np.ndarray
    randomised: np.ndarray
    n_read: int
    n_unknown: int
    file_rows: np.ndarray

    def __len__(self) -> int:
        return len(self.frame)

    def subset(self, keep: np.ndarray) -> LoggedEpisodes:
        """Only the rows where `keep` (the same actions; rows read and unknown as before)."""
        return replace(
            self,
            frame=self.frame.loc[keep].reset_index(drop=True),
            shown=self.shown[keep],
            shown_probability=self.shown_probability[keep],
            chances=None
            if self.chances is None
            else [c for c, k in zip(self.chances, keep, strict=True) if k],
            followed=self.followed[keep],
            reward=self.reward[keep],
            randomised=self.randomised[keep],
            file_rows=self.file_rows[keep],
        )

    def indices(self, service_ids: np.ndarray, space: tuple[str, ...]) -> np.ndarray:
        """Indices of service ids in `space` (which starts with `actions`); -1 for none."""
        where = {s: j for j, s in enumerate(space)}
        return np.array([-1 if is_blank(s) else where[str(s)] for s in service_ids], dtype=np.int64)

    def logged_probability(self, service_ids: np.ndarray) -> np.ndarray:
        """Each row's logged chance that `service_ids[row]` (None: nothing) was shown first.

        Without `first_place_probabilities` only the service shown first has a known
        chance; the others count as unsupported."""
        out = np.zeros(len(self))
        for i, sid in enumerate(service_ids):
            if is_blank(sid):
                out[i] = 1.0 if self.shown[i] < 0 else 0.0
            elif self.chances is not None:
                out[i] = self.chances[i].get(str(sid), 0.0)
            elif self.shown[i] >= 0 and self.actions[self.shown[i]] == str(sid):
                out[i] = self.shown_probability[i]
        return out


def rewards(frame: pd.DataFrame, objective: Objective) -> np.ndarray:
    """The objective's realised outcome per row; NaN where a target it weighs is unknown.

    `employment_or_education_6m` is known as soon as either six-month outcome is 1, or
    both are 0."""
    e6 = frame["employed_6m"].to_numpy(dtype=np.float64)
    ed6 = frame["education_6m"].to_numpy(dtype=np.float64)
    either = np.where((e6 == 1) | (ed6 == 1), 1.0, np.where((e6 == 0) & (ed6 == 0), 0.0, np.nan))
    targets = {"employment_or_education_6m": either, "employment_12m": frame["employed_12m"]}
    total = np.zeros(len(frame))
    for target, weight in zip(TARGETS, objective.target_weights, strict=True):
        if weight > 0:
            total = total + weight * np.asarray(targets[target], dtype=np.float64)
    return total


def read_episodes(raw: pd.DataFrame, objective: Objective) -> LoggedEpisodes:
    """Check every row of `polku feedback`'s episodes and keep those with a known outcome.

    Raises
    ------
    FeedbackError
        A column is missing, or a field of some row is bad (each named).
    """
    problems = [
        Problem(SOURCE, 0, column, "column is missing")
        for column in REQUIRED
        if column not in raw.columns
    ]
    raise_problems(problems)
    raw = raw.reset_index(drop=True)
    has_chances = CHANCES in raw.columns
    outcomes: dict[str, list[float]] = {c: [] for c in REQUIRED[4:]}
    probability: list[float] = []
    followed: list[bool] = []
    chances: list[dict[str, float]] = []
    for i, row in enumerate(raw.to_dict("records")):
        n = i + 1
        if is_blank(row["request_id"]):
            problems.append(Problem(SOURCE, n, "request_id", "is empty"))
        first = row["suggested_service_id"]
        suggested = None if is_blank(first) else str(first)
        p = _number(row["suggestion_probability"])
        if suggested is not None and (p is None or not 0.0 < p <= 1.0):
            problems.append(
                Problem(SOURCE, n, "suggestion_probability", "is not a probability in (0, 1]")
            )
        probability.append(1.0 if suggested is None or p is None else p)
        flag = parse_bool(row["followed_top"])
        if flag is None and suggested is not None:
            problems.append(Problem(SOURCE, n, "followed_top", "is not true or false"))
        followed.append(bool(flag) and suggested is not None)
        for column in outcomes:
            value = parse_outcome(row[column])
            if value is None:
                problems.append(Problem(SOURCE, n, column, "is not 0, 1 or empty"))
            outcomes[column].append(float("nan") if value is None else value)
        if has_chances:
            chances.append(_chances(row[CHANCES], suggested, p, n, problems))
    raise_problems(problems)
    checked = raw.assign(**outcomes)
    reward = rewards(checked, objective)
    known = ~np.isnan(reward)
    frame = checked.loc[known].reset_index(drop=True)
    suggested_ids = frame["suggested_service_id"].to_numpy(dtype=object)
    ids = {str(s) for s in suggested_ids if not is_blank(s)}
    if MODEL_TOP in frame.columns:
        ids |= {str(s) for s in frame[MODEL_TOP] if not is_blank(s)}
    kept = [c for c, k in zip(chances, known, strict=True) if k] if has_chances else None
    for row_chances in kept or []:
        ids |= set(row_chances)
    actions = tuple(sorted(ids))
    where = {s: j for j, s in enumerate(actions)}
    shown = np.array([-1 if is_blank(s) else where[str(s)] for s in suggested_ids], dtype=np.int64)
    chance_counts = (
        np.array([sum(v > 0 for v in c.values()) for c in kept])
        if kept is not None
        else np.zeros(len(frame), dtype=np.int64)
    )
    randomised = (np.asarray(probability)[known] < 1.0) | (chance_counts > 1)
    return LoggedEpisodes(
        frame=frame,
        actions=actions,
        shown=shown,
        shown_probability=np.asarray(probability, dtype=np.float64)[known],
        chances=kept,
        followed=np.asarray(followed, dtype=bool)[known],
        reward=reward[known],
        randomised=randomised,
        n_read=len(raw),
        n_unknown=int((~known).sum()),
        file_rows=np.flatnonzero(known) + 1,
    )


def _number(value: object) -> float | None:
    if is_blank(value):
        return None
    try:
        return float(str(value))
    except ValueError:
        return None


def _chances(
    value: object, suggested: str | None, p: float | None, row: int, problems: list[Problem]
) -> dict[str, float]:
    """One row's `first_place_probabilities` checked against its shown first place."""
    if suggested is None and is_blank(value):
        return {}
    try:
        parsed = json.loads(str(value))
    except json.JSONDecodeError:
        parsed = None
    if not isinstance(parsed, dict) or not all(
        isinstance(v, int | float) and 0.0 <= float(v) <= 1.0 for v in parsed.values()
    ):
        problems.append(Problem(SOURCE, row, CHANCES, "is not a JSON object of probabilities"))
        return {}
    out = {str(k): float(v) for k, v in parsed.items()}
    if abs(sum(out.values()) - 1.0) > _TOLERANCE:
        problems.append(Problem(SOURCE, row, CHANCES, "does not sum to 1"))
    elif suggested is not None and p is not None and abs(out.get(suggested, 0.0) - p) > _TOLERANCE:
        problems.append(
            Problem(SOURCE, row, CHANCES, "disagrees with the first place's suggestion_probability")
        )
    return out


@dataclass(frozen=True)
class PolicyValue:
    """One policy's estimated value (and, for a candidate, its difference from served)."""

    name: str
    ipw: Estimate
    dr: Estimate | None = None
    n_matched: int = 0
    difference_ipw: Estimate | None = None
    difference_dr: Estimate | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "support": self.ipw.support}
        out["n_matched"] = self.n_matched
        for key in ("ipw", "dr", "difference_ipw", "difference_dr"):
            value: Estimate | None = getattr(self, key)
            if value is not None:
                out[key] = {"value": value.value, "low": value.low, "high": value.high}
        return out


@dataclass
class FeedbackEvaluation:
    """Everything `polku evaluate-feedback` reports."""

    objective: str
    n_read: int
    n_unknown: int
    n_episodes: int
    n_randomised: int
    n_suggested: int
    chances_logged: bool
    model_versions: list[str]
    served: Estimate
    policies: list[PolicyValue] = field(default_factory=list)
    candidate_version: str | None = None
    # The guard against judging the candidate on its training data (None: no candidate).
    training_period: PeriodCheck | None = None

    @property
    def n_excluded(self) -> int:
        return 0 if self.training_period is None else self.training_period.excluded

    def to_dict(self) -> dict[str, Any]:
        return {
            "objective": self.objective,
            "episodes": {
                "read": self.n_read,
                "outcome_not_yet_known": self.n_unknown,
                "excluded_training_period": self.n_excluded,
                "evaluated": self.n_episodes,
                "with_a_suggestion": self.n_suggested,
                "randomised_with_logged_probabilities": self.n_randomised,
                "first_place_probabilities_logged": self.chances_logged,
            },
            "served_model_versions": self.model_versions,
            "candidate_version": self.candidate_version,
            "training_period": None
            if self.training_period is None
            else self.training_period.to_json(),
            "served": {
                "value": self.served.value,
                "low": self.served.low,
                "high": self.served.high,
            },
            "policies": [p.to_dict() for p in self.policies],
        }

    def metrics(self) -> dict[str, float]:
        """The figures as MLflow metrics (NaN and infinite left out)."""
        out = {
            "n_episodes": float(self.n_episodes),
            "n_randomised": float(self.n_randomised),
            "served_value": self.served.value,
            "served_low": self.served.low,
            "served_high": self.served.high,
            **({} if self.training_period is None else self.training_period.metrics()),
        }
        for policy in self.policies:
            out[f"{policy.name}_support"] = policy.ipw.support
            for key in ("ipw", "dr", "difference_ipw", "difference_dr"):
                value: Estimate | None = getattr(policy, key)
                if value is not None:
                    out[f"{policy.name}_{key}"] = value.value
                    out[f"{policy.name}_{key}_low"] = value.low
                    out[f"{policy.name}_{key}_high"] = value.high
        return {k: float(v) for k, v in out.items() if np.isfinite(v)}


def candidate_choices(
    model: PolkuModel, logged: LoggedEpisodes, objective: Objective
) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    """The candidate's best service per episode (None: nothing to suggest), its predicted
    objective outcome of each action of the returned space ("none" last), and that space
    (the logged actions, then the candidate's other services).

    Raises
    ------
    FeedbackError
        The episodes carry no usable client profiles (each bad row and field named).
    """
    need = "a candidate model needs each episode's client profile (the outcome extract's "
    need += "profile columns, which `polku feedback` passes on)"
    if "birth_date" not in logged.frame.columns:
        raise FeedbackError(f"{SOURCE} carry no client profiles: {need}")
    parsed = parse_profile_frame(logged.frame)
    if parsed.errors:
        problems = [
            Problem(SOURCE, int(logged.file_rows[e.row - 1]), e.field, e.message)
            for e in parsed.errors
        ]
        raise FeedbackError(f"{need}; {describe_problems(problems)}")
    scores = model.score_frame(parsed.frame.reset_index(drop=True), objective)
    space = (*logged.actions, *(s for s in scores.service_ids if s not in logged.actions))
    ids = np.array([*scores.service_ids, None], dtype=object)
    best = ids[scores.top(1)[:, 0]]
    predicted = np.full((len(logged), len(space) + 1), np.nan)
    columns = [space.index(s) for s in scores.service_ids]
    predicted[:, columns] = scores.expected_without[:, None] + scores.uplift
    predicted[:, -1] = scores.expected_without
    return best, predicted, space


def evaluate_feedback(
    logged: LoggedEpisodes,
    objective: Objective,
    candidate: PolkuModel | None = None,
    candidate_version: str | None = None,
    *,
    allow_training_period: bool = False,
) -> FeedbackEvaluation:
    """The served value, the served model's best first, and the candidate's (if given).

    With a candidate, the episodes assessed on or before its last training date are left
    out of every estimate (they stay paired), unless `allow_training_period`.

    Raises
    ------
    FeedbackError
        Fewer than 2 episodes to evaluate (`TrainingPeriodError` when the guard left
        out the others), or a candidate without the episodes' profiles.
    """
    check = None
    if candidate is not None:
        check, keep = check_training_period(
            candidate.metadata, logged.frame, allow=allow_training_period,
            version=candidate_version,
        )  # fmt: skip
        logged = logged.subset(keep)
    if len(logged) < MIN_EPISODES:
        raise FeedbackError(
            f"{SOURCE}: {len(logged)} episode(s) with a known outcome; at least "
            f"{MIN_EPISODES} are needed"
        )
    served_terms = logged.reward
    result = FeedbackEvaluation(
        objective=objective.name,
        n_read=logged.n_read,
        n_unknown=logged.n_unknown,
        n_episodes=len(logged),
        n_randomised=int(logged.randomised.sum()),
        n_suggested=int((logged.shown >= 0).sum()),
        chances_logged=logged.chances is not None,
        model_versions=sorted(
            {str(v) for v in logged.frame["model_version"] if not is_blank(v)}
            if "model_version" in logged.frame.columns
            else set()
        ),
        served=estimate(served_terms, 1.0),
        candidate_version=candidate_version,
        training_period=check,
    )
    if MODEL_TOP in logged.frame.columns:
        top = logged.frame[MODEL_TOP].to_numpy(dtype=object)
        policy = logged.indices(top, logged.actions)
        value = ipw(
            policy, logged.shown, logged.shown_probability, logged.reward,
            logged.logged_probability(top),
        )  # fmt: skip
        matched = int((policy == logged.shown).sum())
        result.policies.append(PolicyValue("served_model_best_first", value, n_matched=matched))
    if candidate is not None:
        best, predicted, space = candidate_choices(candidate, logged, objective)
        policy = logged.indices(best, space)
        support = logged.logged_probability(best)
        args = (policy, logged.shown, logged.shown_probability, logged.reward)
        terms_ipw = ipw_terms(*args)
        terms_dr = dr_terms(*args, logged.followed, predicted)
        share = supported_share(support)
        result.policies.append(
            PolicyValue(
                "candidate",
                ipw(*args, support),
                doubly_robust(*args, logged.followed, predicted, support),
                n_matched=int((policy == logged.shown).sum()),
                difference_ipw=estimate(terms_ipw - served_terms, share),
                difference_dr=estimate(terms_dr - served_terms, share),
            )
        )
    return result
