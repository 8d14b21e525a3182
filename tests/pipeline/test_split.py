"""The client/time split: stable, disjoint by client, honouring the time cut."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from pipeline.data.split import SplitSettings, held_out_clients, split_masks


def _episodes() -> pd.DataFrame:
    ids = [f"C{i:05d}" for i in range(4000)]
    return pd.DataFrame(
        {
            "client_id": ids + ids[:1000],  # the first 1000 clients have a second episode
            "assessment_date": pd.to_datetime(["2021-06-01"] * 4000 + ["2023-03-01"] * 1000),
        }
    )


def test_held_out_clients_share_is_close_to_fraction():
    share = held_out_clients(np.array([f"C{i}" for i in range(20_000)]), 0.25).mean()
    assert share == pytest.approx(0.25, abs=0.01)


def test_held_out_clients_is_stable_across_calls_and_order():
    ids = np.array([f"C{i}" for i in range(500)])
    first = held_out_clients(ids, 0.3)
    again = held_out_clients(ids[::-1], 0.3)[::-1]
    np.testing.assert_array_equal(first, again)


def test_split_masks_keep_each_client_on_one_side():
    episodes = _episodes()
    train, held = split_masks(episodes, SplitSettings(0.25))
    assert not (train & held).any()
    assert (train | held).all()
    train_ids = set(episodes.loc[train, "client_id"])
    held_ids = set(episodes.loc[held, "client_id"])
    assert not train_ids & held_ids


def test_split_masks_time_cut_trains_before_and_evaluates_after():
    episodes = _episodes()
    train, held = split_masks(episodes, SplitSettings(0.25, dt.date(2022, 1, 1)))
    dates = episodes["assessment_date"]
    assert (dates[train] < "2022-01-01").all()
    assert (dates[held] >= "2022-01-01").all()
    assert held.sum() > 0 and train.sum() > 0
    assert not (train & held).any()


def test_split_settings_round_trip_through_params():
    settings = SplitSettings(0.2, dt.date(2022, 5, 1))
    assert SplitSettings.from_params(settings.to_params()) == settings
    assert SplitSettings.from_params({}) == SplitSettings()


def test_split_settings_reject_bad_fraction():
    with pytest.raises(ValueError, match="test_fraction must lie in"):
        SplitSettings(1.0)


def test_split_masks_need_client_id():
    with pytest.raises(ValueError, match="client_id"):
        split_masks(pd.DataFrame({"x": [1]}), SplitSettings())
