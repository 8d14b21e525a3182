"""POST /v1/eligibility: the gate's decision, audited, with errors that never echo values."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from models.henkilotunnus import pseudonymous_key
from models.keys import derive_key
from tests.service.helpers import HMAC_KEY, auth, client_profile, non_client_profile

CASEWORKER = auth("caseworker")


def test_eligibility_answers_a_client_with_reasons_in_the_language(api: TestClient) -> None:
    fi = api.post("/v1/eligibility", json={"profile": client_profile()}, headers=CASEWORKER)
    en = api.post(
        "/v1/eligibility",
        json={"profile": client_profile(), "language": "en"},
        headers=CASEWORKER,
    )
    assert fi.status_code == en.status_code == 200
    decision = en.json()["decision"]
    assert decision["eligible"] is True
    assert decision["responsible_office"] == "helsinki"
    assert set(decision["target_groups"]) == {"no_earnings_related_allowance", "under_30"}
    assert decision["rules_version"] == "kuntakokeilu-amendment-2022"
    assert any("Target group" in r["text"] for r in decision["reasons"])
    assert fi.json()["decision"]["reasons"][0]["text"] != decision["reasons"][0]["text"]
    assert "TE" in decision["benefit_notice"]


def test_eligibility_refuses_an_espoo_resident_and_names_the_condition(api: TestClient) -> None:
    response = api.post(
        "/v1/eligibility",
        json={"profile": non_client_profile(), "language": "en"},
        headers=CASEWORKER,
    )
    decision = response.json()["decision"]
    assert decision["eligible"] is False
    assert decision["responsible_office"] == "te_office"
    assert decision["failed_conditions"] == ["not_helsinki_resident"]


def test_eligibility_is_audited_with_a_keyed_client_key(api: TestClient) -> None:
    profile = client_profile()
    response = api.post("/v1/eligibility", json={"profile": profile}, headers=CASEWORKER)
    request_id = response.json()["request_id"]
    record = api.app.state.audit.suggestion(request_id)  # type: ignore[attr-defined]
    assert record is not None
    assert record.kind == "eligibility"
    assert record.eligible is True
    assert record.actor == "desk-1"
    # Keyed with the pseudonym key derived from the secret (issue 13: one key per purpose).
    pseudonym_key = derive_key(HMAC_KEY.encode(), "pseudonym")
    assert record.client_key == pseudonymous_key(profile["henkilotunnus"], pseudonym_key)
    assert profile["henkilotunnus"] not in json.dumps(record.__repr__())


def test_eligibility_works_without_a_model(api_without_model: TestClient) -> None:
    response = api_without_model.post(
        "/v1/eligibility", json={"profile": client_profile()}, headers=CASEWORKER
    )
    assert response.status_code == 200
    assert response.json()["decision"]["eligible"] is True


def test_eligibility_422_names_fields_but_never_values(api: TestClient) -> None:
    bad = client_profile(
        labour_market_status="astronaut-1234",
        home_municipality="9x9",
        unemployment_months=-3,
    )
    response = api.post("/v1/eligibility", json={"profile": bad}, headers=CASEWORKER)
    assert response.status_code == 422
    errors = response.json()["detail"]
    assert {tuple(e["loc"]) for e in errors} == {
        ("body", "profile", "labour_market_status"),
        ("body", "profile", "home_municipality"),
        ("body", "profile", "unemployment_months"),
    }
    text = response.text
    assert "astronaut-1234" not in text
    assert "9x9" not in text
    assert all(set(e) == {"loc", "msg", "type"} for e in errors)


def test_eligibility_422_for_a_bad_henkilotunnus_never_shows_it(api: TestClient) -> None:
    code = "170500A9057"  # wrong check character
    response = api.post(
        "/v1/eligibility",
        json={"profile": client_profile(henkilotunnus=code)},
        headers=CASEWORKER,
    )
    assert response.status_code == 422
    (error,) = response.json()["detail"]
    assert error["loc"] == ["body", "profile", "henkilotunnus"]
    assert "check character" in error["msg"]
    assert code not in response.text


def test_eligibility_422_when_birth_date_contradicts_the_code(api: TestClient) -> None:
    profile = client_profile(birth_date="1999-01-01")
    response = api.post("/v1/eligibility", json={"profile": profile}, headers=CASEWORKER)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "profile", "birth_date"]
    assert profile["henkilotunnus"] not in response.text


def test_eligibility_422_for_gate_messages_hides_quoted_values(api: TestClient) -> None:
    # A client id shaped like a code is refused by the gate; the answer must not repeat it.
    code = "010594Y9032"
    response = api.post(
        "/v1/eligibility",
        json={
            "profile": client_profile(client_id=code, henkilotunnus=None, birth_date="1994-05-01")
        },
        headers=CASEWORKER,
    )
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "profile", "client_id"]
    assert code not in response.text


def test_eligibility_rejects_unknown_fields_without_echoing_them(api: TestClient) -> None:
    profile = client_profile()
    profile["shoe_size"] = 44
    profile["131052-308T"] = "x"
    response = api.post("/v1/eligibility", json={"profile": profile}, headers=CASEWORKER)
    assert response.status_code == 422
    locs = [e["loc"] for e in response.json()["detail"]]
    assert ["body", "profile", "shoe_size"] in locs
    assert ["body", "profile", "<field>"] in locs
    assert "131052-308T" not in response.text
    assert all(e["msg"] == "unknown field" for e in response.json()["detail"])


def test_eligibility_422_for_invalid_json_does_not_echo_the_body(api: TestClient) -> None:
    body = b'{"profile": {"henkilotunnus": "131052-308T", '
    response = api.post(
        "/v1/eligibility",
        content=body,
        headers={**CASEWORKER, "Content-Type": "application/json"},
    )
    assert response.status_code == 422
    assert "131052-308T" not in response.text


def test_request_body_over_the_limit_is_refused_with_413(api: TestClient) -> None:
    profile = client_profile(client_id="x" * 100)
    body = json.dumps({"profile": profile, "padding": "y" * 70_000}).encode()
    response = api.post(
        "/v1/eligibility",
        content=body,
        headers={**CASEWORKER, "Content-Type": "application/json"},
    )
    assert response.status_code == 413


def test_streamed_body_over_the_limit_is_refused_with_413(api: TestClient) -> None:
    def chunks() -> Iterator[bytes]:
        for _ in range(20):
            yield b"x" * 8192

    response = api.post(
        "/v1/eligibility",
        content=chunks(),
        headers={**CASEWORKER, "Content-Type": "application/json"},
    )
    assert response.status_code == 413


def test_an_unconfirmed_audit_write_refuses_the_answer_with_503(
    api: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    from concurrent.futures import Future

    suggestions = api.app.state.suggestions  # type: ignore[attr-defined]
    monkeypatch.setattr(suggestions, "_audit_timeout", 0.05)
    monkeypatch.setattr(suggestions.audit, "submit_suggestion", lambda record: Future())
    response = api.post("/v1/eligibility", json={"profile": client_profile()}, headers=CASEWORKER)
    assert response.status_code == 503
    assert response.headers["retry-after"] == "5"
    assert "audit" in response.json()["detail"]


def test_eligibility_422_types_are_the_validators_stable_codes(api: TestClient) -> None:
    bad = client_profile(
        home_municipality="٠٩١", labour_market_status="astronaut", unemployment_months=900
    )
    response = api.post("/v1/eligibility", json={"profile": bad}, headers=CASEWORKER)
    assert response.status_code == 422
    assert {(e["loc"][-1], e["type"]) for e in response.json()["detail"]} == {
        ("home_municipality", "bad_pattern"),
        ("labour_market_status", "not_allowed_value"),
        ("unemployment_months", "out_of_range"),
    }
    assert "٠٩١" not in response.text and "astronaut" not in response.text


def test_eligibility_reads_mother_tongue_in_any_case_as_the_register_does(
    api: TestClient,
) -> None:
    profile = client_profile(mother_tongue="FI", home_municipality=" 091 ")
    response = api.post("/v1/eligibility", json={"profile": profile}, headers=CASEWORKER)
    assert response.status_code == 200
    assert response.json()["decision"]["eligible"] is True
