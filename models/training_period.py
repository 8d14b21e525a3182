"""When a model's training data were assessed: the first and last assessment date.

Judging a model on the episodes it learnt from flatters it (docs/LEARNING_LOOP.md: IPW
+1.64 points, z +0.71, in the simulated loop). `models.training_clients` guards evaluations
on a register by person, but feedback episodes carry only a pseudonymous key, so
`polku evaluate-feedback` guards by time instead (`pipeline.feedback.training_period`):
an episode assessed after the last training date cannot be among the training episodes.
Only the two dates are kept (in the model's metadata and as tags of its registered
version), never an id.

Examples
--------
>>> period = TrainingPeriod.of(["2023-05-02", "2022-01-10", None])
>>> period.first.isoformat(), period.last.isoformat()
('2022-01-10', '2023-05-02')
>>> TrainingPeriod.from_dict(period.to_dict()) == period
True
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

import pandas as pd

# The training episodes' date: the day of the assessment at which the service was decided.
DATE_COLUMN: Final = "assessment_date"
# Where a `PolkuModel` keeps the record in its metadata.
METADATA_KEY: Final = "training_period"
# The registered version's tags (`models.registry.log_model`).
TAG_FIRST: Final = "training_period.first"
TAG_LAST: Final = "training_period.last"


@dataclass(frozen=True)
class TrainingPeriod:
    """The first and last assessment date of a model's training episodes."""

    first: dt.date
    last: dt.date

    @classmethod
    def of(cls, dates: Iterable[Any]) -> TrainingPeriod | None:
        """The span of the dates (missing ones ignored); None when there is none."""
        parsed = pd.to_datetime(
            pd.Series(list(dates), dtype=object), errors="coerce", format="mixed"
        )
        parsed = parsed.dropna()
        if parsed.empty:
            return None
        return cls(parsed.min().date(), parsed.max().date())

    def describe(self) -> str:
        return f"{self.first.isoformat()} to {self.last.isoformat()}"

    def to_dict(self) -> dict[str, str]:
        return {
            "column": DATE_COLUMN,
            "first": self.first.isoformat(),
            "last": self.last.isoformat(),
        }

    @classmethod
    def from_dict(cls, record: Mapping[str, Any]) -> TrainingPeriod:
        if record.get("column") != DATE_COLUMN:
            raise ValueError(f"training period of {record.get('column')!r}, not {DATE_COLUMN}")
        return cls(dt.date.fromisoformat(record["first"]), dt.date.fromisoformat(record["last"]))

    def tags(self) -> dict[str, str]:
        """The registered version's tags (dates only)."""
        return {TAG_FIRST: self.first.isoformat(), TAG_LAST: self.last.isoformat()}


def training_period_of(metadata: Mapping[str, Any]) -> TrainingPeriod | None:
    """The record in a model's metadata, or None for a model trained before it was kept."""
    record = metadata.get(METADATA_KEY)
    return None if record is None else TrainingPeriod.from_dict(record)
