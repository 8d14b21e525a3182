"""The caseworker page through TestClient: sign-in, CSRF, the form, answers, decisions."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from models.catalog import load_catalog
from models.profile import BARRIER_FLAGS, PROFILE_FIELDS
from service.main import create_app
from service.pages.answers import answer_path, request_id_of
from service.pages.form import FORM_FIELDS
from service.pages.session import COOKIE_NAME
from service.suggest import MAX_DECISION_REASON
from tests.service.helpers import KEYS, FakeLoaded, client_profile, make_settings

CODE = "170500A9056"  # in helpers.client_profile: born 2000-05-17, test range 900-999


def _csrf(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "no CSRF token in the page"
    return match.group(1)


def _sign_in(client: TestClient, role: str = "caseworker") -> Any:
    token = _csrf(client.get("/signin").text)
    return client.post(
        "/signin", data={"csrf_token": token, "key": KEYS[role]}, follow_redirects=False
    )


def _form(**changes: Any) -> dict[str, str]:
    """A form post of `helpers.client_profile` (ticked boxes only, as a browser sends them)."""
    raw = client_profile(**changes)
    data: dict[str, str] = {}
    for name, value in raw.items():
        if name in BARRIER_FLAGS:
            if value:
                data[name] = "true"
        elif isinstance(value, bool):
            data[name] = "true" if value else "false"
        else:
            data[name] = str(value)
    return data


def _assess(client: TestClient, **changes: Any) -> Any:
    token = _csrf(client.get("/").text)
    return client.post("/", data={**_form(**changes), "csrf_token": token}, follow_redirects=False)


def _answer(client: TestClient, **changes: Any) -> tuple[str, str]:
    """Post a profile, follow to the answer; (request id, answer page)."""
    response = _assess(client, **changes)
    assert response.status_code == 303, response.text[:500]
    location = response.headers["location"]
    request_id = request_id_of(location.removeprefix("/answers/"))
    assert request_id is not None and location == answer_path(request_id)
    return request_id, client.get(location).text


def _decide(client: TestClient, request_id: str, **data: str) -> Any:
    page = client.get(answer_path(request_id)).text
    return client.post(
        f"{answer_path(request_id)}/decision",
        data={"csrf_token": _csrf(page), **data},
        follow_redirects=False,
    )


def _top_service(page: str) -> str:
    match = re.search(r'<li class="service" id="service-([a-z0-9_]+)"', page)
    assert match
    return match.group(1)


@pytest.fixture
def caseworker(api: TestClient) -> TestClient:
    assert _sign_in(api).status_code == 303
    return api


@pytest.fixture
def no_model(tmp_path: Path) -> Iterator[TestClient]:
    def no_champion() -> FakeLoaded:
        raise LookupError("no champion yet")

    with TestClient(create_app(make_settings(tmp_path), model_loader=no_champion)) as client:
        assert _sign_in(client).status_code == 303
        yield client


# -- sign-in and sessions ----------------------------------------------------------------------


def test_page_redirects_to_sign_in_without_a_session(api: TestClient) -> None:
    response = api.get("/", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/signin"


def test_page_sign_in_refuses_unknown_keys_and_other_roles(api: TestClient) -> None:
    token = _csrf(api.get("/signin?lang=en").text)
    wrong = api.post("/signin", data={"csrf_token": token, "key": "nope"})
    assert wrong.status_code == 401
    assert "Unknown key." in wrong.text
    # A key of another role is answered like an unknown one (issue 13: no answer tells
    # that a key is valid).
    for role in ("data_scientist", "evaluator"):
        other = _sign_in(api, role)
        assert other.status_code == 401
        assert "Unknown key." in other.text or "Tuntematon" in other.text
    assert api.get("/", follow_redirects=False).status_code == 303


def test_page_sign_in_needs_the_csrf_token(api: TestClient) -> None:
    api.get("/signin")
    response = api.post("/signin", data={"key": KEYS["caseworker"]}, follow_redirects=False)
    assert response.status_code == 403
    assert api.get("/", follow_redirects=False).headers["location"] == "/signin"


def test_page_session_cookie_is_signed_httponly_lax_and_holds_no_key(api: TestClient) -> None:
    response = _sign_in(api)
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"{COOKIE_NAME}=")
    assert "HttpOnly" in cookie
    assert "SameSite=lax" in cookie or "samesite=lax" in cookie.lower()
    assert KEYS["caseworker"] not in cookie
    assert api.get("/").status_code == 200
    # A tampered cookie is no session at all.
    value = api.cookies[COOKIE_NAME]
    api.cookies.set(COOKIE_NAME, value[:-2] + ("AA" if value[-2:] != "AA" else "BB"))
    assert api.get("/", follow_redirects=False).status_code == 303


def test_page_session_ends_when_the_key_is_removed(
    tmp_path: Path, loader: Callable[[], Any]
) -> None:
    with TestClient(create_app(make_settings(tmp_path), model_loader=loader)) as first:
        _sign_in(first)
        cookie = first.cookies[COOKIE_NAME]
    revoked = make_settings(tmp_path, caseworker_keys={"desk-2": "another-caseworker-key-01"})
    with TestClient(create_app(revoked, model_loader=loader)) as second:
        second.cookies.set(COOKIE_NAME, cookie)
        assert second.get("/", follow_redirects=False).headers["location"] == "/signin"


def test_page_sign_out_ends_the_session(caseworker: TestClient) -> None:
    token = _csrf(caseworker.get("/").text)
    response = caseworker.post("/signout", data={"csrf_token": token}, follow_redirects=False)
    assert response.headers["location"] == "/signin"
    assert caseworker.get("/", follow_redirects=False).status_code == 303


# -- the form ----------------------------------------------------------------------------------


class _Inputs(HTMLParser):
    """Collects form controls, labels' targets and radios wrapped in labels."""

    def __init__(self) -> None:
        super().__init__()
        self.controls: list[dict[str, str | None]] = []
        self.label_for: set[str] = set()
        self.in_label = 0
        self.wrapped: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "label":
            self.in_label += 1
            if a.get("for"):
                self.label_for.add(str(a["for"]))
        if tag in ("input", "select", "textarea") and a.get("type") != "hidden":
            self.controls.append(a)
            if self.in_label and a.get("id"):
                self.wrapped.add(str(a["id"]))

    def handle_endtag(self, tag: str) -> None:
        if tag == "label":
            self.in_label -= 1


def test_page_form_has_every_profile_field_each_with_a_label(caseworker: TestClient) -> None:
    html = caseworker.get("/").text
    assert set(FORM_FIELDS) == set(PROFILE_FIELDS)
    parser = _Inputs()
    parser.feed(html)
    names = {c.get("name") for c in parser.controls}
    assert set(PROFILE_FIELDS) <= names
    unlabelled = [
        c.get("name")
        for c in parser.controls
        if c.get("id") not in parser.label_for and c.get("id") not in parser.wrapped
    ]
    assert unlabelled == []


def test_page_form_groups_fields_and_has_sensible_defaults(caseworker: TestClient) -> None:
    html = caseworker.get("/?lang=en").text
    who, situation, needs = (
        html.index(g) for g in ("Who the person is", "Their situation", "Needs and barriers")
    )
    assert who < html.index('name="henkilotunnus"') < situation
    assert situation < html.index('name="labour_market_status"') < needs
    assert needs < html.index('name="debt_problems"')
    assert 'name="home_municipality" type="text" value="091"' in html
    assert re.search(r'value="true" id="f-registered_jobseeker-true"\s+checked', html)
    assert "Three-digit municipality code" in html  # help text


def test_page_post_without_csrf_is_refused_and_nothing_audited(caseworker: TestClient) -> None:
    response = caseworker.post("/", data=_form(), follow_redirects=False)
    assert response.status_code == 403
    assert caseworker.app.state.audit.count("suggestions") == 0  # type: ignore[attr-defined]


def test_page_invalid_profile_shows_errors_by_the_fields_and_never_the_code(
    caseworker: TestClient,
) -> None:
    token = _csrf(caseworker.get("/?lang=en").text)
    bad = {
        **_form(),
        "henkilotunnus": "170500A9057",  # wrong check character
        "client_id": CODE,  # a code typed into the wrong box
        "unemployment_months": "-3",
        "csrf_token": token,
    }
    response = caseworker.post("/", data=bad)
    assert response.status_code == 422
    html = response.text
    assert 'id="f-henkilotunnus-error"' in html
    assert "check character is wrong" in html
    assert 'id="f-client_id-error"' in html
    assert 'id="f-unemployment_months-error"' in html
    assert "170500A9057" not in html and CODE not in html
    assert caseworker.app.state.audit.count("suggestions") == 0  # type: ignore[attr-defined]


# -- answers -----------------------------------------------------------------------------------


def test_page_client_answer_shows_ranked_services_and_is_audited(caseworker: TestClient) -> None:
    response = _assess(caseworker)
    assert CODE not in response.headers["location"]
    assert CODE not in response.headers.get("set-cookie", "")
    request_id, page = _answer(caseworker)
    catalog = load_catalog()
    assert "kuuluu Helsingin työllisyyspalveluihin" in page
    assert "Päätöksen tekee aina virkailija" in page
    top = _top_service(page)
    assert catalog.name(top, "fi") in page
    assert catalog.get(top).provider.fi in page
    assert page.count('<svg class="bar"') == page.count('<li class="service"') >= 2
    assert 'role="img" aria-label="Vaikutus' in page
    # The form comes back from the validated profile: birth date yes, identity code never.
    assert 'name="henkilotunnus" type="text" value=""' in page
    assert 'name="birth_date" type="date" value="2000-05-17"' in page
    assert CODE not in page
    record = caseworker.app.state.audit.suggestion(request_id)  # type: ignore[attr-defined]
    assert record is not None and record.kind == "recommendation"
    assert record.actor == "desk-1"
    assert record.ranked_service_ids()[0] == top


def test_page_shows_the_places_left_this_month_counted_when_shown(
    caseworker: TestClient,
) -> None:
    request_id, page = _answer(caseworker)
    top = _top_service(page)
    capacity = load_catalog().get(top).monthly_capacity
    assert f"Paikkoja jäljellä tässä kuussa: {capacity}" in page
    decided = _decide(caseworker, request_id, choice=f"suggested:{top}")
    assert decided.status_code == 303, decided.text[:500]
    # The answer shown again counts the place its own decision took.
    again = caseworker.get(answer_path(request_id)).text
    assert f"Paikkoja jäljellä tässä kuussa: {capacity - 1}" in again


def test_page_logs_hold_no_identity_code(
    caseworker: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    _answer(caseworker)
    token = _csrf(caseworker.get("/").text)
    caseworker.post("/", data={**_form(birth_date="1999-01-01"), "csrf_token": token})
    assert caplog.records  # something was logged, and none of it holds the code
    assert all(CODE not in r.getMessage() for r in caplog.records)


def test_page_sign_in_page_follows_the_browser_language(api: TestClient) -> None:
    html = api.get("/signin", headers={"Accept-Language": "sv-FI,sv;q=0.9"}).text
    assert '<html lang="sv">' in html and "Logga in" in html


def test_page_answers_carry_no_store_and_a_strict_policy(caseworker: TestClient) -> None:
    request_id, _ = _answer(caseworker)
    response = caseworker.get(answer_path(request_id))
    assert response.headers["cache-control"] == "no-store"
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    assert "<script" not in response.text  # the page needs no JavaScript


def test_page_answer_in_every_language_names_services_from_the_catalog(
    caseworker: TestClient,
) -> None:
    request_id, page = _answer(caseworker)
    top = _top_service(page)
    catalog = load_catalog()
    for lang, words in (
        ("sv", "Förslagen är råd"),
        ("en", "The suggestions are advice"),
        ("fi", "Ehdotukset ovat neuvoja"),
    ):
        html = caseworker.get(f"{answer_path(request_id)}?lang={lang}").text
        assert f'<html lang="{lang}">' in html
        assert catalog.name(top, lang) in html
        assert words in html
    # The choice sticks to the session.
    caseworker.get(f"{answer_path(request_id)}?lang=sv")
    assert '<html lang="sv">' in caseworker.get("/").text


def test_page_non_client_gets_reasons_and_no_services(caseworker: TestClient) -> None:
    _, page = _answer(caseworker, home_municipality="049")
    assert "TE-toimisto" in page
    assert "Kotikunta ei ole Helsinki" in page
    assert '<li class="service"' not in page
    assert "/decision" not in page
    # Every service is accounted for: closed by the gate, said once, not 33 times.
    assert page.count('<li id="why-') == len(load_catalog())
    assert page.count("henkilö ei ole Helsingin työllisyyspalvelujen asiakas") == 1


def test_page_without_a_model_still_decides_eligibility(no_model: TestClient) -> None:
    request_id, page = _answer(no_model)
    assert "kuuluu Helsingin työllisyyspalveluihin" in page
    assert 'id="no-model"' in page
    assert '<li class="service"' not in page
    assert "/decision" not in page
    record = no_model.app.state.audit.suggestion(request_id)  # type: ignore[attr-defined]
    assert record is not None and record.kind == "eligibility"
    # Nothing was suggested, so nothing can be decided against it.
    refused = _decide(no_model, request_id, choice="none", reason="x")
    assert refused.status_code == 422
    assert "Tälle arviolle ei voi kirjata päätöstä." in refused.text
    assert _decisions(no_model, request_id) == []


def test_page_answers_are_only_shown_to_their_caseworker(
    tmp_path: Path, loader: Callable[[], Any]
) -> None:
    settings = make_settings(
        tmp_path,
        caseworker_keys={"desk-1": KEYS["caseworker"], "desk-2": "second-caseworker-key-02"},
    )
    with TestClient(create_app(settings, model_loader=loader)) as client:
        _sign_in(client)
        request_id, _ = _answer(client)
        held = client.cookies.get("polku_answer")
        assert held and client.get(answer_path(request_id)).status_code == 200
        client.cookies.clear()
        token = _csrf(client.get("/signin").text)
        client.post("/signin", data={"csrf_token": token, "key": "second-caseworker-key-02"})
        client.cookies.set("polku_answer", held, path="/answers/")  # even with desk-1's cookie
        assert client.get(answer_path(request_id)).status_code == 404


def test_page_answer_lives_in_an_encrypted_cookie_any_worker_can_read(
    tmp_path: Path, loader: Callable[[], Any]
) -> None:
    settings = make_settings(tmp_path)
    with TestClient(create_app(settings, model_loader=loader)) as first:
        _sign_in(first)
        response = _assess(first)
        cookie = first.cookies.get("polku_answer")
        session = first.cookies[COOKIE_NAME]
    set_cookie = response.headers.get_list("set-cookie")
    answer_cookie = next(c for c in set_cookie if c.startswith("polku_answer="))
    assert "HttpOnly" in answer_cookie and "Path=/answers/" in answer_cookie
    assert cookie and CODE not in cookie and "client-0001" not in cookie
    # Another process with the same settings (a second worker or replica) shows the answer.
    with TestClient(create_app(settings, model_loader=loader)) as second:
        second.cookies.set(COOKIE_NAME, session)
        second.cookies.set("polku_answer", cookie, path="/answers/")
        page = second.get(response.headers["location"])
        assert page.status_code == 200
        assert "kuuluu Helsingin työllisyyspalveluihin" in page.text
        second.cookies.set("polku_answer", cookie[:-6] + "AAAAAA", path="/answers/")
        assert second.get(response.headers["location"]).status_code == 404


# -- decisions ---------------------------------------------------------------------------------


def _decisions(client: TestClient, request_id: str) -> list[dict[str, Any]]:
    rows = client.app.state.audit.records()  # type: ignore[attr-defined]
    return [r for r in rows if r["request_id"] == request_id and r["decision_id"] is not None]


def test_page_taking_the_top_suggestion_is_recorded(caseworker: TestClient) -> None:
    request_id, page = _answer(caseworker)
    top = _top_service(page)
    response = _decide(caseworker, request_id, choice=f"suggested:{top}")
    assert response.status_code == 303
    # The browser lands on the confirmation, not at the top of the page.
    assert response.headers["location"] == f"{answer_path(request_id)}?recorded=1#recorded"
    [row] = _decisions(caseworker, request_id)
    assert (row["choice"], row["chosen_service_id"], row["followed_top"]) == (
        "suggested",
        top,
        True,
    )
    assert row["decided_by"] == "desk-1"
    assert 'id="recorded"' in caseworker.get(response.headers["location"]).text


def test_page_override_without_a_reason_is_refused_next_to_the_reason(
    caseworker: TestClient,
) -> None:
    request_id, _ = _answer(caseworker)
    response = _decide(caseworker, request_id, choice="none", reason="  ")
    assert response.status_code == 422
    assert 'id="decision-error"' in response.text
    assert re.search(r'id="reason"[^>]*aria-invalid="true"', response.text)
    assert _decisions(caseworker, request_id) == []


def test_page_override_with_a_reason_and_corrections_are_appended(caseworker: TestClient) -> None:
    request_id, page = _answer(caseworker)
    shown = set(re.findall(r'<li class="service" id="service-([a-z0-9_]+)"', page))
    other = next(s for s in load_catalog().ids if s not in shown)
    first = _decide(
        caseworker, request_id, choice="other", other_service=other, reason="Waiting list shorter"
    )
    assert first.status_code == 303
    # After a recorded decision the form is a correction: nothing pre-selected, and a plain
    # second decision (a misclick) is refused with what to do instead.
    after = caseworker.get(first.headers["location"].split("#")[0]).text
    assert 'id="correction"' in after and 'name="corrects" value="1"' in after
    assert not re.search(r'name="choice" value="[^"]*" id="[^"]*"\s*checked', after)
    again = _decide(caseworker, request_id, choice="none", reason="Client declined")
    assert again.status_code == 409
    assert 'id="decision-error"' in again.text
    second = _decide(caseworker, request_id, choice="none", reason="Client declined", corrects="1")
    assert second.status_code == 303
    rows = _decisions(caseworker, request_id)
    assert [
        (r["choice"], r["chosen_service_id"], r["followed_top"], r["reason"]) for r in rows
    ] == [
        ("other", other, False, "Waiting list shorter"),
        ("none", None, False, "Client declined"),
    ]
    html = caseworker.get(f"{answer_path(request_id)}?lang=en").text
    assert html.count("differed from the top suggestion") == 2
    assert "(correction)" in html


def test_page_other_service_must_be_picked(caseworker: TestClient) -> None:
    request_id, _ = _answer(caseworker)
    response = _decide(caseworker, request_id, choice="other", reason="x")
    assert response.status_code == 422
    assert _decisions(caseworker, request_id) == []


def test_page_decision_without_csrf_is_refused(caseworker: TestClient) -> None:
    request_id, page = _answer(caseworker)
    response = caseworker.post(
        f"{answer_path(request_id)}/decision",
        data={"choice": f"suggested:{_top_service(page)}"},
        follow_redirects=False,
    )
    assert response.status_code == 403
    assert _decisions(caseworker, request_id) == []


# -- the rest ----------------------------------------------------------------------------------


def test_page_routes_stay_out_of_the_openapi_schema(api: TestClient) -> None:
    paths = api.get("/openapi.json").json()["paths"]
    assert all(p.startswith(("/v1/", "/health")) for p in paths)


def test_page_serves_its_stylesheet_and_nothing_else(api: TestClient) -> None:
    css = api.get("/static/page.css")
    assert css.status_code == 200
    assert css.headers["content-type"].startswith("text/css")
    assert ":focus" in css.text
    assert api.get("/static/..%2Fpages%2Fsession.py").status_code == 404
    assert api.get("/static/other.css").status_code == 404


def test_page_shows_no_english_words_on_finnish_and_swedish_pages(caseworker: TestClient) -> None:
    from service.pages import i18n

    request_id, _ = _answer(caseworker)

    def words(lang: str) -> list[str]:
        # The page furniture, the field labels and the words for values.
        return [
            text
            for key, text in i18n.flat_texts(lang).items()
            if key.startswith(("ui.", "values.")) or key.endswith(".label")
        ]

    english = words("en")
    for lang in ("fi", "sv"):
        own = set(words(lang))
        pages = [
            caseworker.get(f"{answer_path(request_id)}?lang={lang}").text,
            caseworker.get(f"/?lang={lang}").text,
        ]
        for text in english:
            if "{" in text or len(text) < 8 or text in own:
                continue  # templates, short codes (A1, B2) and words the languages share
            assert all(f">{text}<" not in page for page in pages), (lang, text)


def test_page_shows_an_answer_again_without_re_running_the_gate(
    caseworker: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    import models.eligibility

    request_id, _ = _answer(caseworker)

    def no_gate(*_args: Any, **_kwargs: Any) -> Any:
        raise AssertionError("the gate ran again")

    import service.pages.answers

    monkeypatch.setattr(models.eligibility, "assess_eligibility", no_gate)
    # Where the page once imported the gate (raising=False: it no longer does).
    monkeypatch.setattr(service.pages.answers, "assess_eligibility", no_gate, raising=False)
    again = caseworker.get(f"{answer_path(request_id)}?lang=en")
    assert again.status_code == 200
    assert "The person is a client of Helsinki" in again.text


def test_page_reason_longer_than_the_api_allows_is_refused_next_to_the_reason(
    caseworker: TestClient,
) -> None:
    request_id, _ = _answer(caseworker)
    too_long = "x" * (MAX_DECISION_REASON + 1)
    response = _decide(caseworker, request_id, choice="none", reason=too_long)
    assert response.status_code == 422
    assert 'id="decision-error"' in response.text
    assert str(MAX_DECISION_REASON) in response.text
    assert re.search(r'id="reason"[^>]*aria-invalid="true"', response.text)
    assert _decisions(caseworker, request_id) == []
    longest = _decide(caseworker, request_id, choice="none", reason="x" * MAX_DECISION_REASON)
    assert longest.status_code == 303
