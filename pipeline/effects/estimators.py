"""Effects of a binary treatment from observational data: four estimators with intervals.

One comparison (a treated arm against a control arm) at a time. The estimators are

- **difference in means** (no adjustment; correct only when treatment was randomised);
- **regression adjustment**: outcome models fitted in each arm, averaged over the target
  population;
- **IPW**: inverse-propensity weighting, normalised within each arm (Hájek);
- **AIPW**: augmented IPW (doubly robust), with nuisance models cross-fitted over folds.

The nuisance models are scikit-learn logistic regressions (L2, C=1) on standardised
covariates: the propensity model, and one outcome model per arm (logistic for a 0/1
outcome, ridge regression for any other numeric outcome). Every prediction a unit gets
comes from models fitted on the other folds (cross-fitting), for all three estimators that
use them.

Each estimator is written as a difference of two ratios of per-unit sums,
``sum(a)/sum(b) - sum(c)/sum(d)``. That one form gives the point estimate, its influence
function (the linearisation of the ratios; cluster-robust when a cluster column is given),
subgroup estimates (the same sums restricted to the group) and a fast bootstrap: a draw
reweights the units (multinomial counts, or per-cluster counts) and recomputes four dot
products, holding the cross-fitted nuisance predictions fixed. That is a valid bootstrap of
the doubly robust estimator given its nuisances, which is what its first-order
(influence-function) theory uses too.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final, Literal

import numpy as np
import pandas as pd

from models.henkilotunnus import redact_henkilotunnus

Estimand = Literal["ate", "att"]
ESTIMANDS: Final = ("ate", "att")
ESTIMATORS: Final = ("difference_in_means", "regression_adjustment", "ipw", "aipw")
ESTIMATOR_LABELS: Final = {
    "difference_in_means": "difference in means",
    "regression_adjustment": "regression adjustment",
    "ipw": "IPW (normalised)",
    "aipw": "AIPW (doubly robust)",
}
N_FOLDS: Final = 5
# Propensities are clipped here only to keep weights finite; overlap diagnostics warn long
# before this bites.
PROPENSITY_CLIP: Final = 1e-3
Z_95: Final = 1.959963984540054
MAX_CATEGORY_LEVELS: Final = 50
_LOGISTIC: Final = "LogisticRegression(C=1.0, L2, solver newton-cholesky)"
PROPENSITY_MODEL: Final = f"{_LOGISTIC} on standardised covariates"
OUTCOME_MODEL_BINARY: Final = f"{_LOGISTIC} per arm on standardised covariates"
OUTCOME_MODEL_CONTINUOUS: Final = "Ridge(alpha=1.0) per arm on standardised covariates"


# What stands in an effects message where something shaped like an identity code was.
REDACTED_CODE: Final = "[henkilötunnus]"


class EffectsError(ValueError):
    """Bad input for an effect estimate; the message names the column and the problem.

    Anything in the message shaped like a personal identity code (`models.henkilotunnus`)
    is replaced by `REDACTED_CODE`, whatever quoted it: a value of the data, a label given
    on the command line, a column name. No effects message can carry a code.
    """

    def __init__(self, message: str) -> None:
        super().__init__(redact_henkilotunnus(message, REDACTED_CODE))


@dataclass(frozen=True, slots=True)
class Design:
    """Covariates as a numeric matrix: numeric columns standardised, categories one-hot.

    Attributes
    ----------
    matrix : ndarray of shape (n_units, n_features)
    names : feature names (`column` for a numeric column, `column=level` for a category)
    raw : the unstandardised matrix (0/1 for one-hot levels), for balance tables
    """

    matrix: np.ndarray
    names: tuple[str, ...]
    raw: np.ndarray


def design_matrix(frame: pd.DataFrame, covariates: Sequence[str]) -> Design:
    """Encode `covariates` of `frame`: bools and numbers as numbers, the rest one-hot.

    Raises
    ------
    EffectsError
        When a categorical column has more than `MAX_CATEGORY_LEVELS` levels.
    """
    blocks: list[np.ndarray] = []
    names: list[str] = []
    for column in covariates:
        values = frame[column]
        if pd.api.types.is_bool_dtype(values) or pd.api.types.is_numeric_dtype(values):
            blocks.append(values.to_numpy(dtype=np.float64)[:, None])
            names.append(column)
            continue
        text = values.astype(str)
        levels = sorted(text.unique())
        if len(levels) > MAX_CATEGORY_LEVELS:
            raise EffectsError(
                f"column {column!r} is categorical with {len(levels)} distinct values "
                f"(limit {MAX_CATEGORY_LEVELS}); is it an identifier rather than a covariate?"
            )
        codes = text.to_numpy()
        blocks.append(np.stack([(codes == level) for level in levels], axis=1).astype(np.float64))
        names.extend(f"{column}={level}" for level in levels)
    raw = np.hstack(blocks) if blocks else np.empty((len(frame), 0))
    return Design(matrix=standardise(raw), names=tuple(names), raw=raw)


def standardise(raw: np.ndarray) -> np.ndarray:
    """Columns scaled to mean 0 and sd 1 (constant columns become 0)."""
    mean = raw.mean(axis=0)
    sd = raw.std(axis=0)
    return (raw - mean) / np.where(sd > 0, sd, 1.0)


@dataclass(frozen=True, slots=True)
class Nuisances:
    """Cross-fitted predictions for every unit of one comparison.

    Attributes
    ----------
    propensity : P(treated | x), clipped to [PROPENSITY_CLIP, 1 - PROPENSITY_CLIP]
    mu_treated, mu_control : predicted outcome under treatment and under control
    n_clipped : how many propensities were clipped
    """

    propensity: np.ndarray
    mu_treated: np.ndarray
    mu_control: np.ndarray
    n_clipped: int


def _is_binary(y: np.ndarray) -> bool:
    return bool(np.isin(y, (0.0, 1.0)).all())


def _fit_predict_outcome(x_fit: np.ndarray, y_fit: np.ndarray, x_new: np.ndarray) -> np.ndarray:
    from sklearn.linear_model import LogisticRegression, Ridge

    if len(y_fit) == 0:
        return np.full(len(x_new), np.nan)
    if _is_binary(y_fit):
        if np.unique(y_fit).size < 2:  # one class in this fold's arm: its rate is the model
            return np.full(len(x_new), float(y_fit[0]))
        model = LogisticRegression(C=1.0, solver="newton-cholesky", max_iter=100).fit(x_fit, y_fit)
        return np.asarray(model.predict_proba(x_new)[:, 1])
    return np.asarray(Ridge(alpha=1.0).fit(x_fit, y_fit).predict(x_new))


def fit_nuisances(
    x: np.ndarray,
    treated: np.ndarray,
    outcomes: Sequence[np.ndarray],
    *,
    n_folds: int = N_FOLDS,
    seed: int = 0,
) -> tuple[np.ndarray, int, list[tuple[np.ndarray, np.ndarray]]]:
    """Cross-fit the propensity model and, for each outcome, the two outcome models.

    Parameters
    ----------
    x : standardised covariate matrix, shape (n_units, n_features)
    treated : bool array, shape (n_units,)
    outcomes : one or more outcome arrays (the propensity model is fitted once for all)
    n_folds : folds of the cross-fitting (stratified by arm)
    seed : seed of the fold split

    Returns
    -------
    propensity (clipped), number clipped, and per outcome (mu_treated, mu_control).
    """
    from sklearn.model_selection import StratifiedKFold

    from pipeline.threads import limited_threads

    t = np.asarray(treated, dtype=bool)
    n = len(t)
    propensity = np.empty(n)
    mus = [(np.empty(n), np.empty(n)) for _ in outcomes]
    folds = StratifiedKFold(n_splits=n_folds, shuffle=True, random_state=seed)
    # Many small fits: the offline thread limit (one pool thread by default) keeps BLAS from
    # spending more on wake-ups than it saves.
    with limited_threads():
        for fit_idx, new_idx in folds.split(x, t):
            _fit_fold(x, t, outcomes, fit_idx, new_idx, propensity, mus)
    clipped = np.clip(propensity, PROPENSITY_CLIP, 1 - PROPENSITY_CLIP)
    n_clipped = int(np.count_nonzero(clipped != propensity))
    return clipped, n_clipped, mus


def _fit_fold(
    x: np.ndarray,
    t: np.ndarray,
    outcomes: Sequence[np.ndarray],
    fit_idx: np.ndarray,
    new_idx: np.ndarray,
    propensity: np.ndarray,
    mus: list[tuple[np.ndarray, np.ndarray]],
) -> None:
    """Fit one fold's nuisance models and fill in its held-out predictions."""
    from sklearn.linear_model import LogisticRegression

    x_fit, x_new, t_fit = x[fit_idx], x[new_idx], t[fit_idx]
    if x.shape[1] == 0:
        propensity[new_idx] = t_fit.mean()
    else:
        model = LogisticRegression(C=1.0, solver="newton-cholesky", max_iter=100).fit(x_fit, t_fit)
        propensity[new_idx] = model.predict_proba(x_new)[:, 1]
    for (mu1, mu0), y in zip(mus, outcomes, strict=True):
        y_fit = np.asarray(y, dtype=np.float64)[fit_idx]
        if x.shape[1] == 0:
            mu1[new_idx] = y_fit[t_fit].mean()
            mu0[new_idx] = y_fit[~t_fit].mean()
            continue
        mu1[new_idx] = _fit_predict_outcome(x_fit[t_fit], y_fit[t_fit], x_new)
        mu0[new_idx] = _fit_predict_outcome(x_fit[~t_fit], y_fit[~t_fit], x_new)


@dataclass(frozen=True, slots=True)
class RatioTerms:
    """An estimator as ``sum(a)/sum(b) - sum(c)/sum(d)`` over per-unit terms."""

    a: np.ndarray
    b: np.ndarray
    c: np.ndarray
    d: np.ndarray

    def value(self, mask: np.ndarray | None = None) -> float:
        """The estimate over all units, or over those where `mask` is true."""
        if mask is None:
            return float(self.a.sum() / self.b.sum() - self.c.sum() / self.d.sum())
        return float(
            self.a[mask].sum() / self.b[mask].sum() - self.c[mask].sum() / self.d[mask].sum()
        )

    def influence(self, mask: np.ndarray | None = None) -> np.ndarray:
        """Each unit's influence on the estimate (zero outside `mask`), mean-zero inside it."""
        keep = np.ones(len(self.a), dtype=bool) if mask is None else mask
        m = keep.sum()
        r1 = self.a[keep].sum() / self.b[keep].sum()
        r2 = self.c[keep].sum() / self.d[keep].sum()
        phi = (self.a - r1 * self.b) / (self.b[keep].sum() / m) - (self.c - r2 * self.d) / (
            self.d[keep].sum() / m
        )
        return np.where(keep, phi, 0.0)

    def bootstrap(self, counts: np.ndarray) -> np.ndarray:
        """The estimate under each row of unit weights `counts` (draws x units)."""
        return counts @ self.a / (counts @ self.b) - counts @ self.c / (counts @ self.d)


def estimator_terms(
    treated: np.ndarray,
    y: np.ndarray,
    propensity: np.ndarray,
    mu_treated: np.ndarray,
    mu_control: np.ndarray,
    estimand: Estimand,
) -> dict[str, RatioTerms]:
    """Every estimator of `ESTIMATORS` as ratio terms, for the ATE or the ATT."""
    t = np.asarray(treated, dtype=np.float64)
    c = 1.0 - t
    e = propensity
    ones = np.ones_like(t)
    zeros = np.zeros_like(t)
    dim = RatioTerms(t * y, t, c * y, c)
    if estimand == "ate":
        ra = RatioTerms(mu_treated - mu_control, ones, zeros, ones)
        ipw = RatioTerms(t * y / e, t / e, c * y / (1 - e), c / (1 - e))
        pseudo = mu_treated - mu_control + t * (y - mu_treated) / e - c * (y - mu_control) / (1 - e)
        aipw = RatioTerms(pseudo, ones, zeros, ones)
    else:
        odds = e / (1 - e)
        ra = RatioTerms(t * (y - mu_control), t, zeros, ones)
        ipw = RatioTerms(t * y, t, c * odds * y, c * odds)
        aipw = RatioTerms(t * (y - mu_control) - c * odds * (y - mu_control), t, zeros, ones)
    return {
        "difference_in_means": dim,
        "regression_adjustment": ra,
        "ipw": ipw,
        "aipw": aipw,
    }


# Which estimator's influence function gives each estimator's normal interval. Regression
# adjustment borrows the efficient (AIPW) one: its own with the outcome models held fixed
# would ignore their estimation error; the efficient bound is conservative for a correctly
# specified parametric outcome model.
INFLUENCE_SOURCE: Final = {
    "difference_in_means": "difference_in_means",
    "regression_adjustment": "aipw",
    "ipw": "ipw",
    "aipw": "aipw",
}
CI_METHODS: Final = {
    "difference_in_means": "normal, unpooled standard error",
    "regression_adjustment": "normal, variance of the efficient (AIPW) influence function",
    "ipw": "normal, influence function with the propensity held fixed (conservative for the ATE)",
    "aipw": "normal, influence function of the cross-fitted AIPW estimator",
}
BOOTSTRAPPED: Final = ("difference_in_means", "ipw", "aipw")


@dataclass(frozen=True, slots=True)
class Estimate:
    """One estimator's effect with its 95 % interval and how the interval was made."""

    estimator: str
    estimate: float
    std_error: float
    ci_low: float
    ci_high: float
    ci_method: str

    def to_dict(self) -> dict[str, float | str]:
        return {
            "estimate": self.estimate,
            "std_error": self.std_error,
            "ci_low": self.ci_low,
            "ci_high": self.ci_high,
            "ci_method": self.ci_method,
        }


def cluster_std_error(phi: np.ndarray, n: int, clusters: np.ndarray | None) -> float:
    """Standard error of a mean of influence terms, summing them within clusters first."""
    if clusters is None:
        return float(math.sqrt(np.sum(phi**2)) / n)
    sums = np.bincount(clusters, weights=phi)
    return float(math.sqrt(np.sum(sums**2)) / n)


def ratio_estimate(
    name: str,
    terms: RatioTerms,
    mask: np.ndarray | None,
    clusters: np.ndarray | None,
    method: str,
) -> Estimate:
    """A ratio-terms estimator with its normal 95 % interval from its influence function.

    `clusters` holds integer codes (0..k-1), one per unit, or None for independent units.
    """
    keep = np.ones(len(terms.a), dtype=bool) if mask is None else np.asarray(mask, dtype=bool)
    with np.errstate(divide="ignore", invalid="ignore"):
        value = terms.value(keep)
        se = cluster_std_error(terms.influence(keep), int(keep.sum()), clusters)
    return Estimate(name, value, se, value - Z_95 * se, value + Z_95 * se, method)


def bootstrap_counts(
    n_units: int,
    n_draws: int,
    rng: np.random.Generator,
    clusters: np.ndarray | None = None,
) -> np.ndarray:
    """Resampling weights (draws x units): how often each unit (or its cluster) is drawn.

    Each row is one nonparametric bootstrap draw: n units (or k clusters) drawn with
    replacement, counted with `bincount` (several times faster than `rng.multinomial` with
    100,000 equal cells).
    """
    n_cells = n_units if clusters is None else int(clusters.max()) + 1
    counts = np.empty((n_draws, n_cells))
    for draw in range(n_draws):
        counts[draw] = np.bincount(rng.integers(0, n_cells, n_cells), minlength=n_cells)
    return counts if clusters is None else counts[:, clusters]


@dataclass(frozen=True, slots=True)
class ComparisonFit:
    """Everything one comparison needs after the nuisance models are fitted."""

    treated: np.ndarray
    y: np.ndarray
    propensity: np.ndarray
    mu_treated: np.ndarray
    mu_control: np.ndarray
    n_clipped: int
    estimand: Estimand
    terms: dict[str, RatioTerms] = field(repr=False)
    clusters: np.ndarray | None = None

    def estimates(
        self,
        mask: np.ndarray | None = None,
        *,
        n_bootstrap: int = 0,
        seed: int = 0,
    ) -> dict[str, Estimate]:
        """Every estimator's effect over all units (or the `mask` subgroup), with intervals."""
        keep = np.ones(len(self.y), dtype=bool) if mask is None else np.asarray(mask, bool)
        n = int(keep.sum())
        draws = self._bootstrap_draws(keep, n_bootstrap, seed) if n_bootstrap > 0 else {}
        results: dict[str, Estimate] = {}
        for name in ESTIMATORS:
            value = self.terms[name].value(keep)
            phi = self.terms[INFLUENCE_SOURCE[name]].influence(keep)
            se = cluster_std_error(phi, n, self.clusters)
            if name in draws:
                low, high = np.nanquantile(draws[name], [0.025, 0.975])
                method = f"percentile bootstrap, {n_bootstrap} draws, nuisance predictions fixed"
                if self.clusters is not None:
                    method += ", clusters resampled"
            else:
                low, high = value - Z_95 * se, value + Z_95 * se
                method = CI_METHODS[name]
                if self.clusters is not None:
                    method += ", cluster-robust"
            results[name] = Estimate(name, value, se, float(low), float(high), method)
        return results

    def _bootstrap_draws(self, keep: np.ndarray, n_draws: int, seed: int) -> dict[str, np.ndarray]:
        rng = np.random.default_rng(seed)
        index = np.flatnonzero(keep)
        clusters = None
        if self.clusters is not None:
            _, clusters = np.unique(self.clusters[index], return_inverse=True)
        sub = {
            name: RatioTerms(t.a[index], t.b[index], t.c[index], t.d[index])
            for name, t in self.terms.items()
            if name in BOOTSTRAPPED
        }
        out: dict[str, list[np.ndarray]] = {name: [] for name in sub}
        chunk = max(1, min(n_draws, 4_000_000 // max(len(index), 1)))  # bound memory
        done = 0
        with np.errstate(divide="ignore", invalid="ignore"):
            while done < n_draws:
                size = min(chunk, n_draws - done)
                counts = bootstrap_counts(len(index), size, rng, clusters)
                for name, terms in sub.items():
                    out[name].append(terms.bootstrap(counts))
                done += size
        return {name: np.concatenate(parts) for name, parts in out.items()}


def fit_comparison(
    x: np.ndarray,
    treated: np.ndarray,
    y: np.ndarray,
    estimand: Estimand,
    *,
    clusters: np.ndarray | None = None,
    n_folds: int = N_FOLDS,
    seed: int = 0,
) -> ComparisonFit:
    """Cross-fit the nuisances of one comparison and set up its estimators.

    Parameters
    ----------
    x : standardised covariate matrix of the units in either arm
    treated : bool array, true for the treated arm
    y : numeric outcome
    estimand : "ate" (average over both arms) or "att" (average over the treated)
    clusters : optional integer cluster code per unit (e.g. a client with several episodes),
        for cluster-robust intervals and a cluster bootstrap
    n_folds, seed : cross-fitting folds and their seed

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(size=(400, 2)); t = rng.random(400) < 0.5
    >>> y = (rng.random(400) < 0.3 + 0.2 * t).astype(float)
    >>> fit = fit_comparison(x, t, y, "ate")
    >>> sorted(fit.estimates())
    ['aipw', 'difference_in_means', 'ipw', 'regression_adjustment']
    """
    t = np.asarray(treated, dtype=bool)
    y = np.asarray(y, dtype=np.float64)
    propensity, n_clipped, mus = fit_nuisances(x, t, [y], n_folds=n_folds, seed=seed)
    return comparison_from_nuisances(
        t, y, propensity, n_clipped, mus[0], estimand, clusters=clusters
    )


def comparison_from_nuisances(
    treated: np.ndarray,
    y: np.ndarray,
    propensity: np.ndarray,
    n_clipped: int,
    mu: tuple[np.ndarray, np.ndarray],
    estimand: Estimand,
    *,
    clusters: np.ndarray | None = None,
) -> ComparisonFit:
    """A `ComparisonFit` from nuisance predictions already cross-fitted."""
    t = np.asarray(treated, dtype=bool)
    codes = None
    if clusters is not None:
        _, codes = np.unique(np.asarray(clusters), return_inverse=True)
    terms = estimator_terms(t, y, propensity, mu[0], mu[1], estimand)
    return ComparisonFit(
        treated=t,
        y=y,
        propensity=propensity,
        mu_treated=mu[0],
        mu_control=mu[1],
        n_clipped=n_clipped,
        estimand=estimand,
        terms=terms,
        clusters=codes,
    )
