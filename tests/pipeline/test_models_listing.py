"""`polku models` reads a SQLite registry without MLflow, and reads it as MLflow does."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from models import registry
from models.registry_listing import read_versions


def test_the_fast_listing_equals_mlflows(
    state_dir: Path, register_fitted: Callable[..., str]
) -> None:
    from mlflow.tracking import MlflowClient

    for _ in range(3):
        register_fitted(promote_if_first=True)
    uri = registry.tracking_uri()
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    client.set_registered_model_alias(registry.MODEL_NAME, "challenger", "3")
    client.delete_model_version(registry.MODEL_NAME, "2")
    fast = read_versions()
    assert fast is not None
    assert fast == registry.list_versions()
    assert [row.version for row in fast] == ["3", "1"]
    assert fast[0].aliases == ("challenger",) and fast[1].aliases == ("champion",)
    assert set(fast[0].metrics) == set(registry.KEY_METRICS)
    assert len(fast[0].data_fingerprint) >= 12


def test_polku_models_lists_without_importing_mlflow(
    state_dir: Path, register_fitted: Callable[..., str]
) -> None:
    register_fitted(promote_if_first=True)
    probe = (
        "import sys\n"
        "from pipeline.cli import build_app\n"
        "try:\n"
        "    build_app()(['models'])\n"
        "except SystemExit:\n"
        "    pass\n"
        "print('mlflow imported' if 'mlflow' in sys.modules else 'mlflow not imported')\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe],
        env={**os.environ, "POLKU_STATE_DIR": str(state_dir)},
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    lines = result.stdout.splitlines()
    assert lines[1].split()[:2] == ["1", "champion"]
    assert lines[-1] == "mlflow not imported"


def test_a_store_it_cannot_read_is_left_to_mlflow(tmp_path: Path) -> None:
    assert read_versions("http://mlflow.internal:5000") is None
    assert read_versions(f"sqlite:///{tmp_path / 'never-made.db'}") == []
    sqlite3.connect(tmp_path / "other.db").execute("CREATE TABLE t (x)").connection.close()
    assert read_versions(f"sqlite:///{tmp_path / 'other.db'}") is None
