"""The allocation programme: exact, within places, one service per client, group floors."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy.optimize import linear_sum_assignment

from models.allocation import (
    DO_NO_HARM_Z,
    NO_SERVICE,
    TIE_BREAK,
    AllocationError,
    GroupFloor,
    best_with_places,
    do_no_harm_floors,
    pair_gains,
    pair_values,
    period_places,
    practice_under_places,
    rank_in_own_list,
    solve_allocation,
)
from models.bundle import FrameScores, practice_probabilities
from models.catalog import load_catalog


def _brute_force(value: np.ndarray, places: np.ndarray) -> float:
    n, m = value.shape
    best = 0.0
    for choice in itertools.product(range(-1, m), repeat=n):
        counts = np.bincount([c for c in choice if c >= 0], minlength=m)
        if (counts > places).any():
            continue
        total = sum(
            value[i, c] for i, c in enumerate(choice) if c >= 0 and np.isfinite(value[i, c])
        )
        best = max(best, total)
    return best


def _check_feasible(service: np.ndarray, value: np.ndarray, places: np.ndarray) -> None:
    given = service >= 0
    assert np.isfinite(value[np.flatnonzero(given), service[given]]).all()
    assert (value[np.flatnonzero(given), service[given]] > 0).all()
    assert (np.bincount(service[given], minlength=value.shape[1]) <= places).all()


@pytest.mark.parametrize("seed", range(6))
def test_the_solution_is_the_brute_force_optimum(seed: int) -> None:
    rng = np.random.default_rng(seed)
    value = rng.normal(0.02, 0.05, (6, 3))
    value[rng.random(value.shape) < 0.25] = np.nan
    places = rng.integers(0, 3, 3)
    allocation = solve_allocation(value, places)
    assert allocation.status == "optimal"
    _check_feasible(allocation.service, value, places)
    assert allocation.objective == pytest.approx(_brute_force(value, places), abs=1e-9)


def test_it_matches_an_assignment_over_expanded_places() -> None:
    rng = np.random.default_rng(7)
    value = rng.normal(0.01, 0.05, (300, 6))
    value[rng.random(value.shape) < 0.3] = np.nan
    places = np.array([5, 40, 0, 12, 100, 3])
    allocation = solve_allocation(value, places)
    _check_feasible(allocation.service, value, places)
    # linear_sum_assignment on one column per place, never worse than leaving a place empty.
    slots = np.repeat(np.arange(6), places)
    gain = np.clip(np.nan_to_num(value, nan=0.0), 0.0, None)[:, slots]
    rows, cols = linear_sum_assignment(gain, maximize=True)
    assert allocation.objective == pytest.approx(gain[rows, cols].sum(), abs=1e-9)


def test_scarce_places_go_to_who_gains_most_not_to_who_comes_first() -> None:
    value = np.array([[0.05, 0.04], [0.30, 0.01], [0.20, np.nan]])
    allocation = solve_allocation(value, [1, 5])
    assert allocation.service.tolist() == [1, 0, NO_SERVICE]
    assert allocation.used(2).tolist() == [1, 1]


def test_a_group_floor_lifts_a_group_the_plain_optimum_leaves_out() -> None:
    # Group b gains a little less from the one scarce service and nothing elsewhere.
    value = np.array([[0.30, 0.05], [0.28, 0.05], [0.20, np.nan], [0.18, np.nan]])
    groups = np.array(["a", "a", "b", "b"])
    plain = solve_allocation(value, [1, 2])
    assert plain.service[2:].tolist() == [NO_SERVICE, NO_SERVICE]
    floored = solve_allocation(value, [1, 2], groups=groups, group_floor=0.5)
    assert floored.status == "optimal"
    gains = np.where(floored.service >= 0, value[np.arange(4), floored.service.clip(0)], 0.0)
    for label in ("a", "b"):
        assert gains[groups == label].sum() >= floored.floors[label] - 1e-9
    assert floored.floors["b"] > 0
    assert floored.objective <= plain.objective + 1e-12
    _check_feasible(floored.service, value, np.array([1, 2]))


def test_practice_probabilities_choose_among_the_allowed_services_and_none() -> None:
    logit = np.array([[0.0, np.log(2.0), 50.0], [800.0, -800.0, 0.0]])
    allowed = np.array([[True, True, False], [True, True, True]])
    p = practice_probabilities(logit, allowed)
    # Row 0: none (log-odds 0), 1 and 2 weigh 1, 1, 2: a quarter, a quarter and a half.
    assert p[0].tolist() == pytest.approx([0.25, 0.5, 0.0])
    assert p[1].tolist() == pytest.approx([1.0, 0.0, 0.0])  # no overflow
    assert np.isfinite(p).all() and (p.sum(axis=1) <= 1 + 1e-12).all()


def test_practice_within_places_is_cut_in_proportion_where_it_asks_too_much() -> None:
    practice = np.array([[0.8, 0.1], [0.6, 0.2], [0.6, 0.0]])
    within = practice_under_places(practice, [1, 5])
    assert within[:, 0].tolist() == pytest.approx([0.4, 0.3, 0.3])  # 2 asked, 1 place
    assert within[:, 1].tolist() == pytest.approx([0.1, 0.2, 0.0])  # fits: unchanged
    assert within[:, 0].sum() == pytest.approx(1.0)


def test_do_no_harm_floors_are_practice_less_the_slack_and_never_negative() -> None:
    gain = np.array([[0.10, 0.0], [0.10, 0.0], [0.10, 0.0], [-0.3, 0.0]])
    practice = np.array([[1.0, 0.0], [0.5, 0.0], [0.5, 0.0], [1.0, 0.0]])
    groups = {"g": np.array(["a", "a", "a", "b"])}
    floors = {f.name: f for f in do_no_harm_floors(practice, gain, [10, 10], groups)}
    # Group a: mean 0.1 + 0.05 + 0.05, variance 0 + 2 x (0.5 x 0.01 - 0.0025).
    expected = 0.2 - DO_NO_HARM_Z * np.sqrt(2 * 0.0025)
    assert floors["g=a"].floor == pytest.approx(expected)
    assert floors["g=a"].member.tolist() == [True, True, True, False]
    assert floors["g=b"].floor == 0.0  # practice harms b: nothing to hold it to
    # The estimates' own spread widens the slack: a noisy enough estimate asks nothing.
    spread = np.full(gain.shape, 1.0)
    noisy = do_no_harm_floors(practice, gain, [10, 10], groups, spread=spread)
    assert all(f.floor == 0.0 for f in noisy)


def test_a_do_no_harm_floor_keeps_a_group_at_what_practice_gives_it() -> None:
    # Practice gives client 2 (group b) the scarce service; the plain optimum does not.
    value = np.array([[0.30, 0.05], [0.28, 0.05], [0.20, np.nan]])
    practice = np.array([[0.0, 1.0], [0.0, 1.0], [1.0, 0.0]])
    groups = {"g": np.array(["a", "a", "b"])}
    plain = solve_allocation(value, [1, 2])
    assert plain.service[2] == NO_SERVICE and plain.binding == ()
    floors = do_no_harm_floors(practice, value, [1, 2], groups, z=0.0)
    held = solve_allocation(value, [1, 2], floors=floors)
    assert held.service.tolist() == [1, 1, 0]
    assert "g=b" in held.binding  # met with equality (a is too: practice gives it 0.10)
    assert held.floors == {"g=a": pytest.approx(0.10), "g=b": pytest.approx(0.20)}
    _check_feasible(held.service, value, np.array([1, 2]))


def test_floors_the_plain_optimum_meets_leave_it_unchanged() -> None:
    rng = np.random.default_rng(3)
    value = rng.normal(0.02, 0.05, (200, 5))
    places = np.array([10, 20, 5, 0, 50])
    plain = solve_allocation(value, places)
    low = GroupFloor("all", np.ones(200, dtype=bool), 0.5 * plain.objective)
    floored = solve_allocation(value, places, floors=[low])
    assert floored.service.tolist() == plain.service.tolist()
    assert floored.message == plain.message  # the relaxation's answer: no MIP was solved
    assert floored.binding == ()
    with pytest.raises(AllocationError):
        solve_allocation(np.full((2, 1), -1.0), [1], floors=[GroupFloor("x", np.ones(2, bool), 1)])


def test_floors_that_cannot_all_hold_are_reported_infeasible() -> None:
    value = np.array([[1.0], [1.0]])
    with pytest.raises(AllocationError) as caught:
        solve_allocation(value, [1], groups=np.array(["a", "b"]), group_floor=1.0)
    assert caught.value.status == "infeasible"


def test_nothing_of_positive_value_allocates_no_one() -> None:
    allocation = solve_allocation(np.array([[-0.1, np.nan], [0.0, -0.2]]), [3, 3])
    assert allocation.service.tolist() == [NO_SERVICE, NO_SERVICE]
    assert allocation.status == "optimal"


def test_places_of_a_period_scale_the_monthly_capacity() -> None:
    catalog = load_catalog()
    monthly = np.array([s.monthly_capacity for s in catalog.services])
    assert (period_places(catalog, 365.25 / 12) == monthly).all()
    week = period_places(catalog, 7)
    assert (week == np.rint(monthly * 7 / (365.25 / 12))).all()
    assert (period_places(catalog, 7, share=0.5) <= week).all()
    with pytest.raises(ValueError):
        period_places(catalog, 0)


def test_rank_and_the_best_alternative_with_places() -> None:
    key = np.array([[0.3, 0.2, 0.1], [0.1, 0.5, 0.4]])
    allowed = np.array([[True, True, True], [True, False, True]])
    service = np.array([1, NO_SERVICE])
    assert rank_in_own_list(key, allowed, service).tolist() == [2, 0]
    left = np.array([0, 3, 1])
    assert best_with_places(key, allowed, left, service).tolist() == [2, 2]
    assert best_with_places(key, allowed, np.zeros(3), service).tolist() == [-1, -1]


def _scores(uplift, low, raw, allowed) -> FrameScores:  # type: ignore[no-untyped-def]
    uplift, low, raw = (np.asarray(x, dtype=float) for x in (uplift, low, raw))
    allowed = np.asarray(allowed, dtype=bool)
    return FrameScores(
        service_ids=("a", "b"),
        eligible=np.ones(len(uplift), dtype=bool),
        allowed=allowed,
        expected_without=np.full(len(uplift), 0.3),
        uplift=uplift,
        uplift_low=low,
        uplift_high=2 * uplift - low,
        rank_key=raw,
    )


def test_ranked_takes_who_gains_from_the_shown_uplift_and_which_service_from_the_ranking() -> None:
    scores = _scores(
        # client 0: shown prefers a, the ranking b; client 1: the ranking's level is below 0
        # everywhere but the shown uplift says b helps; client 2: the shown uplift says nothing
        # helps, whatever the ranking says.
        uplift=[[0.04, 0.01], [-0.01, 0.02], [-0.01, -0.02]],
        low=[[0.0, 0.0], [-0.03, 0.0], [-0.03, -0.04]],
        raw=[[0.01, 0.05], [-0.03, -0.02], [0.09, 0.08]],
        allowed=[[True, True], [True, True], [True, True]],
    )
    value = pair_values(scores, "ranked")
    assert value[0, 1] > value[0, 0] > 0
    assert value[1, 1] > 0 and value[1, 0] == 0 and (value[2] == 0).all()
    # The floors and the summary count what the caseworker is shown.
    np.testing.assert_array_equal(pair_gains(scores, "ranked"), pair_values(scores, "shrunk"))
    allocation = solve_allocation(value, [5, 5])
    assert allocation.service.tolist() == [1, 1, NO_SERVICE]
    # The raw reading, by contrast, places client 2 and not client 1.
    assert solve_allocation(pair_values(scores, "raw"), [5, 5]).service.tolist() == [1, -1, 0]
    # Shown as exactly 0, the ranking's own positive uplift lets a pair in (the shrunk
    # reading's tie-break); shown below 0, however little, it does not.
    edge = _scores(
        uplift=[[-1e-5, 0.0]],
        low=[[-0.01, -0.01]],
        raw=[[0.05, 0.01]],
        allowed=[[True, True]],
    )
    edge_value = pair_values(edge, "ranked")
    assert edge_value[0, 0] == 0 < edge_value[0, 1]
    assert pair_values(edge, "shrunk")[0, 0] > 0  # where shrunk would let the first one in


def test_ranked_fills_places_first_and_keeps_differences_the_solver_can_see() -> None:
    # One place of b: the ranking values client 0's b most, but placing both clients (client 0
    # in a) is what the shown uplifts say gains more people.
    scores = _scores(
        uplift=[[0.01, 0.03], [-0.01, 0.02]],
        low=[[0.0, 0.0], [-0.02, 0.0]],
        raw=[[0.001, 0.20], [0.0, 0.01]],
        allowed=[[True, True], [True, True]],
    )
    assert solve_allocation(pair_values(scores, "ranked"), [1, 1]).service.tolist() == [0, 1]
    # A stacking with no credible term leaves the ranking flat (its level and a 1e-9
    # practice tie-break): the values keep the ranking's scale, so the shown uplift's
    # tie-break (1e-3 of it) stays large enough for the solver to decide between services.
    flat = _scores(
        uplift=[[0.01, 0.03], [0.02, 0.01]],
        low=[[0.0, 0.0], [0.0, 0.0]],
        raw=[[0.0074, 0.0074 + 1e-9], [0.0074, 0.0074]],
        allowed=[[True, True], [True, True]],
    )
    value = pair_values(flat, "ranked")
    assert value.min() >= 0.0074
    assert solve_allocation(value, [5, 5]).service.tolist() == [1, 0]
    # A ranking that is 0 everywhere (no term credible, no intercept): the shown uplifts
    # still decide, on their own scale.
    zero = _scores(
        uplift=[[0.01, 0.03], [0.02, 0.01]],
        low=[[0.0, 0.0], [0.0, 0.0]],
        raw=[[0.0, 0.0], [0.0, 0.0]],
        allowed=[[True, True], [True, True]],
    )
    zero_value = pair_values(zero, "ranked")
    assert zero_value.min() >= 0.03
    assert solve_allocation(zero_value, [5, 5]).service.tolist() == [1, 0]


def test_values_read_the_uncertainty_and_break_ties_by_the_models_order() -> None:
    scores = _scores(
        uplift=[[0.0, 0.0], [0.04, 0.02]],
        low=[[-0.01, -0.01], [-0.02, 0.01]],
        raw=[[0.01, 0.03], [0.05, 0.02]],
        allowed=[[True, True], [True, False]],
    )
    shrunk = pair_values(scores, "shrunk")
    assert np.isnan(shrunk[1, 1])
    # All shown uplifts 0: the model's own order decides, and a place is still worth giving.
    assert shrunk[0, 1] > shrunk[0, 0] > 0
    lower = pair_values(scores, "lower", quantile=0.05)
    assert lower[1, 0] == pytest.approx(-0.02 + TIE_BREAK * 0.05)
    quarter = pair_values(scores, "lower", quantile=0.25)
    assert lower[1, 0] < quarter[1, 0] < shrunk[1, 0]
    assert pair_values(scores, "raw")[0, 1] == 0.03
    with pytest.raises(ValueError):
        pair_values(scores, "median")
    allocation = solve_allocation(shrunk, [0, 5])
    assert allocation.service.tolist() == [1, NO_SERVICE]
