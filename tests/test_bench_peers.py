"""The benchmark's peer adapters (bench/peers.py), on parts that need no `bench` extra."""

from __future__ import annotations

from types import ModuleType

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from tests.helpers import load_bench_module


@pytest.fixture(scope="module")
def peers() -> ModuleType:
    return load_bench_module("peers.py", "bench_peers")


def _world(peers: ModuleType, n: int = 3000, seed: int = 0):  # type: ignore[no-untyped-def]
    """Two services and none; service 0 helps where x0 > 0 and harms elsewhere, service 1
    does nothing; service 1 is not allowed where x1 > 1 (train and test)."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(2 * n, 3))
    allowed = np.ones((2 * n, 2), dtype=bool)
    allowed[:, 1] = x[:, 1] <= 1.0
    action = rng.integers(0, 3, size=2 * n)
    action[(action == 1) & ~allowed[:, 1]] = 2
    effect0 = np.where(x[:, 0] > 0, 0.3, -0.3)
    p = 0.4 + np.where(action == 0, effect0, 0.0)
    reward = (rng.random(2 * n) < p).astype(np.float64)
    data = peers.PeerData(
        x_train=x[:n],
        action_train=action[:n],
        reward_train=reward[:n],
        allowed_train=allowed[:n],
        x_test=x[n:],
        allowed_test=allowed[n:],
        seed=seed,
    )
    return data, effect0[n:]


def test_binary_problems_keep_allowed_rows_that_got_the_service_or_none(peers) -> None:
    data, _ = _world(peers)
    problems = {service: (rows, treated) for service, rows, treated in peers.binary_problems(data)}
    assert set(problems) == {0, 1}
    rows, treated = problems[1]
    assert data.allowed_train[rows, 1].all()
    assert set(data.action_train[rows].tolist()) == {1, 2}
    assert np.array_equal(treated, (data.action_train[rows] == 1).astype(np.int64))


def test_a_service_too_rarely_given_gets_no_problem(peers) -> None:
    data, _ = _world(peers)
    action = data.action_train.copy()
    action[np.flatnonzero(action == 1)[peers.MIN_TREATED - 1 :]] = 2
    thin = peers.PeerData(
        data.x_train,
        action,
        data.reward_train,
        data.allowed_train,
        data.x_test,
        data.allowed_test,
    )
    assert [service for service, _, _ in peers.binary_problems(thin)] == [0]


def test_subsample_keeps_rows_aligned_and_capped(peers) -> None:
    data, _ = _world(peers, n=500)
    small = data.subsample(100)
    assert len(small.action_train) == len(small.reward_train) == len(small.x_train) == 100
    # Each kept row is a row of the original data, whole.
    match = (data.x_train[:, None, :] == small.x_train[None, :, :]).all(axis=2)
    source = match.argmax(axis=0)
    assert match.any(axis=0).all()
    assert np.array_equal(data.action_train[source], small.action_train)
    assert data.subsample(None) is data


def test_t_learner_finds_who_gains_and_leaves_disallowed_pairs_empty(peers) -> None:
    data, true_effect = _world(peers)
    with threadpool_limits(limits=1):  # OpenMP pools spin on a busy machine
        uplift = peers.HGBTLearner().uplift(data)
    assert uplift.shape == data.allowed_test.shape
    assert np.isnan(uplift[~data.allowed_test]).all()
    assert np.isfinite(uplift[data.allowed_test]).all()
    # The sign of service 0's effect is recovered for most held-out clients.
    assert np.mean(np.sign(uplift[:, 0]) == np.sign(true_effect)) > 0.8
