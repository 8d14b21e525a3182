"""`polku evaluate` on a registered version and the held-out clients of its world."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from mlflow import MlflowClient
from typer.testing import CliRunner

from pipeline.cli import build_app
from pipeline.evaluation.results import EvaluationSummary
from tests.helpers import TinyTraining


def test_evaluate_writes_the_json_and_report_matching_the_training_run(
    state_dir: Path,
    tiny_world_dir: Path,
    register_fitted: Callable[..., str],
    tmp_path: Path,
):
    version = register_fitted()
    out = tmp_path / "out" / "evaluation.json"
    result = CliRunner().invoke(
        build_app(),
        [
            "evaluate",
            "--version",
            version,
            "--data",
            str(tiny_world_dir),
            "--json",
            str(out),
            "--report",
            str(tmp_path / "report"),
        ],
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(out.read_text())
    for key in (
        "policy_value",
        "oracle_gain_captured",
        "top3_oracle_coverage",
        "ope",
        "calibration",
        "by_group",
    ):
        assert key in summary, key
    assert set(summary["policy_value"]) == {
        "polku", "caseworkers", "random", "popular", "imitation", "oracle"
    }  # fmt: skip
    for policy in summary["policy_value"]:
        assert set(summary["ope"][policy]) >= {"ips", "snips", "dr", "true"}
    assert {"brier", "ece", "reliability"} <= set(summary["calibration"])
    assert summary["model_version"] == version
    read_back = EvaluationSummary.from_json(summary)
    assert read_back.model_version == version
    # The same split and seed as at training: the same held-out clients, the same figures.
    uri = f"sqlite:///{state_dir / 'mlflow.db'}"
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    run = client.get_run(client.get_model_version("polku-ranker", version).run_id)
    assert read_back.policy_value.polku == pytest.approx(run.data.metrics["policy_value_polku"])
    assert read_back.n_episodes == run.data.metrics["count_held_out_episodes"]
    page = (tmp_path / "report" / "report.html").read_text()
    assert page.count("data:image/png;base64,") == 3
    assert "oracle gain captured" in result.output
    # The same choices judged on the target the version does not rank by, in JSON, report, text.
    (other,) = summary["other_objectives"]
    assert other != run.data.params["objective"]
    assert summary["other_objectives"][other]["overall"]["gains"]["dr"]["ci_low"] is not None
    assert "judged on the other target" in page
    assert f"on {other} (not ranked by)" in result.output


def test_evaluate_names_an_unknown_version(state_dir, tiny_world_dir, tmp_path):
    result = CliRunner().invoke(
        build_app(),
        [
            "evaluate",
            "--version",
            "7",
            "--data",
            str(tiny_world_dir),
            "--json",
            str(tmp_path / "x"),
        ],
    )
    assert result.exit_code == 2
    assert "error:" in result.output
    assert not (tmp_path / "x").exists()


def test_evaluate_rejects_a_missing_data_dir(state_dir, tmp_path):
    result = CliRunner().invoke(
        build_app(),
        ["evaluate", "--version", "1", "--data", str(tmp_path / "no"), "--json", "x.json"],
    )
    assert result.exit_code == 2
    assert "is not a directory" in result.output


def test_predict_for_episodes_follows_the_given_service_order(tiny_training: TinyTraining):
    from pipeline.evaluation.scoring import predict_for_episodes

    _, trained, settings = tiny_training
    model = trained.model
    frame = trained.prepared.held_out.frame.head(50)
    ids = model.service_ids
    straight = predict_for_episodes(model, frame, ids, settings.objective)
    shuffled_ids = (*ids[::-1], "not_in_the_model")
    shuffled = predict_for_episodes(model, frame, shuffled_ids, settings.objective)
    n = len(ids)
    # Same services, reversed columns; "none" stays last.
    np.testing.assert_allclose(shuffled.outcomes[:, :n], straight.outcomes[:, :n][:, ::-1])
    np.testing.assert_allclose(shuffled.outcomes[:, -1], straight.outcomes[:, -1])
    # A service the model does not know: no uplift (its outcome is the baseline), never ranked.
    np.testing.assert_allclose(shuffled.outcomes[:, n], straight.outcomes[:, -1])
    assert not shuffled.rankable[:, n].any()
    assert (shuffled.outcomes >= 0).all() and (shuffled.outcomes <= 1).all()
