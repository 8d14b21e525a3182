"""Not judging a version on the feedback episodes it may have learnt from: a guard by time.

Feedback episodes carry a pseudonymous client key, not the client id and birth date
`models.training_clients` fingerprints, so `polku evaluate-feedback` cannot tell whether a
version was trained on *these people*; it can tell whether it was trained on *this time*.
A version records the first and last assessment date of its training episodes
(`models.training_period`), and an episode assessed on or before that last date may be
among them: it is left out unless `allow_training_period`, and then every output says the
estimate may be flattered.

An episode's date is its `assessment_date`: the assessment of the outcome extract's row it
was joined to (`pipeline.feedback.join`), the day a register, and so a training extract,
dates the same episode by, so both sides of the comparison are the same date. The day of
the suggestion (`suggested_on`, from the audit export) is up to 31 days later and would let
through an episode assessed before the cutoff but suggested after it; it dates only the rows
that carry no assessment date (episodes not written by `polku feedback`). A row with
neither cannot be shown to be after the cutoff and counts as possibly trained on.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import pandas as pd

from models.training_period import TrainingPeriod, training_period_of
from pipeline.feedback.inputs import MIN_EPISODES, OUTCOME_DATE, FeedbackError

SUGGESTED_ON: Final = "suggested_on"
DATE_COLUMNS: Final = (OUTCOME_DATE, SUGGESTED_ON)
FLAG: Final = "--allow-training-period"


def _episodes(n: int) -> str:
    return "1 episode" if n == 1 else f"{n} episodes"


class TrainingPeriodError(FeedbackError):
    """Every episode (or all but one) may be among the candidate's training episodes."""


def episode_dates(frame: pd.DataFrame) -> np.ndarray:
    """Each episode's date (datetime64[D]): its assessment date, else its suggestion day;
    NaT where it has neither."""
    out = pd.Series(pd.NaT, index=frame.index, dtype="datetime64[ns]")
    for column in reversed(DATE_COLUMNS):  # the first column wins where it has a date
        if column in frame.columns:
            day = pd.to_datetime(frame[column], errors="coerce", utc=True, format="mixed")
            out = day.dt.tz_localize(None).astype("datetime64[ns]").fillna(out)
    return out.to_numpy(dtype="datetime64[D]")


@dataclass(frozen=True)
class PeriodCheck:
    """What the guard found for one candidate version.

    Attributes
    ----------
    period : the version's training period; None when it records none (not checked)
    in_period : episodes dated on or before its last training date (or undated)
    undated : of those, episodes with no date at all
    allowed : kept anyway (`allow_training_period`)
    version : the candidate's version label, for the sentences (None: "the candidate")
    """

    period: TrainingPeriod | None
    in_period: int = 0
    undated: int = 0
    allowed: bool = False
    version: str | None = None

    @property
    def checked(self) -> bool:
        return self.period is not None

    @property
    def excluded(self) -> int:
        return 0 if self.allowed else self.in_period

    @property
    def flattered(self) -> bool:
        """Episodes it may have learnt from are in the estimate."""
        return self.allowed and self.in_period > 0

    def _whose(self) -> str:
        return "the candidate" if self.version is None else f"version {self.version}"

    def _cutoff(self) -> str:
        assert self.period is not None
        return (
            f"assessed on or before {self._whose()}'s last training date "
            f"{self.period.last.isoformat()} (training period {self.period.describe()})"
            + (f", {self.undated} of them undated" if self.undated else "")
        )

    def sentence(self) -> str:
        """One plain sentence for the text, the report and errors."""
        if self.period is None:
            return (
                f"{self._whose()} records no training period (trained before it was kept), so "
                "whether it was trained on these episodes cannot be checked"
            )
        if self.in_period == 0:
            return f"no episode {self._cutoff()}"
        if self.allowed:
            return (
                f"{_episodes(self.in_period)} {self._cutoff()} kept ({FLAG}): "
                f"{self._whose()} may have been trained on them, so its estimates may be "
                "flattered"
            )
        return (
            f"{_episodes(self.in_period)} {self._cutoff()} left out: {self._whose()} may have "
            "been trained on them"
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "checked": self.checked,
            "date": f"{OUTCOME_DATE}, else {SUGGESTED_ON}",
            "first": None if self.period is None else self.period.first.isoformat(),
            "last": None if self.period is None else self.period.last.isoformat(),
            "episodes_on_or_before_last": self.in_period,
            "undated": self.undated,
            "excluded": self.excluded,
            "allowed_by_flag": self.flattered,
        }

    def metrics(self) -> dict[str, float]:
        return {
            "training_period_checked": float(self.checked),
            "episodes_in_training_period": float(self.in_period),
            "episodes_excluded_training_period": float(self.excluded),
        }


def check_training_period(
    metadata: Mapping[str, Any],
    frame: pd.DataFrame,
    *,
    allow: bool = False,
    version: str | None = None,
) -> tuple[PeriodCheck, np.ndarray]:
    """The guard's finding and the rows to evaluate (bool per row of `frame`).

    Raises
    ------
    TrainingPeriodError
        Fewer than 2 episodes are left once those the candidate may have learnt from are
        left out (and `allow` is not set); the message names the dates and the option.
    """
    period = training_period_of(metadata)
    keep = np.ones(len(frame), dtype=bool)
    if period is None:
        return PeriodCheck(None, version=version), keep
    dates = episode_dates(frame)
    after = dates > np.datetime64(period.last, "D")  # NaT compares False: not shown after
    check = PeriodCheck(
        period,
        in_period=int((~after).sum()),
        undated=int(np.isnat(dates).sum()),
        allowed=allow,
        version=version,
    )
    if allow:
        return check, keep
    left = int(after.sum())
    if left < MIN_EPISODES and check.in_period > 0:  # none left out: the usual count error
        raise TrainingPeriodError(
            f"{check.in_period} of the {len(frame)} feedback episodes with a known outcome "
            f"are {check._cutoff()}, leaving {left} (at least {MIN_EPISODES} are needed): "
            f"{check._whose()} may have been trained on them, and judged on the episodes it "
            f"learnt from it looks better than it is; judge it on episodes assessed after "
            f"{period.last.isoformat()}, or pass {FLAG} to judge it on these anyway"
        )
    return check, after
