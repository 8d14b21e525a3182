"""The model's kill switch: off gives gate-only answers marked degraded, audited, reversible,
shared through the audit database (restarts and other workers follow it)."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from models.profile import BARRIER_FLAGS
from service.main import create_app
from service.settings import Settings
from tests.service.helpers import (
    KEYS,
    FakeLoaded,
    auth,
    client_profile,
    make_settings,
)

OFF = {"model_on": False, "reason": "uplifts look wrong after the catalog change"}
ON = {"model_on": True, "reason": "retrained and checked"}


def _switch(api: TestClient, body: dict[str, Any], role: str = "data_scientist") -> Any:
    return api.put("/v1/admin/model-switch", json=body, headers=auth(role))


def _recommend(api: TestClient, **changes: Any) -> Any:
    return api.post(
        "/v1/recommendations",
        json={"profile": client_profile(**changes), "language": "en"},
        headers=auth("caseworker"),
    )


def test_switched_off_answers_are_gate_only_degraded_and_audited(api: TestClient) -> None:
    switched = _switch(api, OFF)
    assert switched.status_code == 200, switched.text
    body = switched.json()
    assert body["model_on"] is False and body["changed"] is True
    assert body["changed_by"] == "ds-1" and body["reason"] == OFF["reason"]
    assert body["changed_at"].endswith("Z") or body["changed_at"].endswith("+00:00")

    response = _recommend(api)
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["degraded"] is True
    assert "switched off" in answer["degraded_reason"]
    assert answer["decision"]["eligible"] is True
    assert answer["services"] == []  # no ranking, no model numbers
    opened = [s["service_id"] for s in answer["open_services"]]
    catalog = api.app.state.suggestions.catalog()  # type: ignore[attr-defined]
    assert opened and opened == [s for s in catalog.ids if s in set(opened)]  # catalog order
    assert not any(key in s for s in answer["open_services"] for key in ("uplift", "rank"))

    store = api.app.state.audit  # type: ignore[attr-defined]
    record = store.suggestion(answer["request_id"])
    assert record.degraded is True and record.ranking == "[]"
    assert record.model_version == answer["versions"]["model_version"] == "7"
    event = store.latest_switch_event()
    assert (event.actor, event.model_on, event.reason) == ("ds-1", False, OFF["reason"])
    assert event.catalog_version == answer["versions"]["catalog_version"]
    assert store.verify().ok

    # A non-client is still told so, and gets no services at all.
    refused = _recommend(api, home_municipality="049").json()
    assert refused["degraded"] is True and refused["open_services"] == []
    assert refused["decision"]["eligible"] is False

    # Switching to the state in force writes nothing.
    again = _switch(api, OFF).json()
    assert again["changed"] is False and store.count("model_switch_events") == 1


def test_only_data_scientists_switch(api: TestClient) -> None:
    for role in ("caseworker", "evaluator"):
        response = _switch(api, OFF, role)
        assert response.status_code == 401, role  # the service's answer to a key of another role
    assert api.app.state.audit.count("model_switch_events") == 0  # type: ignore[attr-defined]
    assert _recommend(api).json()["degraded"] is False
    seen = api.get("/v1/admin/model-switch", headers=auth("evaluator"))
    assert seen.status_code == 200 and seen.json()["model_on"] is True
    assert api.get("/v1/admin/model-switch", headers=auth("caseworker")).status_code == 401


def test_switching_on_again_restores_the_ranking_and_both_switches_are_audited(
    api: TestClient,
) -> None:
    _switch(api, OFF)
    assert _recommend(api).json()["degraded"] is True
    back = _switch(api, ON).json()
    assert back["model_on"] is True and back["changed"] is True
    answer = _recommend(api).json()
    assert answer["degraded"] is False and answer["degraded_reason"] is None
    assert answer["services"] and answer["services"][0]["uplift"] is not None
    store = api.app.state.audit  # type: ignore[attr-defined]
    assert store.count("model_switch_events") == 2
    assert store.latest_switch_event().reason == ON["reason"]


def test_the_switch_survives_a_restart(
    settings: Settings, loader: Callable[[], FakeLoaded]
) -> None:
    with TestClient(create_app(settings, model_loader=loader)) as first:
        assert _switch(first, OFF).status_code == 200
    with TestClient(create_app(settings, model_loader=loader)) as second:
        state = second.get("/v1/admin/model-switch", headers=auth("data_scientist")).json()
        assert state["model_on"] is False and state["changed_by"] == "ds-1"
        assert _recommend(second).json()["degraded"] is True


def test_another_worker_follows_the_switch_within_its_refresh(
    tmp_path: Path, loader: Callable[[], FakeLoaded]
) -> None:
    settings = make_settings(tmp_path, model_switch_refresh_seconds=0.05)
    with (
        TestClient(create_app(settings, model_loader=loader)) as one,
        TestClient(create_app(settings, model_loader=loader)) as other,
    ):
        assert _recommend(other).json()["degraded"] is False
        _switch(one, OFF)
        deadline = time.monotonic() + 5
        while _recommend(other).json()["degraded"] is False:
            assert time.monotonic() < deadline, "the other worker never followed the switch"
            time.sleep(0.02)


def test_switched_off_answers_need_no_model(api_without_model: TestClient) -> None:
    assert _recommend(api_without_model).status_code == 503
    assert _switch(api_without_model, OFF).status_code == 200
    response = _recommend(api_without_model)
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["degraded"] is True and answer["model_version"] is None
    assert answer["open_services"] and answer["versions"]["catalog_version"]


def test_a_decision_on_a_degraded_answer_chooses_from_the_catalog(api: TestClient) -> None:
    _switch(api, OFF)
    answer = _recommend(api).json()
    base = {"request_id": answer["request_id"]}
    chosen = answer["open_services"][0]["service_id"]
    suggested = api.post(
        "/v1/decisions",
        json={**base, "choice": "suggested", "service_id": chosen},
        headers=auth("caseworker"),
    )
    assert suggested.status_code == 422  # nothing was suggested
    other = api.post(
        "/v1/decisions",
        json={**base, "choice": "other", "service_id": chosen},
        headers=auth("caseworker"),
    )
    assert other.status_code == 201, other.text
    assert other.json()["versions"] == answer["versions"]


def test_a_switch_reason_with_an_identity_code_is_refused_unechoed(api: TestClient) -> None:
    code = "170500A9056"
    response = _switch(api, {"model_on": False, "reason": f"client {code} complained"})
    assert response.status_code == 422
    assert code not in response.text
    blank = _switch(api, {"model_on": False, "reason": "   "})
    assert blank.status_code == 422
    assert api.app.state.audit.count("model_switch_events") == 0  # type: ignore[attr-defined]


def test_the_page_says_plainly_that_the_model_is_off(api: TestClient) -> None:
    _switch(api, OFF)

    def csrf(html: str) -> str:
        match = re.search(r'name="csrf_token" value="([^"]+)"', html)
        assert match
        return match.group(1)

    api.post(
        "/signin",
        data={"csrf_token": csrf(api.get("/signin").text), "key": KEYS["caseworker"]},
        follow_redirects=False,
    )
    form = {
        name: ("true" if value else "false") if isinstance(value, bool) else str(value)
        for name, value in client_profile().items()
        if not (name in BARRIER_FLAGS and not value)  # a browser sends ticked boxes only
    }
    posted = api.post("/", data={**form, "csrf_token": csrf(api.get("/").text)})
    assert posted.status_code == 200, posted.text[:300]
    assert 'id="model-off"' in posted.text
    assert 'id="no-model"' not in posted.text
    assert 'class="service"' not in posted.text
