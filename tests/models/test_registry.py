from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path

import mlflow
import pandas as pd
import pytest

from models import features, persistence, registry
from models.bundle import IncompatibleModelError, PolkuModel
from tests.models.world import ToyEpisodes, base_profile


def _log_and_register(model: PolkuModel, example: pd.DataFrame) -> str:
    experiment = registry.configure_tracking()
    with mlflow.start_run(experiment_id=experiment):
        mlflow.log_metric("policy_value_polku", 0.31)
        return registry.log_model(model, input_example=example)


def test_tracking_uri_defaults_to_state_dir(state_dir: Path) -> None:
    assert registry.tracking_uri() == f"sqlite:///{state_dir / 'mlflow.db'}"


def test_tracking_uri_follows_the_environment(
    state_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://tracking.example:5000")
    assert registry.tracking_uri() == "http://tracking.example:5000"


def test_experiment_keeps_artifacts_in_state_dir(state_dir: Path) -> None:
    experiment_id = registry.configure_tracking()
    experiment = mlflow.get_experiment(experiment_id)
    assert experiment.name == registry.EXPERIMENT_NAME
    assert experiment.artifact_location == (state_dir / "mlartifacts").as_uri()
    assert registry.configure_tracking() == experiment_id  # idempotent


def test_another_sqlite_store_keeps_artifacts_beside_it_not_in_the_working_dir(
    state_dir: Path, migrated_mlflow_store: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    shutil.copyfile(migrated_mlflow_store, elsewhere / "other.db")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{elsewhere / 'other.db'}")
    experiment = mlflow.get_experiment(registry.configure_tracking())
    assert experiment.artifact_location == (elsewhere / "mlartifacts").as_uri()
    assert experiment.tags["mlflow.experimentKind"] == "custom_model_development"


def test_registry_round_trip_by_alias(
    state_dir: Path, polku_model: PolkuModel, world: ToyEpisodes
) -> None:
    example = world.frame.head(3)
    version = _log_and_register(polku_model, example)
    registry.set_champion(version)

    loaded = registry.load_champion()
    assert loaded.version == version
    assert loaded.trained_at == polku_model.trained_at
    assert loaded.metrics["policy_value_polku"] == pytest.approx(0.31)
    profile = base_profile(health_limitations=True, unemployment_months=14)
    assert loaded.model.recommend(profile) == polku_model.recommend(profile)
    assert registry.load_version(version).model.recommend(profile) == polku_model.recommend(profile)

    pyfunc = mlflow.pyfunc.load_model(f"models:/{registry.MODEL_NAME}@{registry.CHAMPION_ALIAS}")
    raw = registry._clean_input_example(example)
    output = pyfunc.predict(raw, params={"top_k": 2})
    assert list(output.columns) == ["client_id", "eligible", "rules_version", "suggestions"]
    first = json.loads(output.loc[0, "suggestions"])
    assert len(first) == 2
    from models.profile_validation import parse_profile_frame, profile_from_row

    profile0 = profile_from_row(parse_profile_frame(raw).frame.iloc[0])
    expected = polku_model.recommend(profile0, top_k=2)[1]
    assert [s["service_id"] for s in first] == [r.service_id for r in expected]
    assert first[0]["uplift"] == pytest.approx(expected[0].uplift)


def test_logged_model_records_hash_versions_and_no_identity_code(
    state_dir: Path, polku_model: PolkuModel, world: ToyEpisodes
) -> None:
    example = world.frame.head(2).assign(henkilotunnus="131052-308T")
    version = _log_and_register(polku_model, example)
    client = mlflow.MlflowClient()
    model_version = client.get_model_version(registry.MODEL_NAME, version)
    assert len(model_version.tags[registry.SHA256_KEY]) == 64
    assert model_version.tags[registry.FEATURE_LAYOUT_KEY] == polku_model.feature_layout
    stored = list((state_dir / "mlartifacts").rglob("*"))
    texts = [p.read_text(errors="ignore") for p in stored if p.is_file() and p.suffix != ".polku"]
    assert texts and not any("131052-308T" in text for text in texts)
    mlmodel = next(p for p in stored if p.name == "MLmodel").read_text()
    assert "scikit-learn" in mlmodel and registry.SHA256_KEY in mlmodel


def test_tampered_artifact_is_refused_before_it_is_read(
    state_dir: Path, polku_model: PolkuModel, world: ToyEpisodes
) -> None:
    version = _log_and_register(polku_model, world.frame.head(2))
    (artifact,) = (state_dir / "mlartifacts").rglob(registry.ARTIFACT_FILE)
    tampered = persistence.load(artifact)
    tampered.metadata["note"] = "changed after logging"
    persistence.dump(tampered, artifact)
    with pytest.raises(registry.ArtifactIntegrityError, match="refusing to load a changed"):
        registry.load_version(version)
    registry.set_champion(version)
    with pytest.raises(Exception, match="refusing to load a changed"):
        mlflow.pyfunc.load_model(f"models:/{registry.MODEL_NAME}@{registry.CHAMPION_ALIAS}")


def test_load_checked_refuses_a_missing_hash(tmp_path: Path, polku_model: PolkuModel) -> None:
    path = tmp_path / "model.polku"
    persistence.dump(polku_model, path)
    with pytest.raises(registry.ArtifactIntegrityError, match="no SHA-256 recorded"):
        registry.load_checked(path, "")
    assert registry.load_checked(path, registry.file_sha256(path)).service_ids == (
        polku_model.service_ids
    )


def test_library_versions_name_the_model_dependencies() -> None:
    versions = registry.library_versions()
    for library in ("python", "numpy", "scikit-learn", "mlflow"):
        assert versions[library] and versions[library] != "not installed"


def test_version_of_another_feature_layout_is_refused_before_it_is_read(
    state_dir: Path,
    polku_model: PolkuModel,
    world: ToyEpisodes,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    version = _log_and_register(polku_model, world.frame.head(2))
    registry.set_champion(version)
    # The code moves on: same column names, but a column changed meaning (layout 2).
    monkeypatch.setattr(features, "FEATURE_LAYOUT_VERSION", 2)

    def no_reading(*args: object, **kwargs: object) -> None:
        raise AssertionError("the model file was read")

    monkeypatch.setattr(registry, "load", no_reading)
    with pytest.raises(IncompatibleModelError, match=f"version {version} was trained under"):
        registry.load_champion()
    with pytest.raises(IncompatibleModelError, match=r"models/features\.py changed"):
        registry.load_version(version)
    with pytest.raises(Exception, match="feature layout"):
        mlflow.pyfunc.load_model(f"models:/{registry.MODEL_NAME}@{registry.CHAMPION_ALIAS}")


def test_bundle_from_an_earlier_encoder_without_recorded_layout_is_refused(
    tmp_path: Path, polku_model: PolkuModel, world: ToyEpisodes
) -> None:
    # A bundle saved by another models/features.py (three columns fewer), loaded without a
    # recorded layout: the loaded encoder's own check refuses it.
    old = copy.deepcopy(polku_model)
    encoder = old.ranker.encoder_
    encoder.feature_names_out_ = encoder.feature_names_out_[:-3]
    encoder.n_features_out_ -= 3
    # What serving it used to do on the first request: fail on a column past the fitted width.
    with pytest.raises((IndexError, ValueError)):
        encoder.transform(world.frame.head(2))
    path = tmp_path / "old.polku"
    persistence.dump(old, path)
    with pytest.raises(IncompatibleModelError, match=r"cannot be served.*\(\d+ columns"):
        registry.load_checked(path, registry.file_sha256(path))
