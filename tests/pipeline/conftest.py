"""Fixtures of the training, evaluation and promotion tests: registering the tiny model."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

import pytest

from models.bundle import PolkuModel
from tests.helpers import TinyTraining


@pytest.fixture
def register_fitted(
    state_dir: Path, tiny_training: TinyTraining, tiny_world_dir: Path
) -> Callable[..., str]:
    """Log the tiny model (or a model given in its place) as a new registered version.

    Goes through `pipeline.training.train.log_and_register`, as `polku train` does, so the version's
    run carries the data directory and split settings that evaluation and promotion read.
    Call it as ``register_fitted(model=None, *, promote_if_first=False)``; it returns the
    version.
    """
    from pipeline.evaluation.version import evaluate_model
    from pipeline.training.train import log_and_register

    def register(model: PolkuModel | None = None, *, promote_if_first: bool = False) -> str:
        world, trained, settings = tiny_training
        if model is not None:
            evaluation = evaluate_model(
                model, trained.prepared, model.catalog, settings.objective, settings.seed
            )
            trained = dataclasses.replace(
                trained, model=model, evaluation=evaluation, timings=dict(trained.timings)
            )
        outcome = log_and_register(
            trained, world, settings, tiny_world_dir, promote_if_first=promote_if_first
        )
        return outcome.version

    return register
