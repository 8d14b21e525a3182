"""`polku promote`: the first version is promoted; a worse challenger is refused (and the
refusal recorded in MLflow); an equal one is promoted."""

from __future__ import annotations

import copy
import json
from pathlib import Path

from mlflow import MlflowClient
from typer.testing import CliRunner

from pipeline.cli import build_app
from tests.helpers import TinyTraining


def _champion(state: Path) -> str:
    uri = f"sqlite:///{state / 'mlflow.db'}"
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    return str(client.get_model_version_by_alias("polku-ranker", "champion").version)


def _client(state: Path) -> MlflowClient:
    uri = f"sqlite:///{state / 'mlflow.db'}"
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def _record(state: Path, challenger: str, champion: str) -> dict:
    client = _client(state)
    run_id = client.get_model_version("polku-ranker", challenger).run_id
    path = client.download_artifacts(
        run_id, f"promotion/against_v{champion}.json", str(state / f"dl{challenger}")
    )
    return json.loads(Path(path).read_text())


def _degraded(tiny_training: TinyTraining):
    """The fitted model with every uplift reversed: it ranks the least useful service first."""
    model = copy.deepcopy(tiny_training.trained.model)
    model.ranker.uplift_coef_ = -model.ranker.uplift_coef_
    model.ranker.uplift_boot_ = -model.ranker.uplift_boot_
    model.ranker.__dict__.pop("_serving_cache", None)
    return model


def test_promote_makes_the_first_version_champion(state_dir, register_fitted):
    version = register_fitted()
    result = CliRunner().invoke(build_app(), ["promote", "--version", version])
    assert result.exit_code == 0, result.output
    assert "no version was champion" in result.output
    assert _champion(state_dir) == version


def test_promote_refuses_a_worse_challenger_and_keeps_the_alias(
    state_dir, register_fitted, tiny_training
):
    champion = register_fitted(promote_if_first=True)
    challenger = register_fitted(_degraded(tiny_training))
    result = CliRunner().invoke(build_app(), ["promote", "--version", challenger])
    assert result.exit_code == 1, result.output
    # Refused because the paired interval reaches below the margin (the estimate's sign is
    # noise on a tiny world: the true difference is a few points).
    assert "not shown to be within the margin" in result.output
    assert f"not promoted: the champion stays version {champion}" in result.output
    # The message names both the overall and the group comparison.
    assert "overall: the challenger's doubly robust value" in result.output
    assert "groups: " in result.output
    assert _champion(state_dir) == champion
    # The refusal and its figures are recorded in MLflow: a JSON on the challenger's run and
    # a tag on its version.
    record = _record(state_dir, challenger, champion)
    assert record["promote"] is False and record["criterion"] == "doubly_robust_paired_difference"
    assert record["difference"]["ci_low"] < -record["margin"]
    assert record["challenger_true_policy_value"] < record["champion_true_policy_value"]
    version = _client(state_dir).get_model_version("polku-ranker", challenger)
    assert version.tags[f"promotion_against_v{champion}"] == "refused"


def test_promote_accepts_an_equally_good_challenger(state_dir, register_fitted):
    champion = register_fitted(promote_if_first=True)
    challenger = register_fitted()  # the same model again: not worse anywhere
    result = CliRunner().invoke(build_app(), ["promote", "--version", challenger, "--margin", "0"])
    assert result.exit_code == 0, result.output
    assert f"promoted: version {challenger} is the champion" in result.output
    assert _champion(state_dir) == challenger
    # The decision is logged beside the challenger's run: the keys of ever, then the
    # paired comparison's figures.
    record = _record(state_dir, challenger, champion)
    assert list(record) == [
        "promote",
        "reasons",
        "champion_policy_value",
        "challenger_policy_value",
        "group_changes",
        "criterion",
        "margin",
        "min_group_episodes",
        "difference",
        "champion_true_policy_value",
        "challenger_true_policy_value",
        "champion_before",
        "data_dir",
        "training_overlap",
    ]
    assert record["promote"] is True and record["champion_before"] == champion
    # Both versions were trained by the same split: neither saw the compared clients.
    assert record["training_overlap"]["champion"]["overlapping_clients"] == 0
    assert record["training_overlap"]["challenger"]["checked"] is True
    assert record["difference"]["estimate"] == 0.0  # the same model: the same DR terms
    assert record["margin"] == 0.0 and record["min_group_episodes"] == 200
    tags = _client(state_dir).get_model_version("polku-ranker", challenger).tags
    assert tags[f"promotion_against_v{champion}"] == "promoted"


def test_promote_names_an_unknown_version(state_dir):
    result = CliRunner().invoke(build_app(), ["promote", "--version", "9"])
    assert result.exit_code == 2
    assert "error:" in result.output


def test_promote_names_missing_comparison_data(state_dir, register_fitted, tmp_path):
    champion = register_fitted(promote_if_first=True)
    challenger = register_fitted()
    result = CliRunner().invoke(
        build_app(), ["promote", "--version", challenger, "--data", str(tmp_path / "gone")]
    )
    assert result.exit_code == 2
    assert "is not a directory" in result.output
    assert _champion(state_dir) == champion


def _nudged(tiny_training: TinyTraining, scale: float = 0.01):
    """The fitted model with its uplift coefficients nudged by seeded noise: a retrained twin
    whose choices differ from the champion's on a few episodes only."""
    import numpy as np

    model = copy.deepcopy(tiny_training.trained.model)
    rng = np.random.default_rng(4)
    coef = model.ranker.uplift_coef_
    model.ranker.uplift_coef_ = coef * (1 + scale * rng.standard_normal(coef.shape))
    model.ranker.__dict__.pop("_serving_cache", None)
    return model


def test_promote_accepts_a_challenger_differing_at_noise_level(
    state_dir, register_fitted, tiny_training
):
    champion = register_fitted(promote_if_first=True)
    challenger = register_fitted(_nudged(tiny_training))
    result = CliRunner().invoke(build_app(), ["promote", "--version", challenger])
    assert result.exit_code == 0, result.output
    record = _record(state_dir, challenger, champion)
    difference = record["difference"]
    assert difference["estimate"] != 0.0  # the choices do differ somewhere ...
    assert difference["ci_low"] > -0.01  # ... but not credibly by more than the margin
    assert "groups: none of the" in result.output
    assert _champion(state_dir) == challenger
