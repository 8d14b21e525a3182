"""Capacity-aware allocation: each client at most one service, within each service's places.

The programme (solved exactly by HiGHS through scipy):

    maximise    sum_ij value[i, j] * x[i, j]
    subject to  sum_j x[i, j] <= 1                 (at most one service per client)
                sum_i x[i, j] <= places[j]         (each service's places)
                sum_{i in g, j} gain[i, j] x[i, j] >= floor[g]   (optional group floors)
                x[i, j] in {0, 1}, and x[i, j] = 0 where value[i, j] is NaN (not allowed)

The default floors are do-no-harm ones (`do_no_harm_floors`, set on a scored cohort by
`cohort_do_no_harm` in `allocate_reading`, the one path of `polku allocate` and
`POST /v1/allocations`): no group gets
less, by the model's own estimates, than today's practice would give it within the same
places, less a lower-confidence slack so that a small group's floor is not set by noise.

Only pairs of positive value are variables: giving a client a service expected to do
nothing or harm never raises the total, nor a group's gain (under the `ranked` reading a
pair's value is positive where its shown uplift is, `ranked_values`). Without group floors the
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
# quantile of it, the model's own uplift before shrinkage, or the shown uplift's pairs
# valued by the model's own (`ranked_values`).
UNCERTAINTY: Final = ("shrunk", "lower", "raw", "ranked")
# The default reading (`polku allocate`, `POST /v1/allocations`): measured on the truth in
# docs/ALLOCATION.md against `shrunk`, the default before it.
DEFAULT_UNCERTAINTY: Final = "ranked"
DEFAULT_QUANTILE: Final = 0.25
# The shown interval is a nominal 90 % one: its lower end is the 5 % quantile.
INTERVAL_Z: Final = 1.6448536269514722  # ndtri(0.95)
# Where the shrinkage leaves the shown uplifts equal (all of them 0 when the data cannot
# tell the services apart), the model's own order decides, as it orders the client's list.
TIE_BREAK: Final = 1e-3
# The do-no-harm floor is practice's expected gain less this many standard deviations of it
# (one-sided 95 %): a group is held to what practice gives it with that confidence.
DO_NO_HARM_Z: Final = 1.6448536269514722
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


def pair_gains(
    scores: FrameScores, uncertainty: str, quantile: float = DEFAULT_QUANTILE
) -> np.ndarray:
    """What each pair is expected to gain under a reading: what the floors and the summary
    count. The same as `pair_values`, except that `ranked` counts the shown uplift."""
    return pair_values(scores, "shrunk" if uncertainty == "ranked" else uncertainty, quantile)


def pair_values(
    scores: FrameScores, uncertainty: str, quantile: float = DEFAULT_QUANTILE
) -> np.ndarray:
    """The value of each (client, service) pair under an uncertainty reading; NaN where the
    client may not take the service.

    `shrunk`: the shown uplift (the posterior mean); `lower`: its `quantile` (normal, with
    the spread of the shown 90 % interval's lower half); `raw`: the model's own uplift;
    `ranked`: the pairs the shown uplift says help, valued by the model's own uplift
    (`ranked_values`). The first two add `TIE_BREAK` x the model's own uplift, so equal
    shown uplifts are told apart as the client's list tells them.
    """
    raw = scores.uplift if scores.rank_key is None else scores.rank_key
    if uncertainty == "shrunk":
        value = scores.uplift + TIE_BREAK * raw
    elif uncertainty == "lower":
        if scores.uplift_low is None:
            raise ValueError("the lower reading needs the scores' intervals")
        if not 0.0 < quantile < 0.5:
            raise ValueError(f"the lower quantile must lie in (0, 0.5), got {quantile}")
        sigma = (scores.uplift - scores.uplift_low) / INTERVAL_Z
        value = scores.uplift + float(ndtri(quantile)) * sigma + TIE_BREAK * raw
    elif uncertainty == "raw":
        value = raw
    elif uncertainty == "ranked":
        value = ranked_values(scores.uplift, raw, scores.allowed)
    else:
        raise ValueError(f"uncertainty must be one of {', '.join(UNCERTAINTY)}")
    return np.where(scores.allowed, value, np.nan)


def ranked_values(shown: np.ndarray, raw: np.ndarray, allowed: np.ndarray) -> np.ndarray:
    """The `ranked` reading: who gets a place from the shown uplift, which one from the ranking.

    A pair may be given only where the shown uplift (`shown`, what the caseworker reads) is
    positive, or exactly 0 (the shrinkage left nothing) with a positive model's own uplift,
    as the `shrunk` reading's tie-break allows. Such a pair is worth the model's own uplift
    (`raw`, the stacked uplift the client's list is ordered by) shifted so that the lowest is
    worth `delta`, at least the values' spread: each client placed adds more than any
    exchange between two services can, so the programme prefers one more client placed of
    those the shown numbers say would gain to better services for those placed, and among
    such allocations takes the one the ranking values most (not strictly lexicographic: a
    chain of exchanges through three or more clients can trade a placement for ranking
    value). The raw uplift's level is not trusted to say who gains at all:
    where the stacking leans on practice, its intercept put every pair at or below 0 in one
    10,000-client world, and allocating on it placed 6 clients (docs/ALLOCATION.md).
    `delta` is also at least the largest raw magnitude, so the values keep the raw scale
    and HiGHS's tolerances (about 1e-7) do not erase differences the ranking makes; where
    the ranking is 0 everywhere, the largest shown uplift, so those still give places.
    `TIE_BREAK` x the shown uplift orders pairs the ranking leaves equal (a stacking with
    no credible term).
    """
    eligible = allowed & ((shown > 0) | ((shown == 0) & (raw > 0)))
    if not eligible.any():
        return np.zeros_like(raw)
    low, high = float(raw[eligible].min()), float(raw[eligible].max())
    delta = max(high - low, float(np.abs(raw[eligible]).max())) or float(shown[eligible].max())
    return np.where(eligible, raw - low + delta + TIE_BREAK * shown, 0.0)


@dataclass(frozen=True)
class GroupFloor:
    """A lower bound on the total expected gain of a group of clients.

    Attributes
    ----------
    name : str
        `grouping=label` (how it is reported).
    member : bool ndarray (n,)
    floor : float
        The group's total (not mean) expected gain must be at least this.
    """

    name: str
    member: np.ndarray
    floor: float


def practice_under_places(practice: np.ndarray, places: Sequence[int] | np.ndarray) -> np.ndarray:
    """Today's practice within the places: where it would ask for more places of a service
    than there are, each client's chance of it is cut in proportion (first come, first
    served, when arrival does not depend on who the client is)."""
    demand = practice.sum(axis=0)
    capacity = np.asarray(places, dtype=np.float64)
    share = np.divide(capacity, demand, out=np.ones_like(demand), where=demand > capacity)
    return practice * np.minimum(share, 1.0)[None, :]


def do_no_harm_floors(
    practice: np.ndarray,
    gain: np.ndarray,
    places: Sequence[int] | np.ndarray,
    groupings: dict[str, np.ndarray],
    *,
    spread: np.ndarray | None = None,
    z: float = DO_NO_HARM_Z,
) -> list[GroupFloor]:
    """Each group's floor: what today's practice gives it within the places, by the model's
    estimates, less `z` standard deviations (never below 0).

    Practice's gain for client i is random, one service j with probability p_ij
    (`practice_under_places`) worth gain_ij, known only up to `spread`_ij (the estimate's
    standard deviation): mean e_i = sum_j p_ij gain_ij, variance sum_j p_ij (gain_ij^2 +
    spread_ij^2) - e_i^2. A group's floor is sum e_i - z sqrt(sum variance): it holds the
    group to practice where the estimates say practice does it good with confidence, and
    asks nothing of a group too small to tell (nor where practice is estimated to harm).

    Parameters
    ----------
    practice : float ndarray (n, m)
        Each client's probability of each service under today's practice (0: not allowed).
    gain : float ndarray (n, m)
        The expected gain the floors count (NaN: may not take it, counted as 0).
    places : int array (m,)
    groupings : grouping -> label per client
    spread : float ndarray (n, m), optional
        Standard deviation of each estimate (NaN or absent: 0).
    """
    p = practice_under_places(np.asarray(practice, dtype=np.float64), places)
    g = np.nan_to_num(np.asarray(gain, dtype=np.float64), nan=0.0)
    s2 = 0.0 if spread is None else np.nan_to_num(np.asarray(spread), nan=0.0) ** 2
    mean = (p * g).sum(axis=1)
    variance = np.maximum((p * (g**2 + s2)).sum(axis=1) - mean**2, 0.0)
    floors = []
    for grouping, labels in groupings.items():
        text = np.asarray(labels).astype(str)
        for label in sorted(set(text.tolist())):
            member = text == label
            floor = float(mean[member].sum() - z * np.sqrt(variance[member].sum()))
            floors.append(GroupFloor(f"{grouping}={label}", member, max(floor, 0.0)))
    return floors


DO_NO_HARM_FLOORS: Final = "floors"
DO_NO_HARM_OFF: Final = "off"
DO_NO_HARM_UNAVAILABLE: Final = "unavailable: the model keeps no model of today's practice"


@dataclass(frozen=True)
class DoNoHarm:
    """A cohort's do-no-harm floors and what became of them.

    Attributes
    ----------
    status : str
        `floors` (set), `off` (not asked for), or why they could not be set.
    floors : tuple of GroupFloor
        One per group of every grouping (empty unless `status` is `floors`).
    """

    status: str
    floors: tuple[GroupFloor, ...] = ()


def cohort_do_no_harm(
    scores: FrameScores,
    gain: np.ndarray,
    places: Sequence[int] | np.ndarray,
    groupings: dict[str, np.ndarray],
    *,
    enabled: bool,
) -> DoNoHarm:
    """The do-no-harm floors of a scored cohort, as `polku allocate` and the API set them.

    Practice is the model's (`FrameScores.practice`, scored `with_practice=True`); each
    estimate's spread comes from the shown 90 % interval when the scores have one. A model
    without a model of practice gets no floors, and the status says so.

    Parameters
    ----------
    gain : float ndarray (n, m)
        What the floors count (`pair_gains` of the reading; NaN: may not take it).
    groupings : grouping -> label per client (`models.groupings.group_labels`)
    enabled : bool
        False: no floors (`--allow-harm`, the API's `do_no_harm: false`).
    """
    if not enabled:
        return DoNoHarm(DO_NO_HARM_OFF)
    if scores.practice is None:
        return DoNoHarm(DO_NO_HARM_UNAVAILABLE)
    spread = None
    if scores.uplift_low is not None:
        spread = (scores.uplift - scores.uplift_low) / INTERVAL_Z
    floors = do_no_harm_floors(scores.practice, gain, places, groupings, spread=spread)
    return DoNoHarm(DO_NO_HARM_FLOORS, tuple(floors))


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
        Each group's floor on its total expected gain.
    binding : tuple of str
        The floors (of positive value) the allocation meets with equality: where one
        moved it away from the plain optimum, its group's is among them.
    """

    service: np.ndarray
    status: str
    message: str
    objective: float
    mip_gap: float
    seconds: float
    n_variables: int
    floors: dict[str, float]
    binding: tuple[str, ...] = ()

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
    floors: Sequence[GroupFloor] = (),
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
    floors : sequence of GroupFloor, optional
        Further floors, given (e.g. `do_no_harm_floors`); the total expected `gain` of each
        one's members is at least its floor.
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
        if any(f.floor > 0 for f in floors):
            raise AllocationError("infeasible", "nothing of positive value to meet the floors")
        return Allocation(
            np.full(n, NO_SERVICE, dtype=np.int64),
            STATUS_OPTIMAL,
            "nothing to allocate",
            0.0,
            0.0,
            time.perf_counter() - started,
            0,
            {f.name: f.floor for f in floors},
        )
    assignment = sparse.csr_array(
        (np.ones(2 * k), (np.r_[rows, n + cols], np.r_[np.arange(k), np.arange(k)])),
        shape=(n + m, k),
    )
    lower = np.zeros(n + m)
    upper = np.r_[np.ones(n), capacity]
    pair_gain = np.nan_to_num(gain[rows, cols], nan=0.0)
    result = _solve(pair_value, assignment, lower, upper, time_limit, floors=False)
    bounds = list(floors)
    if group_floor is not None and groups is not None:
        bounds += _share_floors(gain, groups, group_floor, pair_gain[_chosen(result.x, k)].sum())
    floor_rows = np.array([np.where(f.member[rows], pair_gain, 0.0) for f in bounds]).reshape(
        len(bounds), k
    )
    floor_values = np.array([f.floor for f in bounds])
    # Floors the plain optimum already meets change nothing: then no MIP is solved.
    if bounds and (result.x is None or not _meets(floor_rows, result.x, k, floor_values).all()):
        result = _solve(
            pair_value,
            sparse.vstack([assignment, sparse.csr_array(floor_rows)], format="csr"),
            np.r_[lower, floor_values],
            np.r_[upper, np.full(len(bounds), np.inf)],
            time_limit,
            floors=True,
        )
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
        floors={f.name: f.floor for f in bounds},
        binding=tuple(
            f.name
            for f, met in zip(bounds, floor_rows @ chosen, strict=True)
            if f.floor > 0 and met <= f.floor + 1e-6 * max(f.floor, 1e-3)
        ),
    )


def with_preferences(
    objective: np.ndarray, gain: np.ndarray, preferred: np.ndarray, weight: float
) -> np.ndarray:
    """The programme's values with clients' preferred services lifted by `weight`.

    The lift is judged on the scale of the shown gain, whatever the reading: a preference can
    tip a pair expected to do about nothing, never one expected to harm by more than the
    weight (the `ranked` reading values such a pair at 0, not at its harm, so lifting its
    value would give it a place).
    """
    lifted = preferred & (gain + weight > 0)
    return objective + weight * lifted


@dataclass(frozen=True)
class ReadingAllocation:
    """A scored cohort allocated under a reading: the solution, what its pairs are expected
    to gain (`pair_gains`, NaN where a client may not take the service) and the floors."""

    allocation: Allocation
    gain: np.ndarray
    do_no_harm: DoNoHarm


def allocate_reading(
    scores: FrameScores,
    places: Sequence[int] | np.ndarray,
    groupings: dict[str, np.ndarray],
    *,
    uncertainty: str,
    quantile: float = DEFAULT_QUANTILE,
    do_no_harm: bool = True,
    permitted: np.ndarray | None = None,
    preferred: np.ndarray | None = None,
    preference_weight: float = 0.0,
    groups: np.ndarray | None = None,
    group_floor: float | None = None,
    time_limit: float | None = 60.0,
) -> ReadingAllocation:
    """Value a scored cohort under a reading, set its do-no-harm floors and solve it: the
    one path of `polku allocate` and `POST /v1/allocations`.

    `permitted` (n, m) removes pairs (clients' refusals); `preferred` (n, m) lifts pairs by
    `preference_weight` (`with_preferences`); `groups` and `group_floor` as in
    `solve_allocation`.
    """
    gain = pair_gains(scores, uncertainty, quantile)
    value = pair_values(scores, uncertainty, quantile)
    if permitted is not None:
        gain, value = np.where(permitted, gain, np.nan), np.where(permitted, value, np.nan)
    if preferred is not None:
        value = with_preferences(value, gain, preferred, preference_weight)
    harm = cohort_do_no_harm(scores, gain, places, groupings, enabled=do_no_harm)
    allocation = solve_allocation(
        value,
        places,
        gain=gain,
        groups=groups,
        group_floor=group_floor,
        floors=harm.floors,
        time_limit=time_limit,
    )
    return ReadingAllocation(allocation, gain, harm)


def _share_floors(
    gain: np.ndarray, groups: np.ndarray, share: float, total: float
) -> list[GroupFloor]:
    """`group_floor`'s floors: `share` of the cohort's mean gain `total` / n per client of
    each group, capped at what the group could gain with unlimited places."""
    n = len(gain)
    best_alone = np.nanmax(np.where(np.isnan(gain), -np.inf, gain), axis=1, initial=0.0)
    labels = np.asarray(groups).astype(str)
    floors = []
    for label in sorted(set(labels.tolist())):
        member = labels == label
        floor = min(
            share * float(total) / max(n, 1) * int(member.sum()),
            float(np.maximum(best_alone[member], 0.0).sum()),
        )
        floors.append(GroupFloor(label, member, floor))
    return floors


def _meets(floor_rows: np.ndarray, x: np.ndarray, k: int, floors: np.ndarray) -> np.ndarray:
    """Which floors the 0/1 solution `x` meets (to a rounding tolerance)."""
    if len(floors) == 0:
        return np.zeros(0, dtype=bool)
    return floor_rows @ _chosen(x, k) >= floors - 1e-9


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
