"""Repeated assessments: the world links a person's assessments, an extract without history
columns has them derived from its own episodes, and every split keeps a person on one side."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from models.actions import NO_SERVICE
from models.catalog import Catalog
from models.profile import HISTORY_FIELDS
from pipeline.data.history import derive_history
from pipeline.data.mapping import load_mapping
from pipeline.data.register import load_episodes, validate_register
from pipeline.data.split import SplitSettings, split_masks
from pipeline.synth.population import RETURN_GAP_DAYS
from pipeline.synth.world import GeneratedWorld, SynthConfig, generate_world, write_world

EXAMPLE_MAPPING = Path(__file__).resolve().parents[2] / "data" / "mappings" / "example.toml"


@pytest.fixture(scope="module")
def world(catalog: Catalog) -> GeneratedWorld:
    return generate_world(SynthConfig(n_clients=6000, seed=21), catalog)


def _pairs(episodes: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(earlier, next) rows of consecutive assessments of the same person."""
    e = episodes.reset_index(drop=True)
    same = (e["client_id"].to_numpy()[1:] == e["client_id"].to_numpy()[:-1]).nonzero()[0]
    return e.iloc[same].reset_index(drop=True), e.iloc[same + 1].reset_index(drop=True)


def test_history_columns_count_the_earlier_services_of_the_same_person(
    world: GeneratedWorld,
) -> None:
    e = world.episodes
    # Grouped by person in date order, as the docs say.
    assert e["client_id"].is_monotonic_increasing
    assert (e.groupby("client_id")["assessment_date"].diff().dropna() > pd.Timedelta(0)).all()
    earlier, later = _pairs(e)
    served = (earlier["service_id"] != NO_SERVICE).to_numpy()
    np.testing.assert_array_equal(
        later["previous_services"].to_numpy(), earlier["previous_services"].to_numpy() + served
    )
    expected_last = np.where(
        served, earlier["assessment_date"].to_numpy(), earlier["last_service_date"].to_numpy()
    )
    np.testing.assert_array_equal(later["last_service_date"].to_numpy(), expected_last)
    first = ~e["client_id"].duplicated()
    assert (e.loc[first, "previous_services"] == 0).all()
    assert e.loc[first, "last_service_date"].isna().all()
    gap = (later["assessment_date"] - earlier["assessment_date"]).dt.days
    assert gap.between(*RETURN_GAP_DAYS).all()


def test_unemployment_carries_on_for_a_returning_person_without_work_or_service(
    world: GeneratedWorld,
) -> None:
    earlier, later = _pairs(world.episodes)
    continuing = (
        (earlier["service_id"] == NO_SERVICE)
        & (earlier["employed_6m"] == 0)
        & ~later["labour_market_status"].isin(("laid_off", "employed", "short_time_work"))
    ).to_numpy()
    assert continuing.sum() > 100
    gap_months = np.floor(
        (later["assessment_date"] - earlier["assessment_date"]).dt.days.to_numpy() / 30.44
    )
    expected = np.minimum(earlier["unemployment_months"].to_numpy() + gap_months, 240)
    np.testing.assert_array_equal(
        later["unemployment_months"].to_numpy()[continuing], expected[continuing]
    )


def test_the_employed_come_back_much_less_often(world: GeneratedWorld) -> None:
    e = world.episodes.reset_index(drop=True)
    came_back = np.r_[e["client_id"].to_numpy()[1:] == e["client_id"].to_numpy()[:-1], False]
    # Only assessments with room for a next one inside the period.
    room = (e["assessment_date"] <= pd.Timestamp("2023-06-30") - pd.Timedelta(days=270)) & (
        e.groupby("client_id").cumcount() < 2
    )
    employed = (e["employed_12m"] == 1).to_numpy()
    rate_employed = came_back[room & employed].mean()
    rate_not = came_back[room & ~employed].mean()
    assert rate_employed < 0.5 * rate_not
    assert 0.3 < (e.groupby("client_id").size() >= 2).mean() < 0.6


def test_history_changes_the_truth_only_through_the_services_taken(
    world: GeneratedWorld, catalog: Catalog
) -> None:
    # A repeated service does half its effect (diminishing returns): on episodes whose client
    # took job_search_coaching before, its true uplift is smaller than on first-timers alike.
    from pipeline.synth.history import (
        REPEAT_EFFECT_SCALE,
        effect_scale_of_episodes,
        taken_before_in_episodes,
    )

    taken = taken_before_in_episodes(world.episodes, catalog)
    scale = effect_scale_of_episodes(world.episodes, catalog)
    assert taken.any() and (scale[taken] <= REPEAT_EFFECT_SCALE + 1e-12).all()
    assert (scale[world.episodes["previous_services"].to_numpy() == 0] == 1.0).all()


def test_same_seed_same_links_other_seed_other_world(catalog: Catalog) -> None:
    a = generate_world(SynthConfig(n_clients=800, seed=4), catalog)
    b = generate_world(SynthConfig(n_clients=800, seed=4), catalog)
    pd.testing.assert_frame_equal(a.episodes, b.episodes)
    c = generate_world(SynthConfig(n_clients=800, seed=5), catalog)
    assert not a.episodes[list(HISTORY_FIELDS)].equals(c.episodes[list(HISTORY_FIELDS)])


def test_derive_history_orders_by_date_within_a_client() -> None:
    episodes = pd.DataFrame(
        {
            "client_id": ["b", "a", "a", "b", "a"],
            "assessment_date": pd.to_datetime(
                ["2022-05-01", "2022-03-01", "2021-01-01", "2021-06-01", "2022-09-01"]
            ),
            "service_id": ["none", "work_trial", "debt_advice", "ohjaamo", "none"],
        }
    )
    derived = derive_history(episodes)
    assert derived["previous_services"].tolist() == [1, 1, 0, 0, 2]
    assert derived["last_service_date"].tolist() == [
        pd.Timestamp("2021-06-01"),
        pd.Timestamp("2021-01-01"),
        pd.NaT,
        pd.NaT,
        pd.Timestamp("2022-03-01"),
    ]


def _without_history(source: Path, target: Path) -> Path:
    target.mkdir()
    for name in ("clients", "episodes"):
        frame = pd.read_parquet(source / f"{name}.parquet")
        frame.drop(columns=list(HISTORY_FIELDS)).to_parquet(target / f"{name}.parquet")
    return target


def test_an_extract_without_history_columns_gets_the_generators_columns(
    tmp_path: Path, world: GeneratedWorld, catalog: Catalog
) -> None:
    write_world(world, tmp_path / "world")
    full, _ = load_episodes(tmp_path / "world", catalog)
    bare, _ = load_episodes(_without_history(tmp_path / "world", tmp_path / "bare"), catalog)
    assert (full["previous_services"] > 0).sum() > 500
    pd.testing.assert_frame_equal(bare, full)


def test_an_extract_with_history_columns_keeps_its_own_values(
    tmp_path: Path, world: GeneratedWorld, catalog: Catalog
) -> None:
    write_world(world, tmp_path)
    episodes = pd.read_parquet(tmp_path / "episodes.parquet")
    episodes["previous_services"] = 7  # what the register's service records say
    episodes.to_parquet(tmp_path / "episodes.parquet")
    loaded, _ = load_episodes(tmp_path, catalog)
    assert (loaded["previous_services"] == 7).all()


def test_a_mapped_extract_without_history_columns_derives_them(
    tmp_path: Path, world: GeneratedWorld, catalog: Catalog
) -> None:
    mapping = load_mapping(EXAMPLE_MAPPING)
    write_world(world, tmp_path / "world")
    full, _ = load_episodes(tmp_path / "world", catalog)
    mapped = tmp_path / "mapped"
    mapped.mkdir()
    for name in ("clients", "episodes"):
        frame = pd.read_parquet(tmp_path / "world" / f"{name}.parquet")
        frame = frame.drop(columns=list(HISTORY_FIELDS)).rename(columns=mapping.column_of)
        frame.to_parquet(mapped / f"{name}.parquet")
    extract = validate_register(mapped, catalog, mapping)
    assert extract.ok, extract.errors[:3]
    assert extract.episodes is not None
    pd.testing.assert_frame_equal(extract.episodes, full)


@pytest.mark.parametrize("holdout_from", [None, dt.date(2022, 6, 1)])
def test_no_person_has_episodes_on_both_sides_of_a_split(
    world: GeneratedWorld, holdout_from: dt.date | None
) -> None:
    episodes = world.episodes
    train, held = split_masks(episodes, SplitSettings(0.25, holdout_from))
    train_ids = set(episodes.loc[train, "client_id"])
    held_ids = set(episodes.loc[held, "client_id"])
    assert train_ids and held_ids and not train_ids & held_ids
    if holdout_from is not None:
        # A held-out person's earlier episodes are in neither part, but their history
        # fields still describe them: it is what the caseworker knew at the later one.
        dates = episodes["assessment_date"].dt.date
        dropped = ~train & ~held
        assert (dates[dropped & episodes["client_id"].isin(held_ids)] < holdout_from).all()
        late_held = episodes.loc[held]
        assert (late_held["previous_services"] > 0).any()


def test_training_cross_fits_over_folds_of_clients(
    monkeypatch: pytest.MonkeyPatch, tiny_world_dir: Path
) -> None:
    # The ranker's folds and bootstrap resample the `groups` it is given: training must give
    # the client ids, so a person's repeated assessments fall in one fold.
    from models.ranker import ServiceRanker
    from pipeline.data.world import load_world
    from pipeline.training.settings import TrainSettings
    from pipeline.training.train import fit_model

    seen: dict[str, object] = {}

    class Stop(Exception):
        pass

    def spy(self: ServiceRanker, frame: pd.DataFrame, *args: object, **kwargs: object) -> None:
        seen["frame"], seen["groups"] = frame, kwargs.get("groups")
        raise Stop

    monkeypatch.setattr(ServiceRanker, "fit", spy)
    with pytest.raises(Stop):
        fit_model(load_world(tiny_world_dir), TrainSettings(seed=1), lambda _line: None)
    frame = seen["frame"]
    assert isinstance(frame, pd.DataFrame) and frame["client_id"].duplicated().any()
    np.testing.assert_array_equal(np.asarray(seen["groups"]), frame["client_id"].to_numpy())


def test_the_fitted_ranker_reads_the_history(tiny_training) -> None:  # type: ignore[no-untyped-def]
    # Same clients, another history: the ranker's uplifts move (it learnt from the history
    # columns of a world where history matters).
    ranker = tiny_training.trained.model.ranker
    frame = tiny_training.world.episodes.head(300).reset_index(drop=True)
    fresh = frame.assign(previous_services=0, last_service_date=pd.NaT)
    served = frame.assign(
        previous_services=3, last_service_date=frame["assessment_date"] - pd.Timedelta(days=60)
    )
    columns = list(ranker.encoder_.feature_names_out_)
    assert columns[-3:] == [
        "served_before",
        "previous_services_log",
        "months_since_last_service_log",
    ]
    difference = np.abs(ranker.predict_uplift(served) - ranker.predict_uplift(fresh))
    assert difference.max() > 1e-3
