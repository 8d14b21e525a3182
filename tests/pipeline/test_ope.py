"""pipeline.feedback.ope: intervals that hold a known truth, in-sample and cross-fitted."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.feedback.ope import by_own_fold, estimate, ipw, ipw_terms, person_folds

N_ACTIONS = 4
TOP = 0.9  # near-deterministic logging: the top shown first 9 times in 10, like follow 0.9


def _logged_world(seed: int, n_strata: int = 100, per_stratum: int = 100):  # type: ignore[no-untyped-def]
    """Strata of clients with near-tied true rewards; the first place logged with TOP."""
    rng = np.random.default_rng(seed)
    n = n_strata * per_stratum
    stratum = np.repeat(np.arange(n_strata), per_stratum)
    person = stratum * 1000 + rng.integers(0, int(per_stratum / 1.2), n)  # ~1.2 rows a person
    mu = 0.3 + rng.normal(0.0, 0.03, (n_strata, N_ACTIONS))
    p = np.full((n, N_ACTIONS), (1 - TOP) / (N_ACTIONS - 1))
    p[:, 0] = TOP
    shown = (p.cumsum(axis=1) < rng.random(n)[:, None]).sum(axis=1)
    reward = (rng.random(n) < mu[stratum, shown]).astype(float)
    return stratum, person, mu, p, shown, reward


def _greedy_learner(stratum, p, shown, reward, train):  # type: ignore[no-untyped-def]
    """Per stratum the action with the highest IPW mean on the training rows."""
    sums = np.zeros((stratum.max() + 1, N_ACTIONS))
    weighted = reward / p[np.arange(len(shown)), shown]
    np.add.at(sums, (stratum[train], shown[train]), weighted[train])
    return sums.argmax(axis=1)[stratum]


def test_a_policy_judged_on_the_rows_it_learnt_from_is_flattered_and_cross_fitting_holds() -> None:
    in_sample, naive, bounded, errors = [], [], [], []
    for seed in range(200):
        stratum, person, mu, p, shown, reward = _logged_world(seed)
        rows = np.arange(len(shown))
        learnt = _greedy_learner(stratum, p, shown, reward, np.ones(len(shown), bool))
        judged = ipw(learnt, shown, p[rows, shown], reward, p[rows, learnt])
        truth = mu[stratum, learnt].mean()
        in_sample.append(judged.covers(truth))
        errors.append(judged.value - truth)
        folds = person_folds(person, 2, seed)
        held_out = by_own_fold(
            folds, [_greedy_learner(stratum, p, shown, reward, folds != f) for f in (0, 1)]
        )
        truth = mu[stratum, held_out].mean()
        terms = ipw_terms(held_out, shown, p[rows, shown], reward)
        naive.append(estimate(terms, 1.0).covers(truth))
        bounded.append(estimate(terms, 1.0, folds).covers(truth))
    assert np.mean(errors) > 0.01 and np.mean(in_sample) < 0.5
    # The folds' errors are correlated (an unstable learner): rows taken as independent
    # under-cover; the fold-bounded standard error holds.
    assert np.mean(naive) < 0.9 <= np.mean(bounded)


def test_the_standard_error_matches_the_spread_under_near_deterministic_logging() -> None:
    values, errors, covered = [], [], []
    for seed in range(200):
        stratum, _, mu, p, shown, reward = _logged_world(seed)
        rows = np.arange(len(shown))
        # A policy fixed before the logs (here: seeded per stratum), mostly a rarely shown one.
        policy = np.random.default_rng(10_000 + seed).integers(0, N_ACTIONS, mu.shape[0])
        policy = policy[stratum]
        judged = ipw(policy, shown, p[rows, shown], reward, p[rows, policy])
        truth = mu[stratum, policy].mean()
        values.append(judged.value - truth)
        errors.append((judged.high - judged.low) / (2 * 1.959963984540054))
        covered.append(judged.covers(truth))
    assert abs(np.mean(values)) < 0.1 * np.std(values)
    assert 0.9 < np.mean(errors) / np.std(values, ddof=1) < 1.1
    assert np.mean(covered) >= 0.92


def test_person_folds_keep_a_person_in_one_fold_and_deal_persons_evenly() -> None:
    keys = np.array(["a", "b", "a", "c", "d", "b", "e", "a"])
    folds = person_folds(keys, 2, seed=0)
    for key in np.unique(keys):
        assert len(set(folds[keys == key])) == 1
    persons_per_fold = np.bincount([folds[keys == k][0] for k in np.unique(keys)])
    assert persons_per_fold.max() - persons_per_fold.min() <= 1
    assert (person_folds(keys, 2, seed=0) == folds).all()


def test_person_folds_refuse_one_fold_or_more_folds_than_persons() -> None:
    with pytest.raises(ValueError, match="at least 2"):
        person_folds(np.array(["a", "b"]), 1, seed=0)
    with pytest.raises(ValueError, match="2 persons cannot fill 3 folds"):
        person_folds(np.array(["a", "b", "a"]), 3, seed=0)


def test_by_own_fold_takes_each_row_from_the_model_fitted_without_it() -> None:
    folds = np.array([0, 1, 1, 0])
    fitted_without_0 = np.array([10, 11, 12, 13])
    fitted_without_1 = np.array([20, 21, 22, 23])
    assert by_own_fold(folds, [fitted_without_0, fitted_without_1]).tolist() == [10, 21, 22, 13]
    with pytest.raises(ValueError, match="every fold's result must have 4 rows"):
        by_own_fold(folds, [fitted_without_0, fitted_without_1[:3]])
    with pytest.raises(ValueError, match="1 fold results"):
        by_own_fold(folds, [fitted_without_0])


def test_the_fold_bounded_interval_refuses_folds_of_other_rows() -> None:
    with pytest.raises(ValueError, match="3 folds for 4 rows"):
        estimate(np.ones(4), 1.0, np.array([0, 1, 0]))
