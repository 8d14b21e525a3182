"""A censored register end to end: recent episodes' outcomes blank, as a real extract has
them; `polku validate`, `train` and `evaluate` accept it, count what is not yet observed,
and never read a blank as 0."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import pandas as pd
import pytest
from mlflow import MlflowClient
from typer.testing import CliRunner

from pipeline.cli import build_app
from pipeline.synth.censoring import censor_outcomes

FAST = ["--bootstrap", "5", "--seed", "3"]


@pytest.fixture(scope="module")
def censored_dir(tiny_world_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny world as a register extract on its last day: no truth, no propensity, and
    the outcomes whose 6 or 12 months are still ahead blank (CSV, as an extract arrives)."""
    out = tmp_path_factory.mktemp("censored") / "register"
    shutil.copytree(tiny_world_dir, out)
    for path in (*out.glob("truth.*"), *out.glob("*.csv")):
        path.unlink()
    episodes = censor_outcomes(pd.read_parquet(out / "episodes.parquet"))
    (out / "episodes.parquet").unlink()
    episodes.drop(columns=["propensity"]).to_csv(out / "episodes.csv", index=False)
    return out


def _numbers(value: object) -> list[float]:
    if isinstance(value, dict):
        return [n for v in value.values() for n in _numbers(v)]
    if isinstance(value, list):
        return [n for v in value for n in _numbers(v)]
    return [value] if isinstance(value, float) else []


def test_a_censored_register_trains_and_evaluates_with_its_unknowns_counted(
    censored_dir: Path, state_dir: Path, tmp_path: Path
) -> None:
    episodes = pd.read_csv(censored_dir / "episodes.csv")
    blank_12m = int(episodes["employed_12m"].isna().sum())
    assert 0 < blank_12m < len(episodes)
    app = build_app()
    validated = CliRunner().invoke(app, ["validate", str(censored_dir)])
    assert validated.exit_code == 0, validated.output

    report = tmp_path / "report"
    trained = CliRunner().invoke(
        app, ["train", "--data", str(censored_dir), "--report", str(report), *FAST]
    )
    assert trained.exit_code == 0, trained.output
    assert "outcomes not yet observed: in training" in trained.output
    saved = json.loads((report / "evaluation.json").read_text())
    assert all(math.isfinite(n) for n in _numbers(saved["ope"]))

    uri = f"sqlite:///{state_dir / 'mlflow.db'}"
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    (run,) = client.search_runs([client.get_experiment_by_name("polku-ranker").experiment_id])
    metrics = run.data.metrics
    assert 0 < metrics["count_train_unobserved_employment_12m"] < blank_12m
    assert (
        metrics["count_train_unobserved_employment_or_education_6m"]
        < metrics["count_train_unobserved_employment_12m"]
    )
    assert metrics["count_held_out_unobserved_episodes"] > 0

    out = tmp_path / "evaluation.json"
    evaluated = CliRunner().invoke(
        app, ["evaluate", "--version", "1", "--data", str(censored_dir), "--json", str(out)]
    )
    assert evaluated.exit_code == 0, evaluated.output
    other = json.loads(out.read_text())["other_objectives"]["employment_12m"]
    # Judged on twelve months only where twelve months have passed.
    assert other["left_out_unobserved"] > 0
    assert other["overall"]["n_episodes"] + other["left_out_unobserved"] == saved["n_episodes"]
