"""The smaller items of issue 13 (point 7 and the request id of point 8), one test each."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from models.henkilotunnus import format_henkilotunnus
from service.main import create_app
from tests.service.helpers import auth, client_profile, make_settings

REQUEST_ID = re.compile(r"[A-Za-z0-9_]{8,64}")


def test_an_offset_past_64_bits_is_a_422_not_a_500(api: TestClient) -> None:
    for offset in ("9223372036854775808", str(2**53 + 1)):
        response = api.get(f"/v1/audit/records?offset={offset}", headers=auth("evaluator"))
        assert response.status_code == 422, offset
    assert api.get("/v1/audit/records?offset=0", headers=auth("evaluator")).status_code == 200


def test_readiness_shows_no_internal_error_text(api_without_model: TestClient) -> None:
    response = api_without_model.get("/health/ready")
    assert response.status_code == 503
    assert response.json() == {
        "ready": False,
        "model_version": None,
        "reason": "no model is loaded yet",
    }
    assert "champion alias" not in response.text  # the loader's own message stays inside


def test_a_recorded_decision_says_its_time_zone(api: TestClient) -> None:
    answer = api.post(
        "/v1/recommendations", json={"profile": client_profile()}, headers=auth("caseworker")
    ).json()
    body = {
        "request_id": answer["request_id"],
        "choice": "suggested",
        "service_id": answer["services"][0]["service_id"],
    }
    recorded = api.post("/v1/decisions", json=body, headers=auth("caseworker")).json()
    moment = dt.datetime.fromisoformat(recorded["recorded_at"].replace("Z", "+00:00"))
    assert moment.utcoffset() == dt.timedelta(0)


def test_a_birth_date_before_1900_is_refused(api: TestClient) -> None:
    too_old = [
        client_profile(henkilotunnus=None, birth_date="1800-01-01"),
        client_profile(henkilotunnus=format_henkilotunnus(dt.date(1850, 1, 1), 950)),
    ]
    for profile in too_old:
        response = api.post(
            "/v1/eligibility", json={"profile": profile}, headers=auth("caseworker")
        )
        assert response.status_code == 422
        assert response.json()["detail"][0]["loc"] == ["body", "profile", "birth_date"]


def test_every_answer_carries_a_request_id(
    tmp_path: Path, loader: Callable[[], Any], api_without_model: TestClient
) -> None:
    settings = make_settings(tmp_path / "small", max_body_bytes=200, auth_failures_per_minute=1)
    with TestClient(create_app(settings, model_loader=loader)) as api:
        answers = {
            200: api.get("/v1/services", headers=auth("evaluator")),
            401: api.get("/v1/services", headers={"X-API-Key": "wrong"}),
            429: api.get("/v1/services", headers={"X-API-Key": "wrong"}),
        }
    with TestClient(
        create_app(make_settings(tmp_path / "body", max_body_bytes=200), model_loader=loader)
    ) as api:
        answers[413] = api.post("/v1/eligibility", content=b"x" * 500, headers=auth("caseworker"))
        answers[422] = api.post("/v1/eligibility", json={"profile": {}}, headers=auth("caseworker"))
    answers[503] = api_without_model.post(
        "/v1/recommendations", json={"profile": client_profile()}, headers=auth("caseworker")
    )
    for status, response in answers.items():
        assert response.status_code == status
        assert REQUEST_ID.fullmatch(response.headers["x-request-id"]), status
    assert len({r.headers["x-request-id"] for r in answers.values()}) == len(answers)


def test_a_callers_request_id_is_kept_only_when_plain(api: TestClient) -> None:
    mine = api.get("/health/live", headers={"X-Request-ID": "caller_0123456789"})
    assert mine.headers["x-request-id"] == "caller_0123456789"
    odd = api.get("/health/live", headers={"X-Request-ID": "131052-308T<script>"})
    assert odd.headers["x-request-id"] != "131052-308T<script>"
    assert REQUEST_ID.fullmatch(odd.headers["x-request-id"])


# A lone surrogate is valid JSON ("\ud800") but cannot be written as UTF-8: the profile's
# client_id is rejected where profiles are validated, for one profile and for a cohort.
LONE_SURROGATE_ID = '"ab\\ud800cd"'


@pytest.mark.parametrize("path", ["/v1/eligibility", "/v1/recommendations"])
def test_a_lone_surrogate_client_id_is_a_422_naming_the_field(api: TestClient, path: str) -> None:
    profile = json.dumps(client_profile(client_id="PLACEHOLDER"))
    body = '{"profile": ' + profile.replace('"PLACEHOLDER"', LONE_SURROGATE_ID) + "}"
    answer = api.post(
        path, content=body, headers={**auth("caseworker"), "Content-Type": "application/json"}
    )
    assert answer.status_code == 422, answer.text
    assert ["body", "profile", "client_id"] in [e["loc"] for e in answer.json()["detail"]]


@pytest.mark.parametrize("size", [3, 40])
def test_a_lone_surrogate_client_id_in_a_cohort_is_a_422_naming_the_field(
    api: TestClient, size: int
) -> None:
    cohort = [client_profile(client_id=f"client-{i:04d}") for i in range(size)]
    cohort[1]["client_id"] = "PLACEHOLDER"
    body = json.dumps({"profiles": cohort}).replace('"PLACEHOLDER"', LONE_SURROGATE_ID)
    answer = api.post(
        "/v1/allocations",
        content=body,
        headers={**auth("data_scientist"), "Content-Type": "application/json"},
    )
    assert answer.status_code == 422, answer.text
    assert ["body", "profiles", 1, "client_id"] in [e["loc"] for e in answer.json()["detail"]]


# Request options are strict: a string, a number or a boolean of the wrong kind is a 422
# naming the option, never read as true or false ("no" switched the model off).
WRONG_KINDS = [
    ("/v1/admin/model-switch", "data_scientist", {"model_on": "no", "reason": "x"}, "model_on"),
    ("/v1/admin/model-switch", "data_scientist", {"model_on": 0, "reason": "x"}, "model_on"),
    ("/v1/recommendations", "caseworker", {"top_k": True}, "top_k"),
    ("/v1/recommendations", "caseworker", {"top_k": "5"}, "top_k"),
    ("/v1/recommendations", "caseworker", {"why_not_text": "yes"}, "why_not_text"),
    ("/v1/decisions", "caseworker", {"corrects": "yes"}, "corrects"),
    ("/v1/allocations", "data_scientist", {"period_days": "7"}, "period_days"),
    ("/v1/allocations", "data_scientist", {"period_days": True}, "period_days"),
    ("/v1/allocations", "data_scientist", {"share": "0.5"}, "share"),
    ("/v1/allocations", "data_scientist", {"quantile": "0.3"}, "quantile"),
]


@pytest.mark.parametrize(("path", "role", "option", "field"), WRONG_KINDS)
def test_request_options_of_the_wrong_kind_are_a_422_naming_them(
    api: TestClient, path: str, role: str, option: dict[str, Any], field: str
) -> None:
    body: dict[str, Any]
    if path == "/v1/recommendations":
        body = {"profile": client_profile(), **option}
    elif path == "/v1/decisions":
        shown = api.post(
            "/v1/recommendations", json={"profile": client_profile()}, headers=auth(role)
        ).json()
        body = {"request_id": shown["request_id"], "choice": "none", "reason": "x"}
        assert api.post(path, json=body, headers=auth(role)).status_code == 201
        body = {**body, "reason": "a correction", **option}  # "yes" was read as true
    elif path == "/v1/allocations":
        body = {"profiles": [client_profile()], **option}
    else:
        body = option
    answer = api.request(
        "PUT" if path.endswith("model-switch") else "POST", path, json=body, headers=auth(role)
    )
    assert answer.status_code == 422, answer.text[:300]
    assert ["body", field] in [e["loc"] for e in answer.json()["detail"]]
    if path.endswith("model-switch"):
        assert api.get("/v1/admin/model-switch", headers=auth(role)).json()["model_on"] is True
