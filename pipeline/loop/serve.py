"""One served period: Polku suggests, caseworkers follow with a stated probability, outcomes
are drawn from the world's truth.

For each client the model ranks the services they may take; with exploration on, the
service shown first is drawn among those the model cannot tell apart
(`models.exploration`), else it is the model's best. The caseworker then follows the
suggestion with probability `follow` and otherwise chooses as they would have without
Polku (`Period.practice`). The logged episode keeps what was shown first and with what
probability (as the audit row does), the action taken and its propensity, and the drawn
outcomes. Following is independent of the outcome here; real overrides are not (the
caseworker knows things the profile does not), which this simulation does not model.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from models.actions import no_service_index
from models.bundle import FrameScores, PolkuModel
from models.exploration import ExplorationRule, draw_top, top_probabilities
from models.objectives import Objective, objective_weights
from pipeline.loop.periods import Period
from pipeline.synth.outcomes import draw_outcomes


@dataclass(frozen=True)
class Suggestions:
    """What a model suggests first to each client of a period, and with what probability.

    Attributes
    ----------
    probabilities : (n, n_services) probability of each service being shown first; a row
        of zeros where nothing is suggested
    greedy : (n,) the model's own best service (-1: nothing to suggest)
    predicted : (n, n_services + 1) the model's predicted objective outcome under each
        action ("none" last; NaN where not allowed)
    """

    probabilities: np.ndarray
    greedy: np.ndarray
    predicted: np.ndarray


def suggest(
    model: PolkuModel,
    period: Period,
    objective: Objective,
    rule: ExplorationRule | None,
) -> Suggestions:
    """Score a period with `model`; `rule` None: always the model's best first."""
    scores: FrameScores = model.score_frame(period.frame, objective, with_intervals=True)
    order = scores.top(len(scores.service_ids))
    greedy = order[:, 0]
    n, k = scores.uplift.shape
    if rule is None:
        probabilities = np.zeros((n, k))
        has = greedy >= 0
        probabilities[np.flatnonzero(has), greedy[has]] = 1.0
    else:
        assert scores.uplift_low is not None and scores.uplift_high is not None
        probabilities = top_probabilities(
            order,
            scores.uplift,
            scores.uplift_low,
            scores.uplift_high,
            scores.allowed,
            model.ranker.interval,
            rule,
        )
    predicted = np.hstack(
        [scores.expected_without[:, None] + scores.uplift, scores.expected_without[:, None]]
    )
    return Suggestions(probabilities, greedy, predicted)


@dataclass(frozen=True)
class ServedLog:
    """The logs of one served period, aligned with its clients.

    Attributes
    ----------
    shown : (n,) the service shown first (-1: none suggested)
    shown_probability : (n,) the probability it was shown first (1 where none suggested)
    followed : (n,) the caseworker took the service shown first
    action : (n,) the action taken (services, then "none" last)
    propensity : (n,) the probability of that action given the profile
    outcomes : (n, len(TARGETS)) the drawn 0/1 outcomes
    reward : (n,) the objective's observed reward
    """

    shown: np.ndarray
    shown_probability: np.ndarray
    followed: np.ndarray
    action: np.ndarray
    propensity: np.ndarray
    outcomes: np.ndarray
    reward: np.ndarray


def serve(
    period: Period,
    suggestions: Suggestions,
    follow: float,
    objective: Objective,
    rng: np.random.Generator,
) -> ServedLog:
    """Draw what is shown, what the caseworker does, and what happens."""
    n = len(period)
    rows = np.arange(n)
    shown = draw_top(suggestions.probabilities, rng)
    has = shown >= 0
    shown_probability = np.ones(n)
    shown_probability[has] = suggestions.probabilities[rows[has], shown[has]]
    own = _draw_rows(period.practice, rng)
    followed = has & (rng.random(n) < follow)
    action = np.where(followed, shown, own)
    # P(action | profile): following the draw of the first place, or one's own practice.
    k = suggestions.probabilities.shape[1]
    shown_p = np.hstack([suggestions.probabilities, np.zeros((n, 1))])
    mix = np.where(
        has[:, None], follow * shown_p + (1.0 - follow) * period.practice, period.practice
    )
    propensity = mix[rows, action]
    assert no_service_index(k) == k
    outcomes, reward = draw_rewards(period, action, objective, rng)
    return ServedLog(shown, shown_probability, followed, action, propensity, outcomes, reward)


def draw_rewards(
    period: Period, action: np.ndarray, objective: Objective, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Outcomes of the actions taken drawn from the world's truth (`(n, len(TARGETS))`), and
    the objective's reward; drawn again, the outcomes a model fitted on the first draw never
    saw."""
    drawn = draw_outcomes(period.truth, action, rng)
    six = np.maximum(drawn["employed_6m"], drawn["education_6m"])
    outcomes = np.column_stack([six, drawn["employed_12m"]]).astype(np.float64)
    return outcomes, outcomes @ objective_weights(objective)


def true_values(period: Period, probabilities: np.ndarray, follow: float) -> np.ndarray:
    """Each client's true expected outcome when the first place is drawn from `probabilities`
    and the caseworker follows with probability `follow` (else chooses on their own)."""
    own = (period.practice * period.value).sum(axis=1)
    has = probabilities.sum(axis=1) > 0
    suggested = (probabilities * period.value[:, :-1]).sum(axis=1)
    return np.where(has, follow * suggested + (1.0 - follow) * own, own)


def one_hot(choice: np.ndarray, k: int) -> np.ndarray:
    """A deterministic choice (-1: none) as probabilities (n, k)."""
    out = np.zeros((len(choice), k))
    has = choice >= 0
    out[np.flatnonzero(has), choice[has]] = 1.0
    return out


def _draw_rows(probabilities: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    cumulative = np.cumsum(probabilities, axis=1)
    u = rng.random(len(probabilities)) * cumulative[:, -1]
    return np.minimum((cumulative <= u[:, None]).sum(axis=1), probabilities.shape[1] - 1)
