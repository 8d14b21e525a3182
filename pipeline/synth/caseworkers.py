"""The caseworkers' behaviour policy of the synthetic world, with exact propensities.

At each assessment a caseworker chooses one service the client may take, or none. The
choice probabilities (a softmax over the allowed services and "none") depend on:

- **needs**: caseworkers partly know what helps: the true uplift of each service for this
  client (on the six- and twelve-month targets) enters the score;
- **creaming**: job-search and entrepreneurship services go more to the already employable;
- **habit**: popular (large) services are offered more;
- **bias**: entrepreneurship services are under-offered to foreign-language clients;
- **capacity**: where a month's expected demand for a service exceeds its monthly capacity
  (scaled to the world's size), its score is lowered so expected use fits;
- **motivation** (only when the world has a hidden confounder): motivated clients get active
  services more often;
- **exploration**: a share of every choice is uniform over the options, so every allowed
  option has probability at least `EXPLORATION / n_options` (overlap for effect estimation).

The recorded propensity is the exact probability of the choice made under this policy.
A scenario (`pipeline.synth.scenarios`) sets how much caseworkers know, how much they explore
and which services they withhold from those who would gain most; the defaults are the
baseline's.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

import numpy as np

from models.actions import no_service_index, uplift_over_no_service
from models.catalog import Catalog
from pipeline.synth.scenarios import (
    BASELINE_EXPLORATION,
    BASELINE_KNOWLEDGE_WEIGHT,
    SCENARIOS,
    Scenario,
)

EXPLORATION: Final = BASELINE_EXPLORATION
NONE_SCORE: Final = 3.0
KNOWLEDGE_WEIGHT: Final = BASELINE_KNOWLEDGE_WEIGHT  # per unit of true uplift (probability scale)
CREAMING_WEIGHT: Final = 2.0
HABIT_WEIGHT: Final = 0.5
FOREIGN_ENTREPRENEURSHIP_BIAS: Final = 1.0
MOTIVATION_CHOICE_WEIGHT: Final = 0.6
# Helsinki's assessments a month that the catalog's monthly capacities are set against
# (assumed: ~70,000 clients, each assessed about every six months).
HELSINKI_ASSESSMENTS_PER_MONTH: Final = 12_000
CAPACITY_PASSES: Final = 4
ACTIVE_FAMILIES: Final = ("job_search", "entrepreneurship", "education")


def _softmax(scores: np.ndarray) -> np.ndarray:
    top = scores.max(axis=1, keepdims=True)
    weights = np.exp(scores - top)
    return weights / weights.sum(axis=1, keepdims=True)


def choice_probabilities(
    catalog: Catalog,
    allowed: np.ndarray,
    truth: Mapping[str, np.ndarray],
    *,
    month: np.ndarray,
    foreign_language: np.ndarray,
    motivation: np.ndarray | None = None,
    scenario: Scenario = SCENARIOS["baseline"],
) -> np.ndarray:
    """Probability of each option (services in catalog order, then none) at each assessment.

    Parameters
    ----------
    catalog : Catalog
    allowed : bool array (n, n_services)
        The catalog's limits for each assessment.
    truth : dict of target -> array (n, n_services + 1)
        True outcome probabilities (`synth_outcomes.truth_probabilities`).
    month : int array (n,)
        Month of each assessment (capacity is shared within a month).
    foreign_language : bool array (n,)
    motivation : array (n,), optional
        Hidden motivation; None when the world has no hidden confounder.
    scenario : Scenario
        The caseworkers' knowledge, exploration and withheld services (default: baseline).

    Returns
    -------
    float64 array (n, n_services + 1); rows sum to 1; disallowed services have 0.
    """
    n, n_services = allowed.shape
    families = np.array([s.family for s in catalog.services], dtype=object)
    capacity = np.array([s.monthly_capacity for s in catalog.services], dtype=np.float64)

    six = truth["employment_or_education_6m"]
    twelve = truth["employed_12m"]
    uplift = 0.5 * uplift_over_no_service(six) + 0.5 * uplift_over_no_service(twelve)
    scores = scenario.knowledge_weight * uplift
    withheld = np.isin(np.array(catalog.ids, dtype=object), scenario.withheld_services)
    if withheld.any():
        # Withheld services: the more a client would gain at six months, the rarer the offer.
        scores[:, withheld] = scenario.withholding_weight * uplift_over_no_service(six)[:, withheld]
    scores += HABIT_WEIGHT * np.log(capacity / np.median(capacity))[None, :]
    employable = truth["employed_6m"][:, no_service_index(n_services)] - 0.25
    scores += (
        CREAMING_WEIGHT
        * employable[:, None]
        * np.isin(families, ("job_search", "entrepreneurship"))[None, :]
    )
    scores -= FOREIGN_ENTREPRENEURSHIP_BIAS * (
        np.asarray(foreign_language, dtype=bool)[:, None]
        & (families == "entrepreneurship")[None, :]
    )
    if motivation is not None:
        scores += (
            MOTIVATION_CHOICE_WEIGHT
            * motivation[:, None]
            * np.isin(families, ACTIVE_FAMILIES)[None, :]
        )
    scores = np.where(allowed, scores, -np.inf)
    scores = np.hstack([scores, np.full((n, 1), NONE_SCORE)])

    options = np.hstack([allowed, np.ones((n, 1), dtype=bool)])
    uniform = options / options.sum(axis=1, keepdims=True)

    exploration = scenario.exploration

    def mixed(score: np.ndarray) -> np.ndarray:
        return (1.0 - exploration) * _softmax(score) + exploration * uniform

    # Capacity: in months where expected starts exceed a service's capacity (scaled to the
    # world's size), lower its score until they fit (a few multiplicative passes; the
    # exploration share is left alone, so a service's use cannot fall below it).
    n_months = int(month.max()) + 1 if n else 0
    assessments = np.bincount(month, minlength=n_months).astype(np.float64)
    limit = capacity[None, :] * (assessments[:, None] / HELSINKI_ASSESSMENTS_PER_MONTH)
    explored = np.column_stack(
        [
            np.bincount(month, weights=exploration * uniform[:, j], minlength=n_months)
            for j in range(n_services)
        ]
    )
    shift = np.zeros((n_months, n_services))
    for _ in range(CAPACITY_PASSES):
        policy = _softmax(
            np.hstack([scores[:, :n_services] + shift[month], scores[:, n_services:]])
        )
        demand = (1.0 - exploration) * np.column_stack(
            [
                np.bincount(month, weights=policy[:, j], minlength=n_months)
                for j in range(n_services)
            ]
        )
        room = np.maximum(limit - explored, 1e-9)
        with np.errstate(divide="ignore", invalid="ignore"):
            over = np.where(demand > room, np.log(room / demand), 0.0)
        shift = np.maximum(shift + over, -20.0)
    scores[:, :n_services] += shift[month]
    return mixed(scores)


def draw_choices(probabilities: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One option index per row from its probabilities (inverse CDF, vectorised)."""
    cumulative = np.cumsum(probabilities, axis=1)
    u = rng.random(len(probabilities))[:, None] * cumulative[:, -1:]
    chosen = (u >= cumulative).sum(axis=1)
    chosen = np.minimum(chosen, probabilities.shape[1] - 1)
    # Never land on a zero-probability option through rounding at the top end.
    bad = probabilities[np.arange(len(chosen)), chosen] <= 0
    if bad.any():
        chosen[bad] = probabilities.shape[1] - 1
    return chosen
