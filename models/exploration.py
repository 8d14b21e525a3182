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

That is the `near_ties` design. The `posterior` design keeps the same candidates and the
same two ethical limits but spends less on more of them:

- up to `max_candidates` (default 8) candidates, each with probability in proportion to
  the model's posterior probability that it is the best of them (the same normal
  approximation; a wide interval, where the training data are thin for clients like this
  one, gives a service more chance), mixed with a uniform `floor` so that every candidate
  keeps some support for later off-policy estimates;
- the top keeps at least `1 - share` (0.9): the others are scaled down to `share` if their
  posterior weight would take more.

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
DESIGNS: Final = ("near_ties", "posterior")
# Gauss-Hermite nodes for the posterior probability of being best (exact to ~1e-4 here).
_QUADRATURE_NODES: Final = 32
# Rows per chunk of that integral (bounds memory: rows x candidates^2 x nodes floats).
_POSTERIOR_CHUNK: Final = 2048


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
    design: str = "near_ties"
    floor: float = 0.0

    def __post_init__(self) -> None:
        if not 0.0 < self.share < 1.0:
            raise ValueError(f"share must be in (0, 1), got {self.share!r}")
        if self.max_candidates < 2:
            raise ValueError(f"max_candidates must be at least 2, got {self.max_candidates!r}")
        if self.design not in DESIGNS:
            raise ValueError(f"design must be one of {DESIGNS}, got {self.design!r}")
        if not 0.0 <= self.floor < 1.0:
            raise ValueError(f"floor must be in [0, 1), got {self.floor!r}")

    @classmethod
    def posterior(
        cls, share: float = 0.1, max_candidates: int = 8, floor: float = 0.5
    ) -> ExplorationRule:
        """The `posterior` design (module docstring) with its defaults.

        Share 0.1: of the settings `bench/bench_learning_loop.py` compared (share 0.2 with
        floor 0.5 or 0, share 0.1), the one that cost the least served value over both
        follow rates while keeping the next model's support (BENCHMARKS.md,
        `learning_loop_designs*`)."""
        return cls(share=share, max_candidates=max_candidates, design="posterior", floor=floor)

    @classmethod
    def of_design(cls, design: str) -> ExplorationRule:
        """A design of `DESIGNS` with its defaults."""
        if design not in DESIGNS:
            raise ValueError(f"design must be one of {DESIGNS}, got {design!r}")
        return cls.posterior() if design == "posterior" else cls()


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
    if rule.design == "posterior":
        position_p = _posterior_shares(candidate, s, sd, rule)
    else:
        position_p = np.zeros(order.shape)
        position_p[:, 0] = np.where(others > 0, 1.0 - rule.share, 1.0)
        with np.errstate(divide="ignore", invalid="ignore"):
            each = np.where(others > 0, rule.share / np.maximum(others, 1), 0.0)
        position_p[:, 1:] = np.where(candidate[:, 1:], each[:, None], 0.0)
    position_p[~has_top] = 0.0
    r, c = np.nonzero(position_p > 0)
    probabilities[rows[r], safe_order[r, c]] = position_p[r, c]
    return probabilities


def _posterior_shares(
    candidate: np.ndarray, shown: np.ndarray, sd: np.ndarray, rule: ExplorationRule
) -> np.ndarray:
    """Per position of each row's order, its probability of being shown first (`posterior`).

    `candidate` (n, m) marks the candidate positions (position 0 is the top, a candidate
    wherever the row has one); `shown` and `sd` are the positions' means and standard
    deviations. P(best among the candidates) under independent normals, mixed with a
    uniform `floor`; the top keeps at least `1 - share`.
    """
    n, m = candidate.shape
    out = np.zeros((n, m))
    width = min(rule.max_candidates, m)
    if width == 0:
        return out
    # Each row's candidate positions, packed left (the top first); -1 past the last.
    packed = np.argsort(~candidate, axis=1, kind="stable")[:, :width]
    present = np.take_along_axis(candidate, packed, axis=1)
    mu = np.where(present, np.take_along_axis(shown, packed, axis=1), 0.0)
    sigma = np.where(present, np.take_along_axis(sd, packed, axis=1), 1.0)
    sigma = np.maximum(np.nan_to_num(sigma, nan=0.0), 1e-9)
    mu = np.nan_to_num(mu, nan=0.0)
    best = np.zeros((n, width))
    nodes, weights = np.polynomial.hermite_e.hermegauss(_QUADRATURE_NODES)
    weights = weights / weights.sum()
    for start in range(0, n, _POSTERIOR_CHUNK):
        stop = min(start + _POSTERIOR_CHUNK, n)
        mu_c, sigma_c, present_c = mu[start:stop], sigma[start:stop], present[start:stop]
        # x[r, j, q]: candidate j's value at node q; z[r, j, i, q]: how many of i's sds
        # it lies above i's mean.
        x = mu_c[:, :, None] + sigma_c[:, :, None] * nodes[None, None, :]
        z = (x[:, :, None, :] - mu_c[:, None, :, None]) / sigma_c[:, None, :, None]
        below = ndtr(z)
        # A non-candidate never beats anyone, and nobody is compared with themself.
        below = np.where(present_c[:, None, :, None], below, 1.0)
        eye = np.eye(width, dtype=bool)[None, :, :, None]
        below = np.where(eye, 1.0, below)
        best[start:stop] = (below.prod(axis=2) * weights).sum(axis=2)
    best = np.where(present, best, 0.0)
    count = present.sum(axis=1, keepdims=True)
    total = best.sum(axis=1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        posterior = np.where(total > 0, best / total, 1.0 / np.maximum(count, 1))
    mixed = (1.0 - rule.floor) * posterior + rule.floor / np.maximum(count, 1)
    mixed = np.where(present, mixed, 0.0)
    # The top keeps at least 1 - share: the others shrink together if they would take more.
    given = mixed[:, 1:].sum(axis=1)
    scale = np.where(given > rule.share, rule.share / np.maximum(given, 1e-300), 1.0)
    mixed[:, 1:] *= scale[:, None]
    mixed[:, 0] = 1.0 - mixed[:, 1:].sum(axis=1)
    rows = np.repeat(np.arange(n), width)
    np.add.at(out, (rows, packed.ravel()), np.where(present, mixed, 0.0).ravel())
    return out


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
