"""How complete a register's outcomes are: known, awaited (their horizon is still ahead of
the extract), or missing (old enough to be known, yet blank).

A blank outcome is read as not yet observed (docs/EXTRACTS.md). For a recent episode that
is what it is; for an episode whose 6 or 12 months had passed when the extract was taken it
is a gap in the register instead, worth knowing about before training: the ranker assumes
the blanks are explained by the profile and the service, as awaiting an outcome by date is.
The extract's date is not in the files; its latest assessment date stands for it.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from models.objectives import OUTCOME_HORIZON_MONTHS


@dataclass(frozen=True)
class OutcomeStatus:
    """One outcome column's completeness."""

    outcome: str
    known: int
    awaited: int
    missing: int

    def sentence(self) -> str:
        """One line for a person, e.g. `employed_12m: 3,010 known, 2,990 awaited`."""
        parts = [f"{self.known:,} known"]
        if self.awaited:
            parts.append(f"{self.awaited:,} not yet due")
        if self.missing:
            months = OUTCOME_HORIZON_MONTHS[self.outcome]
            parts.append(f"{self.missing:,} blank though their {months} months had passed")
        return f"{self.outcome}: " + ", ".join(parts)


def outcome_status(episodes: pd.DataFrame) -> list[OutcomeStatus]:
    """Per outcome column (`OUTCOME_HORIZON_MONTHS`), how many are known, awaited, missing.

    `episodes` is a validated episodes table (`assessment_date`, outcome columns with NaN
    where blank).
    """
    dates = pd.to_datetime(episodes["assessment_date"])
    taken = dates.max()
    out = []
    for outcome, months in OUTCOME_HORIZON_MONTHS.items():
        blank = episodes[outcome].isna().to_numpy()
        due = (dates + pd.DateOffset(months=months) <= taken).to_numpy()
        out.append(
            OutcomeStatus(
                outcome,
                known=int((~blank).sum()),
                awaited=int((blank & ~due).sum()),
                missing=int((blank & due).sum()),
            )
        )
    return out
