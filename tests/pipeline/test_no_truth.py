"""Training and evaluation on a register with only clients and episodes (issue 11, items 1-2):
no truth file, no propensity column; named errors when the data cannot support a model."""

from __future__ import annotations

import json
import math
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from mlflow import MlflowClient
from typer.testing import CliRunner

from models.catalog import load_catalog
from pipeline.cli import build_app
from pipeline.data.episodes import prepare_episodes
from pipeline.data.split import SplitSettings
from pipeline.data.support import InsufficientDataError, check_support
from pipeline.data.world import load_world
from pipeline.evaluation.results import EvaluationSummary

FAST = ["--bootstrap", "5", "--seed", "3"]


def _client(state: Path) -> MlflowClient:
    uri = f"sqlite:///{state / 'mlflow.db'}"
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def _strip(world: Path, out: Path) -> Path:
    """A copy of a generated world as a real register has it: no truth, no propensity."""
    shutil.copytree(world, out)
    for path in out.glob("truth.*"):
        path.unlink()
    episodes = pd.read_parquet(out / "episodes.parquet")
    episodes.drop(columns=["propensity"]).to_parquet(out / "episodes.parquet")
    for path in out.glob("*.csv"):
        path.unlink()
    return out


@pytest.fixture(scope="module")
def register_dir(tiny_world_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _strip(tiny_world_dir, tmp_path_factory.mktemp("register") / "register")


def _finite(*values: object) -> bool:
    return all(isinstance(v, float) and math.isfinite(v) for v in values)


def test_load_world_without_truth_or_propensity(register_dir: Path):
    world = load_world(register_dir)
    assert world.truth is None and not world.has_truth
    assert not world.has_propensity
    assert world.true_outcomes("employment_or_education_6m", load_catalog()) is None


def test_train_and_evaluate_without_truth_or_propensity(
    register_dir: Path, state_dir: Path, tmp_path: Path
):
    report = tmp_path / "report"
    result = CliRunner().invoke(
        build_app(), ["train", "--data", str(register_dir), "--report", str(report), *FAST]
    )
    assert result.exit_code == 0, result.output
    assert "off-policy evaluation" in result.output
    saved = json.loads((report / "evaluation.json").read_text())
    assert saved["evaluation_kind"] == "off_policy"
    assert saved["oracle_gain_captured"] is None
    assert saved["policy_value"]["oracle"] is None
    polku = saved["ope"]["polku"]
    assert polku["true"] is None
    assert _finite(polku["estimate"], polku["ci_low"], polku["ci_high"])
    assert polku["ci_low"] < polku["estimate"] < polku["ci_high"]
    assert polku["estimate"] == pytest.approx(saved["policy_value"]["polku"])
    for estimator in ("ips", "snips", "dr"):
        interval = polku["intervals"][estimator]
        assert _finite(interval["estimate"], interval["ci_low"], interval["ci_high"])
    difference = saved["ope"]["polku_minus_caseworkers"]
    assert _finite(difference["estimate"], difference["ci_low"], difference["ci_high"])
    assert difference["true"] is None
    assert difference["estimate"] == pytest.approx(
        saved["policy_value"]["polku"] - saved["policy_value"]["caseworkers"]
    )
    # The caseworkers' value is what they achieved: the mean observed reward.
    caseworkers = saved["ope"]["caseworkers"]
    assert caseworkers["ci_low"] < caseworkers["estimate"] < caseworkers["ci_high"]
    # Propensities were estimated, and the overlap is reported per action.
    propensity = saved["propensity"]
    assert propensity["source"] == "estimated"
    assert 0.0 <= propensity["share_floored"] < 1.0
    assert set(propensity["services"]) == {*load_catalog().ids, "none"}
    assert propensity["services"]["none"]["ess"] > 0
    assert isinstance(propensity["too_thin_to_rank"], list)
    # By group, with intervals where the group is large enough.
    groups = saved["by_group"]["gender"]
    assert any(entry["ope"] is not None for entry in groups.values())
    for entry in groups.values():
        if entry["ope"] is not None:
            dr = entry["ope"]["polku_minus_caseworkers"]["dr"]
            assert dr["ci_low"] <= dr["estimate"] <= dr["ci_high"]
    assert "Evaluation kind: off_policy" in (report / "report.html").read_text()
    assert EvaluationSummary.from_json(saved).to_json() == saved
    run = _client(state_dir).search_runs(
        [_client(state_dir).get_experiment_by_name("polku-ranker").experiment_id]
    )[0]
    assert run.data.tags["evaluation_kind"] == "off_policy"
    assert run.data.tags["propensity_source"] == "estimated"

    # `polku evaluate` on the same register, judged later (a time cut) too.
    out = tmp_path / "evaluation.json"
    result = CliRunner().invoke(
        build_app(),
        ["evaluate", "--version", "1", "--data", str(register_dir), "--json", str(out)],
    )
    assert result.exit_code == 0, result.output
    assert "Polku minus caseworkers (doubly robust)" in result.output
    again = json.loads(out.read_text())
    assert again["evaluation_kind"] == "off_policy"
    assert again["ope"]["polku_minus_caseworkers"]["estimate"] == pytest.approx(
        difference["estimate"]
    )
    later = CliRunner().invoke(
        build_app(),
        [
            "evaluate", "--version", "1", "--data", str(register_dir), "--json", str(out),
            "--holdout-from", "2023-01-01",
        ],
    )  # fmt: skip
    assert later.exit_code == 0, later.output
    assert json.loads(out.read_text())["n_episodes"] < again["n_episodes"]


def test_training_on_150_clients_names_what_is_missing(state_dir: Path, tmp_path: Path):
    from pipeline.synth.world import SynthConfig, generate_world, write_world

    world = tmp_path / "small"
    write_world(generate_world(SynthConfig(n_clients=150, seed=0)), world)
    result = CliRunner().invoke(build_app(), ["train", "--data", str(world), *FAST])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert "no service can be ranked" in result.output
    assert "at least 20 training episodes" in result.output
    client = _client(state_dir)
    runs = client.search_runs([client.get_experiment_by_name("polku-ranker").experiment_id])
    assert len(runs) == 1
    assert runs[0].info.status == "FAILED"
    assert "no service can be ranked" in runs[0].data.tags["failure_reason"]
    assert not client.search_model_versions()


def test_a_run_that_fails_midway_says_why(state_dir: Path):
    from models import registry

    with pytest.raises(RuntimeError), registry.training_run("boom") as run:
        raise RuntimeError("the disk is full")
    finished = _client(state_dir).get_run(run.run_id)
    assert finished.info.status == "FAILED"
    assert finished.data.tags["failure_reason"] == "RuntimeError: the disk is full"
    assert registry.failure_reason(run.run_id) == "RuntimeError: the disk is full"


@pytest.mark.parametrize(
    ("services", "held_out", "message"),
    [
        (["none"] * 50 + ["a"] * 40, 30, "too few episodes: 90 eligible training episodes"),
        (["none"] * 80 + ["a"] * 40, 5, "5 eligible held-out episodes, need at least 20"),
        (["none"] * 120, 30, "one arm only: none of the 120"),
        (["a"] * 60 + ["b"] * 60, 30, "no 'none' arm"),
        (["none"] * 100 + ["a"] * 19 + ["b"] * 5, 30, "the most used, 'a', has 19"),
    ],
)
def test_check_support_names_what_is_missing(services, held_out, message):
    with pytest.raises(InsufficientDataError, match=message):
        check_support(np.array(services), held_out)


def test_check_support_passes_a_supported_register():
    check_support(np.array(["none"] * 100 + ["a"] * 20), 20)


def test_with_truth_the_true_values_stand_beside_the_estimates(tiny_training):
    summary = tiny_training.trained.evaluation.summary
    assert summary.evaluation_kind == "truth"
    saved = summary.to_json()
    assert saved["evaluation_kind"] == "truth"
    assert saved["propensity"]["source"] == "logged"
    for name in ("polku", "caseworkers", "oracle"):
        entry = saved["ope"][name]
        assert _finite(entry["true"], entry["estimate"], entry["ci_low"], entry["ci_high"])
        assert entry["true"] == pytest.approx(saved["policy_value"][name])
    difference = saved["ope"]["polku_minus_caseworkers"]
    assert difference["true"] == pytest.approx(
        saved["policy_value"]["polku"] - saved["policy_value"]["caseworkers"]
    )
    assert _finite(difference["estimate"], difference["ci_low"], difference["ci_high"])
    assert saved["oracle_gain_captured"] is not None


def test_estimated_propensities_are_renormalised_over_the_allowed_actions(tiny_world_dir: Path):
    from models.features import FeatureEncoder
    from pipeline.evaluation.evaluate import fit_baselines
    from pipeline.evaluation.version import PROPENSITY_FLOOR, estimated_propensity

    catalog = load_catalog()
    world = load_world(tiny_world_dir)
    objective = "employment_or_education_6m"
    prepared = prepare_episodes(
        world.episodes, world.true_outcomes(objective, catalog), catalog, objective,
        SplitSettings(),
    )  # fmt: skip
    train, held = prepared.train, prepared.held_out
    encoder = FeatureEncoder().fit(train.frame)
    baselines = fit_baselines(encoder.transform(train.frame), train.action, len(catalog), 0)
    calibration = (encoder.transform(train.frame), train.allowed, train.action)
    data, overlap = estimated_propensity(
        held, baselines.imitation, encoder.transform(held.frame), calibrate_on=calibration
    )
    assert overlap["calibrated"]
    assert data.propensity_source == "estimated"
    assert data.propensity is not None
    assert ((data.propensity >= PROPENSITY_FLOOR) & (data.propensity <= 1.0)).all()
    # Clients allowed only "none" logged "none" with certainty.
    only_none = ~held.allowed.any(axis=1) & (held.logged_action == len(catalog))
    if only_none.any():
        assert data.propensity[only_none] == pytest.approx(1.0)
    # Estimated and logged propensities agree on average (the log is the synthetic truth).
    assert held.propensity is not None
    assert abs(float(np.mean(np.log(data.propensity) - np.log(held.propensity)))) < 0.5
    assert sum(entry["n_logged"] for entry in overlap["services"]) == len(held.frame)
    # Calibrated in the large on clients it never saw: within a few points for every action.
    assert overlap["calibration_max_gap"] < 0.05
    assert sum(entry["mean_estimated"] for entry in overlap["services"]) == pytest.approx(1.0)


def test_promote_and_score_work_on_a_register_without_truth_or_propensity(
    register_dir: Path, state_dir: Path, register_fitted: Callable[..., str], tmp_path: Path
):
    champion = register_fitted(promote_if_first=True)
    challenger = register_fitted()  # the same model: not credibly worse, so promoted
    promoted = CliRunner().invoke(
        build_app(), ["promote", "--version", challenger, "--data", str(register_dir)]
    )
    assert promoted.exit_code == 0, promoted.output
    assert "overall:" in promoted.output and "groups:" in promoted.output
    now_champion = _client(state_dir).get_model_version_by_alias("polku-ranker", "champion")
    assert str(now_champion.version) == challenger
    assert champion != challenger
    out = tmp_path / "scores.parquet"
    scored = CliRunner().invoke(
        build_app(), ["score", str(register_dir), "--out", str(out), "--top-k", "3"]
    )
    assert scored.exit_code == 0, scored.output
    scores = pd.read_parquet(out)
    assert len(scores) > 0 and scores["rank"].max() <= 3
    assert set(scores["episode_id"]) <= set(
        pd.read_parquet(register_dir / "episodes.parquet")["episode_id"]
    )
    assert np.isfinite(scores[["uplift", "uplift_low", "uplift_high"]].to_numpy()).all()
