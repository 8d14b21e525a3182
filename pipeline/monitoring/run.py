"""`polku monitor`'s work: read the inputs, compute every figure, judge them against the
thresholds, write the report and log the metrics to MLflow."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from models.catalog import Catalog
from models.input_profile import INPUT_COLUMNS, input_frame
from models.objectives import DEFAULT_OBJECTIVE, EPISODE_OUTCOMES
from pipeline.monitoring.behaviour import calibration, closures, decided, overrides
from pipeline.monitoring.checks import Thresholds, alerts
from pipeline.monitoring.drift import feature_drift


@dataclass
class MonitorResult:
    """Every figure of one monitoring run, and the alerts they raise."""

    n_served: int
    n_training: int
    drift: pd.DataFrame
    served_closures: dict[str, float]
    training_closures: dict[str, float]
    overrides: pd.DataFrame
    override_rate: float
    n_decisions: int
    calibration: pd.DataFrame
    thresholds: Thresholds
    alerts: list[str] = field(default_factory=list)
    model_versions: list[str] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        """1 when a threshold is crossed (for a scheduler to alert on), else 0."""
        return 1 if self.alerts else 0

    def describe(self) -> str:
        versions = ", ".join(self.model_versions) or "unknown"
        return (
            f"{self.n_served} served recommendation requests (model versions {versions}) "
            f"against {self.n_training} training episodes; {self.n_decisions} decisions; "
            f"{len(self.alerts)} alert(s)."
        )

    def metrics(self) -> dict[str, float]:
        """The figures as MLflow metrics (NaN left out)."""
        out: dict[str, float] = {
            "n_served": float(self.n_served),
            "n_decisions": float(self.n_decisions),
            "override_rate": self.override_rate,
            "alerts": float(len(self.alerts)),
            **{f"served_{k}": v for k, v in self.served_closures.items()},
            **{f"training_{k}": v for k, v in self.training_closures.items()},
        }
        for feature, value, unseen in zip(
            self.drift["feature"], self.drift["psi"], self.drift["unseen_share"], strict=True
        ):
            out[f"psi_{feature}"] = float(value)
            out[f"unseen_{feature}"] = float(unseen)
        overall = self.calibration[self.calibration["service_id"] == "all"]
        if len(overall):
            out["realised_minus_predicted"] = float(overall.iloc[0]["difference"])
        return {k: float(v) for k, v in out.items() if not math.isnan(float(v))}

    def to_dict(self) -> dict[str, Any]:
        return {
            "summary": self.describe(),
            "alerts": self.alerts,
            "thresholds": self.thresholds.__dict__,
            "metrics": self.metrics(),
            "drift": self.drift.to_dict("records"),
            "overrides": self.overrides.to_dict("records"),
            "calibration": self.calibration.to_dict("records"),
        }


def as_bool(values: pd.Series) -> pd.Series:
    """Booleans as a file holds them (bool, or "true"/"1" text from a CSV)."""
    if values.dtype == bool:
        return values
    return values.astype(str).str.strip().str.lower().isin(("true", "1", "yes"))


def training_reference(
    data_dir: Path, catalog: Catalog | None, objective: str = DEFAULT_OBJECTIVE
) -> tuple[pd.DataFrame, dict[str, float]]:
    """The champion's training data as model inputs (the training part of `polku train`'s
    split of `data_dir`), and the gate's and the catalog's closures in it."""
    from pipeline.data.episodes import prepare_episodes
    from pipeline.data.split import SplitSettings
    from pipeline.data.world import load_world

    world = load_world(data_dir, catalog)
    used = world.catalog or catalog
    assert used is not None
    prepared = prepare_episodes(world.episodes, None, used, objective, SplitSettings())
    train = prepared.train
    counts = prepared.counts
    closed = ~train.allowed
    return input_frame(train.frame), {
        "gate_closed_share": 1.0 - counts["eligible_episodes"] / counts["episodes"],
        "catalog_closed_share": float(closed.any(axis=1).mean()),
        "catalog_closed_mean": float(closed.sum(axis=1).mean()),
    }


def monitor(
    served_inputs: pd.DataFrame,
    reference: pd.DataFrame,
    training_closures: dict[str, float],
    *,
    audit: pd.DataFrame | None = None,
    episodes: pd.DataFrame | None = None,
    thresholds: Thresholds | None = None,
) -> MonitorResult:
    """Every figure from frames already read (the command reads the files)."""
    thresholds = thresholds or Thresholds()
    served_inputs = served_inputs.assign(eligible=as_bool(served_inputs["eligible"]))
    served = served_inputs[served_inputs["eligible"]]
    served_frame = served.reindex(columns=list(INPUT_COLUMNS)).reset_index(drop=True)
    drift = feature_drift(reference, served_frame)
    served_closures = closures(served_inputs)
    inputs = served.assign(request_id=served["request_id"].astype(str))
    if audit is not None:
        decisions = decided(audit)
        override_table, override_rate = overrides(decisions, inputs)
        versions = sorted({str(v) for v in audit["model_version"].dropna()})
    else:
        decisions = pd.DataFrame()
        override_table, override_rate = overrides(pd.DataFrame(), inputs)
        versions = []
    if episodes is not None and audit is not None and len(decisions):
        taken = episodes[["request_id", "service_id"]].assign(
            # A CSV's outcomes are text, blank while unknown.
            **{c: pd.to_numeric(episodes[c], errors="coerce") for c in EPISODE_OUTCOMES}
        )
        calibrated = calibration(decisions.drop(columns=["service_id"], errors="ignore"), taken)
    else:
        calibrated = pd.DataFrame(
            columns=["service_id", "n", "predicted", "realised", "difference"]
        )
    result = MonitorResult(
        n_served=len(served_inputs),
        n_training=len(reference),
        drift=drift,
        served_closures=served_closures,
        training_closures=training_closures,
        overrides=override_table,
        override_rate=override_rate,
        n_decisions=len(decisions),
        calibration=calibrated,
        thresholds=thresholds,
        model_versions=versions,
    )
    result.alerts = alerts(
        drift, served_closures, training_closures, override_rate, len(decisions), calibrated,
        thresholds,
    )  # fmt: skip
    return result


def log_to_mlflow(result: MonitorResult, report_dir: Path | None) -> str:
    """A `monitor` run in Polku's experiment with the metrics (and the report); its id."""
    from models.registry import training_run

    with training_run("monitor") as run:
        run.set_tags({"polku.kind": "monitoring", "polku.alerts": str(len(result.alerts))})
        run.log_metrics(result.metrics())
        run.log_dict(result.to_dict(), "monitoring.json")
        if report_dir is not None:
            run.log_artifacts(report_dir, "monitoring")
        run.describe(result.describe())
        return run.run_id
