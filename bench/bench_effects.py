"""Benchmark: AIPW with 5-fold cross-fitting and 200 bootstrap draws on 100,000 rows.

Times the whole `polku effects` analysis (checks, design matrix, cross-fitted nuisances,
all four estimators, bootstrap, diagnostics) on a confounded synthetic table, and its parts.
The bootstrap resamples units with the cross-fitted nuisance predictions held fixed; the
script also times one cross-fit, to show what a bootstrap that refits every draw would cost.
Run: `.venv/bin/python bench/bench_effects.py`.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks_md import write_section

from pipeline.effects.analysis import analyse
from pipeline.effects.estimators import design_matrix, fit_comparison, standardise
from pipeline.effects.table import check_table

N_ROWS = 100_000
N_DRAWS = 200
REPEATS = 3


def synthetic_table(n: int, seed: int = 0) -> tuple[pd.DataFrame, float]:
    """A confounded table with 10 numeric and 2 categorical covariates, and its true ATE."""
    rng = np.random.default_rng(seed)
    numeric = rng.normal(size=(n, 10))
    region = rng.choice(["north", "south", "east", "west"], n)
    education = rng.choice(["basic", "vocational", "upper_secondary", "bachelor", "master"], n)
    score = 0.8 * numeric[:, 0] - 0.5 * numeric[:, 1] + 0.4 * (region == "east")
    treated = rng.random(n) < 1 / (1 + np.exp(-score))
    base = -0.3 + 0.7 * numeric[:, 0] + 0.3 * numeric[:, 2] - 0.4 * (education == "basic")
    p0 = 1 / (1 + np.exp(-base))
    p1 = 1 / (1 + np.exp(-(base + 0.4)))
    frame = pd.DataFrame(numeric, columns=[f"x{i}" for i in range(10)])
    frame["region"] = region
    frame["education"] = education
    frame["treated"] = treated.astype(int)
    frame["employed"] = (rng.random(n) < np.where(treated, p1, p0)).astype(int)
    return frame, float((p1 - p0).mean())


def main() -> None:
    frame, truth = synthetic_table(N_ROWS)
    covariates = [c for c in frame.columns if c not in ("treated", "employed")]
    totals, crossfits, boots = [], [], []
    result = None
    for repeat in range(REPEATS):
        start = time.perf_counter()
        table = check_table(frame, treatment="treated", outcome="employed", covariates=covariates)
        result = analyse(table, estimand="ate", n_bootstrap=N_DRAWS, seed=repeat)
        totals.append(time.perf_counter() - start)

        design = design_matrix(frame, covariates)
        x = standardise(design.raw)
        t = frame["treated"].to_numpy() == 1
        y = frame["employed"].to_numpy(dtype=float)
        start = time.perf_counter()
        fit = fit_comparison(x, t, y, "ate", seed=repeat)
        crossfits.append(time.perf_counter() - start)
        start = time.perf_counter()
        fit.estimates(n_bootstrap=N_DRAWS, seed=repeat)
        boots.append(time.perf_counter() - start)
    assert result is not None
    aipw = result.comparisons[0].estimates["aipw"]
    total, crossfit, boot = (statistics.median(v) for v in (totals, crossfits, boots))
    refit_estimate = N_DRAWS * crossfit
    body = f"""\
AIPW with 5-fold cross-fitting (logistic propensity and per-arm logistic outcome models) and
{N_DRAWS} bootstrap draws, on {N_ROWS:,} rows of a confounded synthetic table (10 numeric and
2 categorical covariates, 19 features after one-hot encoding). Median of {REPEATS} runs.

| step | median s |
|---|---|
| whole analysis (checks, 4 estimators, {N_DRAWS}-draw bootstrap, diagnostics) | {total:.2f} |
| cross-fitting the nuisance models (15 logistic fits) | {crossfit:.2f} |
| {N_DRAWS}-draw bootstrap of DiM, IPW and AIPW | {boot:.2f} |

Goal: under 60 s; met with {60 / total:.0f}x margin. The bootstrap reweights units (how
often each is drawn with replacement) and recomputes each estimator's ratio of sums with
the cross-fitted nuisance predictions held fixed (a valid bootstrap of the doubly robust
estimator given its nuisances); refitting the nuisances in every draw would take about
{refit_estimate:.0f} s ({refit_estimate / boot:.0f}x the bootstrap as done).

Check on the last run: true ATE {truth:.4f}; AIPW {aipw.estimate:.4f}
[{aipw.ci_low:.4f}, {aipw.ci_high:.4f}] (percentile bootstrap); difference in means
{result.comparisons[0].estimates["difference_in_means"].estimate:.4f}.
"""
    print(body)
    write_section("effects", ".venv/bin/python bench/bench_effects.py", body)


if __name__ == "__main__":
    main()
