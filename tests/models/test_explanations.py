from __future__ import annotations

import pytest

from models.bundle import PolkuModel
from models.explanations import describe_driver, explain, factor_label
from models.features import DRIVER_FACTORS
from models.suggestions import Driver, RankedService
from tests.models.world import base_profile

A1_CLIENT = base_profile(language_level="A1", mother_tongue="ru", immigrant=True)


def test_describe_driver_english_names_level_and_points() -> None:
    text = describe_driver(Driver("language_level", 0.020), 0.051, A1_CLIENT, "en")
    assert (
        text
        == "Low Finnish/Swedish level (A1) raises the expected effect by 3.1 percentage points."
    )


def test_describe_driver_finnish_uses_decimal_comma_and_plural_verb() -> None:
    profile = base_profile(health_limitations=True)
    text = describe_driver(Driver("health_limitations", 0.10), 0.075, profile, "fi")
    assert text == "Terveydelliset rajoitteet laskevat odotettua vaikutusta 2,5 prosenttiyksikköä."


def test_describe_driver_swedish_singular() -> None:
    profile = base_profile(work_ability="partial")
    text = describe_driver(Driver("work_ability", 0.01), 0.022, profile, "sv")
    assert text == "Partiell arbetsförmåga höjer den förväntade effekten med 1,2 procentenheter."


def test_describe_driver_negligible_share_says_so() -> None:
    profile = base_profile(debt_problems=True)
    assert describe_driver(Driver("debt_problems", 0.0500), 0.0502, profile, "en") == (
        "Debt problems hardly change the expected effect."
    )


def test_describe_driver_names_months_of_unemployment() -> None:
    profile = base_profile(unemployment_months=18)
    text = describe_driver(Driver("unemployment_months", 0.0), 0.04, profile, "en")
    assert text.startswith("Unemployment of 18 months raises")


@pytest.mark.parametrize("lang", ["fi", "sv", "en"])
def test_every_driver_factor_has_wording(lang: str) -> None:
    profile = base_profile(
        language_level="A2",
        work_ability="partial",
        education_level="none",
        unemployment_months=30,
        entrepreneurship_interest="business_plan",
        health_limitations=True,
        mental_health_needs=True,
        substance_use=True,
        debt_problems=True,
        housing_insecurity=True,
        caregiving_duties=True,
        low_digital_skills=True,
        outdated_skills=True,
    )
    labels = [factor_label(factor, profile, lang) for factor in DRIVER_FACTORS]
    assert all(labels) and len(set(labels)) == len(labels)


def test_describe_driver_rejects_unknown_language() -> None:
    with pytest.raises(ValueError, match="unknown language 'de'"):
        describe_driver(Driver("language_level", 0.0), 0.01, A1_CLIENT, "de")


def test_factor_label_rejects_unknown_factor() -> None:
    with pytest.raises(ValueError, match="no wording for factor 'gender'"):
        factor_label("gender", A1_CLIENT)


def test_explain_keeps_the_largest_shares_above_the_threshold() -> None:
    profile = base_profile(health_limitations=True, debt_problems=True, low_digital_skills=True)
    ranked = RankedService(
        service_id="health_check",
        rank=1,
        expected_with=0.5,
        expected_without=0.4,
        uplift=0.10,
        uplift_low=0.05,
        uplift_high=0.15,
        drivers=(
            Driver("debt_problems", 0.098),  # 0.2 points: below the threshold
            Driver("health_limitations", 0.02),  # 8 points
            Driver("low_digital_skills", 0.13),  # -3 points
        ),
    )
    explained = explain(ranked, profile, "en")
    assert tuple(d.text for d in explained) == (
        "Health limitations raise the expected effect by 8.0 percentage points.",
        "Low digital skills lower the expected effect by 3.0 percentage points.",
    )
    assert not any(d.small for d in explained)


def _ranked(uplift: float, *drivers: Driver) -> RankedService:
    return RankedService(
        service_id="debt_advice",
        rank=1,
        expected_with=0.4 + uplift,
        expected_without=0.4,
        uplift=uplift,
        uplift_low=uplift - 0.05,
        uplift_high=uplift + 0.05,
        drivers=drivers,
    )


def test_explain_names_what_raises_the_effect_before_what_limits_it() -> None:
    # The debt-advice client: the language level lowers the effect most, but the
    # debt problems that make the service suggested come first.
    profile = base_profile(language_level="A1", debt_problems=True)
    ranked = _ranked(
        0.05,
        Driver("language_level", 0.09),  # -4 points
        Driver("debt_problems", 0.03),  # +2 points
        Driver("unemployment_months", 0.06),  # -1 point
    )
    explained = explain(ranked, profile, "en", limiting=1)
    assert [d.factor for d in explained] == ["debt_problems", "language_level"]
    assert [d.raises for d in explained] == [True, False]
    assert explained[0].text == "Debt problems raise the expected effect by 2.0 percentage points."


def test_explain_names_the_largest_needs_when_none_reaches_the_threshold() -> None:
    profile = base_profile(language_level="A1", debt_problems=True)
    ranked = _ranked(0.01, Driver("language_level", 0.0112), Driver("debt_problems", 0.0085))
    explained = explain(ranked, profile, "fi")
    assert [d.factor for d in explained] == ["debt_problems", "language_level"]
    assert all(d.small for d in explained)
    assert "laskee odotettua vaikutusta 0,1 prosenttiyksikköä" in explained[1].text
    # Only a client with none of the needs the model weighs gets no driver at all.
    assert explain(_ranked(0.01), base_profile(), "en") == ()


def test_explain_words_real_suggestions(polku_model: PolkuModel) -> None:
    _, ranked = polku_model.recommend(A1_CLIENT)
    course = next(r for r in ranked if r.service_id == "finnish_language_course")
    for lang in ("fi", "sv", "en"):
        explained = explain(course, A1_CLIENT, lang, min_points=0.0)
        assert len(explained) == len(course.drivers) == 1
        assert "A1" in explained[0].text
        assert explained[0].driver == course.drivers[0]
        assert explained[0].share == course.uplift - course.drivers[0].uplift_without
