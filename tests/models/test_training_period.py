"""The training period a model records: the span of its episodes' assessment dates."""

from __future__ import annotations

import datetime as dt

import pytest

from models.training_period import TAG_FIRST, TAG_LAST, TrainingPeriod, training_period_of


def test_the_period_spans_the_dates_and_round_trips_through_metadata() -> None:
    period = TrainingPeriod.of(["2022-03-04", "2021-11-30T00:00:00", "not a date", None])
    assert period == TrainingPeriod(dt.date(2021, 11, 30), dt.date(2022, 3, 4))
    assert training_period_of({"training_period": period.to_dict()}) == period
    assert period.tags() == {TAG_FIRST: "2021-11-30", TAG_LAST: "2022-03-04"}


def test_no_dates_no_period_and_an_older_model_has_none() -> None:
    assert TrainingPeriod.of([None, ""]) is None
    assert training_period_of({"data_fingerprint": "x"}) is None


def test_a_period_of_another_date_column_is_refused() -> None:
    record = {"column": "decided_at", "first": "2021-01-01", "last": "2021-12-31"}
    with pytest.raises(ValueError, match="decided_at"):
        TrainingPeriod.from_dict(record)
