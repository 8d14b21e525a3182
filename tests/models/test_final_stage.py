"""The final stage's bootstrap: the moments summed per cell of rows equal a fit per mask."""

from __future__ import annotations

import numpy as np

from models.objectives import TARGETS
from models.ranker.final_stage import distinct_masks, final_stage, fit_uplift, unstack


def _problem(seed: int) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(seed)
    n, d, n_services = 400, 5, 6
    design = np.hstack([np.ones((n, 1)), rng.normal(size=(n, d))])
    plug_in = rng.normal(size=(n, len(TARGETS), n_services))
    correction = rng.normal(size=(n, len(TARGETS), n_services)) * 3.0
    # Overlapping masks: two services for everyone, the others for parts of the rows
    # (services 4 and 5 share a mask), one service supported by no row.
    allowed = np.ones((n, n_services), dtype=bool)
    allowed[:, 2] = design[:, 1] > -0.5
    allowed[:, 3] = design[:, 2] > 0.3
    allowed[:, 4] = allowed[:, 5] = design[:, 3] < 0.8
    supported = np.array([True, True, True, True, True, True])
    # What a disallowed pair holds must not matter.
    plug_in[~np.repeat(allowed[:, None, :], len(TARGETS), axis=1)] = np.nan
    alphas = np.array([1.0, 10.0, 100.0, 1.0, 1e6, 1e6])
    boot = rng.poisson(1.0, size=(3, n)).astype(np.float64)
    return design, plug_in, correction, allowed, supported, alphas, boot


def _per_mask(design, plug_in, correction, masks, alphas, weights):
    out = np.zeros((len(TARGETS), design.shape[1], plug_in.shape[2]))
    for columns, mask in masks:
        rows = np.flatnonzero(mask)
        coef = final_stage(
            design[rows],
            plug_in[rows][:, :, columns].reshape(len(rows), -1),
            correction[rows][:, :, columns].reshape(len(rows), -1),
            weights[rows],
            np.tile(alphas[columns], len(TARGETS)),
        )
        out[:, :, columns] = unstack(coef, len(columns))
    return out


def test_fit_uplift_equals_one_fit_per_mask_for_the_point_and_every_replica() -> None:
    design, plug_in, correction, allowed, supported, alphas, boot = _problem(3)
    masks = distinct_masks(allowed, supported)
    assert len(masks) == 4  # services 4 and 5 share one
    coef, replicas = fit_uplift(design, plug_in, correction, masks, alphas, boot)
    expected = _per_mask(design, plug_in, correction, masks, alphas, np.ones(len(design)))
    np.testing.assert_allclose(coef, expected, rtol=1e-9, atol=1e-12)
    assert replicas.shape == (len(boot), *coef.shape)
    for b, weights in enumerate(boot):
        np.testing.assert_allclose(
            replicas[b],
            _per_mask(design, plug_in, correction, masks, alphas, weights),
            rtol=1e-9,
            atol=1e-12,
        )
    # The replicas differ from the point fit (the weights were used).
    assert not np.allclose(replicas[0], coef)


def test_fit_uplift_leaves_services_in_no_mask_at_zero() -> None:
    design, plug_in, correction, allowed, supported, alphas, boot = _problem(4)
    supported[1] = False
    coef, replicas = fit_uplift(
        design, plug_in, correction, distinct_masks(allowed, supported), alphas, boot
    )
    assert np.all(coef[:, :, 1] == 0.0) and np.all(replicas[:, :, :, 1] == 0.0)
    assert np.all(np.isfinite(coef)) and np.all(np.isfinite(replicas))
