"""What if Polku had been followed: a trained model's suggestions against logged practice."""

from __future__ import annotations

import numpy as np
import pytest
from typer.testing import CliRunner

from models.bundle import PolkuModel
from pipeline.cli import build_app
from pipeline.data.episodes import true_objective_outcomes
from pipeline.effects.register import register_episodes
from pipeline.effects.whatif import policy_versus_logged, whatif_table
from pipeline.synth.world import SynthConfig, generate_world

OBJECTIVE = "employment_or_education_6m"


@pytest.fixture(scope="module")
def model(tiny_model: PolkuModel) -> PolkuModel:
    # The session's tiny model, trained on another world (seed 11) than the one evaluated.
    return tiny_model


@pytest.fixture(scope="module")
def fresh_world():
    # Evaluated on another world than the one trained on, as docs/EFFECTS.md asks.
    world = generate_world(SynthConfig(n_clients=2500, seed=22))
    data = register_episodes(world.episodes, world.catalog)
    truth = true_objective_outcomes(
        {k: world.truth_matrix(k)[data.kept] for k in (OBJECTIVE, "employed_12m")}, OBJECTIVE
    )
    return world, data, truth


def test_policy_versus_logged_interval_covers_true_gain(model, fresh_world):
    world, data, truth = fresh_world
    evaluation = policy_versus_logged(data, model, OBJECTIVE, world.catalog, true_outcomes=truth)
    overall = evaluation.overall
    assert overall.n_episodes == len(data.service_id)
    assert 0 < overall.n_matched < overall.n_episodes
    true_gain = overall.true_gain
    assert true_gain is not None
    dr = overall.gains["dr"]
    assert dr.ci_low <= true_gain <= dr.ci_high
    assert overall.logged_value.estimate == pytest.approx(np.maximum(data.outcomes[:, 0], 0).mean())
    assert set(evaluation.by_group) == {"age_band", "language_group", "long_term_unemployed"}


def test_whatif_table_reports_values_gains_and_truth(model, fresh_world):
    world, data, truth = fresh_world
    evaluation = policy_versus_logged(data, model, OBJECTIVE, world.catalog, true_outcomes=truth)
    text = whatif_table(evaluation, OBJECTIVE, "test model")
    assert "logged practice" in text
    assert "Polku, doubly robust" in text
    assert "truth (synthetic world)" in text
    assert "Gain by group (doubly robust):" in text
    assert "long_term_unemployed: 12_months_or_more" in text


def test_effects_cli_policy_needs_champion_and_a_directory(tmp_path):
    app = build_app()
    single = len(app.registered_commands) + len(app.registered_groups) == 1
    args = [str(tmp_path / "d.csv"), "--policy", "champion"]
    result = CliRunner().invoke(app, args if single else ["effects", *args])
    assert result.exit_code == 2
    assert "--policy takes 'champion' and needs a register directory" in result.output


def test_whatif_html_has_table_and_gain_plot(model, fresh_world):
    from pipeline.effects.whatif import whatif_html

    world, data, truth = fresh_world
    evaluation = policy_versus_logged(data, model, OBJECTIVE, world.catalog, true_outcomes=truth)
    page = whatif_html(evaluation, OBJECTIVE, "test model")
    assert page.count("data:image/png;base64,") == 1
    assert "logged practice" in page and "What if Polku had been followed?" in page
    # Readable tables, not terminal text: the summary and the gain by group.
    assert "<pre>" not in page
    assert page.count("<table class=values>") == page.count("<table class=groups>") == 1
    assert ("<tr><th>policy</th><th>value</th><th>95 % interval</th><th>gain</th>"
            "<th>95 % interval</th></tr>") in page  # fmt: skip
    assert "<td>Polku, doubly robust</td>" in page
    assert "<tr class=truth><td>truth (synthetic world)</td>" in page
    groups = page.split("<th>true gain</th></tr>")[1].split("</table>")[0]
    n_groups = sum(len(levels) for levels in evaluation.by_group.values())
    assert groups.count("<tr>") == n_groups
    assert "<td>long_term_unemployed</td><td>12_months_or_more</td>" in groups


def test_policy_versus_logged_on_a_censored_register_leaves_unknown_rewards_out(model, fresh_world):
    """A reward not yet observed is left out and counted, never read as 0: the logged value
    stays where the uncensored register has it, where 0s would halve it."""
    from models.actions import ActionSpace
    from pipeline.data.episodes import objective_rewards
    from pipeline.synth.censoring import censor_outcomes

    world, full, _ = fresh_world
    objective = "employment_12m"
    data = register_episodes(censor_outcomes(world.episodes), world.catalog)
    truth = true_objective_outcomes(
        {k: world.truth_matrix(k)[data.kept] for k in (OBJECTIVE, "employed_12m")}, objective
    )
    reward = objective_rewards(data.outcomes, objective)
    known = ~np.isnan(reward)
    assert 0 < known.sum() < len(known)
    evaluation = policy_versus_logged(data, model, objective, world.catalog, true_outcomes=truth)
    overall = evaluation.overall
    assert overall.n_episodes == int(known.sum())
    assert evaluation.n_unobserved == int((~known).sum())
    assert evaluation.to_dict()["n_unobserved_episodes"] == evaluation.n_unobserved
    assert overall.logged_value.estimate == pytest.approx(reward[known].mean())
    logged = ActionSpace(world.catalog.ids).indices(data.service_id)
    rows = np.flatnonzero(known)
    assert overall.true_logged_value == pytest.approx(truth[rows, logged[rows]].mean())
    for estimate in (overall.logged_value, *overall.values.values(), *overall.gains.values()):
        assert np.isfinite([estimate.estimate, estimate.ci_low, estimate.ci_high]).all()
    uncensored = policy_versus_logged(full, model, objective, world.catalog)
    assert uncensored.n_unobserved == 0
    assert uncensored.overall.n_episodes == len(full.service_id)
    value = overall.logged_value
    assert value.ci_low <= uncensored.overall.logged_value.estimate <= value.ci_high
    assert overall.gains["dr"].ci_low <= uncensored.overall.gains["dr"].estimate
    assert uncensored.overall.gains["dr"].estimate <= overall.gains["dr"].ci_high
    assert np.nan_to_num(reward).mean() < value.ci_low - 0.1  # what 0s would have said
    text = whatif_table(evaluation, objective, "test model")
    assert (
        f"{evaluation.n_unobserved} more client episodes await the objective's outcome "
        "(not yet observed) and are left out."
    ) in text
    assert "await the objective's outcome" not in whatif_table(uncensored, objective, "m")
    # A mix is unknown where any outcome it weighs is; the six-month one alone, less often.
    mix = f"{OBJECTIVE}=0.5,{objective}=0.5"
    assert policy_versus_logged(data, model, mix, world.catalog).n_unobserved == int(
        np.isnan(objective_rewards(data.outcomes, mix)).sum()
    )
    six = policy_versus_logged(data, model, OBJECTIVE, world.catalog)
    assert 0 < six.n_unobserved < evaluation.n_unobserved
