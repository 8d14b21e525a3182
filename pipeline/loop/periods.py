"""A period's clients in the synthetic world: profiles, the truth, and the caseworkers' practice.

Each period of the loop draws a fresh synthetic world (`pipeline.synth.world`) and keeps
its eligible assessments as that period's clients: their typed profiles, the true outcome
probabilities under every service and none, and the probabilities with which their
caseworkers would choose each option on their own (`pipeline.synth.caseworkers`, recomputed
from the truth as the world drew them). Client ids carry the period, so periods never share
a client. Round 1's caseworker-only logs are the world's own episodes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from models.catalog import Catalog
from models.demographics import is_foreign_language
from models.eligibility.decisions import assess_eligibility_frame
from models.objectives import TRUTH_OUTCOMES, Objective, outcomes_from_episodes
from models.profile import PROFILE_COLUMNS
from pipeline.data.episodes import true_objective_outcomes
from pipeline.data.truth import truth_matrices
from pipeline.synth.caseworkers import choice_probabilities
from pipeline.synth.population import PERIOD_START
from pipeline.synth.scenarios import DEFAULT_SCENARIO, scenario_named
from pipeline.synth.world import SynthConfig, generate_world

# The groups the loop reports policy values for (evaluation only: never model inputs).
GROUPS = ("all", "women", "men", "foreign_language", "national_language", "under_30",
          "age_30_54", "age_55_plus", "long_term_unemployed")  # fmt: skip


@dataclass(frozen=True)
class Period:
    """The eligible clients of one period.

    Attributes
    ----------
    frame : typed profile frame (PROFILE_COLUMNS), client ids prefixed with the period
    truth : outcome name -> true probabilities (n, n_services + 1), "none" last
    value : true probability of the objective's outcome under each action (n, n_services + 1)
    practice : the caseworkers' own choice probabilities (n, n_services + 1)
    allowed : catalog limits (n, n_services)
    logged_action, logged_propensity, logged_outcomes : what the world's caseworkers did
        (round 1's training logs), outcomes in `TARGETS` order
    groups : group name -> bool mask (n,)
    """

    frame: pd.DataFrame
    truth: dict[str, np.ndarray]
    value: np.ndarray
    practice: np.ndarray
    allowed: np.ndarray
    logged_action: np.ndarray
    logged_propensity: np.ndarray
    logged_outcomes: np.ndarray
    groups: dict[str, np.ndarray]

    def __len__(self) -> int:
        return len(self.frame)


def draw_period(
    n_persons: int,
    seed: int,
    index: int,
    catalog: Catalog,
    objective: Objective,
    scenario: str = DEFAULT_SCENARIO,
) -> Period:
    """The eligible assessments of a fresh world of `n_persons` persons (seeded by both),
    drawn in `scenario` (`pipeline.synth.scenarios`): its truth, its caseworkers' practice,
    and its catalog (derived from `catalog` as the world derives it)."""
    world = generate_world(
        SynthConfig(n_clients=n_persons, seed=seed * 1000 + index, scenario=scenario), catalog
    )
    episodes = world.episodes
    eligible = assess_eligibility_frame(episodes[list(PROFILE_COLUMNS)])["eligible"].to_numpy(
        dtype=bool
    )
    episodes = episodes.loc[eligible].reset_index(drop=True)
    frame = episodes[list(PROFILE_COLUMNS)].copy()
    frame["client_id"] = f"P{index}-" + frame["client_id"].astype(str)
    every = truth_matrices(world.truth, world.catalog, TRUTH_OUTCOMES)
    truth = {name: matrix[eligible] for name, matrix in every.items()}
    allowed = world.catalog.allowed_frame(frame)
    dates = frame["assessment_date"].to_numpy(dtype="datetime64[M]")
    month = (dates - PERIOD_START.astype("datetime64[M]")).astype(np.int64)
    foreign = is_foreign_language(
        frame["mother_tongue"].to_numpy(dtype=str), frame["immigrant"].to_numpy()
    )
    practice = choice_probabilities(
        world.catalog,
        allowed,
        truth,
        month=month,
        foreign_language=foreign,
        scenario=scenario_named(scenario),
    )
    ids = {service: j for j, service in enumerate((*world.catalog.ids, "none"))}
    logged_action = episodes["service_id"].map(ids).to_numpy(dtype=np.int64)
    return Period(
        frame=frame,
        truth=truth,
        value=true_objective_outcomes(truth, objective),
        practice=practice,
        allowed=allowed,
        logged_action=logged_action,
        logged_propensity=episodes["propensity"].to_numpy(dtype=np.float64),
        logged_outcomes=outcomes_from_episodes(episodes),
        groups=group_masks(frame, foreign),
    )


def group_masks(frame: pd.DataFrame, foreign: np.ndarray) -> dict[str, np.ndarray]:
    """The reported groups of `GROUPS` (gender, language, age, long-term unemployment)."""
    birth = frame["birth_date"].to_numpy(dtype="datetime64[D]")
    assessed = frame["assessment_date"].to_numpy(dtype="datetime64[D]")
    age = (assessed - birth).astype(np.int64) / 365.25
    gender = frame["gender"].astype(object).to_numpy()
    months = frame["unemployment_months"].to_numpy(dtype=np.float64)
    return {
        "all": np.ones(len(frame), dtype=bool),
        "women": gender == "female",
        "men": gender == "male",
        "foreign_language": np.asarray(foreign, dtype=bool),
        "national_language": ~np.asarray(foreign, dtype=bool),
        "under_30": age < 30,
        "age_30_54": (age >= 30) & (age < 55),
        "age_55_plus": age >= 55,
        "long_term_unemployed": months >= 12,
    }
