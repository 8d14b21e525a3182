"""How complete a register's outcomes are: known, awaited (their horizon is still ahead of
the extract), or missing (old enough to be known, yet blank).

A blank outcome is read as not yet observed (docs/EXTRACTS.md). For a recent episode that
is what it is; for an episode whose 6 or 12 months had passed when the extract was taken it
is a gap in the register instead, worth knowing about before training: the ranker assumes
the blanks are explained by the profile and the service, as awaiting an outcome by date is.
The extract's date is not in the files; its latest assessment date stands for it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd

from models.objectives import OUTCOME_HORIZON_MONTHS


def not_yet_due(
    episodes: pd.DataFrame, extract_date: pd.Timestamp | None = None
) -> tuple[pd.Timestamp, dict[str, np.ndarray]]:
    """The extract's day and, per outcome, the episodes whose horizon ends after it.

    The one rule of "not yet due": an outcome measured `OUTCOME_HORIZON_MONTHS` after the
    assessment cannot be in an extract taken before then. `extract_date` defaults to the
    latest assessment date.
    """
    dates = pd.to_datetime(episodes["assessment_date"])
    taken = dates.max() if extract_date is None else pd.Timestamp(extract_date)
    return taken, {
        outcome: (dates + pd.DateOffset(months=months) > taken).to_numpy()
        for outcome, months in OUTCOME_HORIZON_MONTHS.items()
    }


@dataclass(frozen=True)
class OutcomeStatus:
    """One outcome column's completeness."""

    outcome: str
    known: int
    awaited: int
    missing: int

    def sentence(self) -> str:
        """One line for a person, e.g. `employed_12m: 3,010 known, 2,990 not yet due`."""
        parts = [f"{self.known:,} known"]
        if self.awaited:
            parts.append(f"{self.awaited:,} not yet due")
        if self.missing:
            months = OUTCOME_HORIZON_MONTHS[self.outcome]
            parts.append(f"{self.missing:,} blank though their {months} months had passed")
        return f"{self.outcome}: " + ", ".join(parts)


def outcome_status(episodes: pd.DataFrame) -> tuple[dt.date, list[OutcomeStatus]]:
    """The extract's day (its latest assessment) and, per outcome column, how many are
    known, awaited and missing.

    `episodes` is a validated episodes table (`assessment_date`, outcome columns with NaN
    where blank).
    """
    taken, ahead = not_yet_due(episodes)
    out = []
    for outcome, awaited in ahead.items():
        blank = episodes[outcome].isna().to_numpy()
        out.append(
            OutcomeStatus(
                outcome,
                known=int((~blank).sum()),
                awaited=int((blank & awaited).sum()),
                missing=int((blank & ~awaited).sum()),
            )
        )
    return taken.date(), out
