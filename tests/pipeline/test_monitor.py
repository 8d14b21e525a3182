"""polku monitor: drift of served inputs, closures, overrides, outcomes; exit 1 past thresholds."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from models.catalog import load_catalog
from models.eligibility.decisions import assess_eligibility_frame
from models.input_profile import input_frame
from models.profile import PROFILE_COLUMNS
from pipeline.cli import build_app
from pipeline.monitoring.drift import feature_drift, psi
from pipeline.monitoring.run import monitor, training_reference
from pipeline.synth.world import SynthConfig, generate_world


def _served(n_clients: int = 900, seed: int = 77) -> pd.DataFrame:
    """Served inputs as `polku audit export-inputs` writes them, from a fresh world."""
    episodes = generate_world(SynthConfig(n_clients=n_clients, seed=seed)).episodes
    frame = episodes[list(PROFILE_COLUMNS)]
    eligible = assess_eligibility_frame(frame)["eligible"].to_numpy(dtype=bool)
    catalog = load_catalog()
    allowed = catalog.allowed_frame(frame)
    ids = np.array(catalog.ids, dtype=object)
    out = input_frame(frame)
    out.insert(0, "request_id", [f"r{i}" for i in range(len(out))])
    out.insert(1, "created_at", "2024-03-05T10:00:00")
    out.insert(2, "eligible", eligible)
    out["closed_by_catalog"] = [
        " ".join(ids[~row]) if ok else "" for row, ok in zip(allowed, eligible, strict=True)
    ]
    return out


def test_psi_is_zero_for_equal_shares_and_grows_with_the_shift() -> None:
    assert psi(np.array([0.5, 0.5]), np.array([0.5, 0.5])) == 0.0
    assert (
        0
        < psi(np.array([0.5, 0.5]), np.array([0.6, 0.4]))
        < psi(np.array([0.5, 0.5]), np.array([0.9, 0.1]))
    )


def test_the_same_population_does_not_alert_and_a_shifted_one_does(tiny_world_dir: Path) -> None:
    reference, closures = training_reference(tiny_world_dir, None)
    served = _served()
    calm = monitor(served, reference, closures)
    assert calm.alerts == [], calm.alerts
    assert calm.exit_code == 0
    assert (calm.drift["psi"] < 0.1).all()
    assert 0 < calm.served_closures["gate_closed_share"] < 1
    shifted = served.copy()
    shifted["age"] = shifted["age"] + 30
    shifted.loc[: len(shifted) // 4, "labour_market_status"] = "a status never seen"
    shifted["closed_by_catalog"] = " ".join(load_catalog().ids)  # the catalog closed them all
    loud = monitor(shifted, reference, closures)
    assert loud.exit_code == 1
    text = " ".join(loud.alerts)
    assert "drift: age has PSI" in text
    assert "unseen values" in text and "labour_market_status" in text
    assert "closures: the catalog closed 33.0 services on average" in text
    drift = feature_drift(reference, shifted[shifted["eligible"]]).set_index("feature")
    assert drift.loc["age", "unseen_share"] > 0.3  # past the oldest age in training


def _ranking(first: str, second: str) -> str:
    return json.dumps(
        [
            {"service_id": first, "expected_with": 0.40, "expected_without": 0.30},
            {"service_id": second, "expected_with": 0.35, "expected_without": 0.30},
        ]
    )


def test_overrides_by_service_and_group_with_reasons_and_outcomes(
    tiny_world_dir: Path, tmp_path: Path
) -> None:
    reference, closures = training_reference(tiny_world_dir, None)
    served = _served().head(400)
    served = served[served["eligible"]].reset_index(drop=True)
    rng = np.random.default_rng(0)
    n = len(served)
    first = np.where(np.arange(n) % 2 == 0, "job_search_training", "language_course")
    overridden = (first == "language_course") & (rng.random(n) < 0.8)
    audit = pd.DataFrame(
        {
            "request_id": served["request_id"],
            "created_at": "2024-03-05T10:00:00Z",
            "kind": "recommendation",
            "model_version": "4",
            "objective": "employment_or_education_6m",
            "ranking": [_ranking(f, "wage_subsidy") for f in first],
            "decided_at": "2024-03-05T11:00:00Z",
            "choice": np.where(overridden, "none", "suggested"),
            "chosen_service_id": np.where(overridden, None, first),
            "followed_top": np.where(overridden, "false", "true"),
            "reason": np.where(overridden, "Waiting list", None),
        }
    )
    # The outcomes: the followed did as predicted (0.40), the none-takers far better than 0.30.
    realised = np.where(overridden, rng.random(n) < 0.75, rng.random(n) < 0.4).astype(int)
    episodes = pd.DataFrame(
        {
            "request_id": served["request_id"],
            "service_id": np.where(overridden, "none", first),
            "employed_6m": realised,
            "education_6m": 0,
            "employed_12m": np.nan,
        }
    )
    result = monitor(served, reference, closures, audit=audit, episodes=episodes)
    by_service = result.overrides[result.overrides["by"] == "service"].set_index("name")
    assert by_service.loc["job_search_training", "override_rate"] == 0.0
    assert by_service.loc["language_course", "override_rate"] == pytest.approx(0.8, abs=0.1)
    assert "waiting list (" in by_service.loc["language_course", "top_reasons"]
    groups = set(result.overrides.loc[result.overrides["by"] == "group", "name"])
    assert {"age_under_30", "long_term_unemployed"} <= groups
    calibration = result.calibration.set_index("service_id")
    assert calibration.loc["none", "predicted"] == pytest.approx(0.30)
    assert calibration.loc["none", "realised"] == pytest.approx(0.75, abs=0.1)
    assert calibration.loc["all", "n"] == n  # 12-month unknown: the 6-month objective is enough
    assert any(a.startswith("outcomes: realised minus predicted +0.") for a in result.alerts)
    # Through the command: files in, report out, exit 1 (overrides and outcomes alert).
    paths = {name: tmp_path / f"{name}.csv" for name in ("inputs", "audit", "outcomes")}
    served.to_csv(paths["inputs"], index=False)
    audit.to_csv(paths["audit"], index=False)
    episodes.to_csv(paths["outcomes"], index=False)
    report = tmp_path / "report"
    command = [
        "monitor", str(tiny_world_dir), "--inputs", str(paths["inputs"]), "--audit",
        str(paths["audit"]), "--outcomes", str(paths["outcomes"]), "--report", str(report),
        "--no-mlflow",
    ]  # fmt: skip
    run = CliRunner().invoke(build_app(), command)
    assert run.exit_code == 1, run.output
    assert "ALERT outcomes: realised minus predicted" in run.output
    page = (report / "report.html").read_text()
    assert page.count("data:image/png;base64,") == 3
    assert json.loads((report / "monitoring.json").read_text())["alerts"]


def test_monitor_refuses_unreadable_inputs(tiny_world_dir: Path, tmp_path: Path) -> None:
    bad = tmp_path / "inputs.csv"
    bad.write_text("a,b\n1,2\n")
    run = CliRunner().invoke(
        build_app(), ["monitor", str(tiny_world_dir), "--inputs", str(bad), "--no-mlflow"]
    )
    assert run.exit_code == 2
    assert "lack request_id or eligible" in run.output


def test_monitor_logs_its_metrics_to_mlflow(
    tiny_world_dir: Path, tmp_path: Path, state_dir: Path
) -> None:
    from mlflow import MlflowClient

    from models.registry import tracking_uri

    inputs = tmp_path / "inputs.parquet"
    _served(n_clients=300).to_parquet(inputs)
    run = CliRunner().invoke(build_app(), ["monitor", str(tiny_world_dir), "--inputs", str(inputs)])
    assert run.exit_code in (0, 1), run.output
    run_id = run.output.split("MLflow run ")[1].split()[0]
    logged = MlflowClient(tracking_uri=tracking_uri()).get_run(run_id)
    assert "psi_age" in logged.data.metrics and "served_gate_closed_share" in logged.data.metrics
    assert logged.data.tags["polku.kind"] == "monitoring"
