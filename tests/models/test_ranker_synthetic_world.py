"""The ranker against the project's synthetic world and its truth (slow: a 20,000-client world).

The fast tests use a toy world with large effects; these check, on the realistic world of
`pipeline.synth.world` (effects of a few points, confounded caseworkers), that the ranker's
uplifts follow the true ones and that its top-1 beats the caseworkers on held-out clients.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from models.bundle import PolkuModel
from models.catalog import Catalog
from models.objectives import DEFAULT_OBJECTIVE
from models.ranker import ServiceRanker

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def prepared(catalog: Catalog, tmp_path_factory: pytest.TempPathFactory) -> object:
    from pipeline.data.episodes import prepare_episodes
    from pipeline.data.split import SplitSettings
    from pipeline.data.world import load_world
    from pipeline.synth.world import SynthConfig, generate_world, write_world

    directory: Path = tmp_path_factory.mktemp("world")
    write_world(generate_world(SynthConfig(n_clients=20_000, seed=3), catalog), directory)
    world = load_world(directory)
    return prepare_episodes(
        world.episodes,
        world.true_outcomes(DEFAULT_OBJECTIVE, catalog),
        catalog,
        DEFAULT_OBJECTIVE,
        SplitSettings(),
    )


@pytest.fixture(scope="module")
def world_model(prepared: object, catalog: Catalog) -> PolkuModel:
    train = prepared.train  # type: ignore[attr-defined]
    ranker = ServiceRanker(services=catalog.ids, n_bootstrap=5).fit(
        train.frame,
        train.service_id,
        train.outcomes,
        propensity=train.propensity,
        allowed=train.allowed,
        groups=train.frame["client_id"].to_numpy(),
    )
    return PolkuModel.build(ranker, catalog)


def test_synthetic_world_top1_beats_caseworkers(world_model: PolkuModel, prepared: object) -> None:
    held_out = prepared.held_out  # type: ignore[attr-defined]
    scores = world_model.score_frame(held_out.frame)
    top = scores.top(1)[:, 0]
    rows = np.arange(len(top))
    n_services = held_out.allowed.shape[1]
    chosen = np.where(top >= 0, top, n_services)  # no allowed service: none (last column)
    polku = held_out.true_outcomes[rows, chosen].mean()
    caseworkers = held_out.true_outcomes[rows, held_out.logged_action].mean()
    best = np.where(
        np.column_stack([held_out.allowed, np.ones(len(rows), dtype=bool)]),
        held_out.true_outcomes,
        -np.inf,
    ).max(axis=1)
    oracle = best.mean()
    assert polku > caseworkers
    assert (polku - caseworkers) / (oracle - caseworkers) > 0.3


def test_synthetic_world_uplifts_follow_the_truth(
    world_model: PolkuModel, prepared: object, catalog: Catalog
) -> None:
    held_out = prepared.held_out  # type: ignore[attr-defined]
    scores = world_model.score_frame(held_out.frame)
    true_uplift = held_out.true_outcomes[:, :-1] - held_out.true_outcomes[:, -1:]
    allowed = scores.allowed
    correlation = np.corrcoef(scores.uplift[allowed], true_uplift[allowed])[0, 1]
    assert correlation > 0.3
    # Finnish courses help beginners (A0-A2) more than B2 speakers, in the truth and the model.
    k = catalog.index("finnish_language_course")
    level = held_out.frame["language_level"].to_numpy()
    low = allowed[:, k] & np.isin(level, ["A0", "A1", "A2"])
    b2 = allowed[:, k] & (level == "B2")
    assert true_uplift[low, k].mean() > true_uplift[b2, k].mean()
    assert scores.uplift[low, k].mean() > scores.uplift[b2, k].mean()
