"""The thresholds past which `polku monitor` exits 1, and the alerts they raise.

Stated once here (and in `polku monitor --help`):

- `psi` 0.25: a model input whose population stability index is above it has moved enough
  to act on (the index's conventional "significant shift"; `pipeline.monitoring.drift`);
- `unseen_share` 0.05: more than 5 % of served rows with a value training never saw;
- `closure_shift` 0.10: the gate's refused share 10 points away from the training
  data's (the rules or the population changed);
- `closed_services_shift` 2.0: the catalog's limits close, on average, two services more
  or fewer for an admitted client than in the training data (the share with at least one
  closed is reported too, but some service is closed for nearly everyone: youth services
  for the older, and so on, so it hardly moves);
- `override_rate` 0.6: caseworkers override the first place in more than 60 % of decisions
  (over at least `min_decisions`), i.e. the suggestions stopped being of use;
- `calibration` 0.05: the realised outcome of what was taken differs from the predicted by
  more than 5 points on average (over at least `min_outcomes` episodes).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd


@dataclass(frozen=True)
class Thresholds:
    """The alert thresholds (see the module docstring)."""

    psi: float = 0.25
    unseen_share: float = 0.05
    closure_shift: float = 0.10
    closed_services_shift: float = 2.0
    override_rate: float = 0.6
    min_decisions: int = 50
    calibration: float = 0.05
    min_outcomes: int = 200


def _known(*values: float) -> bool:
    return not any(math.isnan(v) for v in values)


def alerts(
    drift: pd.DataFrame,
    served_closures: dict[str, float],
    training_closures: dict[str, float],
    override_rate: float,
    n_decisions: int,
    calibration: pd.DataFrame,
    thresholds: Thresholds,
) -> list[str]:
    """One sentence per threshold crossed (empty: all is within bounds)."""
    out = []
    for feature, value, unseen in zip(
        drift["feature"], drift["psi"].astype(float), drift["unseen_share"].astype(float),
        strict=True,
    ):  # fmt: skip
        if not math.isnan(value) and value > thresholds.psi:
            out.append(f"drift: {feature} has PSI {value:.3f} > {thresholds.psi}")
        if not math.isnan(unseen) and unseen > thresholds.unseen_share:
            out.append(
                f"unseen values: {unseen:.1%} of served {feature} values were "
                f"never in the training data (> {thresholds.unseen_share:.0%})"
            )
    served, trained = (c.get("gate_closed_share", math.nan)
                       for c in (served_closures, training_closures))  # fmt: skip
    if _known(served, trained) and abs(served - trained) > thresholds.closure_shift:
        out.append(
            f"closures: the gate refused {served:.1%} of served requests against {trained:.1%} "
            f"of the training data (shift > {thresholds.closure_shift:.0%})"
        )
    served, trained = (c.get("catalog_closed_mean", math.nan)
                       for c in (served_closures, training_closures))  # fmt: skip
    if _known(served, trained) and abs(served - trained) > thresholds.closed_services_shift:
        out.append(
            f"closures: the catalog closed {served:.1f} services on average for an admitted "
            f"client against {trained:.1f} in the training data "
            f"(shift > {thresholds.closed_services_shift})"
        )
    if n_decisions >= thresholds.min_decisions and override_rate > thresholds.override_rate:
        out.append(
            f"overrides: {override_rate:.1%} of {n_decisions} decisions overrode the first "
            f"place (> {thresholds.override_rate:.0%})"
        )
    overall = calibration[calibration["service_id"] == "all"]
    if len(overall):
        n, difference = int(overall["n"].iloc[0]), float(overall["difference"].iloc[0])
        if n >= thresholds.min_outcomes and abs(difference) > thresholds.calibration:
            out.append(
                f"outcomes: realised minus predicted {difference:+.3f} over {n} episodes "
                f"(beyond +/-{thresholds.calibration})"
            )
    return out
