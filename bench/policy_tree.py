"""An exact shallow policy tree: a policy learned directly for value (Athey and Wager, 2021).

Given per-row scores of each service against none (doubly robust pseudo-outcomes, or the
truth for a ceiling), the tree of depth 0, 1 or 2 over quantile-binned features whose leaves
each pick the service with the largest summed score is found by exhaustive search, as the
`policytree` R package does. Each leaf keeps all its services ranked by summed score, so a
client whose catalog closes the leaf's first service gets the next one it may take; a leaf
whose best sum is not positive assigns no service.

The search is exact over the bins: for depth 2, each first split's left-side per-bin sums of
every feature come from one matrix product over the rows of that side, the right side's from
the totals minus the left's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import numpy as np
from scipy import sparse

NO_SERVICE: Final = -1


@dataclass(frozen=True)
class Leaf:
    """Services (score columns) with a positive summed score, best first; `rows` fitted on."""

    ranking: tuple[int, ...]
    rows: int


@dataclass(frozen=True)
class Split:
    """Rows whose binned `feature` is <= `code` go left."""

    feature: int
    code: int
    left: Leaf | Split
    right: Leaf | Split


Node = Leaf | Split


@dataclass(frozen=True)
class PolicyTree:
    root: Node
    edges: tuple[np.ndarray, ...]  # per feature, the inner bin edges
    value: float  # summed score of the fitted assignment on the training rows

    def codes(self, x: np.ndarray) -> np.ndarray:
        return bin_codes(x, self.edges)

    def choose(self, x: np.ndarray, allowed: np.ndarray) -> np.ndarray:
        """Per row, the first allowed service of its leaf's ranking, or NO_SERVICE."""
        codes = self.codes(x)
        choice = np.full(len(x), NO_SERVICE, dtype=np.int64)
        for rows, leaf in _leaf_rows(self.root, codes, np.arange(len(x))):
            for service in reversed(leaf.ranking):  # the best allowed service writes last
                take = rows[allowed[rows, service]]
                choice[take] = service
        return choice

    def depth(self) -> int:
        return _depth(self.root)


def quantile_edges(x: np.ndarray, n_bins: int) -> tuple[np.ndarray, ...]:
    """Per feature the distinct inner quantile edges (a 0/1 feature gets one edge)."""
    quantiles = np.linspace(0.0, 1.0, n_bins + 1)[1:-1]
    edges = []
    for column in np.asarray(x, dtype=np.float64).T:
        values = np.unique(column)
        if len(values) <= n_bins:
            inner = (values[:-1] + values[1:]) / 2.0
        else:
            inner = np.unique(np.quantile(column, quantiles))
        edges.append(inner)
    return tuple(edges)


def bin_codes(x: np.ndarray, edges: tuple[np.ndarray, ...]) -> np.ndarray:
    """Bin index of every value (0 .. len(edges[j])): value > edge k lands above bin k."""
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2 or x.shape[1] != len(edges):
        raise ValueError(f"x must have {len(edges)} columns, got shape {x.shape}")
    return np.column_stack(
        [np.searchsorted(e, x[:, j], side="left") for j, e in enumerate(edges)]
    ).astype(np.int64)


def fit_policy_tree(
    x: np.ndarray,
    scores: np.ndarray,
    *,
    depth: int,
    min_leaf: int,
    n_bins: int = 8,
) -> PolicyTree:
    """The best tree of at most `depth` (0, 1 or 2) with every leaf holding >= `min_leaf` rows.

    Parameters
    ----------
    x : ndarray (n, p)
        Features.
    scores : ndarray (n, k)
        Score of each service against none per row; NaN where the service is closed to the
        row (it then counts as none, 0).
    """
    if depth not in (0, 1, 2):
        raise ValueError(f"depth must be 0, 1 or 2, got {depth}")
    scores = np.nan_to_num(np.asarray(scores, dtype=np.float64), nan=0.0)
    if scores.ndim != 2 or len(scores) != len(x):
        raise ValueError("scores must be (n, k) with the rows of x")
    if min_leaf < 1:
        raise ValueError("min_leaf must be at least 1")
    edges = quantile_edges(x, n_bins)
    codes = bin_codes(x, edges)
    search = _Search(codes, scores, min_leaf)
    rows = np.arange(len(x))
    if depth == 0:
        value, root = search.leaf(scores.sum(axis=0), len(x))
    elif depth == 1:
        value, root = search.depth_one(search.bin_sums(rows), rows)
    else:
        value, root = search.depth_two(rows)
    return PolicyTree(root=root, edges=edges, value=value)


class _Search:
    """Per-bin sums of scores (and a row count, the last column) and the exact search."""

    def __init__(self, codes: np.ndarray, scores: np.ndarray, min_leaf: int) -> None:
        self.codes = codes
        self.n_codes = codes.max(axis=0) + 1 if len(codes) else np.ones(codes.shape[1], int)
        self.offsets = np.concatenate([[0], np.cumsum(self.n_codes)])
        n, p = codes.shape
        # One nonzero per row and feature: a sparse product is p / bins times cheaper.
        self.onehot = sparse.csr_matrix(
            (np.ones(n * p), (np.repeat(np.arange(n), p), (codes + self.offsets[:-1]).ravel())),
            shape=(n, int(self.offsets[-1])),
        )
        self.weighted = np.column_stack([scores, np.ones(len(scores))])
        self.min_leaf = min_leaf

    def bin_sums(self, rows: np.ndarray) -> np.ndarray:
        """(total bins, k + 1): summed scores and count of `rows` per feature bin."""
        return np.asarray(self.onehot[rows].T @ self.weighted[rows])

    def leaf(self, sums: np.ndarray, count: int) -> tuple[float, Leaf]:
        order = np.argsort(-sums, kind="stable")
        ranking = tuple(int(s) for s in order if sums[s] > 0.0)
        return (float(sums[order[0]]) if ranking else 0.0), Leaf(ranking, int(count))

    def depth_one(self, table: np.ndarray, rows: np.ndarray) -> tuple[float, Node]:
        """Best single split of `rows` given their per-bin sums `table`, or one leaf."""
        total = table[self.offsets[0] : self.offsets[1]].sum(axis=0)
        best_value, best = self.leaf(total[:-1], int(total[-1]))
        best_split: tuple[int, int] | None = None
        for j in range(self.codes.shape[1]):
            left = np.cumsum(table[self.offsets[j] : self.offsets[j + 1]], axis=0)[:-1]
            right = total - left
            ok = (left[:, -1] >= self.min_leaf) & (right[:, -1] >= self.min_leaf)
            if not ok.any():
                continue
            value = np.maximum(left[:, :-1].max(axis=1), 0.0) + np.maximum(
                right[:, :-1].max(axis=1), 0.0
            )
            value[~ok] = -np.inf
            code = int(np.argmax(value))
            if value[code] > best_value + 1e-12:
                best_value, best_split = float(value[code]), (j, code)
        if best_split is None:
            return best_value, best
        j, code = best_split
        goes_left = self.codes[rows, j] <= code
        left_sums = self.weighted[rows[goes_left]].sum(axis=0)
        right_sums = self.weighted[rows[~goes_left]].sum(axis=0)
        return best_value, Split(
            j,
            code,
            self.leaf(left_sums[:-1], int(left_sums[-1]))[1],
            self.leaf(right_sums[:-1], int(right_sums[-1]))[1],
        )

    def depth_two(self, rows: np.ndarray) -> tuple[float, Node]:
        total_table = self.bin_sums(rows)
        best_value, best = self.depth_one(total_table, rows)
        for j in range(self.codes.shape[1]):
            per_code = [
                self.bin_sums(rows[self.codes[rows, j] == c]) for c in range(self.n_codes[j])
            ]
            left_table = np.zeros_like(total_table)
            for code in range(self.n_codes[j] - 1):
                left_table += per_code[code]
                right_table = total_table - left_table
                n_left = left_table[self.offsets[0] : self.offsets[1], -1].sum()
                if n_left < self.min_leaf or len(rows) - n_left < self.min_leaf:
                    continue
                goes_left = self.codes[rows, j] <= code
                left_value, left = self.depth_one(left_table, rows[goes_left])
                right_value, right = self.depth_one(right_table, rows[~goes_left])
                if left_value + right_value > best_value + 1e-12:
                    best_value, best = left_value + right_value, Split(j, code, left, right)
        return best_value, best


def _leaf_rows(node: Node, codes: np.ndarray, rows: np.ndarray) -> list[tuple[np.ndarray, Leaf]]:
    if isinstance(node, Leaf):
        return [(rows, node)]
    goes_left = codes[rows, node.feature] <= node.code
    return _leaf_rows(node.left, codes, rows[goes_left]) + _leaf_rows(
        node.right, codes, rows[~goes_left]
    )


def _depth(node: Node) -> int:
    if isinstance(node, Leaf):
        return 0
    return 1 + max(_depth(node.left), _depth(node.right))
