"""Per-feature drift of the served model inputs from the training data: PSI and unseen values.

The statistic is the population stability index, `sum((s - r) * ln(s / r))` over bins, with
`r` and `s` the training and served shares of each bin. Chosen over a two-sample test
(Kolmogorov-Smirnov, chi-square) because (1) it reads the same for numeric and categorical
inputs, so one threshold serves every feature; (2) it measures how much the distribution
moved, not whether a move is detectable: at the thousands of requests a month an office
serves, a test's p-value flags shifts far too small to matter, and at a few dozen misses
large ones; (3) it has conventional readings (below 0.1 stable, 0.1-0.25 watch, above 0.25
act) that `Thresholds.psi` follows. Numeric inputs are binned at the training data's deciles
(distinct edges only, open-ended at both ends); categorical inputs by their training levels
plus one bin for values training never had. Empty bins take `EPSILON` so the log stays finite.

"Unseen" is the share of served rows with a value the training data never had: a category
it had no row of, or a number outside its range.
"""

from __future__ import annotations

from typing import Final

import numpy as np
import pandas as pd

from models.input_profile import INPUT_COLUMNS, NUMERIC_INPUTS

EPSILON: Final = 1e-4
N_QUANTILE_BINS: Final = 10


def psi(reference: np.ndarray, served: np.ndarray) -> float:
    """The PSI of two vectors of bin shares (each summing to 1)."""
    r = np.maximum(np.asarray(reference, dtype=float), EPSILON)
    s = np.maximum(np.asarray(served, dtype=float), EPSILON)
    return float(np.sum((s - r) * np.log(s / r)))


def _numeric(reference: pd.Series, served: pd.Series) -> tuple[float, float]:
    ref = pd.to_numeric(reference, errors="coerce").dropna().to_numpy(dtype=float)
    new = pd.to_numeric(served, errors="coerce").dropna().to_numpy(dtype=float)
    if len(ref) == 0 or len(new) == 0:
        return float("nan"), float("nan")
    edges = np.unique(np.quantile(ref, np.linspace(0, 1, N_QUANTILE_BINS + 1))[1:-1])
    bins = np.concatenate([[-np.inf], edges, [np.inf]])
    r = np.histogram(ref, bins)[0] / len(ref)
    s = np.histogram(new, bins)[0] / len(new)
    unseen = float(((new < ref.min()) | (new > ref.max())).mean())
    return psi(r, s), unseen


def _categorical(reference: pd.Series, served: pd.Series) -> tuple[float, float]:
    ref = reference.dropna().astype(str)
    new = served.dropna().astype(str)
    if len(ref) == 0 or len(new) == 0:
        return float("nan"), float("nan")
    levels = sorted(ref.unique())
    r = ref.value_counts(normalize=True).reindex(levels, fill_value=0.0).to_numpy()
    seen = new.isin(levels)
    s = new[seen].value_counts().reindex(levels, fill_value=0).to_numpy() / len(new)
    unseen = float((~seen).mean())
    return psi(np.append(r, 0.0), np.append(s, unseen)), unseen


def feature_drift(reference: pd.DataFrame, served: pd.DataFrame) -> pd.DataFrame:
    """One row per model input: `feature`, `kind`, `psi`, `unseen_share`, `n_served`."""
    rows = []
    for column in INPUT_COLUMNS:
        kind = "numeric" if column in NUMERIC_INPUTS else "categorical"
        measure = _numeric if kind == "numeric" else _categorical
        value, unseen = measure(reference[column], served[column])
        rows.append(
            {
                "feature": column,
                "kind": kind,
                "psi": value,
                "unseen_share": unseen,
                "n_served": int(served[column].notna().sum()),
            }
        )
    return pd.DataFrame(rows)
