"""models.exploration: the first place is drawn only among services the model cannot tell
apart, never a credibly negative one, with the probabilities it reports."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import ndtr

from models.exploration import ExplorationRule, draw_top, explore_ranking, top_probabilities
from models.suggestions import RankedService


def _one(shown: list[float], half: float | list[float]) -> tuple[np.ndarray, ...]:
    s = np.array([shown], dtype=float)
    h = np.broadcast_to(np.asarray(half, dtype=float), s.shape)
    order = np.argsort(-s, axis=1, kind="stable")
    return order, s, s - h, s + h, np.ones(s.shape, dtype=bool)


def test_services_told_apart_are_never_randomised() -> None:
    order, s, lo, hi, valid = _one([0.10, 0.02, 0.01], 0.01)
    p = top_probabilities(order, s, lo, hi, valid, 0.9)
    assert p.tolist() == [[1.0, 0.0, 0.0]]


def test_ties_share_the_first_place_and_the_top_keeps_the_rest() -> None:
    order, s, lo, hi, valid = _one([0.03, 0.025, 0.02, 0.015], 0.05)
    p = top_probabilities(order, s, lo, hi, valid, 0.9, ExplorationRule(share=0.4))
    # At most three candidates: the top keeps 0.6, the two closest share 0.4.
    assert p[0] == pytest.approx([0.6, 0.2, 0.2, 0.0])
    assert p.sum() == pytest.approx(1.0)


def test_a_credibly_negative_service_is_never_a_candidate() -> None:
    order, s, lo, hi, valid = _one([0.01, -0.02, 0.0], [0.02, 0.015, 0.02])
    assert hi[0, 1] < 0  # its interval lies wholly below zero
    p = top_probabilities(order, s, lo, hi, valid, 0.9)
    assert p[0, 1] == 0.0
    assert p[0, 0] == pytest.approx(0.5) and p[0, 2] == pytest.approx(0.5)


def test_a_credibly_negative_top_is_shown_as_it_is() -> None:
    order, s, lo, hi, valid = _one([-0.03, -0.035], 0.01)
    p = top_probabilities(order, s, lo, hi, valid, 0.9)
    assert p.tolist() == [[1.0, 0.0]]


def test_services_not_allowed_and_empty_rows_are_left_alone() -> None:
    order, s, lo, hi, valid = _one([0.03, 0.029, 0.028], 0.05)
    valid[0, 1] = False
    p = top_probabilities(order, s, lo, hi, valid, 0.9)
    assert p[0, 1] == 0.0
    empty = top_probabilities(
        np.full((1, 3), -1), np.full((1, 3), np.nan), *(np.full((1, 3), np.nan),) * 2,
        np.zeros((1, 3), dtype=bool), 0.9,
    )  # fmt: skip
    assert empty.sum() == 0.0
    assert draw_top(empty, np.random.default_rng(0)).tolist() == [-1]


def test_draws_follow_the_reported_probabilities() -> None:
    p = np.tile([[0.5, 0.25, 0.25, 0.0]], (40_000, 1))
    drawn = draw_top(p, np.random.default_rng(3))
    share = np.bincount(drawn, minlength=4) / len(drawn)
    assert share == pytest.approx([0.5, 0.25, 0.25, 0.0], abs=0.01)


def _ranked(i: int, uplift: float, half: float) -> RankedService:
    return RankedService(
        service_id=f"s{i}", rank=i, expected_with=0.3 + uplift, expected_without=0.3,
        uplift=uplift, uplift_low=uplift - half, uplift_high=uplift + half, drivers=(),
        p_above_zero=0.6, p_above_next=0.5,
    )  # fmt: skip


def test_explore_ranking_reorders_renumbers_and_reports() -> None:
    ranking = [_ranked(1, 0.03, 0.05), _ranked(2, 0.029, 0.05), _ranked(3, -0.2, 0.01)]
    seen = set()
    for seed in range(40):
        explored = explore_ranking(ranking, 0.9, np.random.default_rng(seed))
        assert [r.rank for r in explored.ranking] == [1, 2, 3]
        assert sorted(r.service_id for r in explored.ranking) == ["s1", "s2", "s3"]
        assert explored.ranking[0].service_id in ("s1", "s2")
        assert explored.randomised
        first = explored.ranking[0].service_id
        assert explored.shown_top_probability == 0.5
        assert explored.model_ranks[0] == int(first[1])
        # The rest keep the model's order behind the drawn one.
        assert list(explored.model_ranks[1:]) == sorted(explored.model_ranks[1:])
        seen.add(first)
    assert seen == {"s1", "s2"}
    same = explore_ranking(ranking, 0.9, np.random.default_rng(5))
    assert same == explore_ranking(ranking, 0.9, np.random.default_rng(5))


def test_rule_is_checked() -> None:
    with pytest.raises(ValueError):
        ExplorationRule(share=1.0)
    with pytest.raises(ValueError):
        ExplorationRule(max_candidates=1)


def test_posterior_design_follows_the_probability_of_being_best() -> None:
    # Two equal services: equal chances; a clearly lower one is no candidate at all.
    order, s, lo, hi, valid = _one([0.03, 0.03, -0.2], 0.05)
    even = ExplorationRule.posterior(share=0.9, floor=0.0)
    p = top_probabilities(order, s, lo, hi, valid, 0.9, even)
    assert p[0] == pytest.approx([0.5, 0.5, 0.0], abs=1e-6)
    # One 0.03 above the other, sd 0.05 / z each: P(top is best) = Phi(0.03 / (sqrt 2 sd)).
    order, s, lo, hi, valid = _one([0.03, 0.0], 0.05)
    sd = 0.05 / 1.6448536269514722
    expected = float(ndtr(0.03 / (np.sqrt(2.0) * sd)))
    p = top_probabilities(order, s, lo, hi, valid, 0.9, even)
    assert p[0, 0] == pytest.approx(expected, abs=1e-4)


def test_posterior_design_spreads_a_small_share_over_more_candidates() -> None:
    order, s, lo, hi, valid = _one([0.03, 0.028, 0.026, 0.024, 0.022, 0.02], 0.05)
    rule = ExplorationRule.posterior(share=0.2, max_candidates=5, floor=0.5)
    p = top_probabilities(order, s, lo, hi, valid, 0.9, rule)[0]
    assert p.sum() == pytest.approx(1.0)
    assert p[0] == pytest.approx(0.8)  # the top keeps 1 - share
    assert (p[1:5] > 0).all() and p[5] == 0.0  # capped at five candidates
    assert list(p[1:5]) == sorted(p[1:5], reverse=True)  # more for the closer ones
    # The floor: each candidate had at least floor / 5 = 0.1 before the others were scaled
    # down to the share (by share / what they had, which is above share).
    assert p[1:5].min() >= 0.1 * 0.2 - 1e-12


def test_posterior_design_keeps_the_ethical_limits() -> None:
    rule = ExplorationRule.posterior()
    order, s, lo, hi, valid = _one([0.01, -0.02, 0.0], [0.02, 0.015, 0.02])
    p = top_probabilities(order, s, lo, hi, valid, 0.9, rule)
    assert p[0, 1] == 0.0 and p[0].sum() == pytest.approx(1.0)  # credibly negative: never
    order, s, lo, hi, valid = _one([-0.03, -0.035], 0.01)
    assert top_probabilities(order, s, lo, hi, valid, 0.9, rule).tolist() == [[1.0, 0.0]]
    order, s, lo, hi, valid = _one([0.10, 0.02, 0.01], 0.01)  # told apart: never
    assert top_probabilities(order, s, lo, hi, valid, 0.9, rule).tolist() == [[1.0, 0.0, 0.0]]
    with pytest.raises(ValueError):
        ExplorationRule(design="thompson")
    with pytest.raises(ValueError):
        ExplorationRule.posterior(floor=1.0)
