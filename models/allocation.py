"""Capacity-aware allocation: each client at most one service, within each service's places.

The programme (solved exactly by HiGHS through scipy):

    maximise    sum_ij value[i, j] * x[i, j]
    subject to  sum_j x[i, j] <= 1                 (at most one service per client)
                sum_i x[i, j] <= places[j]         (each service's places)
                sum_{i in g, j} gain[i, j] x[i, j] >= floor[g]   (optional group floors)
                x[i, j] in {0, 1}, and x[i, j] = 0 where value[i, j] is NaN (not allowed)

Only pairs of positive value are variables: giving a client a service expected to do
nothing or harm never raises the total, nor a group's gain. Without group floors the
constraint matrix is that of a transportation problem (totally unimodular): the linear
relaxation's vertex optimum (HiGHS's interior point method with crossover,
`scipy.optimize.linprog`) is integral,
hence the programme's optimum, and is checked to be; floors make it a true MIP
(`scipy.optimize.milp`).

It lives in `models` because both the offline command (`pipeline.allocation`) and the
service's endpoint (`service.routes.allocation`) solve it, and `service` may not import
`pipeline`. The period's places (`period_places`) are derived here too, once.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import numpy as np
from scipy import sparse
from scipy.optimize import Bounds, LinearConstraint, OptimizeResult, linprog, milp
from scipy.special import ndtri

from models.bundle import FrameScores
from models.catalog import Catalog

# Mean days of a month: a catalog's `monthly_capacity` is scaled to a period by its days.
DAYS_PER_MONTH: Final = 365.25 / 12
NO_SERVICE: Final = -1
STATUS_OPTIMAL: Final = "optimal"
# What a pair is worth to the programme (`pair_values`): the shown (shrunk) uplift, a lower
# quantile of it, or the model's own uplift before shrinkage.
UNCERTAINTY: Final = ("shrunk", "lower", "raw")
DEFAULT_QUANTILE: Final = 0.25
# The shown interval is a nominal 90 % one: its lower end is the 5 % quantile.
_INTERVAL_Z: Final = 1.6448536269514722  # ndtri(0.95)
# Where the shrinkage leaves the shown uplifts equal (all of them 0 when the data cannot
# tell the services apart), the model's own order decides, as it orders the client's list.
TIE_BREAK: Final = 1e-3
_MILP_STATUS: Final = {
    0: STATUS_OPTIMAL,
    1: "time_limit",
    2: "infeasible",
    3: "unbounded",
    4: "other",
}


class AllocationError(RuntimeError):
    """The programme has no solution (infeasible floors, a time limit with no solution)."""

    def __init__(self, status: str, message: str) -> None:
        super().__init__(f"allocation {status}: {message}")
        self.status = status


def period_places(catalog: Catalog, days: float, share: float = 1.0) -> np.ndarray:
    """Each service's places for a period of `days`: `monthly_capacity` x days / month x share.

    Rounded to the nearest whole place; `share` is the office's part of the catalog's
    (Helsinki-wide) capacity.
    """
    if days <= 0:
        raise ValueError(f"a period has a positive number of days, got {days}")
    if share <= 0.0:
        raise ValueError(f"the share of the capacity must be positive, got {share}")
    monthly = np.array([s.monthly_capacity for s in catalog.services], dtype=np.float64)
    return np.rint(monthly * (days / DAYS_PER_MONTH) * share).astype(np.int64)


def pair_values(
    scores: FrameScores, uncertainty: str, quantile: float = DEFAULT_QUANTILE
) -> np.ndarray:
    """The value of each (client, service) pair under an uncertainty reading; NaN where the
    client may not take the service.

    `shrunk`: the shown uplift (the posterior mean); `lower`: its `quantile` (normal, with
    the spread of the shown 90 % interval's lower half); `raw`: the model's own uplift.
    The first two add `TIE_BREAK` x the model's own uplift, so equal shown uplifts are
    told apart as the client's list tells them.
    """
    raw = scores.uplift if scores.rank_key is None else scores.rank_key
    if uncertainty == "shrunk":
        value = scores.uplift + TIE_BREAK * raw
    elif uncertainty == "lower":
        if scores.uplift_low is None:
            raise ValueError("the lower reading needs the scores' intervals")
        if not 0.0 < quantile < 0.5:
            raise ValueError(f"the lower quantile must lie in (0, 0.5), got {quantile}")
        sigma = (scores.uplift - scores.uplift_low) / _INTERVAL_Z
        value = scores.uplift + float(ndtri(quantile)) * sigma + TIE_BREAK * raw
    elif uncertainty == "raw":
        value = raw
    else:
        raise ValueError(f"uncertainty must be one of {', '.join(UNCERTAINTY)}")
    return np.where(scores.allowed, value, np.nan)


@dataclass(frozen=True)
class Allocation:
    """The solved programme.

    Attributes
    ----------
    service : int ndarray (n,)
        Column of the service given to each client, `NO_SERVICE` (-1) for none.
    status : str
        The solver's status (`optimal`, `time_limit`, ...) and `message` its words.
    objective : float
        The total value of the allocation.
    mip_gap : float
        HiGHS's relative gap (0 when proved optimal).
    seconds : float
        Wall time of the solve (building the matrices included).
    n_variables : int
        Pairs the programme chose among (allowed, of positive value).
    floors : dict of group -> floor, empty without floors
    """

    service: np.ndarray
    status: str
    message: str
    objective: float
    mip_gap: float
    seconds: float
    n_variables: int
    floors: dict[str, float]

    def used(self, n_services: int) -> np.ndarray:
        """Places used per service."""
        given = self.service[self.service >= 0]
        return np.bincount(given, minlength=n_services).astype(np.int64)


def solve_allocation(
    value: np.ndarray,
    places: Sequence[int] | np.ndarray,
    *,
    gain: np.ndarray | None = None,
    groups: np.ndarray | None = None,
    group_floor: float | None = None,
    time_limit: float | None = 60.0,
) -> Allocation:
    """Solve the programme of the module docstring.

    Parameters
    ----------
    value : float ndarray (n, m)
        What each client is expected to gain from each service (NaN: may not take it); the
        total is maximised.
    places : int array (m,)
        Places of each service for the period (non-negative).
    gain : float ndarray (n, m), optional
        What the group floors count (default `value`; differs when preferences add weight).
    groups : ndarray (n,), optional
        Each client's group for the floors (a protected attribute may define it: it only
        bounds the allocation, never ranks).
    group_floor : float, optional
        Every group's mean expected gain per client is at least this share of the whole
        cohort's mean under the allocation without floors (capped at what the group could
        gain with unlimited places). Needs `groups`.
    time_limit : float, optional
        Seconds HiGHS may take; past it the best solution found is returned with status
        `time_limit`.

    Raises
    ------
    AllocationError
        No solution: the floors cannot all hold, or none was found within the time limit.
    """
    started = time.perf_counter()
    value = np.asarray(value, dtype=np.float64)
    n, m = value.shape
    capacity = np.asarray(places, dtype=np.float64)
    if capacity.shape != (m,) or (capacity < 0).any():
        raise ValueError("places must be one non-negative number per service")
    gain = value if gain is None else np.asarray(gain, dtype=np.float64)
    if gain.shape != value.shape:
        raise ValueError("gain must have the shape of value")
    if group_floor is not None and groups is None:
        raise ValueError("a group floor needs the clients' groups")

    rows, cols = np.nonzero(np.nan_to_num(value, nan=0.0) > 0)
    pair_value = value[rows, cols]
    k = len(rows)
    if k == 0:  # nothing of positive value to give anyone (HiGHS wants a variable)
        return Allocation(
            np.full(n, NO_SERVICE, dtype=np.int64),
            STATUS_OPTIMAL,
            "nothing to allocate",
            0.0,
            0.0,
            time.perf_counter() - started,
            0,
            {},
        )
    assignment = sparse.csr_array(
        (np.ones(2 * k), (np.r_[rows, n + cols], np.r_[np.arange(k), np.arange(k)])),
        shape=(n + m, k),
    )
    lower = np.zeros(n + m)
    upper = np.r_[np.ones(n), capacity]
    floors: dict[str, float] = {}
    matrices = [assignment]
    if group_floor is not None and groups is not None:
        base = _solve(pair_value, assignment, lower, upper, time_limit, floors=False)
        base_x = _chosen(base.x, k)
        mean_gain = float(gain[rows, cols][base_x].sum()) / max(n, 1)
        labels = np.asarray(groups).astype(str)
        pair_gain = np.nan_to_num(gain[rows, cols], nan=0.0)
        best_alone = np.nanmax(np.where(np.isnan(gain), -np.inf, gain), axis=1, initial=0.0)
        floor_rows = []
        for label in sorted(set(labels.tolist())):
            member = labels == label
            floor = min(
                group_floor * mean_gain * int(member.sum()),
                float(np.maximum(best_alone[member], 0.0).sum()),
            )
            floors[label] = floor
            floor_rows.append(np.where(member[rows], pair_gain, 0.0))
        matrices.append(sparse.csr_array(np.vstack(floor_rows)))
        lower = np.r_[lower, list(floors.values())]
        upper = np.r_[upper, np.full(len(floors), np.inf)]
    constraints = sparse.vstack(matrices, format="csr")
    result = _solve(pair_value, constraints, lower, upper, time_limit, floors=bool(floors))
    status = _MILP_STATUS.get(int(result.status), "other")
    if result.x is None:
        raise AllocationError(status, str(result.message))
    chosen = _chosen(result.x, k)
    service = np.full(n, NO_SERVICE, dtype=np.int64)
    service[rows[chosen]] = cols[chosen]
    gap = getattr(result, "mip_gap", 0.0)
    return Allocation(
        service=service,
        status=status,
        message=str(result.message),
        objective=float(pair_value[chosen].sum()),
        mip_gap=float(gap) if gap is not None else 0.0,
        seconds=time.perf_counter() - started,
        n_variables=k,
        floors=floors,
    )


def _solve(
    pair_value: np.ndarray,
    constraints: sparse.csr_array,
    lower: np.ndarray,
    upper: np.ndarray,
    time_limit: float | None,
    *,
    floors: bool,
) -> OptimizeResult:
    options: dict[str, object] = {}
    if time_limit is not None:
        options["time_limit"] = float(time_limit)
    if not floors:
        # Without floors the matrix is a transportation problem's (totally unimodular): the
        # interior point method's crossover ends at a vertex, which is integral, so the
        # relaxation's optimum is the programme's. Checked, not assumed: a fractional answer
        # goes to the MIP. Not the dual simplex: on values that are (nearly) all equal, as a
        # model that cannot tell services apart gives, it took minutes where this takes
        # seconds.
        relaxed = linprog(
            -pair_value,
            A_ub=constraints,
            b_ub=upper,
            bounds=(0.0, 1.0),
            method="highs-ipm",
            options=options,
        )
        x = relaxed.x
        if relaxed.status == 0 and x is not None and np.all(np.abs(x - np.rint(x)) < 1e-6):
            relaxed.message = "optimal: the relaxation's vertex is integral (HiGHS IPM, crossover)"
            relaxed.mip_gap = 0.0
            return relaxed
    # HiGHS's MIP presolve takes minutes on these problems that it then solves at the root
    # in a second or two: off.
    return milp(
        c=-pair_value,
        constraints=LinearConstraint(constraints, lower, upper),
        integrality=np.ones(len(pair_value)),
        bounds=Bounds(0.0, 1.0),
        options={**options, "presolve": False},
    )


def _chosen(x: np.ndarray | None, k: int) -> np.ndarray:
    if x is None:
        return np.zeros(k, dtype=bool)
    return np.asarray(x) > 0.5


def rank_in_own_list(rank_key: np.ndarray, allowed: np.ndarray, service: np.ndarray) -> np.ndarray:
    """The rank (1 = best) the given service has in each client's own list; 0 for none.

    The list is the client's allowed services ordered by `rank_key` (as `recommend`
    orders them).
    """
    keyed = np.where(allowed, rank_key, -np.inf)
    ranks = np.argsort(np.argsort(-keyed, axis=1, kind="stable"), axis=1) + 1
    out = np.zeros(len(service), dtype=np.int64)
    given = service >= 0
    out[given] = ranks[np.flatnonzero(given), service[given]]
    return out


def best_with_places(
    rank_key: np.ndarray, allowed: np.ndarray, places_left: np.ndarray, exclude: np.ndarray
) -> np.ndarray:
    """Each client's best-ranked allowed service that still has places, other than
    `exclude` (their own allocated one); `NO_SERVICE` where none has places."""
    open_ = allowed & (np.asarray(places_left)[None, :] > 0)
    n = len(exclude)
    given = exclude >= 0
    open_[np.flatnonzero(given), exclude[given]] = False
    keyed = np.where(open_, rank_key, -np.inf)
    best = np.argmax(keyed, axis=1) if keyed.shape[1] else np.zeros(n, dtype=np.int64)
    return np.where(open_.any(axis=1), best, NO_SERVICE).astype(np.int64)
