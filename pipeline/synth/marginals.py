"""The generated world's marginals beside the calibration targets of docs/domain/CALIBRATION.md.

Each `Marginal` says which public figure (or labelled assumption) it is checked against,
the range accepted (the figure with its stated tolerance) and the generated value. `polku
generate` prints them; the tests hold the generated values inside the ranges.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from models.actions import NO_SERVICE
from models.demographics import age_in_years, is_foreign_language
from models.eligibility import assess_eligibility_frame
from models.profile import PROFILE_COLUMNS


@dataclass(frozen=True, slots=True)
class Marginal:
    """One generated share against its target range."""

    name: str
    source: str
    low: float
    high: float
    value: float

    @property
    def within(self) -> bool:
        return bool(self.low <= self.value <= self.high)

    def row(self) -> str:
        flag = "ok " if self.within else "OFF"
        target = f"{self.low:.0%}-{self.high:.0%}"
        return f"{flag} {self.name:<52} {self.value:6.1%}   target {target:<9}  ({self.source})"


def _share(mask: np.ndarray, among: np.ndarray) -> float:
    return float(mask[among].mean()) if among.any() else float("nan")


def calibration_marginals(episodes: pd.DataFrame) -> list[Marginal]:
    """Compare a world's episodes with docs/domain/CALIBRATION.md (tolerance in each row)."""
    dates = episodes["assessment_date"].to_numpy(dtype="datetime64[D]")
    age = age_in_years(episodes["birth_date"].to_numpy(dtype="datetime64[D]"), dates)
    foreign = is_foreign_language(
        episodes["mother_tongue"].to_numpy(dtype=str), episodes["immigrant"].to_numpy(dtype=bool)
    )
    status = episodes["labour_market_status"].to_numpy(dtype=object)
    unemployed = status == "unemployed"
    months = episodes["unemployment_months"].to_numpy()
    served = episodes["service_id"].to_numpy(dtype=object) != NO_SERVICE
    employed_6m = episodes["employed_6m"].to_numpy(dtype=np.float64)
    eligible = assess_eligibility_frame(episodes[list(PROFILE_COLUMNS)])["eligible"].to_numpy(
        dtype=bool
    )

    def between(start: str, end: str) -> np.ndarray:
        return (dates >= np.datetime64(start)) & (dates <= np.datetime64(end))

    return [
        Marginal(
            "foreign-language share of the unemployed",
            "≈ 30 %, Nov 2021 (±5 pts)",
            0.25,
            0.35,
            _share(foreign, unemployed),
        ),
        Marginal(
            "under-30 share of the unemployed",
            "≈ 16 %, Oct 2022 (±4 pts)",
            0.12,
            0.20,
            _share(age < 30, unemployed),
        ),
        Marginal(
            "long-term (12+ mo) share of the unemployed, Oct-Dec 2021",
            "≈ 52 %, Nov 2021 (±5 pts)",
            0.47,
            0.57,
            _share(months >= 12, unemployed & between("2021-10-01", "2021-12-31")),
        ),
        Marginal(
            "long-term share of the unemployed, Sep-Nov 2022",
            "≈ 45 %, Oct 2022 (±5 pts)",
            0.40,
            0.50,
            _share(months >= 12, unemployed & between("2022-09-01", "2022-11-30")),
        ),
        Marginal(
            "long-term share of the unemployed, 2023 H1",
            "between 45 % (Oct 2022) and 40 % (Dec 2023) (±5 pts)",
            0.37,
            0.48,
            _share(months >= 12, unemployed & between("2023-01-01", "2023-06-30")),
        ),
        Marginal(
            "fully laid off share of job seekers, Mar 2021",
            "19-22 %, Feb-Mar 2021 (±3 pts)",
            0.16,
            0.25,
            _share(status == "laid_off", between("2021-03-01", "2021-03-31")),
        ),
        Marginal(
            "activation rate (in services or pay-subsidised), Jul-Sep 2021",
            "18.8-21.9 %, Jul-Sep 2021 (±3 pts)",
            0.158,
            0.249,
            _share(
                np.isin(status, ("in_services", "pay_subsidised")),
                between("2021-07-01", "2021-09-30"),
            ),
        ),
        Marginal(
            "employed at 6 months after a service",
            "25 % open labour market 6 mo after a service, national 2016 (±5 pts)",
            0.20,
            0.30,
            # Over the episodes whose six months have passed (all, unless `--censored`).
            _share(employed_6m == 1, served & eligible & ~np.isnan(employed_6m)),
        ),
        Marginal(
            "foreign-language share of clients (gate-eligible)",
            "35-45 % (assumed)",
            0.33,
            0.47,
            _share(foreign, eligible),
        ),
        Marginal(
            "under-30 share of clients (gate-eligible)",
            "25-30 % (assumed; ±6 pts: it conflicts with the 16 % of the unemployed)",
            0.19,
            0.36,
            _share(age < 30, eligible),
        ),
        Marginal(
            "assessments the gate turns away",
            "15-25 % (a design choice, not a published figure)",
            0.15,
            0.25,
            float(1.0 - eligible.mean()) if len(eligible) else float("nan"),
        ),
    ]
