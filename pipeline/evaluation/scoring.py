"""A model version's predictions for held-out episodes, in the evaluation's action order.

The evaluation's actions are the current catalog's services (catalog order) and then "no
service". A model may have been trained on an older catalog: its services are matched by
id, and a catalog service the model does not know gets no uplift and is never its choice.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from models.actions import with_no_service
from models.bundle import PolkuModel
from models.objectives import Objective, objective_weights


@dataclass(frozen=True)
class ModelPredictions:
    """What evaluation needs from a model for each held-out episode.

    Attributes
    ----------
    outcomes : ndarray of shape (n, n_services + 1)
        Predicted probability of the objective's outcome under each catalog service, then
        under none (baseline plus uplift, clipped to [0, 1]).
    rankable : bool ndarray of shape (n, n_services)
        Services the model would rank for the episode (eligible, within the limits of the
        model's catalog snapshot, and supported by enough logged episodes).
    shown, shown_low, shown_high : ndarray of shape (n, n_services), optional
        The uplift the model shows a caseworker for each catalog service and its interval
        (`PolkuModel.score_frame`; NaN where not rankable). `outcomes` carry the model's
        own uplift, which ranks the services.
    """

    outcomes: np.ndarray
    rankable: np.ndarray
    shown: np.ndarray | None = None
    shown_low: np.ndarray | None = None
    shown_high: np.ndarray | None = None


def predict_for_episodes(
    model: PolkuModel,
    frame: pd.DataFrame,
    catalog_ids: Sequence[str],
    objective: Objective | str,
    *,
    chunk_size: int = 20_000,
) -> ModelPredictions:
    """Predicted outcomes of every episode under every catalog service and none.

    Parameters
    ----------
    model : PolkuModel
    frame : DataFrame
        Typed profile frame of the episodes.
    catalog_ids : sequence of str
        The evaluation's service order.
    objective : Objective or str
    chunk_size : int
        Rows encoded at a time (bounds memory).
    """
    scores = model.score_frame(frame, objective, with_intervals=True, chunk_size=chunk_size)
    assert scores.uplift_low is not None and scores.uplift_high is not None
    ranker = model.ranker
    weights = objective_weights(objective)
    coef = ranker.objective_uplift_coef(objective)
    n = len(frame)
    base = np.empty(n)
    model_uplift = np.empty((n, len(model.service_ids)))
    for start in range(0, n, chunk_size):
        design = ranker.encode(frame.iloc[start : start + chunk_size])
        stop = start + design.shape[0]
        base[start:stop] = ranker.baseline_from_design(design) @ weights
        model_uplift[start:stop] = design @ coef
    position = {service_id: i for i, service_id in enumerate(model.service_ids)}
    uplift = np.zeros((n, len(catalog_ids)))
    rankable = np.zeros((n, len(catalog_ids)), dtype=bool)
    shown = {name: np.full((n, len(catalog_ids)), np.nan) for name in ("point", "low", "high")}
    for column, service_id in enumerate(catalog_ids):
        source = position.get(service_id)
        if source is not None:
            uplift[:, column] = model_uplift[:, source]
            rankable[:, column] = scores.allowed[:, source]
            shown["point"][:, column] = scores.uplift[:, source]
            shown["low"][:, column] = scores.uplift_low[:, source]
            shown["high"][:, column] = scores.uplift_high[:, source]
    outcomes = with_no_service(np.clip(base[:, None] + uplift, 0.0, 1.0), base)
    return ModelPredictions(outcomes, rankable, shown["point"], shown["low"], shown["high"])
