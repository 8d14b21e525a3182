"""Object-level authorisation: only the caseworker who asked (or their team) decides.

A second caseworker's decision on the first one's request is refused with 403, on the API
and on the page, and the attempt is written to the audit store as a security event.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from service.audit.schema import security_events
from service.authz import DecisionRule
from service.main import create_app
from service.pages import answers
from service.pages.session import page_secret
from tests.service.helpers import KEYS, client_profile, make_settings
from tests.service.test_page import _answer, _csrf, _sign_in

SECOND_KEY = "second-caseworker-key-02"
THIRD_KEY = "third-caseworker-key-003"


def _settings(tmp_path: Path, **changes: Any) -> Any:
    keys = {"desk-1": KEYS["caseworker"], "desk-2": SECOND_KEY, "desk-3": THIRD_KEY}
    return make_settings(tmp_path, caseworker_keys=keys, **changes)


@pytest.fixture
def two_desks(tmp_path: Path, loader: Callable[[], Any]) -> Iterator[TestClient]:
    with TestClient(create_app(_settings(tmp_path), model_loader=loader)) as client:
        yield client


def _ask(api: TestClient, key: str) -> dict[str, Any]:
    response = api.post(
        "/v1/recommendations",
        json={"profile": client_profile(), "top_k": 3},
        headers={"Authorization": f"Bearer {key}"},
    )
    assert response.status_code == 200
    return dict(response.json())


def _decide(api: TestClient, key: str, answer: dict[str, Any]) -> Any:
    body = {
        "request_id": answer["request_id"],
        "choice": "suggested",
        "service_id": answer["services"][0]["service_id"],
    }
    return api.post("/v1/decisions", json=body, headers={"Authorization": f"Bearer {key}"})


def _events(api: TestClient) -> list[tuple[str, str | None, str | None]]:
    engine = api.app.state.audit.engine  # type: ignore[attr-defined]
    with engine.connect() as conn:
        rows = conn.execute(
            select(security_events.c.event, security_events.c.actor, security_events.c.request_id)
        ).all()
    return [tuple(r) for r in rows]


def test_api_decision_on_another_caseworkers_request_is_refused_and_audited(
    two_desks: TestClient,
) -> None:
    answer = _ask(two_desks, KEYS["caseworker"])
    refused = _decide(two_desks, SECOND_KEY, answer)
    assert refused.status_code == 403
    assert answer["request_id"] not in refused.text
    assert two_desks.app.state.audit.count("decisions") == 0  # type: ignore[attr-defined]
    assert _events(two_desks) == [("decision_refused", "desk-2", answer["request_id"])]
    # The asker still decides.
    assert _decide(two_desks, KEYS["caseworker"], answer).status_code == 201


def test_team_rule_lets_a_colleague_decide_but_not_another_team(
    tmp_path: Path, loader: Callable[[], Any]
) -> None:
    teams = {"desk-1": "kallio", "desk-2": "kallio", "desk-3": "itakeskus"}
    settings = _settings(tmp_path, caseworker_teams=teams)
    with TestClient(create_app(settings, model_loader=loader)) as api:
        answer = _ask(api, KEYS["caseworker"])
        assert _decide(api, THIRD_KEY, answer).status_code == 403
        assert _decide(api, SECOND_KEY, answer).status_code == 201


def test_decision_rule() -> None:
    rule = DecisionRule({"a": "t", "b": "t", "c": "u"})
    assert rule.allows("a", "a") and rule.allows("a", "b")
    assert not rule.allows("a", "c") and not rule.allows("d", "e")
    assert not rule.allows(None, "a") and not rule.allows("a", None)
    assert not DecisionRule().allows("a", "b")


def test_page_decision_on_another_caseworkers_request_is_refused_and_audited(
    two_desks: TestClient,
) -> None:
    _sign_in(two_desks)
    request_id, _ = _answer(two_desks)
    secret = page_secret(SimpleNamespace(app=two_desks.app))  # type: ignore[arg-type]
    held = answers.unseal(
        two_desks.cookies["polku_answer"], secret, request_id=request_id, owner="desk-1"
    )
    assert held is not None
    # desk-2 signs in and holds a well-sealed answer naming itself as the owner: the page
    # shows it, but the service layer refuses the decision on desk-1's request.
    two_desks.cookies.clear()
    token = _csrf(two_desks.get("/signin").text)
    two_desks.post("/signin", data={"csrf_token": token, "key": SECOND_KEY})
    forged = answers.seal(dataclasses.replace(held, owner="desk-2"), secret)
    two_desks.cookies.set("polku_answer", forged, path="/answers/")
    page = two_desks.get(answers.answer_path(request_id))
    assert page.status_code == 200
    top = held.ranking[0].service_id if held.ranking else ""
    refused = two_desks.post(
        f"{answers.answer_path(request_id)}/decision",
        data={"csrf_token": _csrf(page.text), "choice": f"suggested:{top}"},
        follow_redirects=False,
    )
    assert refused.status_code == 403
    assert "only they record its decision" in refused.text or "vain hän" in refused.text
    assert two_desks.app.state.audit.count("decisions") == 0  # type: ignore[attr-defined]
    assert _events(two_desks) == [("decision_refused", "desk-2", request_id)]
