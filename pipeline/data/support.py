"""Can the prepared episodes support a model? Named errors instead of numpy's.

A register too small, with one arm only, or where no service was taken often enough for the
ranker to rank it, cannot give a model worth registering. `check_support` says what is
missing and how much is needed; `polku train` turns the error into exit code 2 and a FAILED
MLflow run that carries the reason.
"""

from __future__ import annotations

from typing import Final

import numpy as np

from models.actions import NO_SERVICE
from models.ranker import ServiceRanker

MIN_TRAIN_EPISODES: Final = 100
MIN_HELD_OUT_EPISODES: Final = 20
# A service needs this many logged training episodes before the ranker ranks it.
MIN_TREATED: Final = int(ServiceRanker().min_treated)


class InsufficientDataError(ValueError):
    """The data cannot support a model; the message says what is missing and how much."""


def check_support(
    train_service_id: np.ndarray,
    n_held_out: int,
    *,
    min_train: int = MIN_TRAIN_EPISODES,
    min_held_out: int = MIN_HELD_OUT_EPISODES,
    min_treated: int = MIN_TREATED,
) -> None:
    """Raise `InsufficientDataError` when the training and held-out parts cannot support a model.

    Parameters
    ----------
    train_service_id : array of str
        The logged service (or "none") of every eligible training episode.
    n_held_out : int
        Eligible held-out episodes.
    """
    services = np.asarray(train_service_id, dtype=str)
    n_train = int(services.size)
    if n_train < min_train:
        raise InsufficientDataError(
            f"too few episodes: {n_train} eligible training episodes, need at least {min_train}"
        )
    if n_held_out < min_held_out:
        raise InsufficientDataError(
            f"too few episodes: {n_held_out} eligible held-out episodes, need at least "
            f"{min_held_out} (hold out more clients with --test-fraction, or bring more data)"
        )
    treated = services != NO_SERVICE
    if not treated.any():
        raise InsufficientDataError(
            f"one arm only: none of the {n_train} training episodes received a service, so "
            "no service's effect can be learnt; need episodes where a service was taken"
        )
    if treated.all():
        raise InsufficientDataError(
            f"one arm only: every one of the {n_train} training episodes received a service, "
            "so there is no 'none' arm to compare against; need episodes without a service"
        )
    names, counts = np.unique(services[treated], return_counts=True)
    if int(counts.max()) < min_treated:
        top = int(np.argmax(counts))
        most_used, most = str(names[top]), int(counts[top])
        raise InsufficientDataError(
            f"no service can be ranked: each needs at least {min_treated} training episodes "
            f"in which it was taken, and the most used, {most_used!r}, has {most} "
            f"({len(names)} services used at all, in {n_train} training episodes)"
        )
