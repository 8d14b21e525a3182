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


def test_the_fast_listing_equals_mlflows_and_imports_no_mlflow(
    state_dir: Path, register_fitted: Callable[..., str]
) -> None:
    from mlflow.tracking import MlflowClient

    for _ in range(2):
        register_fitted(promote_if_first=True)
    uri = registry.tracking_uri()
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    client.set_registered_model_alias(registry.MODEL_NAME, "challenger", "2")
    fast = read_versions()
    assert fast is not None
    assert fast == registry.list_versions()
    assert [row.version for row in fast] == ["2", "1"]
    assert fast[0].aliases == ("challenger",) and fast[1].aliases == ("champion",)
    assert set(fast[0].metrics) == set(registry.KEY_METRICS)
    assert len(fast[0].data_fingerprint) >= 12
    assert _listed_in_a_fresh_process(state_dir) == (["2", "challenger"], "mlflow not imported")
    client.delete_model_version(registry.MODEL_NAME, "2")
    after = read_versions()
    assert after == registry.list_versions()
    assert after is not None and [row.version for row in after] == ["1"]


def _listed_in_a_fresh_process(state_dir: Path) -> tuple[list[str], str]:
    """`polku models` run in a new interpreter: its first row, and whether MLflow loaded."""
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
    return lines[1].split()[:2], lines[-1]


def test_a_store_it_cannot_read_is_left_to_mlflow(tmp_path: Path) -> None:
    assert read_versions("http://mlflow.internal:5000") is None
    assert read_versions(f"sqlite:///{tmp_path / 'never-made.db'}") == []
    sqlite3.connect(tmp_path / "other.db").execute("CREATE TABLE t (x)").connection.close()
    assert read_versions(f"sqlite:///{tmp_path / 'other.db'}") is None
