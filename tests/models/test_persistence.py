"""Model files that run no code when read: hostile files are refused and nothing runs."""

from __future__ import annotations

import io
import json
import pickle
import zipfile
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest

from models import persistence, registry
from models.bundle import PolkuModel
from service.model_holder import ModelHolder
from tests.models.world import ToyEpisodes


class _Hostile:
    """What an attacker registers: reading it as a pickle creates the marker file."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str, str]]:
        return (open, (str(self.marker), "w"))


def _hostile_pickle(path: Path, marker: Path) -> Path:
    path.write_bytes(pickle.dumps(_Hostile(marker)))
    return path


def _zip(path: Path, document: object, arrays: bytes | None = None) -> Path:
    buffer = io.BytesIO()
    np.savez(buffer)
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(persistence.DOCUMENT, json.dumps(document))
        archive.writestr(persistence.ARRAYS, arrays if arrays is not None else buffer.getvalue())
    return path


def test_a_model_round_trips_exactly(tmp_path: Path, polku_model: PolkuModel, world: ToyEpisodes):
    path = tmp_path / "m.polku"
    persistence.dump(polku_model, path, header={"feature_layout": polku_model.feature_layout})
    restored = persistence.load(path)
    assert isinstance(restored, PolkuModel)
    frame = world.frame.head(50)
    before, after = polku_model.score_frame(frame), restored.score_frame(frame)
    assert np.array_equal(after.uplift, before.uplift, equal_nan=True)
    assert np.isfinite(after.uplift).any()
    pd.testing.assert_frame_equal(
        restored.ranker.overlap_,
        polku_model.ranker.overlap_,
        check_index_type=False,
        check_dtype=False,
    )
    assert persistence.read_header(path)["feature_layout"] == polku_model.feature_layout


def test_a_pickle_is_refused_without_being_read(tmp_path: Path) -> None:
    marker = tmp_path / "owned"
    path = _hostile_pickle(tmp_path / "model.polku", marker)
    with pytest.raises(registry.ArtifactIntegrityError, match="not a Polku model file"):
        registry.load_checked(path, registry.file_sha256(path))
    assert not marker.exists()


@pytest.mark.parametrize("name", ["builtins.open", "os.system", "models.registry.PolkuPyfunc"])
def test_a_class_the_package_did_not_register_is_refused(tmp_path: Path, name: str) -> None:
    marker = tmp_path / "owned"
    document = {
        "format": persistence.FORMAT,
        "root": {"__object__": name, "state": {"__dict__": [["file", str(marker)]]}},
    }
    path = _zip(tmp_path / "m.polku", document)
    with pytest.raises(persistence.PersistenceError, match="not a Polku model class"):
        persistence.load(path)
    assert not marker.exists()


def test_a_pickle_inside_the_arrays_is_refused(tmp_path: Path) -> None:
    marker = tmp_path / "owned"
    buffer = io.BytesIO()
    np.savez(buffer, a=np.array([_Hostile(marker)], dtype=object), allow_pickle=True)
    document = {"format": persistence.FORMAT, "root": {"__array__": "a"}}
    path = _zip(tmp_path / "m.polku", document, buffer.getvalue())
    with pytest.raises(persistence.PersistenceError, match="unreadable arrays"):
        persistence.load(path)
    assert not marker.exists()


def test_another_format_and_junk_are_refused(tmp_path: Path) -> None:
    other = _zip(tmp_path / "a.polku", {"format": "polku-model/99", "root": None})
    with pytest.raises(persistence.PersistenceError, match="polku-model/99"):
        persistence.load(other)
    junk = _zip(tmp_path / "b.polku", {"format": persistence.FORMAT, "root": {"__eval__": "1"}})
    with pytest.raises(persistence.PersistenceError, match="unknown tag"):
        persistence.load(junk)


def test_what_cannot_be_stored_is_named_at_writing(tmp_path: Path) -> None:
    with pytest.raises(persistence.PersistenceError, match=r"model\['x'\]\[1\]: a builtins.object"):
        persistence.dump({"x": [1, object()]}, tmp_path / "m.polku")
    assert not (tmp_path / "m.polku").exists()


def test_plain_values_keep_their_types(tmp_path: Path) -> None:
    import datetime as dt

    value = {
        1: (1.5, float("nan"), None, True),
        "s": frozenset({"a", "b"}),
        "d": dt.date(2024, 2, 29),
        "names": np.array(["x", "y"], dtype=object),
        "m": np.arange(6, dtype=np.int16).reshape(2, 3),
    }
    path = tmp_path / "v.polku"
    persistence.dump(value, path)
    back = persistence.load(path)
    assert back[1][0] == 1.5 and np.isnan(back[1][1]) and back[1][2:] == (None, True)
    assert back["s"] == frozenset({"a", "b"}) and back["d"] == dt.date(2024, 2, 29)
    assert back["names"].dtype == object and list(back["names"]) == ["x", "y"]
    assert back["m"].dtype == np.int16 and back["m"].tolist() == [[0, 1, 2], [3, 4, 5]]


def test_a_hostile_version_runs_nothing_and_the_old_champion_keeps_serving(
    state_dir: Path,
    polku_model: PolkuModel,
    world: ToyEpisodes,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    experiment = registry.configure_tracking()
    with mlflow.start_run(experiment_id=experiment):
        good = registry.log_model(polku_model)
    registry.set_champion(good)
    holder = ModelHolder(loader=registry.load_champion, name=registry.MODEL_NAME)
    assert holder.reload().version == good
    # Someone with write access to the registry logs a pickle whose reading runs their code:
    # its hash is recorded as usual, so the hash check alone would pass it.
    marker = tmp_path / "owned"
    monkeypatch.setattr(
        registry, "dump", lambda _model, path, header=None: _hostile_pickle(Path(path), marker)
    )
    with mlflow.start_run(experiment_id=experiment):
        hostile = registry.log_model(polku_model)
    registry.set_champion(hostile)
    outcome = holder.reload()
    assert outcome.reloaded is False
    assert "not a Polku model file" in outcome.message
    assert holder.current.version == good
    with pytest.raises(registry.ArtifactIntegrityError):
        registry.load_version(hostile)
    assert not marker.exists()
