"""GET /v1/model (per role), POST /v1/admin/reload (checked, atomic, keeps the old model)."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from models.bundle import PolkuModel
from service.main import create_app
from service.model_holder import ModelHolder, smoke_check
from tests.helpers import wait_until
from tests.service.helpers import FakeLoaded, auth, client_profile, make_settings

DATA_SCIENTIST = auth("data_scientist")


class Registry:
    """A stand-in registry whose champion the test can change."""

    def __init__(self, model: Any, version: str = "1") -> None:
        self.model = model
        self.version = version
        self.failure: Exception | None = None

    def load(self) -> FakeLoaded:
        if self.failure is not None:
            raise self.failure
        return FakeLoaded(self.model, self.version, "2026-01-02T03:04:05+00:00", {"auc": 0.7})


class BrokenModel:
    """Carries a catalog and rules, but ranks nothing."""

    def __init__(self, real: PolkuModel) -> None:
        self.catalog = real.catalog
        self.rules_versions = real.rules_versions

    def recommend(self, profile: Any, objective: Any, top_k: Any = None) -> Any:
        raise RuntimeError("scoring failed")


@pytest.fixture
def registry(tiny_model: PolkuModel) -> Registry:
    return Registry(tiny_model)


@pytest.fixture
def admin_api(tmp_path: Path, registry: Registry) -> Any:
    with TestClient(create_app(make_settings(tmp_path), model_loader=registry.load)) as client:
        yield client


def test_model_shows_metrics_to_data_scientists_only(admin_api: TestClient) -> None:
    public = admin_api.get("/v1/model", headers=auth("caseworker")).json()
    # A team lead sees what a caseworker sees of the model, not its metrics.
    assert admin_api.get("/v1/model", headers=auth("team_lead")).json() == public
    detail = admin_api.get("/v1/model", headers=DATA_SCIENTIST).json()
    assert public["version"] == detail["version"] == "1"
    assert "metrics" not in public
    assert "catalog_fingerprint" not in public
    assert detail["metrics"] == {"auc": 0.7}
    assert detail["name"] == "polku-ranker"
    assert detail["trained_at"] == "2026-01-02T03:04:05+00:00"
    assert "kuntakokeilu-amendment-2022" in detail["rules_versions"]


def test_reload_swaps_in_a_new_champion(admin_api: TestClient, registry: Registry) -> None:
    registry.version = "2"
    response = admin_api.post("/v1/admin/reload", headers=DATA_SCIENTIST)
    assert response.status_code == 200
    assert response.json() == {
        "reloaded": True,
        "version": "2",
        "previous_version": "1",
        "message": "now serving version 2",
    }
    answer = admin_api.post(
        "/v1/recommendations", json={"profile": client_profile()}, headers=auth("caseworker")
    )
    assert answer.json()["model_version"] == "2"


def test_reload_of_the_same_version_changes_nothing(admin_api: TestClient) -> None:
    response = admin_api.post("/v1/admin/reload", headers=DATA_SCIENTIST)
    assert response.status_code == 200
    assert response.json()["reloaded"] is False
    assert "already served" in response.json()["message"]


def test_reload_failure_keeps_the_old_model_and_says_why(
    admin_api: TestClient, registry: Registry
) -> None:
    registry.version = "3"
    registry.failure = RuntimeError("artifact hash mismatch")
    response = admin_api.post("/v1/admin/reload", headers=DATA_SCIENTIST)
    assert response.status_code == 409
    body = response.json()
    assert body["reloaded"] is False
    assert body["version"] == "1"
    assert "artifact hash mismatch" in body["message"]
    assert "still serving version 1" in body["message"]
    assert admin_api.get("/health/ready").json()["model_version"] == "1"


def test_reload_refuses_a_model_that_fails_the_smoke_check(
    admin_api: TestClient, registry: Registry, tiny_model: PolkuModel
) -> None:
    registry.version = "4"
    registry.model = BrokenModel(tiny_model)
    response = admin_api.post("/v1/admin/reload", headers=DATA_SCIENTIST)
    assert response.status_code == 409
    assert "scoring failed" in response.json()["message"]
    assert admin_api.get("/health/ready").json()["model_version"] == "1"


def test_smoke_check_refuses_out_of_range_predictions(tiny_model: PolkuModel) -> None:
    class Overconfident:
        catalog = tiny_model.catalog
        rules_versions = tiny_model.rules_versions

        def recommend(self, profile: Any, objective: Any, top_k: Any = None) -> Any:
            decision, ranked = tiny_model.recommend(profile, objective, top_k)
            return decision, [dataclasses.replace(ranked[0], expected_with=1.5), *ranked[1:]]

    holder = ModelHolder(loader=lambda: FakeLoaded(Overconfident(), "9", "", {}), name="x")
    outcome = holder.reload()
    assert outcome.reloaded is False
    assert "outside [0, 1]" in outcome.message
    assert holder.current is None


def test_smoke_check_passes_the_real_model(tiny_model: PolkuModel) -> None:
    holder = ModelHolder(loader=lambda: FakeLoaded(tiny_model, "1", "", {}), name="polku-ranker")
    assert holder.reload().reloaded is True
    assert holder.current is not None
    smoke_check(holder.current)


def test_holder_without_catalog_is_refused() -> None:
    holder = ModelHolder(loader=lambda: FakeLoaded(object(), "1", "", {}), name="x")
    outcome = holder.reload()
    assert not outcome.reloaded
    assert "catalog" in outcome.message
    assert holder.last_error is not None and "catalog" in holder.last_error


def test_poll_policy_reloads_when_the_champion_alias_moves(
    tmp_path: Path, registry: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("service.main.champion_version", lambda: registry.version)
    settings = make_settings(tmp_path, reload_policy="poll", reload_poll_seconds=0.05)
    with TestClient(create_app(settings, model_loader=registry.load)) as client:
        assert client.get("/health/ready").json()["model_version"] == "1"
        registry.version = "5"
        wait_until(
            lambda: client.get("/health/ready").json()["model_version"] == "5",
            20,
            "the poller to load version 5",
        )
        assert client.get("/health/ready").json()["model_version"] == "5"
