"""No evaluation on training data: `polku evaluate` and `polku effects --policy` refuse a
register holding the model's training clients unless --allow-training-clients, and then
every output says so; held-out evaluation on the training world is no overlap."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pandas as pd
from typer.testing import CliRunner

from models.training_clients import METADATA_KEY, TrainingClients
from models.training_period import METADATA_KEY as PERIOD_KEY
from pipeline.cli import build_app
from tests.helpers import TinyTraining


def _trained_on_everyone(tiny_training: TinyTraining):
    """The tiny model, recorded as trained on every client of its world (held-out ones too),
    as a model trained with another split would be."""
    model = copy.deepcopy(tiny_training.trained.model)
    episodes = tiny_training.world.episodes
    model.metadata[METADATA_KEY] = TrainingClients.record(
        episodes["client_id"], episodes["birth_date"]
    ).to_dict()
    return model


def _evaluate(version: str, data: Path, out: Path, *extra: str):
    args = ["evaluate", "--version", version, "--data", str(data), "--json", str(out), *extra]
    return CliRunner().invoke(build_app(), args)


def test_the_model_records_its_training_clients_and_data(tiny_training: TinyTraining):
    model = tiny_training.trained.model
    record = model.metadata[METADATA_KEY]
    assert record["n_clients"] == tiny_training.trained.prepared.counts["train_clients"]
    assert model.metadata["data_fingerprint"] == tiny_training.world.fingerprint
    facts = json.dumps(model.describe())  # MLflow tags and the health route: a count only
    assert record["digests"][0] not in facts
    assert model.describe()["n_training_clients"] == record["n_clients"]
    # And when its training episodes were assessed (what evaluate-feedback guards by).
    dates = pd.to_datetime(tiny_training.trained.prepared.train.frame["assessment_date"])
    assert model.metadata[PERIOD_KEY] == {
        "column": "assessment_date",
        "first": dates.min().date().isoformat(),
        "last": dates.max().date().isoformat(),
    }
    held_out = pd.to_datetime(tiny_training.trained.prepared.held_out.frame["assessment_date"])
    assert dates.max() <= held_out.max()  # the period is of the training part, not all


def test_evaluate_on_the_held_out_part_of_the_training_world_is_no_overlap(
    state_dir, register_fitted, tiny_world_dir, tmp_path
):
    version = register_fitted()
    out = tmp_path / "e.json"
    result = _evaluate(version, tiny_world_dir, out)
    assert result.exit_code == 0, result.output
    overlap = json.loads(out.read_text())["training_overlap"]
    assert overlap["checked"] is True and overlap["overlapping_clients"] == 0
    assert overlap["evaluated_clients"] > 0 and overlap["allowed_by_flag"] is False
    assert "WARNING" not in result.output


def test_evaluate_refuses_training_clients_unless_the_flag_and_then_says_so(
    state_dir, register_fitted, tiny_training, tiny_world_dir, tmp_path
):
    version = register_fitted(_trained_on_everyone(tiny_training))
    out = tmp_path / "e.json"
    refused = _evaluate(version, tiny_world_dir, out)
    assert refused.exit_code == 2, refused.output
    assert "are among the model's training clients" in refused.output
    assert "--allow-training-clients" in refused.output
    assert not out.exists()

    allowed = _evaluate(
        version, tiny_world_dir, out, "--allow-training-clients", "--report", str(tmp_path / "r")
    )
    assert allowed.exit_code == 0, allowed.output
    assert allowed.output.count("WARNING: ") >= 1
    assert allowed.output.rstrip().splitlines()[-1].startswith("WARNING: ")
    overlap = json.loads(out.read_text())["training_overlap"]
    assert overlap["allowed_by_flag"] is True
    assert overlap["overlapping_clients"] == overlap["evaluated_clients"] > 0
    report = tmp_path / "r"
    assert "WARNING: " in (report / "report.html").read_text()
    assert json.loads((report / "evaluation.json").read_text())["training_overlap"] == overlap


def _effects(world: Path, *extra: str):
    return CliRunner().invoke(build_app(), ["effects", str(world), "--policy", "champion", *extra])


def test_effects_policy_refuses_the_champions_training_register_unless_the_flag(
    state_dir, register_fitted, tiny_world_dir, tmp_path
):
    register_fitted(promote_if_first=True)
    refused = _effects(tiny_world_dir)
    assert refused.exit_code == 2, refused.output
    assert "are among the model's training clients" in refused.output

    out = tmp_path / "w.json"
    allowed = _effects(
        tiny_world_dir, "--allow-training-clients", "--json", str(out), "--report", str(tmp_path)
    )
    assert allowed.exit_code == 0, allowed.output
    assert "WARNING: " in allowed.output, allowed.output[:800]
    overlap = json.loads(out.read_text())["training_overlap"]
    assert overlap["allowed_by_flag"] is True and overlap["overlapping_clients"] > 0
    assert "WARNING: " in (tmp_path / "whatif.html").read_text()


def test_effects_policy_accepts_another_world_numbered_alike(state_dir, register_fitted, tmp_path):
    from pipeline.synth.world import SynthConfig, generate_world, write_world

    register_fitted(promote_if_first=True)
    other = tmp_path / "other"
    write_world(generate_world(SynthConfig(n_clients=1500, seed=22)), other)
    out = tmp_path / "w.json"
    result = _effects(other, "--json", str(out))
    assert result.exit_code == 0, result.output
    assert "WARNING" not in result.output
    assert json.loads(out.read_text())["training_overlap"]["overlapping_clients"] == 0
