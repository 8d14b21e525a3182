"""Fixtures shared by every test folder: the catalog, the tiny world and THE tiny model, MLflow.

The suite has one tiny trained model (`tiny_training`, `tiny_model`): fitted once per
session the way `polku train` fits (`pipeline.train.fit_model`) on one small generated
world. The model tests that need a ranker with known effects use the toy world of
`tests/models/world.py` instead; that ranker is the subject of those tests.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from models.bundle import PolkuModel
from models.catalog import Catalog, load_catalog
from tests.helpers import TinyTraining
from tests.postgres import REQUIRE_ENV, PostgresCluster, find_bin_dir, why_unavailable

TINY_WORLD_CLIENTS = 3000
TINY_WORLD_SEED = 11
TINY_TRAIN_SEED = 3
TINY_BOOTSTRAP = 5


@pytest.fixture(scope="session")
def catalog() -> Catalog:
    return load_catalog()


@pytest.fixture(scope="session")
def tiny_world_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A generated world of `TINY_WORLD_CLIENTS` clients, written once per session."""
    from pipeline.synth.world import SynthConfig, generate_world, write_world

    out = tmp_path_factory.mktemp("tiny-world")
    write_world(
        generate_world(SynthConfig(n_clients=TINY_WORLD_CLIENTS, seed=TINY_WORLD_SEED)), out
    )
    return out


@pytest.fixture(scope="session")
def tiny_training(tiny_world_dir: Path) -> TinyTraining:
    """The one tiny model of the suite, fitted and evaluated once (no MLflow)."""
    from pipeline.data.world import load_world
    from pipeline.training.train import TrainSettings, fit_model

    world = load_world(tiny_world_dir)
    settings = TrainSettings(seed=TINY_TRAIN_SEED, n_bootstrap=TINY_BOOTSTRAP)
    return TinyTraining(world, fit_model(world, settings), settings)


@pytest.fixture(scope="session")
def tiny_model(tiny_training: TinyTraining) -> PolkuModel:
    """The tiny model itself (treat as read-only: it is shared by the whole session)."""
    return tiny_training.trained.model


@pytest.fixture(scope="session")
def migrated_mlflow_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty MLflow SQLite store with every migration applied (migrating takes seconds)."""
    from mlflow import MlflowClient

    path = tmp_path_factory.mktemp("mlflow-template") / "mlflow.db"
    uri = f"sqlite:///{path}"
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    client.search_experiments()
    client.search_registered_models()
    return path


@pytest.fixture
def state_dir(
    migrated_mlflow_store: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Path]:
    """A fresh Polku state directory holding a copy of the migrated store; MLflow pointed at it.

    The working directory is `tmp_path`, so nothing a test writes lands in the repository.
    """
    import mlflow

    state = tmp_path / "state"
    state.mkdir()
    shutil.copyfile(migrated_mlflow_store, state / "mlflow.db")
    monkeypatch.setenv("POLKU_STATE_DIR", str(state))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.chdir(tmp_path)
    yield state
    while mlflow.active_run() is not None:
        mlflow.end_run()


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[PostgresCluster]:
    """A throwaway PostgreSQL server for the session (`tests/postgres.py`).

    Skipped, loudly, only where PostgreSQL is not installed and `POLKU_REQUIRE_POSTGRES`
    is unset; `.ci/run` sets it, so CI fails instead of skipping.
    """
    reason = why_unavailable()
    if reason is not None:
        if os.environ.get(REQUIRE_ENV):
            pytest.fail(f"{REQUIRE_ENV} is set but {reason}", pytrace=False)
        pytest.skip(reason)
    bin_dir = find_bin_dir()
    assert bin_dir is not None
    cluster = PostgresCluster(bin_dir).start()
    yield cluster
    cluster.stop()
