"""A world built apart from Polku's generator, to judge the ranker on a structure it never saw.

`pipeline.synth` draws the population, the caseworkers and the effects Polku was developed
against, and its scenarios vary them along axes the developers chose. This module keeps only
the population (the register's profiles, so that every field is valid and the gate works)
and replaces everything causal with a structure drawn at random from the seed:

- baseline chances: smooth, non-monotone functions of the raw fields (no threshold of the
  project's generator) and interactions between needs;
- effects: per service and target, a shift plus a saturating function (tanh) of a random
  sparse direction in the standardised fields, plus for some services a product of two
  fields; magnitudes, signs and which services help which target all come from the seed,
  so a service can help at six months and hurt at twelve;
- caseworkers: a softmax over the allowed services with a knowledge weight on a noisy copy
  of the true six-month uplift, habits per service and a taste for profile directions, and
  about half of the assessments without a service.

The world is written like `polku generate` writes one (`write_world`), truth included, so
`load_world` and `fit_model` read it as any other. It was written by the lead engineer for
the bench and is not used by any test or by the ranker's development, so that at least one
figure in BENCHMARKS.md comes from a structure nobody tuned to.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd

from models.actions import action_ids, uplift_over_no_service
from models.catalog import Catalog, load_catalog
from models.profile import (
    BARRIER_FLAGS,
    EDUCATION_LEVELS,
    LANGUAGE_LEVELS,
    WORK_ABILITIES,
)
from pipeline.synth.outcomes import draw_outcomes
from pipeline.synth.world import GeneratedWorld, SynthConfig, generate_world, truth_table

# Salt of the structure's seed, so it never equals a stream the project's generator uses.
_STRUCTURE_SALT = 0xA11E


def _standardised_fields(frame: pd.DataFrame) -> np.ndarray:
    """The raw profile as columns of mean 0 and sd 1 (ordinal levels as their rank)."""
    birth = pd.to_datetime(frame["birth_date"]).to_numpy(dtype="datetime64[D]")
    on = pd.to_datetime(frame["assessment_date"]).to_numpy(dtype="datetime64[D]")
    age = (on - birth).astype(np.int64) / 365.25
    columns = [
        age,
        np.log1p(frame["unemployment_months"].to_numpy(dtype=np.float64)),
        np.sqrt(frame["work_experience_years"].to_numpy(dtype=np.float64)),
        frame["language_level"].map(LANGUAGE_LEVELS.index).to_numpy(dtype=np.float64),
        frame["education_level"].map(EDUCATION_LEVELS.index).to_numpy(dtype=np.float64),
        frame["work_ability"].map(WORK_ABILITIES.index).to_numpy(dtype=np.float64),
        *(frame[flag].to_numpy(dtype=np.float64) for flag in BARRIER_FLAGS),
    ]
    z = np.column_stack(columns)
    sd = z.std(axis=0)
    return (z - z.mean(axis=0)) / np.where(sd > 0, sd, 1.0)


def _effects(z: np.ndarray, n_services: int, rng: np.random.Generator) -> np.ndarray:
    """Logit shifts (3 targets, n, n_services): shift + saturating direction + a product."""
    n, p = z.shape
    out = np.empty((3, n, n_services))
    for k in range(n_services):
        direction = np.zeros(p)
        chosen = rng.choice(p, size=3, replace=False)
        direction[chosen] = rng.normal(0.0, 1.0, size=3)
        response = np.tanh(z @ direction + rng.normal(0.0, 0.5))
        pair = rng.choice(p, size=2, replace=False)
        product = np.clip(z[:, pair[0]] * z[:, pair[1]], -3, 3) * (rng.random() < 0.4)
        for t in range(3):
            shift = rng.normal(0.03, 0.12)
            strength = abs(rng.normal(0.0, 0.35)) * (1.0 if rng.random() < 0.8 else -1.0)
            out[t, :, k] = shift + strength * response + rng.normal(0.0, 0.08) * product
    return out


def _baselines(z: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Logits without a service (3 targets, n): smooth, non-monotone, with interactions."""
    n, p = z.shape
    out = np.empty((3, n))
    intercepts = (-0.9, -2.4, -0.6)
    for t in range(3):
        linear = z @ rng.normal(0.0, 0.35, size=p)
        curve = 0.4 * np.sin(z[:, rng.integers(p)] * rng.uniform(0.8, 2.0))
        i, j = rng.choice(p, size=2, replace=False)
        out[t] = intercepts[t] + linear + curve + 0.25 * np.tanh(z[:, i] * z[:, j])
    return out


def _truth(baseline: np.ndarray, effects: np.ndarray) -> dict[str, np.ndarray]:
    n = baseline.shape[1]
    zeros = np.zeros((n, 1))
    eta = [baseline[t][:, None] + np.hstack([effects[t], zeros]) for t in range(3)]
    exp_e, exp_ed = np.exp(eta[0]), np.exp(eta[1])
    denominator = 1.0 + exp_e + exp_ed  # six months: employed, in education or neither
    employed, education = exp_e / denominator, exp_ed / denominator
    return {
        "employed_6m": employed,
        "education_6m": education,
        "employment_or_education_6m": employed + education,
        "employed_12m": 1.0 / (1.0 + np.exp(-eta[2])),
    }


def _choices(
    z: np.ndarray, allowed: np.ndarray, truth: dict[str, np.ndarray], rng: np.random.Generator
) -> np.ndarray:
    """Caseworkers' choice probabilities (n, n_services + 1), "none" last."""
    n_services = allowed.shape[1]
    knowledge = rng.uniform(4.0, 12.0)
    uplift = uplift_over_no_service(truth["employment_or_education_6m"])
    noisy = uplift + rng.normal(0.0, 0.05, size=uplift.shape)
    taste = z @ rng.normal(0.0, 0.4, size=(z.shape[1], n_services))
    habit = rng.normal(0.0, 0.8, size=n_services)
    scores = knowledge * noisy + taste + habit
    scores = np.where(allowed, scores, -np.inf)
    services = np.exp(scores - scores.max(axis=1, keepdims=True, initial=0.0))
    services = np.where(allowed, services, 0.0)
    # About half without a service, more for those with the best chances anyway.
    none = services.sum(axis=1) * np.exp(0.3 * (z[:, 0] - z[:, 1]))
    probabilities = np.hstack([services, none[:, None]])
    return probabilities / probabilities.sum(axis=1, keepdims=True)


def alien_world(n_clients: int, seed: int, catalog: Catalog | None = None) -> GeneratedWorld:
    """A world of `n_clients` persons: the project's population, a structure of its own."""
    catalog = catalog if catalog is not None else load_catalog()
    base = generate_world(SynthConfig(n_clients=n_clients, seed=seed), catalog)
    episodes = base.episodes.copy()
    rng = np.random.default_rng([seed, _STRUCTURE_SALT])
    z = _standardised_fields(episodes)
    truth = _truth(_baselines(z, rng), _effects(z, len(catalog), rng))
    allowed = catalog.allowed_frame(episodes)
    probabilities = _choices(z, allowed, truth, rng)
    cumulative = probabilities.cumsum(axis=1)
    draw = rng.random(len(episodes))[:, None]
    choice = np.minimum((draw > cumulative).sum(axis=1), probabilities.shape[1] - 1)
    outcomes = draw_outcomes(truth, choice, rng)
    action_names = np.array(action_ids(catalog.ids), dtype=object)
    episodes["service_id"] = action_names[choice]
    episodes["propensity"] = probabilities[np.arange(len(choice)), choice]
    for name, values in outcomes.items():
        episodes[name] = values
    return dataclasses.replace(
        base,
        episodes=episodes,
        truth=truth_table(episodes["episode_id"].to_numpy(), truth, catalog),
    )


def write_alien_world(n_clients: int, seed: int, out_dir: Path) -> Path:
    """Generate and write an alien world; its directory."""
    from pipeline.synth.world import write_world

    write_world(alien_world(n_clients, seed), out_dir)
    return out_dir
