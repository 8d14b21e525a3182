"""Can the data answer? Overlap, weights and balance of one comparison, with warnings in words.

The weights are those the estimand implies: for the ATE, 1/e for treated units and 1/(1-e)
for controls; for the ATT, 1 for treated units and e/(1-e) for controls (e = propensity).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final

import numpy as np

from pipeline.effects.estimators import ESTIMATOR_LABELS, Estimand, Estimate

# Thresholds behind the warnings, stated in the output so a reader can judge them.
MIN_EFFECTIVE_UNITS: Final = 30
MAX_WEIGHT_SHARE: Final = 0.05
EXTREME_PROPENSITY: Final = 0.01
MAX_EXTREME_SHARE: Final = 0.01
MAX_ABS_SMD: Final = 0.1
HISTOGRAM_BINS: Final = 20
QUANTILES: Final = (0.0, 0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99, 1.0)


def estimand_weights(treated: np.ndarray, propensity: np.ndarray, estimand: Estimand) -> np.ndarray:
    """Each unit's weight under the estimand (see the module docstring)."""
    t = np.asarray(treated, dtype=bool)
    e = np.asarray(propensity, dtype=np.float64)
    if estimand == "ate":
        return np.where(t, 1.0 / e, 1.0 / (1.0 - e))
    return np.where(t, 1.0, e / (1.0 - e))


def effective_sample_size(weights: np.ndarray) -> float:
    """Kish's effective sample size, (sum w)^2 / sum w^2."""
    total = float(weights.sum())
    return total * total / float(np.sum(weights**2)) if len(weights) else 0.0


def standardised_differences(
    raw: np.ndarray, treated: np.ndarray, weights: np.ndarray | None = None
) -> np.ndarray:
    """Standardised mean differences (treated minus control) of each column of `raw`.

    The denominator is the unweighted pooled standard deviation, sqrt((s1² + s0²) / 2), the
    same before and after weighting so the two are comparable; a column constant in both arms
    gets 0.
    """
    t = np.asarray(treated, dtype=bool)
    w = np.ones(len(t)) if weights is None else weights
    mean1 = np.average(raw[t], axis=0, weights=w[t])
    mean0 = np.average(raw[~t], axis=0, weights=w[~t])
    pooled = np.sqrt((raw[t].var(axis=0) + raw[~t].var(axis=0)) / 2.0)
    diff = mean1 - mean0
    return np.where(pooled > 0, diff / np.where(pooled > 0, pooled, 1.0), 0.0)


@dataclass(frozen=True, slots=True)
class ArmDiagnostics:
    """Overlap and weights of one arm."""

    n_units: int
    effective_sample_size: float
    largest_weight_share: float
    propensity_quantiles: dict[str, float]
    propensity_histogram: list[int]
    n_extreme_propensity: int

    def to_dict(self) -> dict[str, object]:
        return {
            "n_units": self.n_units,
            "effective_sample_size": self.effective_sample_size,
            "largest_weight_share": self.largest_weight_share,
            "propensity_quantiles": self.propensity_quantiles,
            "propensity_histogram": self.propensity_histogram,
            "n_extreme_propensity": self.n_extreme_propensity,
        }


@dataclass(frozen=True, slots=True)
class BalanceRow:
    """One covariate's standardised mean difference before and after weighting."""

    covariate: str
    smd_before: float
    smd_after: float


@dataclass(frozen=True, slots=True)
class Diagnostics:
    """Overlap, weights and balance of one comparison, and the warnings they raise."""

    treated: ArmDiagnostics
    control: ArmDiagnostics
    balance: tuple[BalanceRow, ...]
    n_clipped: int
    warnings: tuple[str, ...]

    def to_dict(self) -> dict[str, object]:
        return {
            "treated": self.treated.to_dict(),
            "control": self.control.to_dict(),
            "propensity_histogram_edges": np.linspace(0, 1, HISTOGRAM_BINS + 1).tolist(),
            "balance": [
                {"covariate": r.covariate, "smd_before": r.smd_before, "smd_after": r.smd_after}
                for r in self.balance
            ],
            "n_propensities_clipped": self.n_clipped,
            "thresholds": {
                "min_effective_units": MIN_EFFECTIVE_UNITS,
                "max_weight_share": MAX_WEIGHT_SHARE,
                "extreme_propensity": EXTREME_PROPENSITY,
                "max_extreme_share": MAX_EXTREME_SHARE,
                "max_abs_smd": MAX_ABS_SMD,
            },
        }


def _arm(propensity: np.ndarray, weights: np.ndarray) -> ArmDiagnostics:
    histogram, _ = np.histogram(propensity, bins=HISTOGRAM_BINS, range=(0.0, 1.0))
    quantiles = np.quantile(propensity, QUANTILES) if len(propensity) else np.full(9, np.nan)
    extreme = (propensity < EXTREME_PROPENSITY) | (propensity > 1 - EXTREME_PROPENSITY)
    return ArmDiagnostics(
        n_units=len(propensity),
        effective_sample_size=effective_sample_size(weights),
        largest_weight_share=float(weights.max() / weights.sum()) if len(weights) else 0.0,
        propensity_quantiles={
            f"q{round(q * 100):02d}": float(v) for q, v in zip(QUANTILES, quantiles, strict=True)
        },
        propensity_histogram=[int(c) for c in histogram],
        n_extreme_propensity=int(extreme.sum()),
    )


def diagnose(
    raw: np.ndarray,
    names: Sequence[str],
    treated: np.ndarray,
    propensity: np.ndarray,
    estimand: Estimand,
    *,
    n_clipped: int = 0,
) -> Diagnostics:
    """Diagnostics and warnings of one comparison.

    Parameters
    ----------
    raw : unstandardised covariate matrix (one-hot levels as 0/1), shape (n_units, n_features)
    names : feature names of `raw`'s columns
    treated : bool array
    propensity : cross-fitted propensity of each unit
    estimand : "ate" or "att"; sets the weights
    n_clipped : how many propensities were clipped before weighting
    """
    t = np.asarray(treated, dtype=bool)
    weights = estimand_weights(t, propensity, estimand)
    treated_arm = _arm(propensity[t], weights[t])
    control_arm = _arm(propensity[~t], weights[~t])
    before = standardised_differences(raw, t)
    after = standardised_differences(raw, t, weights)
    balance = tuple(
        BalanceRow(name, float(b), float(a))
        for name, b, a in zip(names, before, after, strict=True)
    )
    warnings: list[str] = []
    for label, arm in (("treated", treated_arm), ("control", control_arm)):
        if arm.effective_sample_size < MIN_EFFECTIVE_UNITS:
            warnings.append(
                f"Poor overlap: the {label} arm has only {arm.effective_sample_size:.1f} "
                f"effective units after weighting (of {arm.n_units}); fewer than "
                f"{MIN_EFFECTIVE_UNITS}, so the weighted estimates rest on very few people."
            )
        if arm.largest_weight_share > MAX_WEIGHT_SHARE:
            warnings.append(
                f"Extreme weights: one unit carries {arm.largest_weight_share:.1%} of the "
                f"{label} arm's weight (more than {MAX_WEIGHT_SHARE:.0%}); IPW and AIPW "
                "depend heavily on that person."
            )
    n_extreme = treated_arm.n_extreme_propensity + control_arm.n_extreme_propensity
    if n_extreme > MAX_EXTREME_SHARE * len(t):
        warnings.append(
            f"Poor overlap: {n_extreme} units ({n_extreme / len(t):.1%}) have a propensity "
            f"below {EXTREME_PROPENSITY} or above {1 - EXTREME_PROPENSITY}: some kinds of "
            "people (almost) always or never get this treatment, and the data cannot say "
            "what it does for them."
        )
    if n_clipped:
        warnings.append(
            f"{n_clipped} propensities were clipped to keep weights finite; the estimate is "
            "partly extrapolated."
        )
    failing = [r for r in balance if abs(r.smd_after) > MAX_ABS_SMD]
    if failing:
        worst = sorted(failing, key=lambda r: -abs(r.smd_after))[:5]
        listed = ", ".join(f"{r.covariate} ({r.smd_after:+.2f})" for r in worst)
        warnings.append(
            f"Balance fails after weighting: {len(failing)} covariate(s) keep a standardised "
            f"mean difference above {MAX_ABS_SMD} in absolute value: {listed}. The propensity "
            "model may be wrong; IPW is suspect and AIPW leans on the outcome models."
        )
    return Diagnostics(treated_arm, control_arm, balance, n_clipped, tuple(warnings))


def range_warnings(estimates: Mapping[str, Estimate], binary_outcome: bool) -> list[str]:
    """Warn when an effect on a 0/1 outcome falls outside [-1, 1], which no effect can."""
    if not binary_outcome:
        return []
    wild = [name for name, e in estimates.items() if abs(e.estimate) > 1.0]
    if not wild:
        return []
    listed = ", ".join(f"{ESTIMATOR_LABELS[n]} {estimates[n].estimate:+.2f}" for n in wild)
    return [
        f"Impossible estimate: {listed} lies outside [-1, 1], the range of an effect on a 0/1 "
        "outcome; a few heavily weighted units drive it. Do not use it."
    ]
