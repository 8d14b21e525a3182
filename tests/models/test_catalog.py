"""The service catalog: the committed file, validation errors, and who may take what."""

from __future__ import annotations

import dataclasses
import datetime as dt
import tomllib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from models.catalog import (
    DEFAULT_CATALOG_PATH,
    FAMILIES,
    LIMIT_COLUMNS,
    Catalog,
    CatalogError,
    load_catalog,
)
from models.demographics import is_foreign_language
from models.profile import PROFILE_COLUMNS, ClientProfile


@pytest.fixture(scope="module")
def services_catalog() -> Catalog:
    return load_catalog()


def _profile(**changes: object) -> ClientProfile:
    base = ClientProfile(
        client_id="c1",
        birth_date=dt.date(1985, 6, 15),
        home_municipality="091",
        mother_tongue="fi",
        immigrant=False,
        registered_jobseeker=True,
        labour_market_status="unemployed",
        unemployment_benefit="labour_market_subsidy",
        assessment_date=dt.date(2022, 6, 15),
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def _allowed_ids(catalog: Catalog, profile: ClientProfile) -> set[str]:
    return {sid for sid, ok in zip(catalog.ids, catalog.allowed(profile), strict=True) if ok}


def _write_catalog(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "services.toml"
    path.write_text(body, encoding="utf-8")
    return path


_GOOD_SERVICE = """
[[service]]
id = "{id}"
family = "{family}"
provider = "City of Helsinki"
duration_weeks = 6
monthly_capacity = 10
languages = ["fi"]
name = {{ fi = "{name_fi}", sv = "Svenska", en = "English" }}
description.en = "Something useful."
description.fi = "Jotain hyödyllistä."
{extra}
"""


def _service(
    id: str = "demo", family: str = "social", name_fi: str = "Suomeksi", extra: str = ""
) -> str:
    return _GOOD_SERVICE.format(id=id, family=family, name_fi=name_fi, extra=extra)


def test_catalog_file_holds_30_to_36_services_of_all_five_families(
    services_catalog: Catalog,
) -> None:
    assert 30 <= len(services_catalog) <= 36
    assert {s.family for s in services_catalog.services} == set(FAMILIES)
    assert len(set(services_catalog.ids)) == len(services_catalog.ids)


def test_catalog_every_service_has_names_descriptions_and_delivery_facts(
    services_catalog: Catalog,
) -> None:
    for service in services_catalog.services:
        for lang in ("fi", "sv", "en"):
            assert services_catalog.name(service.id, lang).strip(), (service.id, lang)
        assert service.description.en and service.description.fi, service.id
        assert service.provider and service.languages and service.duration_weeks > 0
        assert service.monthly_capacity >= 1


def test_catalog_unconfirmed_facts_are_labelled_assumptions(services_catalog: Catalog) -> None:
    # Items marked (?) in SERVICES.md: 55+ subsidy, City job length, apprenticeship length,
    # digital skills provider and limit.
    for service_id in (
        "employment_subsidy_55",
        "city_subsidised_job",
        "apprenticeship",
        "digital_skills_training",
    ):
        assert services_catalog.get(service_id).assumption, service_id
    raw = tomllib.loads(DEFAULT_CATALOG_PATH.read_text(encoding="utf-8"))
    labelled = {s["id"] for s in raw["service"] if "assumption" in s}
    assert labelled == {s.id for s in services_catalog.services if s.assumption}


def test_catalog_limits_from_services_md(services_catalog: Catalog) -> None:
    get = services_catalog.get
    assert get("debt_advice").limits.requires_barrier == ("debt_problems",)
    assert get("startup_grant").limits.business_plan_required
    assert get("ohjaamo").limits.max_age == 29
    assert get("tyokanava_placement").limits.reduced_work_ability_only
    assert get("finnish_language_course").limits.foreign_language_only
    assert get("self_motivated_study").limits.min_age == 25
    assert get("rehabilitative_work_activity").limits.min_unemployment_months == 12


def test_catalog_get_unknown_id_names_it(services_catalog: Catalog) -> None:
    with pytest.raises(KeyError, match="no_such_service"):
        services_catalog.get("no_such_service")


def test_catalog_name_rejects_unknown_language(services_catalog: Catalog) -> None:
    with pytest.raises(ValueError, match="unknown language 'de'"):
        services_catalog.name("debt_advice", "de")


@pytest.mark.parametrize(
    ("body", "pattern"),
    [
        (_service(family="sports"), r"service 'demo': field 'family': unknown family 'sports'"),
        (_service(name_fi="  "), r"service 'demo': field 'name.fi': is empty"),
        (
            _service(extra="limits.min_age = 40\nlimits.max_age = 30"),
            r"service 'demo': field 'limits.min_age'.*above",
        ),
        (_service() + _service(), r"service 'demo': field 'id': duplicate id"),
        (
            _service(extra="limits.max_wage = 3"),
            r"service 'demo': field 'limits.max_wage': is not a known limit",
        ),
        (
            _service(extra='limits.requires_barrier = ["bad_luck"]'),
            r"service 'demo': field 'limits.requires_barrier': unknown value",
        ),
        (
            _service(extra="limits.min_age = -1"),
            r"service 'demo': field 'limits.min_age': must be at least 0",
        ),
        (_service(id="None"), r"field 'id'"),
        ("", r"holds no services"),
    ],
)
def test_load_catalog_rejects_bad_entries_naming_service_and_field(
    tmp_path: Path, body: str, pattern: str
) -> None:
    with pytest.raises(CatalogError, match=pattern):
        load_catalog(_write_catalog(tmp_path, body))


def test_load_catalog_rejects_invalid_toml(tmp_path: Path) -> None:
    with pytest.raises(CatalogError, match="not valid TOML"):
        load_catalog(_write_catalog(tmp_path, "[[service]\nid ="))


def test_allowed_everyone_gets_open_services_and_no_barrier_services(
    services_catalog: Catalog,
) -> None:
    allowed = _allowed_ids(services_catalog, _profile())
    assert {"career_guidance", "job_search_coaching", "health_check"} <= allowed
    assert (
        not {"debt_advice", "housing_advice", "startup_grant", "finnish_language_course"} & allowed
    )


def test_allowed_barrier_opens_its_service(services_catalog: Catalog) -> None:
    assert "debt_advice" in _allowed_ids(services_catalog, _profile(debt_problems=True))
    assert "mental_health_services" in _allowed_ids(
        services_catalog, _profile(mental_health_needs=True)
    )


def test_allowed_age_limits_count_completed_years_on_the_assessment_date(
    services_catalog: Catalog,
) -> None:
    # Born 1992-06-15: 29 the day before the 30th birthday, 30 on it.
    day_before = _profile(birth_date=dt.date(1992, 6, 15), assessment_date=dt.date(2022, 6, 14))
    birthday = _profile(birth_date=dt.date(1992, 6, 15), assessment_date=dt.date(2022, 6, 15))
    assert "ohjaamo" in _allowed_ids(services_catalog, day_before)
    assert "ohjaamo" not in _allowed_ids(services_catalog, birthday)


def test_allowed_foreign_language_uses_the_demographics_definition(
    services_catalog: Catalog,
) -> None:
    swedish = _profile(mother_tongue="sv", language_level="A2")
    russian = _profile(mother_tongue="ru", language_level="A2")
    returnee = _profile(mother_tongue="fi", immigrant=True, language_level="A2")
    assert "finnish_language_course" not in _allowed_ids(services_catalog, swedish)
    assert "finnish_language_course" in _allowed_ids(services_catalog, russian)
    assert "finnish_language_course" in _allowed_ids(services_catalog, returnee)


def test_allowed_language_course_stops_above_b2(services_catalog: Catalog) -> None:
    assert "finnish_language_course" in _allowed_ids(
        services_catalog, _profile(mother_tongue="ar", language_level="B2")
    )
    assert "finnish_language_course" not in _allowed_ids(
        services_catalog, _profile(mother_tongue="ar", language_level="C1")
    )


def test_allowed_minimum_unemployment_months_boundary(services_catalog: Catalog) -> None:
    assert "rehabilitative_work_activity" not in _allowed_ids(
        services_catalog, _profile(unemployment_months=11)
    )
    assert "rehabilitative_work_activity" in _allowed_ids(
        services_catalog, _profile(unemployment_months=12)
    )
    on_earnings = _profile(
        unemployment_months=30, unemployment_benefit="earnings_related_allowance"
    )
    assert "rehabilitative_work_activity" not in _allowed_ids(services_catalog, on_earnings)


def test_allowed_business_plan_and_work_ability_limits(services_catalog: Catalog) -> None:
    some = _allowed_ids(services_catalog, _profile(entrepreneurship_interest="some"))
    plan = _allowed_ids(services_catalog, _profile(entrepreneurship_interest="business_plan"))
    assert "newco_advisory" in some and "startup_grant" not in some
    assert {"newco_advisory", "startup_grant"} <= plan
    assert "tyokanava_placement" in _allowed_ids(services_catalog, _profile(work_ability="partial"))
    assert "tyokanava_placement" not in _allowed_ids(services_catalog, _profile())


def _random_frame(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    birth = np.datetime64("1958-01-01") + rng.integers(0, 365 * 47, n).astype("timedelta64[D]")
    frame = pd.DataFrame(
        {
            "client_id": [f"c{i}" for i in range(n)],
            "birth_date": birth.astype("datetime64[s]"),
            "home_municipality": "091",
            "mother_tongue": rng.choice(["fi", "sv", "ru", "so", "se"], n),
            "immigrant": rng.random(n) < 0.3,
            "registered_jobseeker": True,
            "labour_market_status": rng.choice(
                ["unemployed", "laid_off", "in_services", "employed"], n
            ),
            "unemployment_benefit": rng.choice(
                ["labour_market_subsidy", "social_assistance", "none"], n
            ),
            "assessment_date": np.datetime64("2022-01-01", "s"),
            "experiment_client_since": np.datetime64("NaT", "s"),
            "education_level": rng.choice(
                ["none", "basic", "upper_secondary", "vocational", "master"], n
            ),
            "unemployment_months": rng.integers(0, 40, n),
            "work_experience_years": rng.random(n) * 20,
            "language_level": rng.choice(["A0", "A2", "B1", "B2", "C1", "native"], n),
            "work_ability": rng.choice(["full", "partial"], n),
            "entrepreneurship_interest": rng.choice(["none", "some", "business_plan"], n),
            "gender": "female",
        }
    )
    for flag in (
        "health_limitations",
        "mental_health_needs",
        "substance_use",
        "debt_problems",
        "housing_insecurity",
        "caregiving_duties",
        "low_digital_skills",
        "outdated_skills",
    ):
        frame[flag] = rng.random(n) < 0.2
    frame["previous_services"] = 0
    frame["last_service_date"] = np.datetime64("NaT", "s")
    return frame[list(PROFILE_COLUMNS)]


def test_allowed_frame_agrees_with_allowed_row_by_row(services_catalog: Catalog) -> None:
    frame = _random_frame(300, seed=11)
    matrix = services_catalog.allowed_frame(frame)
    assert matrix.shape == (300, len(services_catalog)) and matrix.dtype == bool
    for i, record in enumerate(frame.to_dict("records")):
        record["birth_date"] = record["birth_date"].date()
        record["assessment_date"] = record["assessment_date"].date()
        record["experiment_client_since"] = None
        profile = ClientProfile(**{str(k): v for k, v in record.items()})
        np.testing.assert_array_equal(
            services_catalog.allowed(profile), matrix[i], err_msg=f"row {i}"
        )


def test_allowed_frame_foreign_only_services_follow_is_foreign_language(
    services_catalog: Catalog,
) -> None:
    frame = _random_frame(500, seed=3)
    matrix = services_catalog.allowed_frame(frame)
    foreign = is_foreign_language(
        frame["mother_tongue"].to_numpy(dtype=str), frame["immigrant"].to_numpy()
    )
    column = matrix[:, services_catalog.index("stadin_osaamiskeskus")]
    assert not column[~foreign].any()
    assert column[foreign].any()


def test_allowed_frame_names_missing_columns(services_catalog: Catalog) -> None:
    frame = _random_frame(5, seed=1).drop(columns=["language_level"])
    with pytest.raises(KeyError, match="language_level"):
        services_catalog.allowed_frame(frame)
    assert "language_level" in LIMIT_COLUMNS


def test_snapshot_round_trip_keeps_catalog_and_fingerprint(services_catalog: Catalog) -> None:
    snapshot = services_catalog.to_snapshot()
    again = Catalog.from_snapshot(snapshot)
    assert again == services_catalog
    assert again.fingerprint == services_catalog.fingerprint
    frame = _random_frame(50, seed=2)
    np.testing.assert_array_equal(again.allowed_frame(frame), services_catalog.allowed_frame(frame))


def test_fingerprint_changes_with_any_limit(services_catalog: Catalog) -> None:
    snapshot = services_catalog.to_snapshot()
    snapshot["services"][0]["limits"]["min_age"] = 18
    assert Catalog.from_snapshot(snapshot).fingerprint != services_catalog.fingerprint


def test_from_snapshot_validates_like_the_file(services_catalog: Catalog) -> None:
    snapshot = services_catalog.to_snapshot()
    snapshot["services"][1]["family"] = "leisure"
    with pytest.raises(CatalogError, match=rf"service '{services_catalog.ids[1]}': field 'family'"):
        Catalog.from_snapshot(snapshot)
    with pytest.raises(CatalogError, match="version"):
        Catalog.from_snapshot({"services": []})


def test_provider_names_are_in_every_language_and_old_snapshots_still_load(
    services_catalog: Catalog,
) -> None:
    debt = services_catalog.get("debt_advice").provider
    assert debt.fi.startswith("Valtion oikeusaputoimistot")
    assert debt.sv.startswith("Statens rättshjälpsbyråer")
    assert debt.en.startswith("State legal aid offices")
    assert all(s.provider.fi and s.provider.sv and s.provider.en for s in services_catalog.services)
    # A model trained before the names were translated holds one text per provider.
    snapshot = services_catalog.to_snapshot()
    for raw in snapshot["services"]:
        raw["provider"] = raw["provider"]["en"]
    old = Catalog.from_snapshot(snapshot)
    assert old.get("debt_advice").provider.fi == debt.en


def test_failed_limits_name_the_limits_a_client_does_not_meet(
    services_catalog: Catalog,
) -> None:
    from tests.models.world import base_profile

    profile = base_profile(language_level="native", mother_tongue="fi", immigrant=False)
    failed = dict(zip(services_catalog.ids, services_catalog.failed_limits(profile), strict=True))
    allowed = dict(zip(services_catalog.ids, services_catalog.allowed(profile), strict=True))
    assert all(bool(allowed[s]) == (failed[s] == ()) for s in services_catalog.ids)
    assert "foreign_language_only" in failed["finnish_language_course"]
