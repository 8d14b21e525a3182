"""Helpers shared by the service tests: keys, profiles, settings, a tiny model."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from models.bundle import PolkuModel
from models.catalog import load_catalog
from models.eligibility import assess_eligibility_frame
from models.objectives import outcomes_from_episodes
from models.profile import PROFILE_COLUMNS
from models.ranker import ServiceRanker
from service.settings import Settings

KEYS = {
    "caseworker": "test-caseworker-key-0001",
    "data_scientist": "test-data-scientist-key-0001",
    "evaluator": "test-evaluator-key-0001",
}
HMAC_KEY = "test-hmac-key-of-sufficient-length"


def auth(role: str) -> dict[str, str]:
    """Headers of a caller with `role`."""
    return {"Authorization": f"Bearer {KEYS[role]}"}


def client_profile(**changes: Any) -> dict[str, Any]:
    """A raw profile of a client (under 30, unemployed in Helsinki, inside the experiment)."""
    profile: dict[str, Any] = {
        "client_id": "client-0001",
        "henkilotunnus": "170500A9056",
        "home_municipality": "091",
        "mother_tongue": "fi",
        "immigrant": False,
        "registered_jobseeker": True,
        "labour_market_status": "unemployed",
        "unemployment_benefit": "labour_market_subsidy",
        "assessment_date": "2024-03-04",
        "education_level": "basic",
        "unemployment_months": 14,
        "work_experience_years": 1.5,
        "language_level": "B1",
        "debt_problems": True,
        "low_digital_skills": True,
    }
    profile.update(changes)
    return {k: v for k, v in profile.items() if v is not None}


def non_client_profile(**changes: Any) -> dict[str, Any]:
    """A raw profile the gate refuses: an Espoo resident (C2 fails)."""
    return client_profile(home_municipality="049", **changes)


@dataclass(frozen=True)
class FakeLoaded:
    """What `models.registry.load_champion` returns, for loaders injected into the app."""

    model: Any
    version: str
    trained_at: str
    metrics: dict[str, float]


def make_settings(tmp_path: Path, **changes: Any) -> Settings:
    """Settings with test keys and an audit store in `tmp_path`."""
    values: dict[str, Any] = {
        "audit_db_url": f"sqlite:///{tmp_path / 'audit.sqlite3'}",
        "hmac_key": HMAC_KEY,
        "caseworker_keys": {"desk-1": KEYS["caseworker"]},
        "data_scientist_keys": {"ds-1": KEYS["data_scientist"]},
        "evaluator_keys": {"eval-1": KEYS["evaluator"]},
        "limit_native_threads": False,
    }
    values.update(changes)
    return Settings(**values)


def fit_tiny_model(n_clients: int = 1500, seed: int = 11) -> PolkuModel:
    """A PolkuModel fitted on a small synthetic world (a few seconds)."""
    from pipeline.synth.world import SynthConfig, generate_world

    catalog = load_catalog()
    episodes = generate_world(SynthConfig(n_clients=n_clients, seed=seed), catalog).episodes
    eligible = assess_eligibility_frame(episodes)["eligible"].to_numpy(dtype=bool)
    episodes = episodes[eligible].reset_index(drop=True)
    frame = episodes[list(PROFILE_COLUMNS)]
    ranker = ServiceRanker(
        services=catalog.ids, n_bootstrap=5, final_alpha=100.0, min_treated=5, random_state=seed
    )
    ranker.fit(
        frame,
        episodes["service_id"].to_numpy(dtype=object),
        outcomes_from_episodes(episodes),
        propensity=episodes["propensity"].to_numpy(dtype=np.float64),
        allowed=catalog.allowed_frame(frame),
        groups=episodes["client_id"].to_numpy(dtype=object),
    )
    return PolkuModel.build(ranker, catalog, trained_at="2026-01-02T03:04:05+00:00")
