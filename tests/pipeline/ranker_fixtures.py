"""Shared set-up of the training, evaluation and promotion tests.

A tiny generated world and one migrated MLflow SQLite store are made once per test session
(MLflow migrates a new SQLite database on first use, which takes seconds); each test gets
its own state directory with a copy of that store.
"""

from __future__ import annotations

import atexit
import functools
import shutil
import tempfile
from pathlib import Path

import pytest

WORLD_CLIENTS = 3000
WORLD_SEED = 11


@functools.cache
def _session_dir() -> Path:
    path = Path(tempfile.mkdtemp(prefix="polku-test-pipeline-"))
    atexit.register(shutil.rmtree, path, ignore_errors=True)
    return path


@functools.cache
def tiny_world_dir() -> Path:
    """A generated world of `WORLD_CLIENTS` clients (written once per session)."""
    from pipeline.synth.world import SynthConfig, generate_world, write_world

    out = _session_dir() / "world"
    write_world(generate_world(SynthConfig(n_clients=WORLD_CLIENTS, seed=WORLD_SEED)), out)
    return out


@functools.cache
def migrated_store() -> Path:
    """An empty MLflow SQLite store with every migration applied (made once per session)."""
    from mlflow import MlflowClient

    path = _session_dir() / "template" / "mlflow.db"
    path.parent.mkdir(parents=True)
    uri = f"sqlite:///{path}"
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    client.search_experiments()
    client.search_registered_models()
    return path


@pytest.fixture
def state_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh Polku state directory holding a copy of the migrated MLflow store."""
    state = tmp_path / "state"
    state.mkdir()
    shutil.copyfile(migrated_store(), state / "mlflow.db")
    monkeypatch.setenv("POLKU_STATE_DIR", str(state))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    return state


@pytest.fixture
def world_dir() -> Path:
    return tiny_world_dir()


TEST_SETTINGS_SEED = 3


@functools.cache
def fitted_tiny_model():  # -> tuple[World, TrainedModel, TrainSettings]
    """The ranker fitted and evaluated once per session on the tiny world (no MLflow)."""
    from pipeline.data.world import load_world
    from pipeline.training.settings import TrainSettings
    from pipeline.training.train import fit_model

    world = load_world(tiny_world_dir())
    settings = TrainSettings(seed=TEST_SETTINGS_SEED, n_bootstrap=5)
    return world, fit_model(world, settings), settings


def register_fitted(model=None, *, promote_if_first: bool = False) -> str:
    """Log the session's fitted model (or `model` in its place) as a new registered version.

    Goes through `pipeline.training.train.log_and_register`, as `polku train` does, so the version's
    run carries the data directory and split settings that evaluation and promotion read.
    """
    import dataclasses

    from pipeline.evaluation.version import evaluate_model
    from pipeline.training.train import log_and_register

    world, trained, settings = fitted_tiny_model()
    if model is not None:
        evaluation = evaluate_model(
            model, trained.prepared, model.catalog, settings.objective, settings.seed
        )
        trained = dataclasses.replace(
            trained, model=model, evaluation=evaluation, timings=dict(trained.timings)
        )
    outcome = log_and_register(
        trained, world, settings, tiny_world_dir(), promote_if_first=promote_if_first
    )
    return outcome.version
