"""The true effect structure behaves as docs/DATA_CARD.md says."""

from __future__ import annotations

import dataclasses
import datetime as dt

import numpy as np
import pandas as pd
import pytest

from models.catalog import Catalog
from models.profile import ClientProfile
from pipeline.synth.outcomes import SERVICE_EFFECTS, draw_outcomes, truth_probabilities
from pipeline.synth.world import GeneratedWorld, SynthConfig, generate_world

SIX = "employment_or_education_6m"


@pytest.fixture(scope="module")
def world(catalog: Catalog) -> GeneratedWorld:
    return generate_world(SynthConfig(n_clients=3000, seed=8), catalog)


def _profile(**changes: object) -> ClientProfile:
    base = ClientProfile(
        client_id="c1",
        birth_date=dt.date(1984, 3, 2),
        home_municipality="091",
        mother_tongue="fi",
        immigrant=False,
        registered_jobseeker=True,
        labour_market_status="unemployed",
        unemployment_benefit="labour_market_subsidy",
        assessment_date=dt.date(2022, 5, 10),
        education_level="vocational",
        unemployment_months=8,
        work_experience_years=10.0,
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def _uplift(
    catalog: Catalog, profiles: list[ClientProfile], service: str, target: str = SIX
) -> np.ndarray:
    frame = pd.DataFrame([p.to_record() for p in profiles])
    for column in ("birth_date", "assessment_date", "experiment_client_since"):
        frame[column] = pd.to_datetime(frame[column])
    truth = truth_probabilities(frame, catalog)[target]
    return truth[:, catalog.index(service)] - truth[:, -1]


def test_every_catalog_service_has_a_true_effect(catalog: Catalog) -> None:
    assert set(catalog.ids) <= set(SERVICE_EFFECTS)


def test_health_check_alone_has_no_effect(world: GeneratedWorld, catalog: Catalog) -> None:
    j = catalog.index("health_check")
    for target in ("employed_6m", "education_6m", SIX, "employed_12m"):
        truth = world.truth_matrix(target)
        np.testing.assert_allclose(truth[:, j], truth[:, -1], atol=1e-6)


def test_language_course_helps_only_low_language_levels(catalog: Catalog) -> None:
    levels = ["A0", "A1", "A2", "B1", "B2", "C1"]
    profiles = [
        _profile(mother_tongue="ar", immigrant=True, language_level=level) for level in levels
    ]
    six = _uplift(catalog, profiles, "finnish_language_course")
    twelve = _uplift(catalog, profiles, "finnish_language_course", "employed_12m")
    assert (six[:3] > 0.02).all() and (twelve[:3] > 0.04).all()
    assert (six[4:] <= 0).all() and (np.abs(twelve[4:]) < 1e-9).all()
    assert six[3] < six[2]


def test_long_programmes_lock_in(world: GeneratedWorld, catalog: Catalog) -> None:
    e6, e12 = world.truth_matrix("employed_6m"), world.truth_matrix("employed_12m")
    for service in ("labour_market_training", "integration_training", "pay_subsidy_company"):
        j = catalog.index(service)
        assert (e6[:, j] < e6[:, -1]).all(), service
        assert (e12[:, j] - e12[:, -1]).mean() > 0.02, service


def test_degree_studies_raise_education_and_lower_employment(
    world: GeneratedWorld, catalog: Catalog
) -> None:
    j = catalog.index("vocational_education")
    education, employed = world.truth_matrix("education_6m"), world.truth_matrix("employed_6m")
    assert (education[:, j] > education[:, -1]).all()
    assert (employed[:, j] < employed[:, -1]).all()


def test_job_search_coaching_helps_most_the_moderately_long_unemployed(catalog: Catalog) -> None:
    months = [2, 8, 18, 40]
    uplift = _uplift(
        catalog, [_profile(unemployment_months=m) for m in months], "job_search_coaching"
    )
    assert uplift[1] > 2 * uplift[0] and uplift[2] > 2 * uplift[3]


def test_start_up_grant_only_with_a_business_plan(catalog: Catalog) -> None:
    uplift = _uplift(
        catalog,
        [_profile(entrepreneurship_interest=i) for i in ("none", "some", "business_plan")],
        "startup_grant",
    )
    np.testing.assert_allclose(uplift[:2], 0.0, atol=1e-12)
    assert uplift[2] > 0.03


@pytest.mark.parametrize(
    ("service", "barrier"),
    [
        ("debt_advice", "debt_problems"),
        ("housing_advice", "housing_insecurity"),
        ("mental_health_services", "mental_health_needs"),
        ("substance_abuse_services", "substance_use"),
    ],
)
def test_barrier_services_help_through_their_barrier(
    catalog: Catalog, service: str, barrier: str
) -> None:
    uplift = _uplift(catalog, [_profile(), _profile(**{barrier: True})], service)
    assert abs(uplift[0]) < 1e-12 and uplift[1] > 0.01


def test_municipal_pay_subsidy_has_about_no_lasting_effect(
    world: GeneratedWorld, catalog: Catalog
) -> None:
    e12 = world.truth_matrix("employed_12m")
    j = catalog.index("city_subsidised_job")
    assert abs((e12[:, j] - e12[:, -1]).mean()) < 0.01


def test_effects_are_a_few_points_not_tens(world: GeneratedWorld, catalog: Catalog) -> None:
    allowed = catalog.allowed_frame(world.episodes)
    for target in (SIX, "employed_12m"):
        truth = world.truth_matrix(target)
        uplift = truth[:, :-1] - truth[:, -1:]
        for j, service in enumerate(catalog.ids):
            if allowed[:, j].any():
                assert abs(uplift[allowed[:, j], j].mean()) < 0.10, (target, service)


def test_best_service_differs_between_clients(world: GeneratedWorld, catalog: Catalog) -> None:
    allowed = catalog.allowed_frame(world.episodes)
    truth = world.truth_matrix(SIX)
    best = np.argmax(np.where(allowed, truth[:, :-1], -np.inf), axis=1)
    counts = np.bincount(best[allowed.any(axis=1)], minlength=len(catalog))
    assert (counts > 0.01 * counts.sum()).sum() >= 5
    assert counts.max() < 0.6 * counts.sum()


def test_truth_function_rejects_services_without_an_effect(catalog: Catalog) -> None:
    snapshot = catalog.to_snapshot()
    snapshot["services"][0]["id"] = "brand_new_service"
    other = Catalog.from_snapshot(snapshot)
    frame = pd.DataFrame([_profile().to_record()])
    for column in ("birth_date", "assessment_date", "experiment_client_since"):
        frame[column] = pd.to_datetime(frame[column])
    with pytest.raises(KeyError, match="brand_new_service"):
        truth_probabilities(frame, other)


def test_draw_outcomes_matches_probabilities(catalog: Catalog) -> None:
    n = 20_000
    truth = {
        "employed_6m": np.full((n, 2), 0.3),
        "education_6m": np.full((n, 2), 0.1),
        "employed_12m": np.full((n, 2), 0.4),
    }
    drawn = draw_outcomes(truth, np.zeros(n, dtype=np.int64), np.random.default_rng(0))
    assert abs(drawn["employed_6m"].mean() - 0.3) < 0.015
    assert abs(drawn["education_6m"].mean() - 0.1) < 0.01
    assert abs(drawn["employed_12m"].mean() - 0.4) < 0.015
    assert not (drawn["employed_6m"] & drawn["education_6m"]).any()
    # Employed at six months are more often employed at twelve (the copula).
    six = drawn["employed_6m"] == 1
    assert drawn["employed_12m"][six].mean() > drawn["employed_12m"][~six].mean() + 0.1
