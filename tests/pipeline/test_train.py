"""`polku train` end to end on a tiny generated world, into a temporary MLflow store."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from mlflow import MlflowClient
from typer.testing import CliRunner

from models.training_period import TAG_FIRST, TAG_LAST
from pipeline.cli import build_app

FAST = ["--bootstrap", "5"]


def _client(state: Path) -> MlflowClient:
    uri = f"sqlite:///{state / 'mlflow.db'}"
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


@pytest.fixture(scope="module")
def trained(
    tmp_path_factory: pytest.TempPathFactory, migrated_mlflow_store: Path, tiny_world_dir: Path
) -> Iterator[tuple[Path, Path, str]]:
    """One `polku train` through the CLI into a fresh store, shared by the read-only tests."""
    state = tmp_path_factory.mktemp("train") / "state"
    state.mkdir()
    shutil.copyfile(migrated_mlflow_store, state / "mlflow.db")
    world = tiny_world_dir
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("POLKU_STATE_DIR", str(state))
        patch.delenv("MLFLOW_TRACKING_URI", raising=False)
        result = CliRunner().invoke(
            build_app(),
            ["train", "--data", str(world), "--seed", "3", "--promote-if-first", *FAST],
        )
        assert result.exit_code == 0, result.output
        yield state, world, result.output


def test_train_logs_a_run_and_registers_a_champion_version(trained):
    state, world, output = trained
    assert "registered polku-ranker version 1" in output
    assert "now champion" in output
    client = _client(state)
    version = client.get_model_version_by_alias("polku-ranker", "champion")
    assert str(version.version) == "1"
    run = client.get_run(version.run_id)
    params = run.data.params
    assert params["objective"] == "employment_or_education_6m"
    assert params["seed"] == "3"
    expected = hashlib.sha256((world / "episodes.parquet").read_bytes()).hexdigest()
    assert params["data_fingerprint"] == expected
    metrics = run.data.metrics
    for key in (
        "policy_value_polku",
        "policy_value_caseworkers",
        "policy_value_random",
        "policy_value_popular",
        "policy_value_imitation",
        "policy_value_oracle",
        "oracle_gain_captured",
        "top3_oracle_coverage",
        "brier",
        "fit_seconds",
    ):
        assert key in metrics, key
    # The oracle is the best a policy of allowed services can do.
    assert metrics["policy_value_oracle"] >= metrics["policy_value_polku"]
    assert metrics["policy_value_oracle"] >= metrics["policy_value_random"]
    assert run.data.tags["version.scikit-learn"]


def test_train_describes_the_run_version_dataset_and_groups_in_mlflow(trained):
    state, world, _ = trained
    client = _client(state)
    version = client.get_model_version_by_alias("polku-ranker", "champion")
    run = client.get_run(version.run_id)
    description = run.data.tags["mlflow.note.content"]
    assert "employment_or_education_6m" in description and "held-out" in description.lower()
    assert version.description == description
    assert float(version.tags["metric.policy_value_polku"]) == pytest.approx(
        run.data.metrics["policy_value_polku"], rel=1e-5
    )
    (dataset_input,) = run.inputs.dataset_inputs
    fingerprint = run.data.params["data_fingerprint"]
    assert dataset_input.dataset.digest == fingerprint[:32]
    assert dataset_input.dataset.name == world.name
    assert {tag.value for tag in dataset_input.tags} == {"training"}
    assert "henkilotunnus" not in dataset_input.dataset.schema
    group_keys = [k for k in run.data.metrics if k.startswith("group.")]
    assert "group.age_band.under_25.n" in run.data.metrics, group_keys[:5]
    assert any(k.endswith(".policy_value_polku") for k in group_keys)
    # The version says when its training episodes were assessed: dates only, in the world's.
    assessed = pd.to_datetime(pd.read_parquet(world / "episodes.parquet")["assessment_date"])
    first, last = (dt.date.fromisoformat(version.tags[k]) for k in (TAG_FIRST, TAG_LAST))
    assert assessed.min().date() <= first < last <= assessed.max().date()
    experiment = client.get_experiment(run.info.experiment_id)
    assert experiment.tags["mlflow.experimentKind"] == "custom_model_development"
    assert experiment.tags["mlflow.note.content"]


def test_train_logs_the_report_with_plots_and_library_versions(trained):
    state, _, _ = trained
    client = _client(state)
    run_id = client.get_model_version("polku-ranker", "1").run_id
    names = {a.path for a in client.list_artifacts(run_id, "evaluation")}
    for name in (
        "evaluation/report.html",
        "evaluation/evaluation.json",
        "evaluation/calibration_curve.png",
        "evaluation/policy_values_by_group.png",
        "evaluation/uplift_distributions.png",
    ):
        assert name in names, name
    local = Path(client.download_artifacts(run_id, "evaluation/evaluation.json", str(state / "dl")))
    summary = json.loads(local.read_text())
    assert set(summary["policy_value"]) == {
        "polku", "caseworkers", "random", "popular", "imitation", "oracle"
    }  # fmt: skip
    assert set(summary["by_group"]) == {
        "age_band", "language_group", "gender", "long_term_unemployed"
    }  # fmt: skip
    versions = client.download_artifacts(
        run_id, "environment/library_versions.json", str(state / "dl")
    )
    assert "mlflow" in json.loads(Path(versions).read_text())


def test_train_stores_no_henkilotunnus_in_mlflow(trained):
    state, world, _ = trained
    codes = pd.read_parquet(world / "clients.parquet")["henkilotunnus"].astype(str)
    assert len(codes) > 100
    files = [p for p in state.rglob("*") if p.is_file()]
    assert any(p.name == "mlflow.db" for p in files)
    assert any("mlartifacts" in p.parts for p in files)
    blob = b"\n".join(p.read_bytes() for p in files)
    leaked = [code for code in codes if code.encode() in blob]
    assert leaked == []
    assert b"henkilotunnus" not in b"\n".join(
        p.read_bytes() for p in files if p.name == "input_example.json"
    )


def test_train_input_example_holds_no_register_row(trained):
    state, world, _ = trained
    stored = [p.read_text() for p in state.rglob("input_example.json")]
    assert stored
    client_ids = pd.read_parquet(world / "clients.parquet")["client_id"].astype(str)
    assert [c for c in client_ids if any(c in text for text in stored)] == []
    assert all("example-1" in text for text in stored)


def test_train_second_version_is_not_champion_by_itself(state_dir, register_fitted):
    assert register_fitted(promote_if_first=True) == "1"
    assert register_fitted(promote_if_first=True) == "2"
    client = _client(state_dir)
    assert str(client.get_model_version_by_alias("polku-ranker", "champion").version) == "1"
    listed = CliRunner().invoke(build_app(), ["models"])
    assert listed.exit_code == 0, listed.output
    lines = listed.output.splitlines()
    assert lines[1].split()[:2] == ["2", "-"]
    assert lines[2].split()[:2] == ["1", "champion"]


def test_models_says_when_nothing_is_registered(state_dir):
    listed = CliRunner().invoke(build_app(), ["models"])
    assert listed.exit_code == 0
    assert "no registered versions yet" in listed.output


def test_train_rejects_a_bad_objective(state_dir, tiny_world_dir):
    result = CliRunner().invoke(
        build_app(), ["train", "--data", str(tiny_world_dir), "--objective", "happiness"]
    )
    assert result.exit_code == 2
    assert "unknown objective 'happiness'" in result.output


def test_train_rejects_a_missing_data_dir(state_dir, tmp_path):
    result = CliRunner().invoke(build_app(), ["train", "--data", str(tmp_path / "nowhere")])
    assert result.exit_code == 2
    assert "is not a directory" in result.output


def test_train_rejects_a_bad_holdout_date(state_dir, tiny_world_dir):
    result = CliRunner().invoke(
        build_app(), ["train", "--data", str(tiny_world_dir), "--holdout-from", "31.12.2022"]
    )
    assert result.exit_code == 2
    assert "31.12.2022" in result.output
