"""The caseworker page in a real browser: Debian's Chromium, driven by Playwright, against the
real app served by uvicorn on loopback with a tiny trained model.

Screenshots go to `test-artifacts/` (gitignored) for a person to look at.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from models.bundle import PolkuModel
from models.catalog import load_catalog
from service.main import create_app
from service.pages.answers import request_id_of
from tests.helpers import wait_until
from tests.service.helpers import KEYS, FakeLoaded, free_port, make_settings

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
# Set by .ci/run: there a missing Chromium fails these tests instead of skipping them.
REQUIRE_BROWSER = "POLKU_REQUIRE_BROWSER"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
# A syntactically valid code of the test range (individual number 900-999): born 2000-05-17.
CODE = "170500A9056"


class _Server:
    """uvicorn serving the app in a thread of this process."""

    def __init__(self, app: Any, port: int) -> None:
        config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> _Server:
        self.thread.start()
        wait_until(self._started, 20, "uvicorn to start")
        return self

    def _started(self) -> bool:
        if not self.thread.is_alive():
            raise RuntimeError("uvicorn exited before it started")
        return bool(self.server.started)

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@pytest.fixture(scope="module")
def served(
    tiny_model: PolkuModel, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, Path]]:
    """The base URL of a running app and the path of its audit database."""
    state = tmp_path_factory.mktemp("page-browser")
    settings = make_settings(state)

    def loader() -> FakeLoaded:
        return FakeLoaded(tiny_model, "7", tiny_model.trained_at, {})

    port = free_port()
    with _Server(create_app(settings, model_loader=loader), port):
        yield f"http://127.0.0.1:{port}", state / "audit.sqlite3"


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        missing = f"Debian's chromium is not installed at {CHROMIUM} (`make browser-deps`)"
        if os.environ.get(REQUIRE_BROWSER) == "1":
            pytest.fail(f"{missing}; {REQUIRE_BROWSER}=1 requires the browser tests to run")
        pytest.skip(missing)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Any, served: tuple[str, Path]) -> Iterator[Any]:
    # JavaScript off: the whole flow must work without it (the page ships none).
    context = browser.new_context(
        viewport={"width": 1100, "height": 900}, locale="fi-FI", java_script_enabled=False
    )
    tab = context.new_page()
    tab.set_default_timeout(10_000)
    yield tab
    context.close()


def _shot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"page-{name}.png"), full_page=True)


def _sign_in(page: Any, base: str, shot: str | None = None) -> None:
    page.goto(base + "/")
    assert page.url.endswith("/signin")
    if shot:
        _shot(page, shot)
    page.fill("#key", KEYS["caseworker"])
    page.press("#key", "Enter")  # keyboard only
    page.wait_for_url(base + "/")


def _fill_profile(page: Any, **changes: str) -> None:
    values = {
        "client_id": "client-page-1",
        "henkilotunnus": CODE,
        "home_municipality": "091",
        "mother_tongue": "fi",
        "assessment_date": "2024-03-04",
        "unemployment_months": "14",
        "work_experience_years": "1,5",
        **changes,
    }
    for name, value in values.items():
        page.fill(f"#f-{name}", value)
    page.select_option("#f-labour_market_status", "unemployed")
    page.select_option("#f-unemployment_benefit", "labour_market_subsidy")
    page.select_option("#f-education_level", "basic")
    page.select_option("#f-language_level", "B1")
    page.check("#f-debt_problems")
    page.check("#f-low_digital_skills")


def _no_code_anywhere(page: Any) -> None:
    assert CODE not in page.url
    assert CODE not in page.content()
    assert page.input_value("#f-henkilotunnus") == ""
    assert all(CODE not in c["value"] for c in page.context.cookies())


def test_page_browser_client_flow_languages_and_override_reach_the_audit_store(
    page: Any, served: tuple[str, Path]
) -> None:
    base, audit_db = served
    catalog = load_catalog()
    _sign_in(page, base, shot="0-signin-fi")
    _shot(page, "1-form-fi")

    _fill_profile(page)
    page.click("button.primary")
    page.wait_for_url(f"{base}/answers/*")
    assert "kuuluu Helsingin työllisyyspalveluihin" in page.inner_text("#verdict")
    services = page.locator("ol.services > li")
    assert services.count() >= 2
    assert page.locator("svg.bar").count() == services.count()
    # Every suggestion says, in plain words, how likely it beats no service.
    chances = page.locator("ol.services .certainty-chance")
    assert chances.count() == services.count()
    assert chances.first.inner_text().startswith("Todennäköisyys, että palvelu on parempi")
    assert "päätöksen tekee aina virkailija" in page.inner_text(".advice").lower()
    _no_code_anywhere(page)
    # The form comes back filled from the validated profile: birth date, not the code.
    assert page.input_value("#f-birth_date") == "2000-05-17"
    _shot(page, "2-answer-fi")

    top_id = page.locator("ol.services > li").first.get_attribute("id").removeprefix("service-")
    page.click("a[hreflang=sv]")
    page.wait_for_load_state()
    assert page.get_attribute("html", "lang") == "sv"
    assert page.inner_text(f"#service-{top_id} h3").endswith(catalog.name(top_id, "sv"))
    assert "handläggaren" in page.inner_text(".advice")
    _shot(page, "3-answer-sv")

    page.click("a[hreflang=en]")
    page.wait_for_load_state()
    assert page.get_attribute("html", "lang") == "en"
    assert page.inner_text(f"#service-{top_id} h3").endswith(catalog.name(top_id, "en"))
    top_notes = page.inner_text(f"#service-{top_id} ul.certainty")
    assert "Chance that it beats no service:" in top_notes
    if page.locator(f"#service-{top_id} .certainty-not_distinct_none").count():
        assert "Cannot be told apart from no service" in top_notes
    page.click(f"#service-{top_id} summary")  # the catalog's facts, folded by default
    facts = page.inner_text(f"#service-{top_id} dl.facts")
    assert catalog.get(top_id).provider.en in facts
    assert catalog.get(top_id).description.en in facts
    page.locator(f"#service-{top_id}").screenshot(path=str(ARTIFACTS / "page-4a-service-en.png"))

    # Override the top suggestion without a reason: refused, next to the reason.
    page.check("#choice-none")
    page.click("form[action$='/decision'] button")
    assert "Give a reason" in page.inner_text("#decision-error")
    assert page.get_attribute("#reason", "aria-invalid") == "true"
    _shot(page, "4-decision-refused-en")
    page.fill("#reason", "Client starts a job next week.")
    page.click("form[action$='/decision'] button")
    page.wait_for_url("**?recorded=1#recorded")
    assert page.is_visible("#recorded")
    assert "differed from the top suggestion" in page.inner_text("#recorded-list")
    _shot(page, "5-decision-recorded-en")

    request_id = request_id_of(page.url.split("/answers/")[1].split("?")[0])
    with sqlite3.connect(audit_db) as db:
        rows = db.execute(
            "select choice, service_id, followed_top, reason, actor from decisions "
            "where request_id = ?",
            (request_id,),
        ).fetchall()
        suggestion = db.execute(
            "select kind, eligible, ranking from suggestions where request_id = ?", (request_id,)
        ).fetchone()
        dump = "\n".join(db.iterdump())
    assert rows == [("none", None, 0, "Client starts a job next week.", "desk-1")]
    assert suggestion[0] == "recommendation" and suggestion[1] == 1
    assert top_id in suggestion[2]
    assert CODE not in dump


def test_page_browser_non_client_gets_the_decision_and_no_services(
    page: Any, served: tuple[str, Path]
) -> None:
    base, _ = served
    _sign_in(page, base)
    page.click("a[hreflang=sv]")
    page.wait_for_load_state()
    _fill_profile(page, home_municipality="049", client_id="client-page-2")
    page.click("button.primary")
    page.wait_for_url(f"{base}/answers/*")
    assert "TE-byrån" in page.inner_text("#verdict")
    assert "Hemkommunen är inte Helsingfors" in page.inner_text("ul.reasons")
    assert page.locator("ol.services > li").count() == 0
    assert page.locator("#decision-heading").count() == 0
    _no_code_anywhere(page)
    _shot(page, "6-non-client-sv")


def test_page_browser_keyboard_reaches_the_form_with_a_visible_focus(
    page: Any, served: tuple[str, Path]
) -> None:
    base, _ = served
    _sign_in(page, base)
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skip"
    page.keyboard.press("Enter")  # skip to the content
    for _ in range(12):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.id") == "f-client_id":
            break
    assert page.evaluate("document.activeElement.id") == "f-client_id"
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline not in ("", "none")
    _shot(page, "7-focus")


def test_page_browser_invalid_profile_shows_errors_next_to_fields(
    page: Any, served: tuple[str, Path]
) -> None:
    base, _ = served
    _sign_in(page, base)
    _fill_profile(page, henkilotunnus="170500A9057", birth_date="", unemployment_months="-3")
    page.click("button.primary")
    assert page.url == base + "/"
    assert "tarkistusmerkki" in page.inner_text("#f-henkilotunnus-error")
    assert page.is_visible("#f-unemployment_months-error")
    assert page.input_value("#f-henkilotunnus") == ""
    assert "170500A9057" not in page.content()
    _shot(page, "8-errors-fi")


def _no_sideways_scroll(page: Any, where: str) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    viewport = page.evaluate("window.innerWidth")
    assert width <= viewport, f"{where}: the page is {width} px wide in a {viewport} px window"


@pytest.mark.parametrize("width", [1280, 390])
def test_page_browser_fits_desktop_and_phone_in_every_language(
    browser: Any, served: tuple[str, Path], width: int
) -> None:
    base, _ = served
    context = browser.new_context(
        viewport={"width": width, "height": 900}, locale="sv-SE", java_script_enabled=False
    )
    page = context.new_page()
    page.set_default_timeout(10_000)
    try:
        _sign_in(page, base)
        _no_sideways_scroll(page, f"form {width}")
        _shot(page, f"form-{width}")
        # The default assessment date lies inside the experiment window, which the field states.
        low, high = (
            page.get_attribute("#f-assessment_date", "min"),
            page.get_attribute("#f-assessment_date", "max"),
        )
        assert (low, high) == ("2021-03-01", "2024-12-31")
        assert low <= page.input_value("#f-assessment_date") <= high
        _fill_profile(page, mother_tongue="so")
        page.select_option("#f-language_level", "A1")  # the A1 speaker
        page.click("button.primary")
        page.wait_for_url(f"{base}/answers/*")
        for lang in ("fi", "sv", "en"):
            page.click(f"a[hreflang={lang}]")
            page.wait_for_load_state()
            assert page.get_attribute("html", "lang") == lang
            page.click("#why-not summary")  # folded by default
            assert page.locator("ul.why-not > li").count() >= 1
            _no_sideways_scroll(page, f"answer {lang} {width}")
            _shot(page, f"answer-{lang}-{width}")
    finally:
        context.close()


def test_page_browser_answer_explains_why_not_and_both_objectives(
    page: Any, served: tuple[str, Path]
) -> None:
    base, _ = served
    catalog = load_catalog()
    _sign_in(page, base)
    page.click("a[hreflang=en]")
    page.wait_for_load_state()
    # Without an identity code the pseudonymous key is the client id's: a client new here.
    alone = {"client_id": "client-page-3", "henkilotunnus": "", "birth_date": "2000-05-17"}
    _fill_profile(page, **alone)
    page.click("button.primary")
    page.wait_for_url(f"{base}/answers/*")
    services = page.locator("ol.services > li")
    # Both objectives under every suggestion, the ranked one marked.
    assert page.locator("table.effects").count() == services.count()
    assert page.locator("table.effects tr").count() == 2 * services.count()
    assert "(ranked by)" in page.inner_text("ol.services > li >> nth=0 >> table.effects")
    assert "Places a month:" in page.inner_text("ol.services > li >> nth=0 >> .capacity")
    # Every catalog service is either suggested or in the folded why-not list.
    assert not page.is_visible("ul.why-not")
    page.click("#why-not summary")
    assert services.count() + page.locator("ul.why-not > li").count() == len(catalog)
    course = page.inner_text("#why-finnish_language_course")  # a Finnish speaker
    assert "foreign-language speakers" in course
    # The client's history: this client (client-page-3) has not been assessed before.
    assert page.is_visible("#history-none")
    page.goto(base + "/")
    _fill_profile(page, **alone)
    page.click("button.primary")
    page.wait_for_url(f"{base}/answers/*")
    assert page.locator("#history-list > li").count() == 1
    assert "(you)" in page.inner_text("#history-list")


def test_page_browser_a_decision_lands_on_its_confirmation_and_prints_without_forms(
    page: Any, served: tuple[str, Path]
) -> None:
    base, _ = served
    _sign_in(page, base)
    _fill_profile(page, client_id="client-page-4")
    page.click("button.primary")
    page.wait_for_url(f"{base}/answers/*")
    page.click("form.decide button")  # the top suggestion, pre-selected before any decision
    page.wait_for_url("**?recorded=1#recorded")
    box = page.locator("#recorded").bounding_box()
    assert box is not None and 0 <= box["y"] < 900, box  # in view, not 2,200 px below
    _shot(page, "decision-recorded-fi")
    # After the decision nothing is pre-selected, and the change is a folded correction.
    assert page.locator("input[name=choice]:checked").count() == 0
    assert not page.is_visible("form.decide")
    page.click("#correction summary")
    page.check("#choice-none")
    page.click("form.decide button")  # a correction without its reason
    assert "Korjaus tarvitsee oman perustelun" in page.inner_text("#decision-error")
    page.fill("#reason", "Asiakas aloittaa työn.")
    page.click("form.decide button")
    page.wait_for_url("**?recorded=1#recorded")
    assert "(korjaus)" in page.inner_text("#recorded-list")
    page.emulate_media(media="print")
    assert page.is_visible("ol.services") and page.is_visible("#recorded-list")
    assert not page.is_visible("form.profile") and not page.is_visible(".top")
    assert page.locator("form:visible").count() == 0
    assert page.is_visible("ul.why-not")  # folded on screen, open on paper
    _shot(page, "print-fi")
    page.emulate_media(media="screen")
