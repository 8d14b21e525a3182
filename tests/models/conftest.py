"""Shared fixtures of the ranker's tests: a tiny seeded world, one fitted model, an MLflow store."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from models.bundle import PolkuModel
from models.catalog import Catalog, load_catalog
from models.ranker import ServiceRanker
from tests.models.world import ToyEpisodes, make_world


@pytest.fixture(scope="session")
def catalog() -> Catalog:
    return load_catalog()


@pytest.fixture(scope="session")
def world(catalog: Catalog) -> ToyEpisodes:
    return make_world(6000, seed=7, catalog=catalog)


def fit_ranker(world: ToyEpisodes, catalog: Catalog, **params: object) -> ServiceRanker:
    ranker = ServiceRanker(services=catalog.ids, **params)  # type: ignore[arg-type]
    return ranker.fit(
        world.frame,
        world.actions,
        world.outcomes,
        propensity=world.propensity,
        allowed=world.allowed,
        groups=world.frame["client_id"],
    )


@pytest.fixture(scope="session")
def ranker(world: ToyEpisodes, catalog: Catalog) -> ServiceRanker:
    return fit_ranker(world, catalog, n_bootstrap=10, random_state=3)


@pytest.fixture(scope="session")
def polku_model(ranker: ServiceRanker, catalog: Catalog) -> PolkuModel:
    return PolkuModel.build(ranker, catalog)


@pytest.fixture(scope="session")
def migrated_mlflow_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One SQLite tracking store, migrated once per session (migrations take seconds)."""
    from mlflow.tracking import MlflowClient

    path = tmp_path_factory.mktemp("mlflow-template") / "mlflow.db"
    MlflowClient(tracking_uri=f"sqlite:///{path}").search_experiments()
    return path


@pytest.fixture
def mlflow_state(
    migrated_mlflow_db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Path]:
    """A fresh state directory holding a copy of the migrated store; MLflow pointed at it."""
    import mlflow

    state = tmp_path / "state"
    state.mkdir()
    shutil.copy(migrated_mlflow_db, state / "mlflow.db")
    monkeypatch.setenv("POLKU_STATE_DIR", str(state))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.chdir(tmp_path)
    yield state
    while mlflow.active_run() is not None:
        mlflow.end_run()
