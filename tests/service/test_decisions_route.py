"""POST /v1/decisions: linked to a suggestion, append-only, a reason when not following."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

import service.suggest
from models.catalog import load_catalog
from service.audit import SecurityEventRecord, utc_now
from service.client_history import decisions_of
from tests.service.helpers import auth, client_profile, non_client_profile

CASEWORKER = auth("caseworker")


def _suggest(api: TestClient, profile: dict[str, Any] | None = None) -> dict[str, Any]:
    response = api.post(
        "/v1/recommendations",
        json={"profile": profile or client_profile(), "top_k": 3},
        headers=CASEWORKER,
    )
    assert response.status_code == 200
    return response.json()


def _decide(api: TestClient, **body: Any) -> Any:
    return api.post("/v1/decisions", json=body, headers=CASEWORKER)


def test_following_the_top_suggestion_needs_no_reason(api: TestClient) -> None:
    answer = _suggest(api)
    top = answer["services"][0]["service_id"]
    response = _decide(api, request_id=answer["request_id"], choice="suggested", service_id=top)
    assert response.status_code == 201
    assert response.json()["followed_top"] is True
    assert response.json()["reason"] is None


def test_taking_a_lower_suggestion_needs_a_reason(api: TestClient) -> None:
    answer = _suggest(api)
    second = answer["services"][1]["service_id"]
    refused = _decide(api, request_id=answer["request_id"], choice="suggested", service_id=second)
    assert refused.status_code == 422
    assert refused.json()["detail"][0]["loc"] == ["body", "reason"]
    accepted = _decide(
        api,
        request_id=answer["request_id"],
        choice="suggested",
        service_id=second,
        reason="starts sooner",
    )
    assert accepted.status_code == 201
    assert accepted.json()["followed_top"] is False


def test_another_service_must_be_in_the_catalog_and_not_among_the_suggestions(
    api: TestClient,
) -> None:
    answer = _suggest(api)
    shown = {s["service_id"] for s in answer["services"]}
    other = next(s for s in load_catalog().ids if s not in shown)
    rid = answer["request_id"]
    ok = _decide(api, request_id=rid, choice="other", service_id=other, reason="client's wish")
    assert ok.status_code == 201
    unknown = _decide(api, request_id=rid, choice="other", service_id="yoga", reason="x")
    assert unknown.status_code == 422
    assert "catalog" in unknown.json()["detail"][0]["msg"]
    suggested = _decide(
        api, request_id=rid, choice="other", service_id=next(iter(shown)), reason="x"
    )
    assert suggested.status_code == 422


def test_a_suggested_choice_must_have_been_suggested(api: TestClient) -> None:
    answer = _suggest(api)
    shown = {s["service_id"] for s in answer["services"]}
    other = next(s for s in load_catalog().ids if s not in shown)
    response = _decide(
        api, request_id=answer["request_id"], choice="suggested", service_id=other, reason="x"
    )
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "service_id"]


def test_choosing_none_needs_a_reason_and_no_service(api: TestClient) -> None:
    rid = _suggest(api)["request_id"]
    assert _decide(api, request_id=rid, choice="none").status_code == 422
    with_service = _decide(api, request_id=rid, choice="none", service_id="debt_advice", reason="x")
    assert with_service.status_code == 422
    response = _decide(api, request_id=rid, choice="none", reason="client found work")
    assert response.status_code == 201
    assert response.json()["service_id"] is None


def test_a_non_client_decision_needs_no_reason(api: TestClient) -> None:
    answer = _suggest(api, non_client_profile())
    assert answer["services"] == []
    response = _decide(api, request_id=answer["request_id"], choice="none")
    assert response.status_code == 201
    assert response.json()["followed_top"] is False


def test_unknown_request_id_answers_404(api: TestClient) -> None:
    response = _decide(api, request_id="f" * 32, choice="none", reason="x")
    assert response.status_code == 404


def test_malformed_request_id_answers_422(api: TestClient) -> None:
    response = _decide(api, request_id="../etc/passwd", choice="none")
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "request_id"]


def test_decisions_on_an_eligibility_check_are_refused(api: TestClient) -> None:
    check = api.post("/v1/eligibility", json={"profile": client_profile()}, headers=CASEWORKER)
    response = _decide(api, request_id=check.json()["request_id"], choice="none", reason="x")
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "request_id"]


def test_a_second_decision_is_refused_unless_it_is_an_explicit_correction(
    api: TestClient,
) -> None:
    # A second click 0.6 s later once recorded a contradicting decision that won in the
    # audit analysis: now it is a 409 unless it says it corrects the first, with a reason.
    answer = _suggest(api)
    rid, top = answer["request_id"], answer["services"][0]["service_id"]
    assert _decide(api, request_id=rid, choice="suggested", service_id=top).status_code == 201
    again = _decide(api, request_id=rid, choice="none", reason="mistake")
    assert again.status_code == 409
    assert "corrects" in again.json()["detail"]
    no_reason = _decide(api, request_id=rid, choice="suggested", service_id=top, corrects=True)
    assert no_reason.status_code == 422
    assert no_reason.json()["detail"][0]["loc"] == ["body", "reason"]
    corrected = _decide(api, request_id=rid, choice="none", reason="mistake", corrects=True)
    assert corrected.status_code == 201
    assert corrected.json()["corrects"] is True
    rows = [
        r
        for r in api.app.state.audit.records()  # type: ignore[attr-defined]
        if r["request_id"] == rid
    ]
    assert [r["choice"] for r in rows] == ["suggested", "none"]
    assert rows[0]["decision_id"] < rows[1]["decision_id"]
    assert all(r["decided_by"] == "desk-1" for r in rows)
    engine = api.app.state.audit.engine  # type: ignore[attr-defined]
    with engine.connect() as conn:
        events = conn.exec_driver_sql("select event, actor, request_id from security_events").all()
    assert ("decision_corrected", "desk-1", rid) in [tuple(e) for e in events]


def test_two_first_decisions_at_the_same_moment_record_one(
    api: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Two first decisions sent at once both pass the check made before the write (neither
    # sees the other yet); the writer's own check inside its transaction refuses the second.
    # Blinding the first check makes the race certain.
    monkeypatch.setattr(service.suggest, "decisions_of", lambda engine, request_id: [])
    answer = _suggest(api)
    rid, top = answer["request_id"], answer["services"][0]["service_id"]
    assert _decide(api, request_id=rid, choice="suggested", service_id=top).status_code == 201
    late = _decide(api, request_id=rid, choice="none", reason="clicked twice")
    assert late.status_code == 409
    assert "corrects" in late.json()["detail"]
    rows = [
        r
        for r in api.app.state.audit.records()  # type: ignore[attr-defined]
        if r["request_id"] == rid
    ]
    assert [r["choice"] for r in rows] == ["suggested"]


def test_a_correction_needs_a_decision_to_correct(api: TestClient) -> None:
    rid = _suggest(api)["request_id"]
    response = _decide(api, request_id=rid, choice="none", reason="x", corrects=True)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "corrects"]


def test_a_reason_holding_a_personal_identity_code_is_refused(api: TestClient) -> None:
    rid = _suggest(api)["request_id"]
    response = _decide(api, request_id=rid, choice="none", reason="asiakas 131052-308T kieltäytyi")
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "reason"]
    assert "131052-308T" not in response.text


def test_a_decision_answered_503_is_not_written_later(
    api: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The audit write lock held past the timeout: the caseworker is told the decision was
    # not recorded, so it must not be written once the lock frees (the retry got 409).
    suggestions = api.app.state.suggestions  # type: ignore[attr-defined]
    monkeypatch.setattr(suggestions, "_audit_timeout", 0.2)
    answer = _suggest(api)
    decision = {"request_id": answer["request_id"], "choice": "none", "reason": "waiting"}
    audit = suggestions.audit
    with audit._write_mutex:
        refused = _decide(api, **decision)
    assert refused.status_code == 503, refused.text
    # Once the writer has moved past the refused decision, nothing was written for it.
    probe = SecurityEventRecord(utc_now(), "decision_corrected", "probe", "probe")
    audit.submit_security_event(probe).result(timeout=10)
    assert decisions_of(audit.engine, answer["request_id"]) == []
    retried = _decide(api, **decision)
    assert retried.status_code == 201, retried.text
    assert len(decisions_of(audit.engine, answer["request_id"])) == 1
