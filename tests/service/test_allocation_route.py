"""POST /v1/allocations: a cohort allocated within the places, for data scientists, audited."""

from __future__ import annotations

import re
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

from service.audit.schema import security_events
from tests.service.helpers import auth, client_profile

DATA_SCIENTIST = auth("data_scientist")
LEVELS = ("A0", "A1", "A2", "B1", "B2", "C1", "native")


def _cohort(n: int) -> list[dict[str, Any]]:
    return [
        client_profile(
            client_id=f"client-{i:04d}",
            henkilotunnus="170500A9056" if i == 0 else None,
            birth_date=None if i == 0 else f"{1965 + i % 35}-0{1 + i % 9}-1{i % 9}",
            unemployment_months=1 + (7 * i) % 40,
            language_level=LEVELS[i % len(LEVELS)],
            mother_tongue="fi" if i % 3 else "so",
            debt_problems=i % 4 == 0,
            low_digital_skills=i % 5 == 0,
        )
        for i in range(n)
    ]


def test_a_data_scientist_allocates_a_cohort_within_the_places(api: TestClient) -> None:
    cohort = _cohort(40)
    response = api.post(
        "/v1/allocations",
        json={"profiles": cohort, "period_days": 7, "share": 0.02},
        headers=DATA_SCIENTIST,
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["solver_status"] == "optimal"
    assert [c["index"] for c in body["clients"]] == list(range(40))
    # No identity code (the run id and keys are hex, which the lenient scan would flag).
    assert "170500A9056" not in response.text
    assert re.search(r"\d{6}[-+A-FU-Y]\d{3}[0-9A-Y]", response.text) is None
    assert "client-0001" not in response.text
    assert len({c["client_key"] for c in body["clients"]}) == 40
    places = {s["service_id"]: s for s in body["services"]}
    given = [c for c in body["clients"] if c["service_id"] is not None]
    assert body["allocated"] == len(given) > 0
    for service_id, entry in places.items():
        taken = sum(c["service_id"] == service_id for c in given)
        assert taken == entry["used"] <= entry["places"]
        assert entry["left"] == entry["places"] - entry["used"]
    assert any(s["left"] == 0 and s["places"] > 0 for s in places.values())
    for c in given:
        assert c["rank_in_own_list"] >= 1
        assert c["uplift_low"] <= c["uplift"] <= c["uplift_high"]
        assert c["alternative_service_id"] != c["service_id"]
        if c["alternative_service_id"] is not None:
            assert places[c["alternative_service_id"]]["left"] > 0
    with api.app.state.audit.engine.connect() as conn:  # type: ignore[attr-defined]
        events = conn.execute(
            select(security_events.c.event, security_events.c.actor, security_events.c.request_id)
        ).all()
    assert ("allocation_run", "ds-1", body["run_id"]) in [tuple(e) for e in events]


def test_the_places_taken_this_month_bound_the_allocation(api: TestClient) -> None:
    cohort = _cohort(20)
    first = api.post(
        "/v1/allocations", json={"profiles": cohort, "period_days": 31}, headers=DATA_SCIENTIST
    ).json()
    some = next(s for s in first["services"] if s["used"] > 0)
    suggestions = api.app.state.suggestions  # type: ignore[attr-defined]
    left = suggestions.places.left(suggestions.catalog())
    # Pretend the month's places of that service are all taken already.
    suggestions.places.left = lambda catalog: {**left, some["service_id"]: 0}
    again = api.post(
        "/v1/allocations", json={"profiles": cohort, "period_days": 31}, headers=DATA_SCIENTIST
    ).json()
    entry = next(s for s in again["services"] if s["service_id"] == some["service_id"])
    assert entry["places"] == 0 and entry["used"] == 0


def test_only_data_scientists_and_team_leads_may_allocate(api: TestClient) -> None:
    for role in ("caseworker", "evaluator"):
        response = api.post("/v1/allocations", json={"profiles": _cohort(2)}, headers=auth(role))
        assert response.status_code == 401
    assert api.post("/v1/allocations", json={"profiles": _cohort(2)}).status_code == 401
    led = api.post("/v1/allocations", json={"profiles": _cohort(2)}, headers=auth("team_lead"))
    assert led.status_code == 200, led.text
    with api.app.state.audit.engine.connect() as conn:  # type: ignore[attr-defined]
        events = conn.execute(select(security_events.c.event, security_events.c.actor)).all()
    assert ("allocation_run", "lead-1") in [tuple(e) for e in events]


def test_an_invalid_profile_is_named_by_its_position(api: TestClient) -> None:
    cohort = _cohort(3)
    cohort[2]["unemployment_months"] = -4
    response = api.post("/v1/allocations", json={"profiles": cohort}, headers=DATA_SCIENTIST)
    assert response.status_code == 422
    locs = [e["loc"] for e in response.json()["detail"]]
    assert ["body", "profiles", 2, "unemployment_months"] in locs
    empty = api.post("/v1/allocations", json={"profiles": []}, headers=DATA_SCIENTIST)
    assert empty.status_code == 422
