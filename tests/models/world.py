"""A tiny seeded test world with known structural effects, for the ranker's tests.

Not the project's synthetic world (`pipeline.synth.world`): a few lines of structure the tests can
assert the ranker recovers, with caseworkers' choices confounded on purpose.

Truth (on the probability of each outcome):
- health services (`health_check`, `work_ability_assessment`) lift by `HEALTH_EFFECT` the
  clients with `health_limitations`, and by nothing the others;
- language services (`finnish_language_course`, `integration_training`) lift by
  `LANGUAGE_EFFECT` the clients whose Finnish/Swedish level is A0-A2, by a tenth of it at
  B1-B2, by nothing above;
- `job_search_coaching` lifts everyone by `COACHING_EFFECT`; other services do nothing.
Caseworkers send the health-limited to health services, the low-language to language
courses and the long unemployed to work trials (which do nothing) far more often, and those
clients have lower baselines: a naive with/without comparison is biased downwards.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd

from models.catalog import Catalog
from models.profile import BARRIER_FLAGS, PROFILE_COLUMNS, ClientProfile
from models.ranker import ServiceRanker

HEALTH_SERVICES = ("health_check", "work_ability_assessment")
LANGUAGE_SERVICES = ("finnish_language_course", "integration_training")
HEALTH_EFFECT = 0.25
LANGUAGE_EFFECT = 0.35
COACHING_EFFECT = 0.12
LOW_LANGUAGE = ("A0", "A1", "A2")
MID_LANGUAGE = ("B1", "B2")


@dataclass(frozen=True)
class ToyEpisodes:
    frame: pd.DataFrame  # typed profile frame, one row per episode
    actions: np.ndarray  # service id or "none"
    propensity: np.ndarray  # logged probability of the logged action
    outcomes: np.ndarray  # (n, 2) 0/1 in TARGETS order
    true_uplift: np.ndarray  # (n, n_services) on both targets (same effect), catalog order
    allowed: np.ndarray  # (n, n_services) catalog limits


def make_profiles(n: int, rng: np.random.Generator) -> pd.DataFrame:
    """Typed profile frame of n eligible Helsinki clients (unemployed, no earnings allowance)."""
    assessment = pd.Timestamp("2022-03-01") + pd.to_timedelta(rng.integers(0, 365, n), unit="D")
    age_days = rng.integers(18 * 365 + 10, 64 * 365, n)
    birth = assessment - pd.to_timedelta(age_days, unit="D")
    foreign = rng.random(n) < 0.4
    tongue = np.where(foreign, rng.choice(["ru", "so", "ar", "et"], n), "fi")
    language = np.where(
        foreign, rng.choice(["A0", "A1", "A2", "B1", "B2", "C1", "C2"], n), "native"
    )
    frame = pd.DataFrame(
        {
            "client_id": [f"t{i:06d}" for i in range(n)],
            "birth_date": birth.astype("datetime64[ns]"),
            "home_municipality": "091",
            "mother_tongue": tongue,
            "immigrant": foreign,
            "registered_jobseeker": True,
            "labour_market_status": rng.choice(["unemployed", "laid_off"], n, p=[0.9, 0.1]),
            "unemployment_benefit": rng.choice(
                ["labour_market_subsidy", "basic_daily_allowance", "social_assistance"], n
            ),
            "assessment_date": assessment.astype("datetime64[ns]"),
            "experiment_client_since": pd.Series(pd.NaT, index=range(n), dtype="datetime64[ns]"),
            "education_level": rng.choice(
                ["none", "basic", "upper_secondary", "vocational", "bachelor", "master"], n
            ),
            "unemployment_months": rng.integers(0, 36, n).astype(np.int64),
            "work_experience_years": np.round(rng.uniform(0, 25, n), 1),
            "language_level": language,
            "work_ability": np.where(rng.random(n) < 0.25, "partial", "full"),
            **{flag: rng.random(n) < 0.2 for flag in BARRIER_FLAGS},
            "entrepreneurship_interest": rng.choice(
                ["none", "some", "business_plan"], n, p=[0.8, 0.15, 0.05]
            ),
            "gender": rng.choice(["female", "male"], n),
        }
    )
    frame["health_limitations"] = rng.random(n) < 0.3
    # No service history (the declared defaults): the toy truth does not depend on it.
    frame["previous_services"] = np.zeros(n, dtype=np.int64)
    frame["last_service_date"] = pd.Series(pd.NaT, index=range(n), dtype="datetime64[ns]")
    return frame[list(PROFILE_COLUMNS)]


def true_uplift(frame: pd.DataFrame, service_ids: tuple[str, ...]) -> np.ndarray:
    """The structural effect of every service for every row (same on both targets)."""
    out = np.zeros((len(frame), len(service_ids)))
    health = frame["health_limitations"].to_numpy(dtype=bool)
    level = frame["language_level"].to_numpy()
    language = np.where(
        np.isin(level, LOW_LANGUAGE),
        LANGUAGE_EFFECT,
        np.where(np.isin(level, MID_LANGUAGE), LANGUAGE_EFFECT / 10, 0.0),
    )
    for k, service in enumerate(service_ids):
        if service in HEALTH_SERVICES:
            out[:, k] = HEALTH_EFFECT * health
        elif service in LANGUAGE_SERVICES:
            out[:, k] = language
        elif service == "job_search_coaching":
            out[:, k] = COACHING_EFFECT
    return out


def make_world(n: int, seed: int, catalog: Catalog) -> ToyEpisodes:
    """Episodes with confounded caseworker choices and outcomes drawn from the truth."""
    rng = np.random.default_rng(seed)
    frame = make_profiles(n, rng)
    ids = catalog.ids
    allowed = catalog.allowed_frame(frame)
    health = frame["health_limitations"].to_numpy(dtype=bool)
    low_language = np.isin(frame["language_level"].to_numpy(), LOW_LANGUAGE)
    months = frame["unemployment_months"].to_numpy()
    # Caseworkers: softmax over none + allowed services, pushed towards the obvious need.
    logits = np.full((n, len(ids) + 1), -0.5)
    logits[:, 0] = 1.5
    for k, service in enumerate(ids, start=1):
        if service in HEALTH_SERVICES:
            logits[:, k] += 2.0 * health
        if service in LANGUAGE_SERVICES:
            logits[:, k] += 2.0 * low_language
        if service == "job_search_coaching":
            logits[:, k] += 0.5
        if service == "work_trial":  # no effect, but given to the long unemployed
            logits[:, k] += 3.0 * (months >= 18)
    logits[:, 1:][~allowed] = -np.inf
    proba = np.exp(logits - logits.max(axis=1, keepdims=True))
    proba /= proba.sum(axis=1, keepdims=True)
    chosen = (proba.cumsum(axis=1) > rng.random(n)[:, None]).argmax(axis=1)
    actions = np.array(["none", *ids], dtype=object)[chosen]
    propensity = proba[np.arange(n), chosen]
    # Baselines: lower with health limits, low language and long unemployment.
    base_logit = 0.3 - 1.0 * health - 0.8 * low_language - 0.03 * months
    base = 1.0 / (1.0 + np.exp(-base_logit))
    effects = true_uplift(frame, ids)
    received = np.where(chosen > 0, effects[np.arange(n), np.maximum(chosen - 1, 0)], 0.0)
    outcomes = np.column_stack(
        [rng.random(n) < np.clip(base + received, 0, 1) for _ in range(2)]
    ).astype(np.float64)
    return ToyEpisodes(frame, actions, propensity, outcomes, effects, allowed)


def fit_ranker(world: ToyEpisodes, catalog: Catalog, **params: object) -> ServiceRanker:
    """A `ServiceRanker` with `params`, fitted on every episode of a toy world."""
    ranker = ServiceRanker(services=catalog.ids, **params)  # type: ignore[arg-type]
    return ranker.fit(
        world.frame,
        world.actions,
        world.outcomes,
        propensity=world.propensity,
        allowed=world.allowed,
        groups=world.frame["client_id"],
    )


def profile_of(frame: pd.DataFrame, row: int = 0, **changes: object) -> ClientProfile:
    """One row of a typed profile frame as a ClientProfile, with fields changed."""
    record = frame.iloc[row].to_dict()
    for field in ("birth_date", "assessment_date"):
        record[field] = pd.Timestamp(record[field]).date()
    since = record["experiment_client_since"]
    record["experiment_client_since"] = None if pd.isna(since) else pd.Timestamp(since).date()
    last = record["last_service_date"]
    record["last_service_date"] = None if pd.isna(last) else pd.Timestamp(last).date()
    record["previous_services"] = int(record["previous_services"])
    for field in ("immigrant", "registered_jobseeker", *BARRIER_FLAGS):
        record[field] = bool(record[field])
    record["unemployment_months"] = int(record["unemployment_months"])
    record["work_experience_years"] = float(record["work_experience_years"])
    record.update(changes)
    return ClientProfile(**record)  # type: ignore[arg-type]


def base_profile(**changes: object) -> ClientProfile:
    """A plain eligible client with no barriers (35, Finnish-speaking, on labour market subsidy)."""
    values: dict[str, object] = {
        "client_id": "probe",
        "birth_date": dt.date(1987, 5, 4),
        "home_municipality": "091",
        "mother_tongue": "fi",
        "immigrant": False,
        "registered_jobseeker": True,
        "labour_market_status": "unemployed",
        "unemployment_benefit": "labour_market_subsidy",
        "assessment_date": dt.date(2022, 9, 1),
        "education_level": "vocational",
        "unemployment_months": 8,
        "work_experience_years": 6.0,
        "gender": "female",
    }
    values.update(changes)
    return ClientProfile(**values)  # type: ignore[arg-type]
