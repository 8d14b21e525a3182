"""Build a small MLflow registry for the live-server tests, in its own process.

`python -m tests.service.registry_builder ROOT MODEL [URI]` logs the model saved
(models.persistence) at MODEL (the session's tiny model) twice, as versions 1 and 2 of
`polku-ranker` under `ROOT/mlflow.db` (or the tracking server at URI), and makes version 1
champion. A separate process keeps MLflow's global
tracking state out of the test session.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path


def build(root: Path, model_path: Path, uri: str | None = None) -> None:
    """Log the model twice; version 1 is champion."""
    from tests.service.helpers import tracking_uri

    os.environ["POLKU_STATE_DIR"] = str(root)
    os.environ["MLFLOW_TRACKING_URI"] = uri or tracking_uri(root)
    import mlflow

    from models import persistence
    from models.registry import configure_tracking, log_model, set_champion

    model = persistence.load(model_path)
    experiment = configure_tracking()
    versions = []
    for run in range(2):
        with mlflow.start_run(experiment_id=experiment, run_name=f"tiny-{run + 1}"):
            mlflow.log_metric("policy_value", 0.4 + run / 100)
            versions.append(log_model(model))
    set_champion(versions[0])


if __name__ == "__main__":
    build(Path(sys.argv[1]), Path(sys.argv[2]), *sys.argv[3:4])
