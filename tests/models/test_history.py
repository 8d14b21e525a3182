"""The ranker's history columns: generic shapes, and the frame and profile readers agree."""

from __future__ import annotations

import dataclasses
import datetime as dt

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from models.features import FEATURE_NAMES, FeatureEncoder
from models.history import (
    HISTORY_FEATURE_NAMES,
    MONTHS_CAP,
    SERVICES_CAP,
    frame_history_sources,
    history_columns,
    record_history_sources,
)
from models.profile import ClientProfile
from models.profile_validation import profiles_to_frame
from tests.models.world import ToyEpisodes, profile_of

NEVER = np.nan


def _columns(previous: float, months: float) -> np.ndarray:
    return history_columns(np.array([[previous, months]]))[0]


def test_never_served_is_no_service_long_ago() -> None:
    np.testing.assert_array_equal(_columns(0, NEVER), [0.0, 0.0, 1.0])


def test_columns_grow_smoothly_with_services_and_months() -> None:
    once_now = _columns(1, 0.0)
    assert once_now[0] == 1.0 and once_now[2] == 0.0
    assert once_now[1] == pytest.approx(np.log(2) / np.log1p(SERVICES_CAP))
    counts = [_columns(k, 6.0)[1] for k in range(1, 15)]
    assert np.all(np.diff(counts[: int(SERVICES_CAP)]) > 0) and counts[-1] == 1.0
    months = [_columns(1, m)[2] for m in (0.0, 1.0, 6.0, 24.0, MONTHS_CAP, 10 * MONTHS_CAP)]
    assert np.all(np.diff(months[:-1]) > 0) and months[-1] == months[-2] == 1.0


def test_a_service_of_unknown_date_counts_as_served_long_ago() -> None:
    # Close, not equal: numpy's log may differ in the last bit between builds.
    np.testing.assert_allclose(
        _columns(2, NEVER), [1.0, np.log(3) / np.log1p(SERVICES_CAP), 1.0], rtol=1e-12
    )
    # A date without a count still means one service.
    assert _columns(0, 3.0)[0] == 1.0 and _columns(0, 3.0)[1] == _columns(1, 3.0)[1]


def test_the_encoder_ends_with_the_history_columns() -> None:
    assert FEATURE_NAMES[-len(HISTORY_FEATURE_NAMES) :] == HISTORY_FEATURE_NAMES


def test_a_frame_without_history_columns_has_no_history(world: ToyEpisodes) -> None:
    bare = world.frame.drop(columns=["previous_services", "last_service_date"]).head(5)
    sources = frame_history_sources(bare)
    assert (sources[:, 0] == 0).all() and np.isnan(sources[:, 1]).all()


def test_a_negative_count_names_the_row(world: ToyEpisodes) -> None:
    frame = world.frame.head(4).copy()
    frame.loc[2, "previous_services"] = -1
    with pytest.raises(ValueError, match="row 3: previous_services"):
        frame_history_sources(frame)


@st.composite
def _with_history(draw: st.DrawFn, base: ClientProfile) -> ClientProfile:
    previous = draw(st.integers(0, 40))
    days = draw(st.none() | st.integers(0, 20 * 366))
    last = None if days is None else base.assessment_date - dt.timedelta(days=days)
    return dataclasses.replace(base, previous_services=previous, last_service_date=last)


@pytest.fixture(scope="module")
def encoder(world: ToyEpisodes) -> FeatureEncoder:
    return FeatureEncoder().fit(world.frame)


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_frame_and_profile_readers_agree_on_history(
    encoder: FeatureEncoder, world: ToyEpisodes, data: st.DataObject
) -> None:
    batch = [data.draw(_with_history(profile_of(world.frame, i))) for i in range(6)]
    frame = profiles_to_frame(batch)
    np.testing.assert_array_equal(
        frame_history_sources(frame), record_history_sources([p.to_record() for p in batch])
    )
    rows = encoder.transform(frame)
    for i, profile in enumerate(batch):
        np.testing.assert_array_equal(encoder.encode_one(profile), rows[i])
