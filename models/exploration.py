"""Exploration with known probabilities: randomise the top suggestion among services the
model cannot tell apart for this client, and say with what probability each was shown first.

Polku learns from what caseworkers did after its suggestions. If it always shows its own
best guess first, the next model sees little of the services it was unsure about, and no
later estimate of "what would another ranking have done" can be made without bias. Where
(and only where) the model cannot tell services apart, showing one of them first at random,
with logged probabilities, costs little and keeps that possible.

The rule, for one client's ranking (services best first by the model):

- *candidates*: the model's top service, and each other ranked service the model cannot
  tell from the top: the probability that the top's true uplift is above it is below
  `models.separation.DISTINCT_PROBABILITY` (the normal approximation of `p_above_next`,
  against the top rather than the next one: `sd = width / 2z` each, errors independent);
- never a service with a credibly negative effect: its whole interval below zero
  (`uplift_high < 0`); and if the top itself is credibly negative, nothing is randomised;
- at most `max_candidates` (the top and the closest ones to it, in the model's order);
- the top keeps probability `1 - share` of being shown first, the other candidates share
  `share` equally; with one candidate the top is shown first with probability 1.

Only the order shown changes (the drawn service first, the others after it in the model's
order); the numbers shown are the model's, and the caseworker still decides. The function
takes the random generator, so the service and the simulations own their seeds.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from statistics import NormalDist
from typing import Final

import numpy as np
from scipy.special import ndtr

from models.separation import DISTINCT_PROBABILITY, p_above_next
from models.suggestions import RankedService

DEFAULT_SHARE: Final = 0.5
DEFAULT_MAX_CANDIDATES: Final = 3


@dataclass(frozen=True, slots=True)
class ExplorationRule:
    """How much to explore: the share of the first place given away, and among how many.

    Attributes
    ----------
    share : float
        Probability that a candidate other than the model's top is shown first (split
        equally among them); in (0, 1).
    max_candidates : int
        Largest number of services (the top included) the first place is drawn among.
    """

    share: float = DEFAULT_SHARE
    max_candidates: int = DEFAULT_MAX_CANDIDATES

    def __post_init__(self) -> None:
        if not 0.0 < self.share < 1.0:
            raise ValueError(f"share must be in (0, 1), got {self.share!r}")
        if self.max_candidates < 2:
            raise ValueError(f"max_candidates must be at least 2, got {self.max_candidates!r}")


def top_probabilities(
    order: np.ndarray,
    shown: np.ndarray,
    low: np.ndarray,
    high: np.ndarray,
    valid: np.ndarray,
    interval: float,
    rule: ExplorationRule | None = None,
) -> np.ndarray:
    """Per row, the probability that each service is shown first.

    Parameters
    ----------
    order : int array (n, m)
        Each row's services best first by the model (column indices into the score
        matrices), -1 past the last ranked one.
    shown, low, high : arrays (n, k)
        The shown uplift and its interval of every service (NaN where not ranked).
    valid : bool array (n, k)
        Services the row may be offered.
    interval : float
        Nominal central coverage of the intervals (the ranker's `interval`).
    rule : ExplorationRule, optional

    Returns
    -------
    float array (n, k): rows sum to 1 over the candidates (0 elsewhere); all zero for a
    row with no ranked service.
    """
    rule = rule or ExplorationRule()
    n, k = shown.shape
    probabilities = np.zeros((n, k))
    ranked = order >= 0
    has_top = ranked[:, 0] if order.shape[1] else np.zeros(n, dtype=bool)
    rows = np.arange(n)
    if not has_top.any():
        return probabilities
    safe_order = np.where(ranked, order, 0)
    take = np.take_along_axis
    s = np.where(ranked, take(shown, safe_order, axis=1), np.nan)
    lo = np.where(ranked, take(low, safe_order, axis=1), np.nan)
    hi = np.where(ranked, take(high, safe_order, axis=1), np.nan)
    z = NormalDist().inv_cdf((1.0 + interval) / 2.0)
    sd = np.maximum(hi - lo, 0.0) / (2.0 * z)
    gap = s[:, :1] - s
    spread = np.sqrt(sd[:, :1] ** 2 + sd**2)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(spread > 0, gap / spread, np.sign(gap) * np.inf)
    p_top_above = ndtr(np.nan_to_num(ratio, nan=np.inf))
    usable = ranked & np.take_along_axis(valid, safe_order, axis=1)
    candidate = usable & (p_top_above < DISTINCT_PROBABILITY) & ~(hi < 0.0)
    candidate[:, 0] = has_top
    # The closest ones to the top, in the model's order, up to the cap.
    candidate &= np.cumsum(candidate, axis=1) <= rule.max_candidates
    credibly_negative_top = has_top & (hi[:, 0] < 0.0)
    candidate[credibly_negative_top, 1:] = False
    others = candidate[:, 1:].sum(axis=1)
    position_p = np.zeros(order.shape)
    position_p[:, 0] = np.where(others > 0, 1.0 - rule.share, 1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        each = np.where(others > 0, rule.share / np.maximum(others, 1), 0.0)
    position_p[:, 1:] = np.where(candidate[:, 1:], each[:, None], 0.0)
    position_p[~has_top] = 0.0
    r, c = np.nonzero(position_p > 0)
    probabilities[rows[r], safe_order[r, c]] = position_p[r, c]
    return probabilities


def draw_top(probabilities: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One draw per row from `top_probabilities` (-1 for a row with no ranked service)."""
    n, k = probabilities.shape
    cumulative = np.cumsum(probabilities, axis=1)
    total = cumulative[:, -1] if k else np.zeros(n)
    u = rng.random(n) * total
    drawn = (cumulative <= u[:, None]).sum(axis=1)
    drawn = np.minimum(drawn, max(k - 1, 0))
    return np.where(total > 0, drawn, -1)


@dataclass(frozen=True, slots=True)
class ExploredRanking:
    """One client's ranking after exploration.

    Attributes
    ----------
    ranking : tuple of RankedService
        The order shown (ranks renumbered 1, 2, ...).
    model_ranks : tuple of int
        The model's own rank of each shown entry (1 for its best).
    top_probabilities : tuple of float
        Of each shown entry, the probability it had of being shown first (0 for a service
        that was never a candidate).
    """

    ranking: tuple[RankedService, ...]
    model_ranks: tuple[int, ...]
    top_probabilities: tuple[float, ...]

    @property
    def randomised(self) -> bool:
        """Whether more than one service could have been shown first."""
        return sum(p > 0 for p in self.top_probabilities) > 1

    @property
    def shown_top_probability(self) -> float | None:
        """The probability with which the service shown first was shown first."""
        return self.top_probabilities[0] if self.top_probabilities else None


def explore_ranking(
    ranking: list[RankedService] | tuple[RankedService, ...],
    interval: float,
    rng: np.random.Generator,
    rule: ExplorationRule | None = None,
) -> ExploredRanking:
    """Randomise which of the candidates of one ranking (best first) is shown first.

    The entries shown after the drawn one keep the model's order; each entry's
    `p_above_next` is recomputed against the entry now shown after it.
    """
    entries = tuple(ranking)
    m = len(entries)
    if m == 0:
        return ExploredRanking((), (), ())
    shown = np.array([[r.uplift for r in entries]])
    low = np.array([[r.uplift_low for r in entries]])
    high = np.array([[r.uplift_high for r in entries]])
    probabilities = top_probabilities(
        np.arange(m)[None, :], shown, low, high, np.ones((1, m), dtype=bool), interval, rule
    )[0]
    first = int(draw_top(probabilities[None, :], rng)[0])
    order = [first, *(i for i in range(m) if i != first)]
    if first == 0:
        reordered = entries
    else:
        above_next = p_above_next(shown[0, order], low[0, order], high[0, order], interval)
        reordered = tuple(
            replace(
                entries[i],
                rank=rank,
                p_above_next=(
                    float(above_next[rank - 1])
                    if rank < m
                    # The last shown keeps its comparison with the next one not shown.
                    else (entries[i].p_above_next if i == m - 1 else None)
                ),
            )
            for rank, i in enumerate(order, start=1)
        )
    return ExploredRanking(
        ranking=reordered,
        model_ranks=tuple(entries[i].rank for i in order),
        top_probabilities=tuple(float(probabilities[i]) for i in order),
    )
