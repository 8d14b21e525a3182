"""Which assessments a replayed session visits, and what it sends for each.

A seeded sample of the register's episodes, each turned into the profile a caseworker's
system sends (every profile field but the identity code, which never leaves the register),
dated at the episode's own assessment day and carrying the service the register logged,
so the replayed decisions are the ones whose outcomes the register holds.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any, Final

import numpy as np
import pandas as pd

from models.profile import PROFILE_FIELDS
from models.session_plan import PlannedVisit

# The simulated caseworker opens the day at nine and sees a client a minute.
DAY_STARTS: Final = dt.time(9, 0)
MINUTES_PER_VISIT: Final = 1
_NEVER_SENT: Final = ("henkilotunnus",)


def _plain(value: Any) -> Any:
    """A cell as JSON carries it (ISO days, Python numbers, no missing values)."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    if isinstance(value, pd.Timestamp | dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, np.generic):
        return value.item()
    return value


def plan_visits(episodes: pd.DataFrame, *, n_visits: int, seed: int) -> list[PlannedVisit]:
    """A seeded sample of `n_visits` assessments (all when fewer), in the order they happened."""
    take = min(n_visits, len(episodes))
    rng = np.random.default_rng(seed)
    picked = episodes.iloc[np.sort(rng.choice(len(episodes), size=take, replace=False))]
    picked = picked.sort_values("assessment_date", kind="stable")
    fields = [f for f in PROFILE_FIELDS if f in picked.columns and f not in _NEVER_SENT]
    visits: list[PlannedVisit] = []
    seen_on: dict[dt.date, int] = {}
    for record in picked[[*fields, "service_id"]].to_dict(orient="records"):
        day = pd.Timestamp(record["assessment_date"]).date()
        nth = seen_on.get(day, 0)
        seen_on[day] = nth + 1
        at = dt.datetime.combine(day, DAY_STARTS) + dt.timedelta(minutes=MINUTES_PER_VISIT * nth)
        profile = {f: _plain(record[f]) for f in fields}
        visits.append(
            PlannedVisit(
                profile={k: v for k, v in profile.items() if v is not None},
                at=at,
                logged_service=str(record["service_id"]),
            )
        )
    return visits


def plan_register(directory: Path, *, n_visits: int, seed: int) -> list[PlannedVisit]:
    """`plan_visits` over a register directory's validated episodes."""
    from models.catalog import load_catalog
    from pipeline.effects.register import load_register

    return plan_visits(load_register(directory, load_catalog()), n_visits=n_visits, seed=seed)
