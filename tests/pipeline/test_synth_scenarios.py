"""The scenario family of the synthetic world: registry, determinism, and each scenario's
stated structure, measured on small worlds."""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from models.catalog import Catalog
from pipeline.cli import build_app
from pipeline.synth.scenarios import SCENARIOS, scenario_named
from pipeline.synth.world import GeneratedWorld, SynthConfig, generate_world

# Content digest of SynthConfig(n_clients=2000, seed=7) (with and without the hidden
# confounder) before scenarios existed: the baseline must stay this world, value for value.
# A deliberate change of the generator (its population or structure) changes it: update the
# digest in that commit and say why.
BASELINE_DIGESTS = {
    False: "3f76c47a0a555c0a0cc65f175b1437a60f0ee8f1ae8df529dbb36aca1fc4ccfe",
    True: "aceed171c52d1034ee263a3018d63a6a70a49b2896ef8bf3fa297e8ccda09de7",
}


def world_digest(world: GeneratedWorld) -> str:
    """SHA-256 of the clients, episodes and truth frames' values and column names."""
    digest = hashlib.sha256()
    for frame in (world.clients, world.episodes, world.truth):
        digest.update(",".join(frame.columns).encode())
        digest.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    return digest.hexdigest()


def test_the_registry_names_at_least_five_scenarios_each_described() -> None:
    assert next(iter(SCENARIOS)) == "baseline"
    assert {
        "thresholds",
        "blind_caseworkers",
        "expert_caseworkers",
        "weak_overlap",
        "many_small",
    } <= set(SCENARIOS)
    for name, scenario in SCENARIOS.items():
        assert scenario.name == name
        assert scenario.description and "\n" not in scenario.description


def test_an_unknown_scenario_is_refused_naming_the_known_ones() -> None:
    with pytest.raises(ValueError, match=r"unknown scenario 'nope'.*weak_overlap"):
        SynthConfig(n_clients=10, scenario="nope")
    with pytest.raises(ValueError, match="unknown scenario"):
        scenario_named("Baseline")


@pytest.mark.parametrize("hidden_confounder", [False, True])
def test_the_baseline_scenario_is_the_world_as_it_was(hidden_confounder: bool) -> None:
    config = SynthConfig(n_clients=2000, seed=7, hidden_confounder=hidden_confounder)
    assert config.scenario == "baseline"
    assert world_digest(generate_world(config)) == BASELINE_DIGESTS[hidden_confounder]


@pytest.mark.parametrize("name", [n for n in SCENARIOS if n != "baseline"])
def test_every_scenario_is_deterministic_and_differs_from_the_baseline(
    name: str, catalog: Catalog
) -> None:
    first = generate_world(SynthConfig(n_clients=600, seed=4, scenario=name), catalog)
    again = generate_world(SynthConfig(n_clients=600, seed=4, scenario=name), catalog)
    baseline = generate_world(SynthConfig(n_clients=600, seed=4), catalog)
    assert world_digest(first) == world_digest(again)
    assert world_digest(first) != world_digest(baseline)
    # The population is the baseline's: a scenario changes effects, choices or services only.
    assert first.clients.equals(baseline.clients)
    assert first.config.scenario == name
    propensity = first.episodes["propensity"].to_numpy()
    assert np.isfinite(propensity).all() and (propensity > 0).all()


def test_generate_refuses_an_unknown_scenario_and_lists_the_names_in_help(tmp_path) -> None:
    runner = CliRunner()
    wrong = runner.invoke(
        build_app(), ["generate", "-n", "50", "-o", str(tmp_path), "--scenario", "nope"]
    )
    assert wrong.exit_code == 2
    assert "unknown scenario 'nope'" in wrong.output
    assert not list(tmp_path.iterdir())
    shown = runner.invoke(build_app(), ["generate", "--help"], terminal_width=200)
    assert all(name in shown.output for name in SCENARIOS)
