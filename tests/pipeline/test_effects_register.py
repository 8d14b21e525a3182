"""`polku effects DIR` on a generated world: per-service effects, groups, and the truth."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from models.objectives import TARGETS, TRUTH_OUTCOME_OF_TARGET
from pipeline.cli import build_app
from pipeline.effects.estimators import EffectsError
from pipeline.effects.register import (
    GROUPINGS,
    MIN_TREATED,
    register_episodes,
    service_effects,
    true_effect,
)
from pipeline.effects.register_report import TOP_SERVICES
from pipeline.synth.world import SynthConfig, generate_world, write_world


@pytest.fixture(scope="module")
def world():
    return generate_world(SynthConfig(n_clients=3000, seed=0))


@pytest.fixture(scope="module")
def estimated(world):
    data = register_episodes(world.episodes, world.catalog)
    return data, service_effects(data, world.catalog)


def _run(*args: str):
    app = build_app()
    single = len(app.registered_commands) + len(app.registered_groups) == 1
    return CliRunner().invoke(app, list(args) if single else ["effects", *args])


def test_register_episodes_keeps_client_episodes_only(world):
    from models.eligibility import assess_eligibility_frame

    data = register_episodes(world.episodes, world.catalog)
    assert len(data.service_id) < len(world.episodes)
    eligible = assess_eligibility_frame(world.episodes.drop(columns=["episode_id"]))["eligible"]
    assert len(data.service_id) == int(eligible.sum())
    assert set(data.groups) == set(GROUPINGS)
    assert "age" in data.covariates and "gender" not in data.covariates


def test_service_effects_every_service_estimated_or_skipped_with_reason(world, estimated):
    _, result = estimated
    estimated_ids = {e.service_id for e in result.effects}
    assert estimated_ids | set(result.skipped) == set(world.catalog.ids)
    assert not estimated_ids & set(result.skipped)
    for e in result.effects:
        assert e.n_treated >= MIN_TREATED
    for reason in result.skipped.values():
        assert "an estimate needs at least" in reason
    assert {e.target for e in result.effects} == set(TARGETS)


def test_service_effects_aipw_intervals_cover_truth_on_one_world(world, estimated):
    data, result = estimated
    covered = []
    for e in result.effects:
        truth = world.truth_matrix(TRUTH_OUTCOME_OF_TARGET[e.target])[data.kept]
        value = true_effect(e, truth, world.catalog)
        aipw = e.estimates["aipw"]
        covered.append(aipw.ci_low <= value <= aipw.ci_high)
    assert len(covered) >= 20
    assert np.mean(covered) >= 0.8  # the several-seed check (>= 90 %) is the slow test


def test_true_effect_att_is_mean_gain_over_the_treated(world, estimated):
    data, result = estimated
    effect = next(e for e in result.effects if e.target == "employment_12m")
    truth = world.truth_matrix("employed_12m")[data.kept]
    j = world.catalog.index(effect.service_id)
    rows = effect.rows[effect.fit.treated]
    expected = np.mean(truth[rows, j] - truth[rows, -1])
    assert true_effect(effect, truth, world.catalog) == pytest.approx(expected)
    treated_ids = data.service_id[rows]
    assert set(treated_ids) == {effect.service_id}


def test_service_effects_group_estimates_restrict_to_the_group(estimated):
    _, result = estimated
    effect = max(result.effects, key=lambda e: e.n_treated)
    levels = effect.groups["long_term_unemployed"]
    assert set(levels) <= {"12_months_or_more", "under_12_months"}
    assert sum(g.n_treated for g in levels.values()) <= effect.n_treated
    for g in levels.values():
        assert g.estimates["aipw"].ci_low <= g.estimates["aipw"].estimate
        assert g.estimates["aipw"].estimate <= g.estimates["aipw"].ci_high


def test_register_episodes_unknown_service_named(world):
    episodes = world.episodes.copy()
    episodes.loc[episodes.index[0], "service_id"] = "time_machine"
    with pytest.raises(EffectsError, match="not in the catalog: time_machine"):
        register_episodes(episodes, world.catalog, clients_only=False)


def test_effects_cli_register_directory_json_and_report(tmp_path):
    write_world(generate_world(SynthConfig(n_clients=1500, seed=1)), tmp_path / "world")
    out = tmp_path / "effects.json"
    result = _run(str(tmp_path / "world"), "--json", str(out), "--report", str(tmp_path / "rep"))
    assert result.exit_code == 0, result.output
    assert "effect on the treated arm (ATT)" in result.output
    payload = json.loads(out.read_text())
    assert set(payload["targets"]) == set(TARGETS)
    first = payload["targets"]["employment_or_education_6m"][0]
    assert {"estimate", "ci_low", "ci_high"} <= set(first["estimates"]["aipw"])
    assert set(first["groups"]) == set(GROUPINGS)
    page = (tmp_path / "rep" / "report.html").read_text()
    # Per target: a forest plot, and one plot per grouping.
    assert page.count("data:image/png;base64,") == len(TARGETS) * (1 + len(GROUPINGS))
    assert page.count('alt="forest plot"') == len(TARGETS)
    assert page.count('alt="effect by age_band"') == len(TARGETS)
    # A short main table per target; the full service and group tables are folded away.
    assert page.count("services of largest effect</h3>") == len(TARGETS)
    assert page.count("<details>") == 2 * len(TARGETS)
    assert page.count("<summary>Every service in every group (table)</summary>") == len(TARGETS)
    main = page.split("services of largest effect</h3>")[1].split("<details>")[0]
    assert "<th>service</th><th>treated</th><th>control</th><th>AIPW</th>" in main
    assert 1 < main.count("<tr>") <= 1 + TOP_SERVICES
    assert "Overlap and balance by service" in page


def test_effects_cli_directory_without_episodes(tmp_path):
    result = _run(str(tmp_path))
    assert result.exit_code == 2
    assert "holds no episodes.parquet or episodes.csv" in result.output


@pytest.mark.slow
def test_service_effects_coverage_over_several_worlds():
    covered = []
    for seed in (11, 12, 13):
        world = generate_world(SynthConfig(n_clients=20_000, seed=seed))
        data = register_episodes(world.episodes, world.catalog)
        for e in service_effects(data, world.catalog, seed=seed).effects:
            truth = world.truth_matrix(TRUTH_OUTCOME_OF_TARGET[e.target])[data.kept]
            value = true_effect(e, truth, world.catalog)
            covered.append(e.estimates["aipw"].ci_low <= value <= e.estimates["aipw"].ci_high)
    assert np.mean(covered) >= 0.9


def test_service_effects_ate_truth_is_mean_over_both_arms(world):
    data = register_episodes(world.episodes, world.catalog)
    service = "career_guidance"
    result = service_effects(data, world.catalog, estimand="ate", services=[service])
    effect = result.by_target("employment_12m")[0]
    truth = world.truth_matrix("employed_12m")[data.kept]
    j = world.catalog.index(service)
    expected = np.mean(truth[effect.rows, j] - truth[effect.rows, -1])
    assert true_effect(effect, truth, world.catalog) == pytest.approx(expected)
    assert effect.n_treated + effect.n_control == len(effect.rows)
    assert list(result.skipped) == []


def test_true_effect_within_a_group_uses_its_treated_only(world, estimated):
    data, result = estimated
    effect = max(result.by_target("employment_12m"), key=lambda e: e.n_treated)
    truth = world.truth_matrix("employed_12m")[data.kept]
    labels = np.asarray(data.groups["long_term_unemployed"])[effect.rows].astype(str)
    within = labels == "12_months_or_more"
    j = world.catalog.index(effect.service_id)
    rows = effect.rows[within & effect.fit.treated]
    expected = np.mean(truth[rows, j] - truth[rows, -1])
    assert true_effect(effect, truth, world.catalog, within=within) == pytest.approx(expected)


def test_effects_cli_register_directory_refuses_table_options(tmp_path):
    result = _run(str(tmp_path), "--treatment", "service_id")
    assert result.exit_code == 2
    assert "apply to a table; a register directory uses the defaults" in result.output
