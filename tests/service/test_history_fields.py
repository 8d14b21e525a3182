"""The service history fields reach the API and the page like every profile field."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from models.bundle import PolkuModel
from models.objectives import Objective
from models.profile_validation import parse_profile
from tests.service.helpers import KEYS, auth, client_profile

CASEWORKER = auth("caseworker")
HISTORY = {"previous_services": 2, "last_service_date": "2023-11-20"}


def test_api_ranks_a_profile_with_history_as_the_model_does(
    api: TestClient, tiny_model: PolkuModel
) -> None:
    profile = client_profile(**HISTORY)
    response = api.post(
        "/v1/recommendations", json={"profile": profile, "top_k": 3}, headers=CASEWORKER
    )
    assert response.status_code == 200, response.text
    parsed = parse_profile(profile)
    assert parsed.previous_services == 2 and parsed.last_service_date.isoformat() == "2023-11-20"
    _, expected = tiny_model.recommend(
        parsed, Objective.parse("employment_or_education_6m"), top_k=3
    )
    assert [s["uplift"] for s in response.json()["services"]] == [r.uplift for r in expected]


def test_api_refuses_a_last_service_after_the_assessment(api: TestClient) -> None:
    profile = client_profile(previous_services=1, last_service_date="2024-05-01")
    response = api.post("/v1/eligibility", json={"profile": profile}, headers=CASEWORKER)
    assert response.status_code == 422
    problems = {(tuple(d["loc"])[-1], d["type"]) for d in response.json()["detail"]}
    assert ("last_service_date", "after_assessment_date") in problems


def test_api_schema_declares_the_history_fields(api: TestClient) -> None:
    schema = api.get("/openapi.json").json()["components"]["schemas"]["ProfileIn"]
    previous = schema["properties"]["previous_services"]
    assert previous["default"] == 0 and previous["minimum"] == 0
    assert "last_service_date" in schema["properties"]


def _signed_in_form(api: TestClient) -> str:
    token = re.search(r'name="csrf_token" value="([^"]+)"', api.get("/signin").text)
    assert token
    api.post("/signin", data={"csrf_token": token.group(1), "key": KEYS["caseworker"]})
    page = api.get("/?lang=en").text
    form_token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert form_token
    return form_token.group(1)


def _form(**changes: object) -> dict[str, str]:
    data = {}
    for name, value in client_profile(**changes).items():
        if isinstance(value, bool):
            if value:
                data[name] = "true"
            elif name in ("immigrant", "registered_jobseeker"):
                data[name] = "false"
        else:
            data[name] = str(value)
    return data


def test_page_takes_the_history_and_shows_it_back(api: TestClient) -> None:
    token = _signed_in_form(api)
    page = api.get("/?lang=en").text
    assert 'name="previous_services" type="number"' in page
    assert 'name="last_service_date" type="date"' in page
    response = api.post("/", data={**_form(**HISTORY), "csrf_token": token})
    assert response.status_code == 200, response.text[:500]
    assert 'name="previous_services" type="number" value="2"' in response.text
    assert 'name="last_service_date" type="date" value="2023-11-20"' in response.text


def test_page_names_a_last_service_after_the_assessment(api: TestClient) -> None:
    token = _signed_in_form(api)
    bad = _form(previous_services=1, last_service_date="2024-05-01")
    response = api.post("/", data={**bad, "csrf_token": token})
    assert response.status_code == 422
    assert 'id="f-last_service_date-error"' in response.text
    assert "The last service cannot start after the assessment date." in response.text
