"""/docs and /redoc work offline, and every request example they offer is accepted."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient

from models.eligibility.rule_sets import rule_set_for
from models.henkilotunnus import birth_date_from_henkilotunnus, is_valid_henkilotunnus
from service.examples import ASSESSMENT_DATE, profile_example, recommendation_example
from service.main import create_app
from tests.service.helpers import FakeLoaded, auth, free_port, make_settings

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"

ROLE_OF_PATH = {
    "/v1/eligibility": "caseworker",
    "/v1/recommendations": "caseworker",
    "/v1/decisions": "caseworker",
}
# src=, href=, spec-url= and the spec's url: in the docs pages.
_REFERENCE = re.compile(r"""(?:src|href|spec-url)\s*=\s*["']([^"']+)["']|url:\s*["']([^"']+)["']""")


def _documented_examples(schema: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(path, body) of every request example in the OpenAPI document."""
    found = []
    components = schema["components"]["schemas"]
    for path, operations in schema["paths"].items():
        for operation in operations.values():
            content = operation.get("requestBody", {}).get("content", {})
            body_schema = content.get("application/json", {}).get("schema", {})
            if "$ref" in body_schema:
                body_schema = components[body_schema["$ref"].rsplit("/", 1)[-1]]
            found += [(path, example) for example in body_schema.get("examples", [])]
            for named in content.get("application/json", {}).get("examples", {}).values():
                found.append((path, named["value"]))
    return found


def test_every_documented_request_example_is_answered_2xx(api: TestClient) -> None:
    examples = _documented_examples(api.get("/openapi.json").json())
    assert sorted(path for path, _ in examples) == sorted(ROLE_OF_PATH)
    answered: dict[str, Any] = {}
    # The decision example needs the id of an answered request: post it last, with one.
    for path, body in sorted(examples, key=lambda e: e[0] == "/v1/decisions"):
        if path == "/v1/decisions":
            body = {**body, "request_id": answered["/v1/recommendations"]["request_id"]}
        response = api.post(path, json=body, headers=auth(ROLE_OF_PATH[path]))
        assert 200 <= response.status_code < 300, (path, response.text)
        answered[path] = response.json()
    assert answered["/v1/eligibility"]["decision"]["eligible"] is True
    assert answered["/v1/recommendations"]["services"], "the example client got no suggestion"


def test_the_example_profile_is_synthetic_helsinki_and_inside_the_experiment() -> None:
    profile = profile_example()
    code = profile["henkilotunnus"]
    assert is_valid_henkilotunnus(code)
    assert 900 <= int(code[7:10]) <= 999  # the individual numbers no person is given
    assert birth_date_from_henkilotunnus(code) < ASSESSMENT_DATE
    rules = rule_set_for(ASSESSMENT_DATE)
    assert profile["home_municipality"] == rules.home_municipality
    assert rules.period_start <= ASSESSMENT_DATE <= rules.period_end
    assert profile["assessment_date"] == ASSESSMENT_DATE.isoformat()


def test_the_docs_pages_load_nothing_from_another_host(api: TestClient) -> None:
    for page in ("/docs", "/redoc"):
        html = api.get(page)
        assert html.status_code == 200
        references = [a or b for a, b in _REFERENCE.findall(html.text)]
        assert len(references) >= 3, (page, references)
        for reference in references:
            parts = urlsplit(reference)
            assert not parts.scheme and not parts.netloc, f"{page} loads {reference}"
            assert reference.startswith("/")
            asset = api.get(reference)
            assert asset.status_code == 200, reference
            assert len(asset.content) > 1000 or reference.endswith(".json"), reference
    assert '"validatorUrl": null' in api.get("/docs").text  # no badge from validator.swagger.io


@pytest.mark.browser
def test_swagger_ui_renders_offline_and_try_it_out_holds_the_example(
    tmp_path: Path, loader: Callable[[], FakeLoaded]
) -> None:
    from tests.service.test_page_browser import CHROMIUM, CHROMIUM_ARGS, REQUIRE_BROWSER, _Server

    if not CHROMIUM.exists():
        if os.environ.get(REQUIRE_BROWSER) == "1":
            pytest.fail(f"no Chromium at {CHROMIUM}; {REQUIRE_BROWSER}=1 requires it")
        pytest.skip(f"Debian's chromium is not installed at {CHROMIUM}")
    from playwright.sync_api import sync_playwright

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    off_host: list[str] = []

    def only_loopback(route: Any) -> None:
        if route.request.url.startswith(base):
            route.continue_()
        else:  # the internet is cut: anything else would fail offline
            off_host.append(route.request.url)
            route.abort()

    app = create_app(make_settings(tmp_path), model_loader=loader)
    with _Server(app, port), sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = chromium.new_page()
            page.set_default_timeout(15_000)
            page.route("**/*", only_loopback)
            page.goto(f"{base}/docs")
            page.locator("#operations-caseworker-recommend_v1_recommendations_post").click()
            page.get_by_role("button", name="Try it out").click()
            shown = json.loads(page.locator("textarea.body-param__text").input_value())
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "docs-offline.png"))
            page.goto(f"{base}/redoc")
            page.wait_for_selector("text=Rank the services this client may take")
        finally:
            chromium.close()
    assert off_host == []
    assert shown == recommendation_example()
