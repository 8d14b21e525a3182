"""How honest the numbers Polku serves are for the suggestion a caseworker acts on.

Reads what the model serves (`PolkuModel.score_frame` with intervals: clipped uplift, the
nominal interval, the served order) for held-out clients and holds it against the synthetic
truth: mean predicted uplift of each client's top-1 against its mean true uplift, how often
the interval holds the true uplift (over top-1 suggestions and over every allowed pair), and
how many top-1 intervals include zero.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from models.actions import uplift_over_no_service
from models.bundle import PolkuModel
from models.objectives import Objective


def top1_honesty(
    model: PolkuModel,
    frame: pd.DataFrame,
    true_outcomes: np.ndarray,
    catalog_ids: Sequence[str],
    objective: Objective | str,
) -> dict[str, Any]:
    """Top-1 honesty figures on held-out episodes.

    Parameters
    ----------
    model : PolkuModel
    frame : DataFrame
        Typed profile frame of the held-out episodes.
    true_outcomes : ndarray (n, len(catalog_ids) + 1)
        True probability of the objective's outcome under each catalog service, then none.
    catalog_ids : sequence of str
        Column order of `true_outcomes`.
    objective : Objective or str
    """
    scores = model.score_frame(frame, objective, with_intervals=True)
    assert scores.uplift_low is not None and scores.uplift_high is not None
    column = {service_id: i for i, service_id in enumerate(catalog_ids)}
    true_uplift = uplift_over_no_service(np.asarray(true_outcomes, dtype=np.float64))
    truth = true_uplift[:, [column[s] for s in scores.service_ids]]
    top = scores.top(1)[:, 0]
    rows = np.flatnonzero(top >= 0)
    cols = top[rows]
    predicted = scores.uplift[rows, cols]
    true_top = truth[rows, cols]
    low, high = scores.uplift_low[rows, cols], scores.uplift_high[rows, cols]
    pair_rows, pair_cols = np.nonzero(scores.allowed)
    pair_truth = truth[pair_rows, pair_cols]
    pair_low = scores.uplift_low[pair_rows, pair_cols]
    pair_high = scores.uplift_high[pair_rows, pair_cols]
    mean_predicted = float(np.mean(predicted)) if len(rows) else math.nan
    mean_true = float(np.mean(true_top)) if len(rows) else math.nan
    return {
        "n_top1": len(rows),
        "n_pairs": len(pair_rows),
        "top1_mean_predicted": mean_predicted,
        "top1_mean_true": mean_true,
        "top1_ratio": mean_predicted / mean_true if abs(mean_true) > 1e-12 else math.nan,
        "top1_coverage": _share((low <= true_top) & (true_top <= high)),
        "pairs_coverage": _share((pair_low <= pair_truth) & (pair_truth <= pair_high)),
        "top1_includes_zero": _share((low <= 0.0) & (high >= 0.0)),
        "top1_mean_width": float(np.mean(high - low)) if len(rows) else math.nan,
    }


def _share(mask: np.ndarray) -> float:
    return float(np.mean(mask)) if mask.size else math.nan
