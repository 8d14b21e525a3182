"""The action space: the catalog's services in catalog order, then "no service" last.

Every array with one column per action (the ranker's outcome models, the world's truth, the
evaluation's outcome matrices, the caseworkers' choice probabilities) follows this order, and
every logged `service_id` becomes an action index here, so "none" has one place.

Examples
--------
>>> space = ActionSpace(("job_coaching", "finnish_language_course"))
>>> space.ids
('job_coaching', 'finnish_language_course', 'none')
>>> space.no_service, space.indices(["none", "job_coaching"]).tolist()
(2, [2, 0])
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Final

import numpy as np
import numpy.typing as npt

# The logged `service_id` of an episode in which the client got no service.
NO_SERVICE: Final = "none"


def no_service_index(n_services: int) -> int:
    """Index of "no service" among the actions of `n_services` services: the last one."""
    return n_services


def action_ids(service_ids: Iterable[str]) -> tuple[str, ...]:
    """The actions' ids: the services in order, then `NO_SERVICE`."""
    return (*service_ids, NO_SERVICE)


@dataclass(frozen=True)
class ActionSpace:
    """The services (in order) and "no service" after them.

    Parameters
    ----------
    service_ids : sequence of str
        Distinct service ids, without `NO_SERVICE`.

    Raises
    ------
    ValueError
        `NO_SERVICE` is among the services, or a service is listed twice.
    """

    service_ids: tuple[str, ...]
    _lookup: dict[str, int] = field(init=False, repr=False, compare=False)

    def __init__(self, service_ids: Sequence[str]) -> None:
        ids = tuple(str(s) for s in service_ids)
        if NO_SERVICE in ids:
            raise ValueError(f"services must not include {NO_SERVICE!r} (it is the baseline)")
        if len(set(ids)) != len(ids):
            raise ValueError("services contains duplicates")
        object.__setattr__(self, "service_ids", ids)
        lookup = {s: i for i, s in enumerate(ids)}
        lookup[NO_SERVICE] = no_service_index(len(ids))
        object.__setattr__(self, "_lookup", lookup)

    @property
    def n_services(self) -> int:
        return len(self.service_ids)

    @property
    def n_actions(self) -> int:
        return len(self.service_ids) + 1

    @property
    def no_service(self) -> int:
        """Index of "no service"."""
        return no_service_index(len(self.service_ids))

    @property
    def ids(self) -> tuple[str, ...]:
        """Every action's id in index order ("none" last)."""
        return action_ids(self.service_ids)

    def indices(self, service_ids: npt.ArrayLike) -> np.ndarray:
        """Logged service ids (or `NO_SERVICE`) as action indices (int64).

        Raises
        ------
        ValueError
            Naming the first row (1-based) whose service is not among the services.
        """
        ids = np.asarray(service_ids, dtype=object)
        out = np.empty(ids.shape[0], dtype=np.int64)
        lookup = self._lookup
        for row, service_id in enumerate(ids):
            index = lookup.get(str(service_id))
            if index is None:
                raise ValueError(
                    f"row {row + 1}: service {service_id!r} is not among the services "
                    f"nor {NO_SERVICE!r}"
                )
            out[row] = index
        return out

    def is_service(self, indices: npt.ArrayLike) -> np.ndarray:
        """Where an action index is a service (not "no service")."""
        return np.asarray(indices) < self.no_service


def uplift_over_no_service(outcomes: npt.ArrayLike) -> np.ndarray:
    """Each service's outcome minus the outcome with no service, along the last axis.

    `outcomes` has one column per action (..., n_services + 1), "none" last; the result
    has one per service (..., n_services).
    """
    values = np.asarray(outcomes, dtype=np.float64)
    return values[..., :-1] - values[..., -1:]


def allowed_actions(allowed_services: npt.ArrayLike) -> np.ndarray:
    """The (n, n_services + 1) mask of every action: the services' mask, then "none" (always)."""
    mask = np.asarray(allowed_services, dtype=bool)
    return np.column_stack([mask, np.ones(len(mask), dtype=bool)])


def with_no_service(per_service: npt.ArrayLike, no_service: npt.ArrayLike) -> np.ndarray:
    """Join per-service values (..., n_services) and the no-service value (...) into actions.

    Returns (..., n_services + 1), "none" last.
    """
    services = np.asarray(per_service, dtype=np.float64)
    none = np.asarray(no_service, dtype=np.float64)[..., None]
    return np.concatenate([services, none], axis=-1)
