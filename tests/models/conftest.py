"""Fixtures of the model tests: the toy world (known effects) and the ranker fitted on it."""

from __future__ import annotations

import pytest

from models.bundle import PolkuModel
from models.catalog import Catalog
from models.ranker import ServiceRanker
from tests.models.world import ToyEpisodes, fit_ranker, make_world


@pytest.fixture(scope="session")
def world(catalog: Catalog) -> ToyEpisodes:
    return make_world(6000, seed=7, catalog=catalog)


@pytest.fixture(scope="session")
def ranker(world: ToyEpisodes, catalog: Catalog) -> ServiceRanker:
    return fit_ranker(world, catalog, n_bootstrap=10, random_state=3)


@pytest.fixture(scope="session")
def polku_model(ranker: ServiceRanker, catalog: Catalog) -> PolkuModel:
    return PolkuModel.build(ranker, catalog)
