"""Reading and validating a register directory; loading the truth."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from models.catalog import Catalog
from models.objectives import TRUTH_OUTCOMES
from pipeline.data.layout import find_file
from pipeline.data.register import (
    RegisterValidationError,
    load_episodes,
    validate_episodes,
    validate_register,
)
from pipeline.data.truth import load_truth, truth_matrices
from pipeline.synth.censoring import censor_outcomes
from pipeline.synth.world import GeneratedWorld, SynthConfig, generate_world, write_world


@pytest.fixture(scope="module")
def world(catalog: Catalog) -> GeneratedWorld:
    return generate_world(SynthConfig(n_clients=400, seed=2), catalog)


@pytest.fixture()
def world_dir(tmp_path: Path, world: GeneratedWorld) -> Path:
    write_world(world, tmp_path, csv=False)
    return tmp_path


def _break_episodes(directory: Path, change) -> None:
    path = directory / "episodes.parquet"
    episodes = pd.read_parquet(path)
    change(episodes)
    episodes.to_parquet(path, index=False)


def _messages(directory: Path, catalog: Catalog) -> list[str]:
    return [str(e) for e in validate_register(directory, catalog).errors]


def test_generated_world_validates_clean(world_dir: Path, catalog: Catalog) -> None:
    extract = validate_register(world_dir, catalog)
    assert extract.ok, extract.errors[:3]
    assert set(extract.files) == {"clients", "episodes", "truth"}
    assert "henkilotunnus" not in extract.clients.columns


def test_generated_csv_world_validates_clean(
    tmp_path: Path, world: GeneratedWorld, catalog: Catalog
) -> None:
    write_world(world, tmp_path, csv=True)
    for name in ("clients", "episodes", "truth"):
        (tmp_path / f"{name}.parquet").unlink()
    extract = validate_register(tmp_path, catalog)
    assert extract.ok, extract.errors[:3]
    assert extract.files["episodes"].suffix == ".csv"


def test_load_episodes_returns_typed_episodes(
    world_dir: Path, world: GeneratedWorld, catalog: Catalog
) -> None:
    episodes, path = load_episodes(world_dir, catalog)
    assert path.name == "episodes.parquet"
    assert list(episodes.columns) == list(world.episodes.columns)
    np.testing.assert_array_equal(episodes["service_id"], world.episodes["service_id"])
    np.testing.assert_allclose(episodes["propensity"], world.episodes["propensity"])
    assert episodes["employed_6m"].dtype == np.int8
    assert np.issubdtype(episodes["assessment_date"].dtype, np.datetime64)


def test_unknown_service_is_named_by_file_row_and_field(world_dir: Path, catalog: Catalog) -> None:
    _break_episodes(
        world_dir,
        lambda e: e.__setitem__("service_id", e["service_id"].where(e.index != 4, "yoga")),
    )
    messages = _messages(world_dir, catalog)
    assert (
        "episodes.parquet: row 5, field 'service_id': 'yoga' is not a catalog service or 'none'"
        in messages
    )
    with pytest.raises(RegisterValidationError, match="row 5, field 'service_id'"):
        load_episodes(world_dir, catalog)


def test_episode_of_unknown_client_is_an_error(world_dir: Path, catalog: Catalog) -> None:
    _break_episodes(
        world_dir,
        lambda e: e.__setitem__("client_id", e["client_id"].where(e.index != 0, "C9999999")),
    )
    assert (
        "episodes.parquet: row 1, field 'client_id': no such client in the clients file"
        in _messages(world_dir, catalog)
    )


@pytest.mark.parametrize(
    ("column", "value", "message"),
    [
        ("propensity", 0.0, "must lie in (0, 1]"),
        ("propensity", 1.5, "must lie in (0, 1]"),
        ("employed_6m", 2, "must be 0 or 1 (or empty while not yet observed)"),
        ("employed_12m", 0.5, "must be 0 or 1 (or empty while not yet observed)"),
    ],
)
def test_bad_episode_values_are_named(
    world_dir: Path, catalog: Catalog, column: str, value, message: str
) -> None:
    def change(e: pd.DataFrame) -> None:
        e[column] = e[column].astype(np.float64)
        e.loc[2, column] = value

    _break_episodes(world_dir, change)
    assert f"episodes.parquet: row 3, field '{column}': {message}" in _messages(world_dir, catalog)


def test_a_censored_register_validates_with_its_blanks_kept(
    tmp_path: Path, world: GeneratedWorld, catalog: Catalog
) -> None:
    # A real extract: recent episodes' outcomes are blank (CSV) or null (Parquet).
    censored = censor_outcomes(world.episodes)
    blank_12m = censored["employed_12m"].isna().to_numpy()
    assert 0 < blank_12m.sum() < len(censored)
    for suffix in ("parquet", "csv"):
        directory = tmp_path / suffix
        write_world(dataclasses.replace(world, episodes=censored), directory, csv=True)
        (directory / f"episodes.{'csv' if suffix == 'parquet' else 'parquet'}").unlink()
        extract = validate_register(directory, catalog)
        assert extract.ok, extract.errors[:3]
        episodes, _ = load_episodes(directory, catalog)
        np.testing.assert_array_equal(episodes["employed_12m"].isna(), blank_12m)
        known = ~blank_12m
        np.testing.assert_array_equal(
            episodes.loc[known, "employed_12m"], world.episodes.loc[known, "employed_12m"]
        )


def test_a_text_outcome_is_still_an_error_beside_blanks(world_dir: Path, catalog: Catalog) -> None:
    def change(e: pd.DataFrame) -> None:
        e["employed_12m"] = e["employed_12m"].astype(str).astype(object)
        e.loc[1, "employed_12m"] = None
        e.loc[4, "employed_12m"] = "yes"

    _break_episodes(world_dir, change)
    assert _messages(world_dir, catalog) == [
        "episodes.parquet: row 5, field 'employed_12m': "
        "must be 0 or 1 (or empty while not yet observed)"
    ]


def test_duplicate_episode_id_and_missing_column(world_dir: Path, catalog: Catalog) -> None:
    def change(e: pd.DataFrame) -> None:
        e.loc[3, "episode_id"] = e.loc[0, "episode_id"]
        del e["education_6m"]

    _break_episodes(world_dir, change)
    messages = _messages(world_dir, catalog)
    assert "episodes.parquet: row 4, field 'episode_id': duplicate episode id" in messages
    assert "episodes.parquet: field 'education_6m': column is missing" in messages


def test_bad_profile_field_in_episodes_names_row_and_field(
    world_dir: Path, catalog: Catalog
) -> None:
    _break_episodes(
        world_dir,
        lambda e: e.__setitem__("language_level", e["language_level"].where(e.index != 6, "Z9")),
    )
    errors = validate_register(world_dir, catalog).errors
    assert any(
        e.file == "episodes.parquet" and e.row == 7 and e.field == "language_level" for e in errors
    )


def test_a_missing_assessment_date_is_an_error_not_today(world_dir: Path, catalog: Catalog) -> None:
    # A live request may leave the date out (it means today); a register row may not.
    _break_episodes(
        world_dir,
        lambda e: e.__setitem__(
            "assessment_date", e["assessment_date"].astype(object).where(e.index != 3, None)
        ),
    )
    messages = _messages(world_dir, catalog)
    assert any(
        m.startswith("episodes.parquet: row 4, field 'assessment_date': missing") for m in messages
    ), messages


def test_episodes_must_not_carry_the_henkilotunnus(world: GeneratedWorld, catalog: Catalog) -> None:
    raw = world.episodes.copy()
    raw["henkilotunnus"] = "010190-9012"
    _, errors = validate_episodes(raw, catalog)
    assert any(e.field == "henkilotunnus" and "must not carry" in e.message for e in errors)
    assert all("010190" not in str(e) for e in errors)


def test_bad_client_row_is_named(world_dir: Path, catalog: Catalog) -> None:
    path = world_dir / "clients.parquet"
    clients = pd.read_parquet(path)
    clients.loc[1, "home_municipality"] = "Helsinki"
    clients.to_parquet(path, index=False)
    errors = validate_register(world_dir, catalog).errors
    assert any(
        e.file == "clients.parquet" and e.row == 2 and e.field == "home_municipality"
        for e in errors
    )


def test_find_file_prefers_parquet_and_names_missing(tmp_path: Path) -> None:
    (tmp_path / "episodes.csv").write_text("episode_id\n")
    assert find_file(tmp_path, "episodes").suffix == ".csv"
    (tmp_path / "episodes.parquet").write_bytes(b"")
    assert find_file(tmp_path, "episodes").suffix == ".parquet"
    with pytest.raises(FileNotFoundError, match=r"no clients\.parquet or clients\.csv"):
        find_file(tmp_path, "clients")


def test_missing_files_are_reported(tmp_path: Path, catalog: Catalog) -> None:
    messages = _messages(tmp_path, catalog)
    assert any(m.startswith("clients:") for m in messages) and any(
        m.startswith("episodes:") for m in messages
    )


def test_unreadable_files_are_reported_without_their_content(
    tmp_path: Path, catalog: Catalog
) -> None:
    (tmp_path / "clients.csv").write_text('client_id,henkilotunnus\n"c-1,170500A9056\n')
    (tmp_path / "episodes.parquet").write_bytes(b"not parquet 170500A9056")
    messages = _messages(tmp_path, catalog)
    assert "clients.csv: field '-': cannot read the file (ParserError)" in messages
    assert any(m.startswith("episodes.parquet: field '-': cannot read the file") for m in messages)
    assert not any("170500A9056" in m for m in messages)
    with pytest.raises(RegisterValidationError, match=r"clients\.csv.*cannot read the file"):
        load_episodes(tmp_path, catalog)


def test_load_truth_reorders_to_requested_episodes(world_dir: Path, world: GeneratedWorld) -> None:
    wanted = world.episodes["episode_id"].to_numpy()[::-1][:50]
    truth = load_truth(world_dir, wanted)
    assert list(truth["episode_id"]) == list(wanted)
    with pytest.raises(ValueError, match="'E99999999' has no truth row"):
        load_truth(world_dir, ["E99999999"])


def test_truth_matrices_of_the_file_align_with_catalog_and_world(
    world_dir: Path, world: GeneratedWorld, catalog: Catalog
) -> None:
    matrices = truth_matrices(load_truth(world_dir), catalog)
    assert set(matrices) == set(TRUTH_OUTCOMES)
    for target, matrix in matrices.items():
        assert matrix.shape == (len(world.episodes), len(catalog) + 1)
        np.testing.assert_allclose(matrix, world.truth_matrix(target), atol=1e-7)


def test_load_truth_rejects_probabilities_outside_unit_interval(
    world_dir: Path, catalog: Catalog
) -> None:
    path = world_dir / "truth.parquet"
    truth = pd.read_parquet(path)
    truth.iloc[3, 5] = 1.2
    truth.to_parquet(path, index=False)
    with pytest.raises(
        ValueError, match=r"truth.parquet: row 4, field '.*': probability outside \[0, 1\]"
    ):
        load_truth(world_dir)


def test_load_truth_names_a_missing_catalog_column(world_dir: Path, catalog: Catalog) -> None:
    path = world_dir / "truth.parquet"
    truth = pd.read_parquet(path).drop(columns=["employed_12m__none"])
    truth.to_parquet(path, index=False)
    with pytest.raises(ValueError, match="'employed_12m__none': column is missing"):
        load_truth(world_dir, catalog=catalog)
