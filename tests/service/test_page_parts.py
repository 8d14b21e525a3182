"""Parts of the caseworker page on their own: wording, the form's round trip, the bar, the cache."""

from __future__ import annotations

import dataclasses
import datetime as dt
import random
import re
import string
import time
from unittest import mock

import pytest

from models.bundle import PolkuModel
from models.catalog import ServiceLimits, load_catalog
from models.eligibility import assess_eligibility
from models.henkilotunnus import HENKILOTUNNUS_PATTERN, PROBLEM_MESSAGES
from models.languages import LANGUAGES
from models.objectives import Objective
from models.profile import BARRIER_FLAGS, ClientProfile
from models.profile_validation import (
    ERROR_CODES,
    HENKILOTUNNUS_CODES,
    ProfileValidationError,
    parse_profile,
)
from models.suggestions import Driver, NotSuggested, RankedService, TargetEffect
from service.audit import DecisionRecord
from service.pages import i18n
from service.pages.answers import (
    KEEP_SECONDS,
    PageAnswer,
    answer_path,
    answer_view,
    request_id_of,
    seal,
    shown_ranking,
    unseal,
    uplift_bar,
)
from service.pages.form import (
    GROUPS,
    default_values,
    experiment_window,
    field_attrs,
    raw_profile,
    request_options,
    values_of_profile,
    values_to_show,
)
from service.pages.wording import harm_warnings, not_suggested_text


def test_i18n_every_text_exists_in_every_language() -> None:
    english = i18n.flat_texts("en")
    for lang in i18n.LANGUAGES:
        own = i18n.flat_texts(lang)
        assert own.keys() == english.keys(), lang
        for key, text in own.items():
            assert isinstance(text, str) and text.strip(), (lang, key)
            assert i18n.placeholders(text) == i18n.placeholders(english[key]), (lang, key)
    error_keys = set(i18n.texts("en")["errors"]) - {"fallback"}
    assert {key.split(":")[0] for key in error_keys} <= set(ERROR_CODES)  # worded by code
    assert i18n.texts("fi") is i18n.texts("fi")  # read once
    assert i18n.missing_texts() == []


def test_i18n_numbers_are_written_the_way_each_language_writes_them() -> None:
    assert i18n.percent(0.425, "en") == "42%"
    assert i18n.percent(0.425, "fi") == "42 %"
    assert i18n.points(0.0312, "en") == "+3.1 pp"
    assert i18n.points(-0.0312, "fi") == "−3,1 %-yks."
    assert i18n.points(0.0002, "sv") == "+0,0 procentenheter"
    assert i18n.weeks(12.0, "sv") == "12 veckor"


def test_i18n_limits_of_every_catalog_service_are_worded() -> None:
    catalog = load_catalog()
    for service in catalog.services:
        for lang in i18n.LANGUAGES:
            lines = i18n.limit_lines(service.limits, lang)
            assert all(line.strip() for line in lines)
    assert i18n.limit_lines(ServiceLimits(), "en") == []
    lines = i18n.limit_lines(
        ServiceLimits(min_age=17, max_age=29, requires_barrier=("debt_problems",)), "en"
    )
    assert lines == ["Aged 17 to 29", "One of: debt problems"]


def test_i18n_gate_messages_get_their_own_wording() -> None:
    fallback = i18n.error_text("something nobody wrote", "client_id", "en")
    for problem in PROBLEM_MESSAGES:
        code = HENKILOTUNNUS_CODES[problem]
        assert i18n.error_text(code, "henkilotunnus", "fi") != i18n.error_text(
            "something nobody wrote", "henkilotunnus", "fi"
        )
    try:
        parse_profile({"client_id": "a", "birth_date": "1990-02-30", "home_municipality": "91"})
    except ProfileValidationError as exc:
        worded = [i18n.error_text(e.code, e.field, "en") for e in exc.errors]
    assert fallback not in worded
    assert "No such date." in worded


def test_i18n_words_every_validation_code_in_every_language() -> None:
    for lang in LANGUAGES:
        wording = i18n.texts(lang)["errors"]
        worded = {key.split(":")[0] for key in wording}  # "code" or "code:field"
        assert set(ERROR_CODES) <= worded, lang
        assert all(text.strip() for text in wording.values()), lang


def test_form_round_trip_reads_commas_and_unticked_boxes() -> None:
    posted = {
        **default_values(dt.date(2024, 3, 4)),
        "client_id": " c-1 ",
        "birth_date": "1990-01-02",
        "work_experience_years": "2,5",
        "debt_problems": "true",
        "experiment_client_since": "",
    }
    for flag in BARRIER_FLAGS:
        if flag != "debt_problems":
            posted.pop(flag, None)
    raw = raw_profile(posted)
    assert raw["client_id"] == "c-1"
    assert raw["work_experience_years"] == "2.5"
    assert "experiment_client_since" not in raw
    profile = parse_profile(raw)
    assert profile.debt_problems and not profile.health_limitations
    assert profile.work_experience_years == 2.5
    assert profile.assessment_date == dt.date(2024, 3, 4)
    back = values_of_profile(profile, "employment_12m", 3)
    assert parse_profile(raw_profile(back)) == profile
    assert request_options(back) == ("employment_12m", 3)


def test_form_options_fall_back_to_safe_values() -> None:
    assert request_options({"objective": "world_peace", "top_k": "999"}) == (
        "employment_or_education_6m",
        10,
    )
    assert request_options({"top_k": "many"})[1] == 5


def test_form_never_shows_an_identity_code_again() -> None:
    shown = values_to_show(
        {"henkilotunnus": "170500A9056", "client_id": "x 170500A9056", "mother_tongue": "fi"}
    )
    assert "henkilotunnus" not in shown and "client_id" not in shown
    assert shown["mother_tongue"] == "fi"


def test_form_limits_admit_exactly_what_the_gate_admits() -> None:
    specs = {spec.name: spec for _, group in GROUPS for spec in group}
    longest_id = int(specs["client_id"].attrs["maxlength"])
    most_months = int(specs["unemployment_months"].attrs["max"])
    posted = {**default_values(dt.date(2024, 3, 4)), "birth_date": "1990-01-02"}
    profile = parse_profile(
        raw_profile(
            {**posted, "client_id": "c" * longest_id, "unemployment_months": str(most_months)}
        )
    )
    assert len(profile.client_id) == longest_id
    assert profile.unemployment_months == most_months
    with pytest.raises(ProfileValidationError, match="client_id"):
        parse_profile(raw_profile({**posted, "client_id": "c" * (longest_id + 1)}))
    with pytest.raises(ProfileValidationError, match="unemployment_months"):
        parse_profile(raw_profile({**posted, "unemployment_months": str(most_months + 1)}))


def _ranked(uplift: float, low: float, high: float) -> RankedService:
    return RankedService("career_guidance", 1, 0.5, 0.5 - uplift, uplift, low, high, ())


def test_uplift_bar_puts_zero_in_the_middle_and_the_estimate_inside_its_interval() -> None:
    bar = uplift_bar(_ranked(0.05, 0.01, 0.09), scale=0.1)
    assert bar["zero"] == bar["width"] / 2
    assert bar["low"] < bar["estimate"] < bar["low"] + bar["span"]
    assert bar["estimate"] == pytest.approx(bar["width"] * 0.75)
    negative = uplift_bar(_ranked(-0.02, -0.05, 0.01), scale=0.1)
    assert negative["low"] < negative["zero"] < negative["low"] + negative["span"]
    clipped = uplift_bar(_ranked(0.3, 0.2, 0.5), scale=0.1)
    assert clipped["low"] + clipped["span"] <= clipped["width"]


def _answer(request_id: str, owner: str = "desk-1", *, top_k: int = 10) -> PageAnswer:
    profile = ClientProfile(
        client_id="client-0042",
        birth_date=dt.date(1990, 1, 1),
        home_municipality="091",
        mother_tongue="fi",
        immigrant=False,
        registered_jobseeker=True,
        labour_market_status="unemployed",
        unemployment_benefit="labour_market_subsidy",
        assessment_date=dt.date(2024, 3, 4),
        language_level="A2",
        debt_problems=True,
    )
    factors = ("language_level", "debt_problems", "unemployment_months")
    ranking = tuple(
        RankedService(
            service_id=service_id,
            rank=k + 1,
            expected_with=0.4123456789,
            expected_without=0.3123456789,
            uplift=0.1 - k / 100,
            uplift_low=0.01234567,
            uplift_high=0.2345678,
            drivers=tuple(Driver(f, 0.05 - j / 100) for j, f in enumerate(factors)),
            p_above_zero=0.99 - k / 10,
            p_above_next=None if k == top_k - 1 else 0.97 - k / 5,
            wide_interval=k == 2,
        )
        for k, service_id in enumerate(load_catalog().ids[:top_k])
    )
    return PageAnswer(
        request_id=request_id,
        owner=owner,
        profile=profile,
        objective="employment_or_education_6m",
        top_k=top_k,
        ranking=ranking,
        model_version="7",
        decision=assess_eligibility(profile),
    )


SECRET = b"a-test-secret-of-enough-length"


def _close(got: object, sent: object) -> bool:
    """Equal, floats to four decimals, through dataclasses and tuples."""
    if isinstance(sent, float) and isinstance(got, float):
        return abs(got - sent) <= 5e-5
    if dataclasses.is_dataclass(sent) and not isinstance(sent, type):
        return type(got) is type(sent) and all(
            _close(getattr(got, f.name), getattr(sent, f.name)) for f in dataclasses.fields(sent)
        )
    if isinstance(sent, tuple) and isinstance(got, tuple):
        return len(got) == len(sent) and all(_close(g, s) for g, s in zip(got, sent, strict=True))
    return got == sent


def test_answer_seal_round_trips_and_binds_request_and_caseworker() -> None:
    answer = _answer("r1")
    answer.decisions.append(
        DecisionRecord("r1", dt.datetime(2024, 3, 4, 12, 0), "desk-1", "none", None, False, "x")
    )
    token = seal(answer, SECRET)
    back = unseal(token, SECRET, request_id="r1", owner="desk-1")
    assert back is not None and back.ranking is not None and answer.ranking is not None
    # Numbers travel to four decimals (a hundredth of a point, finer than any shown).
    assert dataclasses.replace(back, ranking=None) == dataclasses.replace(answer, ranking=None)
    for got, sent in zip(back.ranking, answer.ranking, strict=True):
        assert _close(got, sent), (got, sent)
    assert back.decision.eligible
    assert unseal(token, SECRET, request_id="r2", owner="desk-1") is None
    assert unseal(token, SECRET, request_id="r1", owner="desk-2") is None
    assert (
        unseal(token, b"another-secret-of-enough-length", request_id="r1", owner="desk-1") is None
    )
    assert unseal(token[:-4] + "AAAA", SECRET, request_id="r1", owner="desk-1") is None
    assert "client-0042" not in token  # encrypted, not just signed


def test_answer_seal_expires() -> None:
    token = seal(_answer("r1"), SECRET)
    later = time.time() + KEEP_SECONDS + 60
    with mock.patch("time.time", return_value=later):
        assert unseal(token, SECRET, request_id="r1", owner="desk-1") is None


def test_answer_seal_fits_a_cookie_at_the_largest_answer() -> None:
    answer = _answer("0" * 32, top_k=10)
    for k in range(6):
        answer.decisions.append(
            DecisionRecord(
                "r", dt.datetime(2024, 3, 4, 12, k), "desk-1", "none", None, False, "é" * 2000
            )
        )
    assert len(seal(answer, SECRET)) < 3500
    back = unseal(seal(answer, SECRET), SECRET, request_id="0" * 32, owner="desk-1")
    assert back is not None and len(back.decisions) == 3
    assert all(d.reason is not None and len(d.reason) <= 160 for d in back.decisions)


def _contrast(a: str, b: str) -> float:
    def luminance(colour: str) -> float:
        channels = [int(colour.lstrip("#")[i : i + 2], 16) / 255 for i in (0, 2, 4)]
        linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
        return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]

    high, low = sorted((luminance(a), luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def test_page_css_text_colours_meet_wcag_aa_on_their_backgrounds() -> None:
    from service.pages.routes import STATIC_DIR

    css = (STATIC_DIR / "page.css").read_text()
    colours = dict(re.findall(r"--([a-z-]+):\s*(#[0-9a-fA-F]{6});", css))
    text_on = [
        ("ink", "paper"),
        ("ink", "page"),
        ("muted", "paper"),
        ("muted", "page"),
        ("muted", "good-bg"),
        ("bad", "paper"),
        ("bad", "bad-bg"),
        ("ink", "bad-bg"),
        ("ink", "good-bg"),
        ("ink", "note-bg"),
        ("brand", "paper"),
        ("brand", "page"),
    ]
    for fg, bg in text_on:
        assert _contrast(colours[fg], colours[bg]) >= 4.5, (fg, bg)
    assert _contrast("#ffffff", colours["brand"]) >= 4.5  # header and buttons
    # The focus ring (ink outline on a yellow halo) stands out from white: 3:1 for non-text.
    assert _contrast(colours["ink"], colours["paper"]) >= 3.0


def test_answer_path_never_holds_a_run_that_looks_like_an_identity_code() -> None:
    request_id = "c5c219bc93844616a135008f912bc940"  # "844616a1350" has a code's shape
    assert HENKILOTUNNUS_PATTERN.search(request_id)
    path = answer_path(request_id)
    assert not HENKILOTUNNUS_PATTERN.search(path)
    assert request_id_of(path.removeprefix("/answers/")) == request_id
    assert request_id_of("not-a-request") is None
    assert request_id_of("../../etc") is None


@pytest.mark.parametrize(
    ("lang", "chance", "not_none", "not_next", "wide"),
    [
        ("en", "Chance that it beats no service: ", "Cannot be told apart from no service",
         "Cannot be told apart from the next suggestion", "wider than 25 percentage points"),
        ("fi", "Todennäköisyys, että palvelu on parempi kuin ei palvelua: ",
         "Ei erotu palvelutta jäämisestä", "Ei erotu seuraavasta ehdotuksesta",
         "yli 25 prosenttiyksikköä"),
        ("sv", "Sannolikhet att tjänsten är bättre än ingen tjänst: ",
         "Kan inte skiljas från ingen tjänst", "Kan inte skiljas från nästa förslag",
         "bredare än 25 procentenheter"),
    ],
)  # fmt: skip
def test_answer_view_says_which_suggestions_the_model_cannot_tell_apart(
    lang: str, chance: str, not_none: str, not_next: str, wide: str
) -> None:
    view = answer_view(_answer("r1", top_k=4), load_catalog(), lang)
    notes = [{n["kind"]: n["text"] for n in s["certainty"]} for s in view["services"]]
    # Rank 1: 99 % above zero and 97 % above the next: told apart from both, said plainly.
    assert set(notes[0]) == {"chance", "distinct_none", "distinct_next"}
    assert notes[0]["chance"].startswith(chance)
    # Rank 2: 89 % and 77 %: told apart from neither.
    assert set(notes[1]) == {"chance", "not_distinct_none", "not_distinct_next"}
    assert notes[1]["not_distinct_none"].startswith(not_none)
    assert notes[1]["not_distinct_next"].startswith(not_next)
    # Rank 3: its interval is wide; rank 4 is the last: no next one to be told from.
    assert wide in notes[2]["wide"]
    assert "not_distinct_next" not in notes[3] and "wide" not in notes[3]


def test_answer_seal_fits_a_cookie_with_both_objectives_and_every_why_not(
    tiny_model: PolkuModel,
) -> None:
    profile = parse_profile(
        {**_RAW_CLIENT, "mother_tongue": "so", "language_level": "A1", "health_limitations": True}
    )
    model_answer = tiny_model.answer(profile, "employment_or_education_6m", top_k=10)
    answer = PageAnswer(
        request_id="0" * 32,
        owner="desk-1",
        profile=profile,
        objective="employment_or_education_6m",
        top_k=10,
        ranking=shown_ranking(model_answer.ranked, profile),
        model_version="7",
        decision=model_answer.decision,
        not_suggested=model_answer.not_suggested,
    )
    noise = random.Random(0)
    for k in range(3):  # reasons that do not compress
        reason = "".join(noise.choice(string.ascii_letters) for _ in range(400))
        answer.decisions.append(
            DecisionRecord(
                "r", dt.datetime(2024, 3, 4, 12, k), "desk-1", "none", None, False, reason
            )
        )
    token = seal(answer, SECRET)
    assert len(token) < 3800  # browsers keep 4096 bytes per cookie, name and attributes included
    back = unseal(token, SECRET, request_id="0" * 32, owner="desk-1")
    assert back is not None
    assert _close(back.not_suggested, model_answer.not_suggested)
    assert back.ranking is not None and all(len(r.by_target) == 2 for r in back.ranking)


_RAW_CLIENT = {
    "client_id": "client-0042",
    "birth_date": "1990-01-01",
    "home_municipality": "091",
    "mother_tongue": "fi",
    "immigrant": False,
    "registered_jobseeker": True,
    "labour_market_status": "unemployed",
    "unemployment_benefit": "labour_market_subsidy",
    "unemployment_months": 14,
    "assessment_date": "2024-03-04",
    "debt_problems": True,
}


def _harmed(objective: str) -> RankedService:
    effects = (
        TargetEffect("employment_or_education_6m", 0.5, 0.4, 0.1, 0.05, 0.15),
        TargetEffect("employment_12m", 0.3, 0.407, -0.107, -0.180, -0.035),
    )
    if objective == "employment_12m":
        effects = tuple(reversed(effects))
    return RankedService(
        service_id="vocational_education",
        rank=1,
        expected_with=0.5,
        expected_without=0.4,
        uplift=0.1,
        uplift_low=0.05,
        uplift_high=0.15,
        drivers=(),
        by_target=effects,
    )


@pytest.mark.parametrize(
    ("lang", "words"),
    [
        ("en", "Warning: suggested for “Work or education at 6 months”, but the model is fairly "
         "sure it lowers “Work at 12 months”: −10.7 pp (interval −18.0 pp … −3.5 pp)."),
        ("fi", "Varoitus: ehdotettu tavoitteelle ”Työ tai koulutus 6 kuukauden kuluttua”"),
        ("sv", "Varning: föreslagen för målet"),
    ],
)  # fmt: skip
def test_harm_warning_names_the_other_objective_the_suggestion_credibly_lowers(
    lang: str, words: str
) -> None:
    # The vocational education: first for the 6-month objective, -0.107
    # [-0.180, -0.035] on employment at 12 months.
    objective = Objective.parse("employment_or_education_6m")
    [warning] = harm_warnings(_harmed("employment_or_education_6m"), objective, lang)
    assert warning.startswith(words)
    assert _harmed("x").harmful_targets == ("employment_12m",)
    # Harm to the objective ranked by itself is its own number, not a warning about another.
    only = RankedService(**{**_fields(_harmed("x")), "by_target": _harmed("x").by_target[1:]})
    assert harm_warnings(only, Objective.parse("employment_12m"), lang) == []


def _fields(ranked: RankedService) -> dict[str, object]:
    return {f.name: getattr(ranked, f.name) for f in dataclasses.fields(ranked)}


def test_not_suggested_reasons_are_worded_in_every_language() -> None:
    catalog = load_catalog()
    lower = NotSuggested("career_guidance", "ranked_lower", rank=8, uplift=-0.037,
                         uplift_low=-0.129, uplift_high=0.065)  # fmt: skip
    closed = NotSuggested("employment_subsidy_55", "closed", limits=("min_age",))
    assert not_suggested_text(lower, catalog, "en") == (
        "Ranked 8. Expected effect −3.7 pp (interval −12.9 pp … +6.5 pp)."
    )
    assert not_suggested_text(lower, catalog, "fi").startswith("Sija 8. Odotettu vaikutus −3,7")
    assert not_suggested_text(closed, catalog, "en") == (
        "Closed by the catalog's limits: aged 55 or over."
    )
    for lang in LANGUAGES:
        for reason in ("not_supported", "not_a_client"):
            assert not_suggested_text(NotSuggested("debt_advice", reason), catalog, lang)  # type: ignore[arg-type]


def test_assessment_date_defaults_inside_the_experiment_window_the_rules_give() -> None:
    start, end = experiment_window()
    assert (start, end) == (dt.date(2021, 3, 1), dt.date(2024, 12, 31))
    assert default_values(dt.date(2026, 12, 2))["assessment_date"] == "2024-12-31"
    assert default_values(dt.date(2020, 1, 1))["assessment_date"] == "2021-03-01"
    assert default_values(dt.date(2023, 5, 6))["assessment_date"] == "2023-05-06"
    [spec] = [s for _, specs in GROUPS for s in specs if s.name == "assessment_date"]
    attrs = field_attrs(spec)
    assert (attrs["min"], attrs["max"]) == ("2021-03-01", "2024-12-31")
    assert "1.3.2021–31.12.2024" in str(
        i18n.field_help("assessment_date", "fi", start="1.3.2021", end="31.12.2024")
    )
