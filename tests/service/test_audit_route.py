"""GET /v1/audit/records: evaluators page through suggestions joined with decisions."""

from __future__ import annotations

import datetime as dt

from fastapi.testclient import TestClient

from tests.service.helpers import auth, client_profile

CASEWORKER = auth("caseworker")
EVALUATOR = auth("evaluator")


def test_audit_records_page_through_suggestions_and_decisions(api: TestClient) -> None:
    ids = []
    for k in range(3):
        answer = api.post(
            "/v1/recommendations",
            json={"profile": client_profile(client_id=f"c{k}"), "top_k": 2},
            headers=CASEWORKER,
        ).json()
        ids.append(answer["request_id"])
    top = answer["services"][0]["service_id"]
    api.post(
        "/v1/decisions",
        json={"request_id": ids[-1], "choice": "suggested", "service_id": top},
        headers=CASEWORKER,
    )
    first = api.get("/v1/audit/records", params={"limit": 2}, headers=EVALUATOR).json()
    assert [r["request_id"] for r in first["records"]] == ids[:2]
    assert first["next_offset"] == 2
    rest = api.get("/v1/audit/records", params={"limit": 2, "offset": 2}, headers=EVALUATOR).json()
    assert rest["next_offset"] is None
    (last,) = rest["records"]
    assert last["request_id"] == ids[-1]
    assert last["choice"] == "suggested"
    assert last["followed_top"] is True
    assert last["ranking"][0]["service_id"] == top
    assert len(last["client_key"]) == 64
    assert "henkilotunnus" not in str(rest)
    assert client_profile()["henkilotunnus"] not in str(rest)
    # Times are answered in UTC with their offset (RFC 3339 date-time, as the schema says).
    for moment in (last["created_at"], last["decided_at"]):
        assert dt.datetime.fromisoformat(moment).utcoffset() == dt.timedelta(0)


def test_audit_records_refuse_a_bad_limit(api: TestClient) -> None:
    response = api.get("/v1/audit/records", params={"limit": 0}, headers=EVALUATOR)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["query", "limit"]
