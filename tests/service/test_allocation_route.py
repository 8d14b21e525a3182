"""POST /v1/allocations: a cohort allocated within the places, for data scientists, audited."""

from __future__ import annotations

import itertools
import logging
import re
import uuid
from typing import Any, get_args

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from models import allocation
from models.bundle import PolkuModel
from models.groupings import GROUPINGS
from models.henkilotunnus import contains_henkilotunnus
from models.objectives import DEFAULT_OBJECTIVE, Objective
from models.profile_validation import parse_profile_frame
from pipeline.allocation.plan import AllocationOptions, allocate_cohort
from service.access_log import ACCESS_LOGGER
from service.audit.schema import security_events
from service.errors import redact
from service.routes.allocation import AllocationRequest
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


def test_the_do_no_harm_floors_are_on_by_default_and_off_when_asked(api: TestClient) -> None:
    cohort = _cohort(40)
    floored = api.post(
        "/v1/allocations", json={"profiles": cohort, "share": 0.02}, headers=DATA_SCIENTIST
    )
    assert floored.status_code == 200, floored.text
    body = floored.json()
    assert body["do_no_harm"] == "floors"
    # One floor per group of every grouping, as `polku allocate` reports them.
    assert {name.split("=")[0] for name in body["group_floors"]} == set(GROUPINGS)
    assert "language_group=foreign_language" in body["group_floors"]
    assert all(floor >= 0.0 for floor in body["group_floors"].values())
    assert set(body["binding_floors"]) <= set(body["group_floors"])
    off = api.post(
        "/v1/allocations",
        json={"profiles": cohort, "share": 0.02, "do_no_harm": False},
        headers=DATA_SCIENTIST,
    ).json()
    assert off["do_no_harm"] == "off"
    assert off["group_floors"] == {} and off["binding_floors"] == []


def test_do_no_harm_must_be_a_boolean(api: TestClient) -> None:
    for bad in ("maybe", "false", 0, None):
        response = api.post(
            "/v1/allocations",
            json={"profiles": _cohort(2), "do_no_harm": bad},
            headers=DATA_SCIENTIST,
        )
        assert response.status_code == 422, bad
        assert ["body", "do_no_harm"] in [e["loc"] for e in response.json()["detail"]]


def test_the_api_sets_the_floors_polku_allocate_sets(
    api: TestClient, tiny_model: PolkuModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The tiny model rates practice's choices at or below 0, so every floor is 0 on either
    # path: what each path hands the one floor rule is compared as well as what it answers.
    calls: list[tuple[Any, ...]] = []

    def recorded(*args: Any, **kwargs: Any) -> list[allocation.GroupFloor]:
        calls.append((*args, kwargs["spread"]))
        return floor_rule(*args, **kwargs)

    floor_rule = allocation.do_no_harm_floors
    monkeypatch.setattr(allocation, "do_no_harm_floors", recorded)
    cohort = _cohort(41)[1:]  # without the identity code: the frame is read as a table
    body = api.post(
        "/v1/allocations", json={"profiles": cohort, "share": 0.05}, headers=DATA_SCIENTIST
    ).json()
    frame = parse_profile_frame(pd.DataFrame(cohort)).frame.reset_index(drop=True)
    places = np.array([s["places"] for s in body["services"]])
    assert [s["service_id"] for s in body["services"]] == list(tiny_model.service_ids)
    offline = allocate_cohort(
        tiny_model,
        frame,
        frame["client_id"].to_numpy(),
        "client_id",
        Objective.parse(DEFAULT_OBJECTIVE),
        places,
        AllocationOptions(),
    )
    assert offline.do_no_harm == body["do_no_harm"] == "floors"
    assert body["group_floors"] == pytest.approx(offline.allocation.floors, abs=1e-12)
    assert body["binding_floors"] == list(offline.allocation.binding)
    assert [c["service_id"] for c in body["clients"]] == offline.clients["service_id"].tolist()
    served, cli = calls
    practice, gain, floor_places, groupings, spread = served
    np.testing.assert_allclose(practice, cli[0], atol=1e-12)
    np.testing.assert_allclose(gain, cli[1], atol=1e-12)
    np.testing.assert_array_equal(floor_places, cli[2])
    assert list(groupings) == list(GROUPINGS) == list(cli[3])
    for grouping in GROUPINGS:
        assert groupings[grouping].tolist() == cli[3][grouping].tolist()
    np.testing.assert_allclose(spread, cli[4], atol=1e-12)


def test_the_run_id_never_looks_like_a_code_and_joins_the_log_lines(
    api: TestClient, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Every other draw is a hex id the log redaction takes for a code (about one random id
    # in eight is): an id drawn once, unchecked, gets one.
    shaped = uuid.UUID(hex="131052a3080000000000000000000000")
    draws = itertools.count()
    real = uuid.uuid4
    monkeypatch.setattr(uuid, "uuid4", lambda: shaped if next(draws) % 2 == 0 else real())
    with caplog.at_level(logging.INFO):
        response = api.post(
            "/v1/allocations", json={"profiles": _cohort(3)}, headers=DATA_SCIENTIST
        )
    assert response.status_code == 200, response.text
    run_id = response.json()["run_id"]
    assert not contains_henkilotunnus(run_id)
    said = [r.getMessage() for r in caplog.records if r.getMessage().startswith("allocation ")]
    assert said and f"allocation {run_id}:" in said[0] and redact(said[0]) == said[0]
    access = [r.getMessage() for r in caplog.records if r.name == ACCESS_LOGGER]
    assert access and access[-1].endswith(f"audit_id={run_id}")


def test_the_ranked_reading_places_only_where_the_shown_uplift_helps(api: TestClient) -> None:
    cohort = _cohort(40)
    body = {"profiles": cohort, "period_days": 7, "share": 0.02}
    ranked = api.post(
        "/v1/allocations", json={**body, "uncertainty": "ranked"}, headers=DATA_SCIENTIST
    )
    assert ranked.status_code == 200, ranked.text
    given = [c for c in ranked.json()["clients"] if c["service_id"] is not None]
    # A pair is given only where the shown uplift is positive (or 0, the ranking's own > 0).
    assert given and all(c["uplift"] >= 0 for c in given)
    refused = api.post(
        "/v1/allocations", json={**body, "uncertainty": "median"}, headers=DATA_SCIENTIST
    )
    assert refused.status_code == 422
    assert "uncertainty" in refused.text
    # Unnamed, the reading is the default one, the same as polku allocate's.
    default = api.post("/v1/allocations", json=body, headers=DATA_SCIENTIST)
    assert default.status_code == 200, default.text
    assert default.json()["uncertainty"] == allocation.DEFAULT_UNCERTAINTY == "ranked"
    assert [c["service_id"] for c in default.json()["clients"]] == [
        c["service_id"] for c in ranked.json()["clients"]
    ]


def test_the_api_offers_every_reading_the_programme_knows() -> None:
    annotation = AllocationRequest.model_fields["uncertainty"].annotation
    assert get_args(annotation) == allocation.UNCERTAINTY
