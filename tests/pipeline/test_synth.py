"""The synthetic world: schema, identity codes, choices and propensities, determinism, marginals."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from models.actions import NO_SERVICE
from models.catalog import Catalog
from models.demographics import age_in_years, is_foreign_language
from models.eligibility import assess_eligibility_frame
from models.henkilotunnus import parse_henkilotunnus_array
from models.objectives import TRUTH_OUTCOMES
from models.profile import PROFILE_COLUMNS
from models.profile_validation import parse_profile_frame
from pipeline.data.layout import CLIENT_COLUMNS, EPISODE_COLUMNS
from pipeline.synth.history import effect_scale_of_episodes
from pipeline.synth.marginals import calibration_marginals
from pipeline.synth.outcomes import truth_probabilities
from pipeline.synth.world import (
    GeneratedWorld,
    SynthConfig,
    generate_world,
    synthetic_henkilotunnus,
    write_world,
)


@pytest.fixture(scope="module")
def small_world(catalog: Catalog) -> GeneratedWorld:
    return generate_world(SynthConfig(n_clients=2000, seed=11), catalog)


@pytest.fixture(scope="module")
def large_world(catalog: Catalog) -> GeneratedWorld:
    # Large enough that the calibration windows (a few months) hold hundreds of episodes.
    return generate_world(SynthConfig(n_clients=20_000, seed=5), catalog)


def test_synth_config_rejects_bad_sizes() -> None:
    with pytest.raises(ValueError, match="n_clients"):
        SynthConfig(n_clients=0)
    with pytest.raises(ValueError, match="seed"):
        SynthConfig(n_clients=10, seed=-1)


def test_world_files_have_the_documented_columns(
    small_world: GeneratedWorld, catalog: Catalog
) -> None:
    assert tuple(small_world.clients.columns) == CLIENT_COLUMNS
    assert tuple(small_world.episodes.columns) == EPISODE_COLUMNS
    assert "henkilotunnus" not in small_world.episodes.columns
    assert len(small_world.clients) == 2000
    assert small_world.clients["client_id"].is_unique
    assert small_world.episodes["episode_id"].is_unique
    assert set(small_world.episodes["client_id"]) <= set(small_world.clients["client_id"])
    assert len(small_world.truth) == len(small_world.episodes)
    assert (
        small_world.truth["episode_id"].to_numpy() == small_world.episodes["episode_id"].to_numpy()
    ).all()
    assert small_world.truth.shape[1] == 1 + len(TRUTH_OUTCOMES) * (len(catalog) + 1)


def test_world_episodes_per_person_and_dates_in_period(small_world: GeneratedWorld) -> None:
    per_person = small_world.episodes.groupby("client_id").size()
    assert per_person.between(1, 3).all()
    dates = small_world.episodes["assessment_date"]
    assert dates.min() >= pd.Timestamp("2021-03-01") and dates.max() <= pd.Timestamp("2023-06-30")


def test_world_profiles_pass_profile_validation(small_world: GeneratedWorld) -> None:
    clients = parse_profile_frame(small_world.clients)
    episodes = parse_profile_frame(small_world.episodes)
    assert clients.errors == [] and len(clients.frame) == len(small_world.clients)
    assert episodes.errors == [] and len(episodes.frame) == len(small_world.episodes)


def test_world_typed_columns(small_world: GeneratedWorld) -> None:
    episodes = small_world.episodes
    assert episodes["unemployment_months"].dtype == np.int64
    assert episodes["work_experience_years"].dtype == np.float64
    assert episodes["immigrant"].dtype == bool and episodes["outdated_skills"].dtype == bool
    for column in ("birth_date", "assessment_date", "experiment_client_since"):
        assert np.issubdtype(episodes[column].dtype, np.datetime64), column
    for column in ("employed_6m", "education_6m", "employed_12m"):
        assert set(np.unique(episodes[column])) <= {0, 1}


def test_henkilotunnus_valid_test_range_unique_and_agrees_with_birth_date(
    small_world: GeneratedWorld,
) -> None:
    codes = small_world.clients["henkilotunnus"].to_numpy(dtype=str)
    birth, problems = parse_henkilotunnus_array(codes)
    assert (problems == 0).all()
    np.testing.assert_array_equal(
        birth, small_world.clients["birth_date"].to_numpy(dtype="datetime64[D]")
    )
    individual = np.array([int(code[7:10]) for code in codes])
    assert ((individual >= 900) & (individual <= 999)).all()
    assert len(set(codes)) == len(codes)
    male = small_world.clients["gender"].to_numpy(dtype=object) == "male"
    assert (individual[male] % 2 == 1).all()


def test_synthetic_henkilotunnus_handles_many_people_born_the_same_day() -> None:
    days = np.full(60, np.datetime64("1990-05-17"))
    genders = np.array(["male", "female"] * 30, dtype=object)
    codes = synthetic_henkilotunnus(days, genders, np.random.default_rng(0))
    _, problems = parse_henkilotunnus_array(codes)
    assert (problems == 0).all() and len(set(codes)) == 60


def test_chosen_services_are_allowed_by_the_catalog(
    small_world: GeneratedWorld, catalog: Catalog
) -> None:
    allowed = catalog.allowed_frame(small_world.episodes)
    service = small_world.episodes["service_id"].to_numpy(dtype=object)
    served = service != NO_SERVICE
    columns = np.array([catalog.index(s) for s in service[served]])
    assert allowed[np.flatnonzero(served), columns].all()
    assert 0.2 < (~served).mean() < 0.6


def test_propensities_have_overlap_and_are_exact(small_world: GeneratedWorld) -> None:
    propensity = small_world.episodes["propensity"].to_numpy()
    assert (propensity >= 0.005).all() and (propensity <= 1).all()
    # Exact propensities make inverse-propensity weights of any always-available option
    # average to 1: E[1{chose none} / P(none)] = 1.
    chose_none = small_world.episodes["service_id"].to_numpy(dtype=object) == NO_SERVICE
    ips = np.where(chose_none, 1.0 / propensity, 0.0).mean()
    assert abs(ips - 1.0) < 0.1


def test_entrepreneurship_is_under_offered_to_foreign_language_clients(
    large_world: GeneratedWorld, catalog: Catalog
) -> None:
    episodes = large_world.episodes
    foreign = is_foreign_language(
        episodes["mother_tongue"].to_numpy(dtype=str), episodes["immigrant"].to_numpy()
    )
    plan = episodes["entrepreneurship_interest"].to_numpy(dtype=object) == "business_plan"
    grant = episodes["service_id"].to_numpy(dtype=object) == "startup_grant"
    assert grant[plan & ~foreign].mean() > 1.3 * grant[plan & foreign].mean()


def test_six_month_states_exclude_each_other(small_world: GeneratedWorld) -> None:
    both = (small_world.episodes["employed_6m"] == 1) & (small_world.episodes["education_6m"] == 1)
    assert not both.any()


def test_truth_file_equals_truth_function_without_hidden_confounder(
    small_world: GeneratedWorld, catalog: Catalog
) -> None:
    episodes = small_world.episodes
    expected = truth_probabilities(
        episodes[list(PROFILE_COLUMNS)],
        catalog,
        effect_scale=effect_scale_of_episodes(episodes, catalog),
    )
    for target in TRUTH_OUTCOMES:
        np.testing.assert_allclose(small_world.truth_matrix(target), expected[target], atol=1e-6)


def test_truth_joint_six_month_outcome_is_coherent(small_world: GeneratedWorld) -> None:
    employed = small_world.truth_matrix("employed_6m")
    education = small_world.truth_matrix("education_6m")
    either = small_world.truth_matrix("employment_or_education_6m")
    np.testing.assert_allclose(either, employed + education, atol=1e-6)
    assert (either <= 1).all() and (employed > 0).all() and (education > 0).all()


def test_logged_outcomes_follow_the_truth_of_the_chosen_action(
    large_world: GeneratedWorld, catalog: Catalog
) -> None:
    actions = [*catalog.ids, NO_SERVICE]
    index = np.array([actions.index(s) for s in large_world.episodes["service_id"]])
    rows = np.arange(len(index))
    for target in ("employed_6m", "education_6m", "employed_12m"):
        expected = large_world.truth_matrix(target)[rows, index].mean()
        observed = large_world.episodes[target].mean()
        assert abs(observed - expected) < 0.01, target


def test_hidden_confounder_changes_truth_and_choices(catalog: Catalog) -> None:
    plain = generate_world(SynthConfig(n_clients=1500, seed=3), catalog)
    hidden = generate_world(SynthConfig(n_clients=1500, seed=3, hidden_confounder=True), catalog)
    # Same people and first assessments (later ones depend on the outcomes, which the
    # motivation moves); the truth now carries the unobserved motivation.
    pd.testing.assert_frame_equal(plain.clients, hidden.clients)
    function = truth_probabilities(
        hidden.episodes[list(PROFILE_COLUMNS)],
        catalog,
        effect_scale=effect_scale_of_episodes(hidden.episodes, catalog),
    )["employed_12m"]
    assert np.abs(hidden.truth_matrix("employed_12m") - function).max() > 0.05
    first = len(plain.clients)
    plain_first = plain.episodes.drop_duplicates("client_id")["propensity"].to_numpy()
    hidden_first = hidden.episodes.drop_duplicates("client_id")["propensity"].to_numpy()
    assert len(plain_first) == len(hidden_first) == first
    assert (plain_first != hidden_first).any()


def test_same_seed_gives_same_bytes(tmp_path, catalog: Catalog) -> None:
    first = write_world(
        generate_world(SynthConfig(n_clients=800, seed=21), catalog), tmp_path / "a", csv=True
    )
    second = write_world(
        generate_world(SynthConfig(n_clients=800, seed=21), catalog), tmp_path / "b", csv=True
    )
    assert [p.name for p in first] == [p.name for p in second]
    for a, b in zip(first, second, strict=True):
        assert a.read_bytes() == b.read_bytes(), a.name
    other = write_world(
        generate_world(SynthConfig(n_clients=800, seed=22), catalog), tmp_path / "c"
    )
    assert other[1].read_bytes() != first[2].read_bytes()


def test_write_world_leaves_no_temporary_files(tmp_path, small_world: GeneratedWorld) -> None:
    written = write_world(small_world, tmp_path, csv=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in written)


def test_marginals_within_calibration_tolerances(large_world: GeneratedWorld) -> None:
    marginals = calibration_marginals(large_world.episodes)
    off = [m.row() for m in marginals if not m.within]
    assert not off, "\n".join(off)
    assert len(marginals) >= 10


def test_gate_turns_away_each_kind_of_non_client(large_world: GeneratedWorld) -> None:
    episodes = large_world.episodes
    decision = assess_eligibility_frame(episodes[list(PROFILE_COLUMNS)])
    eligible = decision["eligible"].to_numpy(dtype=bool)
    assert 0.15 <= 1 - eligible.mean() <= 0.25
    failed = decision["failed_conditions"]
    for condition in (
        "not_helsinki_resident",
        "not_registered_jobseeker",
        "status_not_covered",
        "no_target_group",
    ):
        assert failed.map(lambda codes, c=condition: c in codes).sum() > 20, condition
    assert set(episodes.loc[~eligible, "home_municipality"]) >= {"049", "092"}
    age = age_in_years(
        episodes["birth_date"].to_numpy(dtype="datetime64[D]"),
        episodes["assessment_date"].to_numpy(dtype="datetime64[D]"),
    )
    finnish_earnings = (
        (episodes["mother_tongue"] == "fi").to_numpy()
        & ~episodes["immigrant"].to_numpy()
        & (age >= 30)
        & (episodes["unemployment_benefit"] == "earnings_related_allowance").to_numpy()
        & episodes["experiment_client_since"].isna().to_numpy()
    )
    assert finnish_earnings.sum() > 100 and not eligible[finnish_earnings].any()


def test_correlations_of_the_population(large_world: GeneratedWorld) -> None:
    e = large_world.episodes
    long_term = e["unemployment_months"].to_numpy() >= 12
    for barrier in ("health_limitations", "outdated_skills"):
        assert (
            e[barrier].to_numpy()[long_term].mean() > 1.3 * e[barrier].to_numpy()[~long_term].mean()
        ), barrier
    debt = e["debt_problems"].to_numpy()
    housing = e["housing_insecurity"].to_numpy()
    assert housing[debt].mean() > 2 * housing[~debt].mean()
    age = age_in_years(
        e["birth_date"].to_numpy(dtype="datetime64[D]"),
        e["assessment_date"].to_numpy(dtype="datetime64[D]"),
    )
    vocational = e["education_level"].isin(["vocational", "bachelor", "master"]).to_numpy()
    assert vocational[age < 25].mean() < 0.6 * vocational[age >= 30].mean()
    foreign = is_foreign_language(e["mother_tongue"].to_numpy(dtype=str), e["immigrant"].to_numpy())
    assert (e.loc[~foreign, "language_level"] == "native").all()
    low = e["language_level"].isin(["A0", "A1", "A2"]).to_numpy()
    assert 0.2 < low[foreign].mean() < 0.7


def _two_service_catalog(catalog: Catalog, small_capacity: int) -> Catalog:
    snapshot = catalog.to_snapshot()
    chosen = [
        s for s in snapshot["services"] if s["id"] in ("career_guidance", "job_search_coaching")
    ]
    chosen[1]["monthly_capacity"] = small_capacity
    return Catalog.from_snapshot({"version": snapshot["version"], "services": chosen})


def test_capacity_caps_expected_starts_of_a_service(catalog: Catalog) -> None:
    from pipeline.synth.caseworkers import (
        EXPLORATION,
        HELSINKI_ASSESSMENTS_PER_MONTH,
        choice_probabilities,
    )

    n = 3000
    month = np.repeat(np.arange(3), n // 3)
    truth = {t: np.full((n, 3), 0.3) for t in TRUTH_OUTCOMES}
    truth["employment_or_education_6m"][:, 1] = 0.36  # coaching clearly helps: caseworkers want it
    allowed = np.ones((n, 2), dtype=bool)
    foreign = np.zeros(n, dtype=bool)
    roomy = _two_service_catalog(catalog, small_capacity=100_000)
    tight = _two_service_catalog(catalog, small_capacity=960)
    free = choice_probabilities(roomy, allowed, truth, month=month, foreign_language=foreign)
    capped = choice_probabilities(tight, allowed, truth, month=month, foreign_language=foreign)
    np.testing.assert_allclose(capped.sum(axis=1), 1.0)
    limit = 960 * (n // 3) / HELSINKI_ASSESSMENTS_PER_MONTH
    starts = np.bincount(month, weights=capped[:, 1])
    assert (starts <= limit * 1.02).all()
    assert (np.bincount(month, weights=free[:, 1]) > 1.5 * limit).all()
    assert (capped[:, 1] >= EXPLORATION / 3 - 1e-12).all()


def test_henkilotunnus_only_in_the_clients_file(tmp_path, small_world: GeneratedWorld) -> None:
    write_world(small_world, tmp_path, csv=True)
    codes = set(small_world.clients["henkilotunnus"])
    for name in ("episodes.csv", "truth.csv"):
        text = (tmp_path / name).read_text(encoding="utf-8")
        assert not any(code in text for code in list(codes)[:200]), name


def test_clients_file_is_the_first_assessment_of_each_person(small_world: GeneratedWorld) -> None:
    first = small_world.episodes.drop_duplicates("client_id", keep="first").reset_index(drop=True)
    columns = [c for c in PROFILE_COLUMNS if c != "client_id"]
    pd.testing.assert_frame_equal(
        small_world.clients[["client_id", *columns]].reset_index(drop=True),
        first[["client_id", *columns]],
    )
    assert (
        first["assessment_date"].to_numpy()
        <= small_world.episodes.groupby("client_id")["assessment_date"]
        .min()
        .reindex(first["client_id"])
        .to_numpy()
    ).all()


def test_a_worlds_repr_shows_no_identity_code() -> None:
    # A failing test prints its fixtures' repr: the clients' codes must not be in it.
    world = generate_world(SynthConfig(n_clients=30, seed=1))
    text = repr(world)
    assert "SynthConfig" in text
    assert not any(code in text for code in world.clients["henkilotunnus"])
