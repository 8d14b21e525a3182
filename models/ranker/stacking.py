"""Stacking of the uplift with today's practice, chosen by the cross-validated DR loss.

The DR-learner's final stage (`final_stage`) is one estimate of each client's uplift; on
tens of thousands of clients its ranking of 33 services is partly noise, and the top of a
ranking collects the services whose noise happened to be high (the winner's curse). What
caseworkers choose carries information about what works that this noise drowns. The
stacked uplift of target t and service k is

    a_t + b_t * dr_tk(x) + c_t * practice_k(x)

with `dr` the final stage's uplift and `practice` the log-odds of service k against no
service under a model of the caseworkers' choices (`nuisances.cross_fit_practice`). `b_t`
below 1 shrinks the noisy estimate toward a common effect; `c_t` > 0 leans on practice
where caseworkers choose what works. With `b_t` = 0 the ranking is the imitation of
practice (its most likely service first), so where the data cannot tell the services
apart the ranking falls back to what caseworkers most often do, not to noise. One candidate
adds `d_t * plug_in_tk(x)`, `d_t` >= 0: the final stage's plug-in part (the outcome model's
own effect, before the AIPW correction), so the data may weigh the smooth outcome model
more than the correction, whose per-service averages are the noisiest part.

`a_t`, `b_t` >= 0 and `c_t` >= 0 are a least-squares fit, pooled over the services, of the
AIPW pseudo-outcomes on out-of-fold predictions (neither the final stage nor the practice
model saw the row's fold): the pseudo-outcomes are unbiased for the true uplift, so this is
the DR-learner's own loss, and the stacked uplift is the best linear predictor of the true
uplift from the two. Each pair is weighted by the inverse of its pseudo-outcome's variance
(`final_stage.pseudo_outcome_weights`, a function of x alone): unweighted, the few pairs of
rare services with inverse propensities near 100 decided the fit (measured: the weighting
raised the oracle gain captured on 7 of 10 worlds of 30,000 clients, left 2 unchanged and
lowered 1; docs/MODEL.md). Every term is linear in the design, so it is again one matrix product.
The candidates (`STACK_CANDIDATES`) are compared by the same loss on held-out client folds
(`stack_cv_loss`); stacking replaces the final stage only when credibly better
(`choose_candidate`). docs/MODEL.md has the measured alternatives.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Final

import numpy as np
import pandas as pd

# Each candidate: which of (a, b, c, d) it fits; "dr" is the final stage as it is (a = 0,
# b = 1, c = d = 0, nothing fitted). `d` weighs the outcome model's own effect (the final
# stage's plug-in part) on top of `b * dr`: with it the data may lean on the smooth plug-in
# more than on the AIPW correction, whose per-service averages are the noisiest part.
STACK_CANDIDATES: Final[dict[str, tuple[bool, bool, bool, bool]]] = {
    "dr": (False, False, False, False),
    "scaled_dr_and_practice": (True, True, True, False),
    "dr_plug_in_and_practice": (True, True, True, True),
}

STACK_TERMS: Final = ("intercept", "dr", "practice")

_IDENTITY: Final = (0.0, 1.0, 0.0, 0.0)
# Practice weight when neither term is credible: orders ties, moves no shown number.
TIE_BREAK: Final = 1e-9


@dataclass(frozen=True)
class Stack:
    """A fitted stacking: what turns final-stage coefficients into the served uplift.

    Attributes
    ----------
    coef : ndarray (targets, services, 3)
        `a`, `b`, `c` of each target and service (`STACK_TERMS`; pooled: equal over services).
    plug_in : ndarray (targets, services), optional
        `d`, the weight of the final stage's plug-in part (None: 0).
    """

    coef: np.ndarray
    plug_in: np.ndarray | None = None

    def apply(
        self, oof: np.ndarray, practice: np.ndarray, plug: np.ndarray | None = None
    ) -> np.ndarray:
        """The stacked uplift of out-of-fold predictions, (n, targets, services) (NaN kept).

        `plug` (like `oof`) is the out-of-fold plug-in part, needed when `plug_in` is set.
        """
        a, b, c = (self.coef[None, :, :, j] for j in range(3))
        out = a + b * oof + c * practice[:, None, :]
        if self.plug_in is not None and plug is not None:
            out = out + self.plug_in[None] * plug
        return out

    def design_coef(
        self,
        uplift_coef: np.ndarray,
        practice_coef: np.ndarray,
        scored: np.ndarray,
        plug_coef: np.ndarray | None = None,
    ) -> np.ndarray:
        """The stacked uplift as design coefficients, (..., targets, 1 + d, services).

        `uplift_coef` is the final stage's (or its bootstrap replicas'), `practice_coef`
        (1 + d, services) the practice log-odds', `plug_coef` (targets, 1 + d, services) the
        final stage's plug-in part; services not `scored` keep their own.
        """
        a, b, c = (self.coef[:, None, :, j] for j in range(3))  # (targets, 1, services)
        out = b * uplift_coef + c * practice_coef
        if self.plug_in is not None and plug_coef is not None:
            out = out + self.plug_in[:, None, :] * plug_coef
        out[..., 0, :] += a[:, 0, :]
        return np.where(scored, out, uplift_coef)


def _pairs(
    oof: np.ndarray,
    pseudo: np.ndarray,
    practice: np.ndarray,
    plug: np.ndarray | None,
    t: int,
    rows: np.ndarray,
    weights: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Basis (pairs, 4) and pseudo-outcomes (pairs,) of target t's finite (row, service) pairs.

    With `weights` (n, services) both are scaled by the root of each pair's weight, so the
    plain least squares of `_solve` is the weighted one.
    """
    sub = oof[rows, t, :]
    finite = np.isfinite(sub)
    plug_column = np.zeros(int(finite.sum())) if plug is None else plug[rows, t, :][finite]
    basis = np.column_stack(
        [np.ones(int(finite.sum())), sub[finite], practice[rows][finite], plug_column]
    )
    y = pseudo[rows, t, :][finite]
    if weights is not None:  # weighted least squares as plain least squares of scaled rows
        root = np.sqrt(weights[rows][finite])
        return basis * root[:, None], y * root
    return basis, y


def _solve(basis: np.ndarray, y: np.ndarray, terms: tuple[bool, ...]) -> np.ndarray:
    """Least squares of `y` on the chosen columns with `b`, `c`, `d` >= 0 (best feasible subset)."""
    if not any(terms) or len(y) < 10:
        return np.array(_IDENTITY)
    free = [j for j in (1, 2, 3) if terms[j]]
    gram, rhs = basis.T @ basis, basis.T @ y
    best, best_loss = np.zeros(4), float(y @ y)
    for size in range(len(free), -1, -1):
        for subset in itertools.combinations(free, size):
            columns = [0, *subset] if terms[0] else list(subset)
            if not columns:
                continue
            g = gram[np.ix_(columns, columns)] + 1e-12 * np.eye(len(columns))
            solved = np.linalg.solve(g, rhs[columns])
            if any(solved[i] < 0 for i, j in enumerate(columns) if j > 0):
                continue
            coef = np.zeros(4)
            coef[columns] = solved
            loss = float(y @ y - 2 * coef @ rhs + coef @ gram @ coef)
            if loss < best_loss:
                best, best_loss = coef, loss
    if terms[2] and best[1] == 0.0 and best[2] == 0.0 and best[3] == 0.0:
        # Nothing tells the services apart: break the ties by practice's most likely choice
        # (a weight far below anything shown), not by catalog order.
        best[2] = TIE_BREAK
    return best


def fit_stack(
    oof: np.ndarray,
    pseudo: np.ndarray,
    practice: np.ndarray,
    terms: tuple[bool, ...],
    rows: np.ndarray | None = None,
    plug: np.ndarray | None = None,
    weights: np.ndarray | None = None,
) -> Stack:
    """Fit a stacking candidate on the rows `rows` (default: all).

    Parameters
    ----------
    oof : ndarray (n, targets, services)
        Out-of-fold final-stage predictions; NaN where a service is not scored.
    pseudo : ndarray (n, targets, services)
        AIPW pseudo-outcomes.
    practice : ndarray (n, services)
        Out-of-fold practice log-odds.
    terms : `STACK_CANDIDATES` value
    plug : ndarray (n, targets, services), optional
        Out-of-fold plug-in part of `oof` (the candidates with `d`; None: zeros, so `d` = 0).
    weights : ndarray (n, services), optional
        Weight of each pair in the least squares (`final_stage.pseudo_outcome_weights`).
    """
    rows = np.arange(len(oof)) if rows is None else rows
    coef = np.array(
        [
            _solve(*_pairs(oof, pseudo, practice, plug, t, rows, weights), terms)
            for t in range(oof.shape[1])
        ]
    )
    pooled = np.repeat(coef[:, None, :], oof.shape[2], axis=1)
    return Stack(pooled[..., :3].copy(), pooled[..., 3].copy() if terms[3] else None)


def stack_cv_loss(
    oof: np.ndarray,
    pseudo: np.ndarray,
    practice: np.ndarray,
    groups: np.ndarray,
    n_folds: int = 2,
    random_state: int = 0,
    plug: np.ndarray | None = None,
    weights: np.ndarray | None = None,
) -> pd.DataFrame:
    """Held-out squared error of the pseudo-outcomes of each candidate.

    Each candidate is fitted on the other client folds and scored on each fold. Rows: the
    candidates (`STACK_CANDIDATES`); columns: the loss per target (`loss_0`, `loss_1`, ...),
    their sum `loss`, and `se_vs_dr`, the standard error of the candidate's summed loss
    minus the final stage's (`dr`), over clients (a client's rows are one unit), and
    `se_vs_previous`, the same against the candidate before it (each adds terms to it).
    With `weights` (n, services) every pair's error is weighted as in the fits.
    """
    n_targets = oof.shape[1]
    n_groups = int(groups.max()) + 1 if len(groups) else 0
    fold_of = np.random.default_rng(random_state).permutation(n_groups)[groups] % n_folds
    names = list(STACK_CANDIDATES)
    loss = np.zeros((len(names), n_targets))
    per_client = np.zeros((len(names), n_groups))
    for f in range(n_folds):
        train, test = np.flatnonzero(fold_of != f), np.flatnonzero(fold_of == f)
        for i, name in enumerate(names):
            stack = fit_stack(oof, pseudo, practice, STACK_CANDIDATES[name], train, plug, weights)
            plug_test = None if plug is None else plug[test]
            error = (pseudo[test] - stack.apply(oof[test], practice[test], plug_test)) ** 2
            if weights is not None:
                error = error * weights[test][:, None, :]
            error = np.where(np.isfinite(error), error, 0.0)
            loss[i] += error.sum(axis=(0, 2))
            per_client[i] += np.bincount(
                groups[test], weights=error.sum(axis=(1, 2)), minlength=n_groups
            )

    def clustered_se(difference: np.ndarray) -> np.ndarray:
        if n_groups < 2:
            return np.zeros(len(difference))
        return np.asarray(difference.std(axis=1, ddof=1) * np.sqrt(n_groups))

    previous = np.concatenate([per_client[:1], per_client[:-1]])
    table = pd.DataFrame(
        loss,
        index=pd.Index(list(names), name="candidate"),
        columns=[f"loss_{t}" for t in range(n_targets)],
    )
    table["loss"] = loss.sum(axis=1)
    table["se_vs_dr"] = clustered_se(per_client - per_client[names.index("dr")])
    table["se_vs_previous"] = clustered_se(per_client - previous)
    return table


def choose_candidate(cv: pd.DataFrame, margin_se: float = 2.0) -> str:
    """The candidate with the smallest loss among those credibly better than `dr`.

    A candidate replaces the final stage only when its cross-validated loss is below the
    final stage's by more than `margin_se` standard errors of the difference: the DR loss is
    noisy (inverse propensities up to 100), and a noise-level "improvement" could shrink a
    real, strong effect away. Among the credible ones the loss alone decides (measured:
    also asking the plug-in candidate to beat the scaled one by `margin_se` of their own
    difference kept it out of a world where it gained 6.8 points, and let it in nowhere
    new; docs/MODEL.md).
    """
    base = float(cv["loss"].to_numpy()[list(cv.index).index("dr")])
    credible = cv[(base - cv["loss"]) > margin_se * cv["se_vs_dr"]]
    if credible.empty:
        return "dr"
    return str(credible["loss"].idxmin())
