"""`polku effects DIR` on a censored register: each target on its episodes of known outcome.

A real extract is censored (`pipeline.synth.censoring`): a recent episode's six- or
twelve-month outcome is blank. Each target is estimated on the comparison's episodes whose
outcome for it is known (complete cases per target, nuisances fitted on them), the rest
counted; a fully observed register is estimated exactly as before.
"""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from models.actions import NO_SERVICE
from models.catalog import Catalog
from models.objectives import TARGETS, target_observed
from pipeline.cli import build_app
from pipeline.effects.estimators import (
    comparison_from_nuisances,
    design_matrix,
    fit_nuisances,
    standardise,
)
from pipeline.effects.register import (
    MIN_CONTROL,
    MIN_TREATED,
    RegisterEpisodes,
    register_episodes,
    service_effects,
)
from pipeline.synth.censoring import censor_outcomes
from pipeline.synth.world import SynthConfig, generate_world

SIX, TWELVE = TARGETS
PLANTED = "career_guidance"


@dataclasses.dataclass(frozen=True)
class World:
    """A generated world's episodes and catalog, without its clients: what a failing test
    reports of its arguments then holds no identity code."""

    episodes: pd.DataFrame = dataclasses.field(repr=False)
    catalog: Catalog = dataclasses.field(repr=False)


@pytest.fixture(scope="module")
def world() -> World:
    generated = generate_world(SynthConfig(n_clients=3000, seed=0))
    return World(generated.episodes, generated.catalog)


@pytest.fixture(scope="module")
def registers(world):
    """The same world's client episodes fully observed and censored (as an extract taken on
    its last assessment date), with their effects."""
    full = register_episodes(world.episodes, world.catalog)
    censored = register_episodes(censor_outcomes(world.episodes), world.catalog)
    return {
        "full": (full, service_effects(full, world.catalog)),
        "censored": (censored, service_effects(censored, world.catalog)),
    }


def _comparison_rows(data: RegisterEpisodes, catalog, service_id: str) -> np.ndarray:
    j = catalog.index(service_id)
    in_arms = (data.service_id == service_id) | (data.service_id == NO_SERVICE)
    return np.flatnonzero(in_arms & data.allowed[:, j])


def test_censored_effects_are_finite_and_the_12_month_ones_use_fewer_episodes(world, registers):
    data, result = registers["censored"]
    known = target_observed(data.outcomes)
    assert result.n_unobserved == {t: int((~known[:, k]).sum()) for k, t in enumerate(TARGETS)}
    assert 0 < result.n_unobserved[SIX] < result.n_unobserved[TWELVE] < len(data.service_id)
    six = {e.service_id: e for e in result.by_target(SIX)}
    twelve = {e.service_id: e for e in result.by_target(TWELVE)}
    assert len(twelve) >= 8 and set(twelve) <= set(six)
    for sid, e in twelve.items():
        assert e.n_treated + e.n_control < six[sid].n_treated + six[sid].n_control
        assert e.n_unobserved > six[sid].n_unobserved > 0
    for e in result.effects:
        k = TARGETS.index(e.target)
        rows = _comparison_rows(data, world.catalog, e.service_id)
        # The estimate's rows are the comparison's episodes of known outcome, and only those.
        np.testing.assert_array_equal(e.rows, rows[known[rows, k]])
        assert e.n_unobserved == len(rows) - len(e.rows)
        assert e.n_treated + e.n_control == len(e.rows) == len(e.fit.propensity)
        assert not np.isnan(e.fit.y).any()
        for estimate in e.estimates.values():
            assert np.isfinite([estimate.estimate, estimate.ci_low, estimate.ci_high]).all()
    # Too few treated episodes of known outcome: listed per target, with the counts.
    assert result.skipped_by_target[TWELVE]
    for target, services in result.skipped_by_target.items():
        for sid, why in services.items():
            assert f"with a known {target} outcome" in why and "not yet observed" in why
            assert sid not in {e.service_id for e in result.by_target(target)}
    payload = result.to_dict()
    data_counts = payload["data"]
    assert isinstance(data_counts, dict)
    assert data_counts["unobserved_client_episodes"] == result.n_unobserved
    assert payload["skipped_by_target"] == result.skipped_by_target


def test_a_censored_target_is_fitted_on_its_known_rows(world, registers):
    data, result = registers["censored"]
    effect = next(e for e in result.by_target(TWELVE) if e.service_id == PLANTED)
    design = design_matrix(data.covariates, list(data.covariates.columns))
    k = TARGETS.index(TWELVE)
    treated = data.service_id[effect.rows] == PLANTED
    propensity, n_clipped, mus = fit_nuisances(
        standardise(design.raw[effect.rows]), treated, [data.outcomes[effect.rows, k]], seed=0
    )
    expected = comparison_from_nuisances(
        treated,
        data.outcomes[effect.rows, k],
        propensity,
        n_clipped,
        mus[0],
        "att",
        clusters=data.clusters[effect.rows],
    ).estimates()
    assert effect.estimates == expected


def test_censored_estimates_stay_within_the_uncensored_intervals(registers):
    """Complete cases per target give what the uncensored register gives, within intervals.

    In this world the services' true effects are small (|ATT| < 0.07), so reading the blanks
    as 0, which shrinks every effect towards 0 by the share of known outcomes, stays inside
    the intervals too here; the planted effect below shows it moving.
    """
    full = {(e.service_id, e.target): e for e in registers["full"][1].effects}
    censored = registers["censored"][1].effects
    inside = [
        e.estimates["aipw"].ci_low
        <= full[e.service_id, e.target].estimates["aipw"].estimate
        <= e.estimates["aipw"].ci_high
        for e in censored
    ]
    assert len(inside) >= 20
    assert np.mean(inside) >= 0.9


def test_blanks_read_as_0_move_an_effect_complete_cases_keep(world):
    # A large effect planted on the twelve-month outcome of one service (its treated find
    # work half the time whatever else happens), then the extract censored by date.
    episodes = world.episodes.copy()
    rng = np.random.default_rng(7)
    lifted = (episodes["service_id"] == PLANTED).to_numpy() & (rng.random(len(episodes)) < 0.5)
    episodes.loc[lifted, "employed_12m"] = 1
    full = register_episodes(episodes, world.catalog)
    censored = register_episodes(censor_outcomes(episodes), world.catalog)
    zeros = dataclasses.replace(censored, outcomes=np.nan_to_num(censored.outcomes))
    aipw = {
        name: service_effects(data, world.catalog, services=[PLANTED])
        .by_target(TWELVE)[0]
        .estimates["aipw"]
        for name, data in (("full", full), ("censored", censored), ("zeros", zeros))
    }
    assert aipw["full"].ci_low > 0.2, aipw["full"]
    assert aipw["full"].ci_low <= aipw["censored"].estimate <= aipw["full"].ci_high, aipw
    assert aipw["censored"].ci_low <= aipw["full"].estimate <= aipw["censored"].ci_high, aipw
    # Read as 0, the half of the outcomes still ahead halve the effect: out of the interval.
    assert aipw["zeros"].estimate < aipw["full"].ci_low - 0.05, aipw
    assert aipw["zeros"].ci_high < aipw["full"].estimate, aipw


def test_a_fully_observed_register_is_estimated_as_before(world, registers):
    data, result = registers["full"]
    assert result.n_unobserved == dict.fromkeys(TARGETS, 0)
    assert result.skipped_by_target == {t: {} for t in TARGETS}
    design = design_matrix(data.covariates, list(data.covariates.columns))
    for service_id in {e.service_id for e in result.effects}:
        # The code before censored registers: one fit per service, every target on all rows.
        rows = _comparison_rows(data, world.catalog, service_id)
        treated = data.service_id[rows] == service_id
        outcomes = [data.outcomes[rows, k] for k in range(len(TARGETS))]
        propensity, n_clipped, mus = fit_nuisances(
            standardise(design.raw[rows]), treated, outcomes, seed=0
        )
        for k, target in enumerate(TARGETS):
            effect = next(e for e in result.by_target(target) if e.service_id == service_id)
            np.testing.assert_array_equal(effect.rows, rows)
            assert effect.n_unobserved == 0
            assert effect.diagnostics is result.diagnostics[service_id]
            before = comparison_from_nuisances(
                treated,
                outcomes[k],
                propensity,
                n_clipped,
                mus[k],
                "att",
                clusters=data.clusters[rows],
            )
            np.testing.assert_array_equal(effect.fit.propensity, before.propensity)
            assert effect.estimates == before.estimates()
            mask = np.asarray(data.groups["age_band"])[rows].astype(str) == "under_30"
            if "under_30" in effect.groups["age_band"]:
                assert effect.groups["age_band"]["under_30"].estimates == before.estimates(mask)


def test_a_service_with_too_few_known_outcomes_is_skipped_for_that_target_only(world):
    episodes = world.episodes.copy()
    treated = (episodes["service_id"] == PLANTED).to_numpy()
    # All but 10 of the service's treated episodes await their twelve-month outcome.
    blank = treated & (np.cumsum(treated) > 10)
    episodes.loc[blank, "employed_12m"] = np.nan
    data = register_episodes(episodes, world.catalog)
    result = service_effects(data, world.catalog, services=[PLANTED])
    assert [e.target for e in result.effects] == [SIX]
    assert result.skipped == {}
    why = result.skipped_by_target[TWELVE][PLANTED]
    rows = _comparison_rows(data, world.catalog, PLANTED)
    known = ~np.isnan(data.outcomes[rows, TARGETS.index(TWELVE)])
    n_treated = int((known & (data.service_id[rows] == PLANTED)).sum())
    assert 0 < n_treated <= 10
    assert why.startswith(
        f"{n_treated} treated and {int(known.sum()) - n_treated} control episodes with a "
        f"known {TWELVE} outcome ({int((~known).sum())} not yet observed)"
    )
    assert f"an estimate needs at least {MIN_TREATED} and {MIN_CONTROL}" in why


def _run(*args: str):
    app = build_app()
    single = len(app.registered_commands) + len(app.registered_groups) == 1
    return CliRunner().invoke(app, list(args) if single else ["effects", *args])


def test_effects_cli_on_a_censored_register_names_what_it_left_out(tmp_path):
    generated = CliRunner().invoke(
        build_app(),
        ["generate", "--censored", "-o", str(tmp_path / "register"), "-n", "2000", "--seed", "5"],
    )
    assert generated.exit_code == 0, generated.output
    out = tmp_path / "effects.json"
    result = _run(str(tmp_path / "register"), "--json", str(out), "--report", str(tmp_path / "r"))
    assert result.exit_code == 0, result.output
    payload = json.loads(out.read_text())
    counts = payload["data"]["unobserved_client_episodes"]
    episodes = payload["data"]["client_episodes"]
    assert 0 < counts[SIX] < counts[TWELVE] < episodes
    for target in TARGETS:
        line = (
            f"{counts[target]} of {episodes} client episodes left out: their {target} "
            "outcome is not yet observed"
        )
        assert line in result.output
        assert line in (tmp_path / "r" / "report.html").read_text()
        for effect in payload["targets"][target]:
            assert effect["n_unobserved"] > 0
            assert np.isfinite(effect["estimates"]["aipw"]["estimate"])
    assert "unknown" in result.output.split(f"{TWELVE}:")[1].splitlines()[2]
    for sid in payload["skipped_by_target"][TWELVE]:
        assert f"  {sid}, {TWELVE}: " in result.output
