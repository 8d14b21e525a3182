"""Roles: 401 without credentials and for any key not of the route's roles, except health."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from service.auth import KeyRing
from service.main import create_app
from tests.service.helpers import KEYS, auth, client_profile, make_settings

# (method, path, body, roles allowed)
ROUTES: list[tuple[str, str, dict[str, Any] | None, set[str]]] = [
    ("POST", "/v1/eligibility", {"profile": client_profile()}, {"caseworker"}),
    ("POST", "/v1/recommendations", {"profile": client_profile()}, {"caseworker"}),
    (
        "POST",
        "/v1/decisions",
        {"request_id": "0" * 32, "choice": "none"},
        {"caseworker"},
    ),
    ("GET", "/v1/services", None, {"caseworker", "data_scientist", "evaluator", "team_lead"}),
    ("GET", "/v1/model", None, {"caseworker", "data_scientist", "evaluator", "team_lead"}),
    ("POST", "/v1/admin/reload", None, {"data_scientist"}),
    ("GET", "/v1/admin/model-switch", None, {"data_scientist", "evaluator"}),
    (
        "PUT",
        "/v1/admin/model-switch",
        {"model_on": True, "reason": "role check"},
        {"data_scientist"},
    ),
    ("POST", "/v1/allocations", {"profiles": [client_profile()]}, {"data_scientist", "team_lead"}),
    ("GET", "/v1/audit/records", None, {"evaluator"}),
]


def _call(api: TestClient, method: str, path: str, body: Any, headers: dict[str, str]) -> Any:
    return api.request(method, path, json=body, headers=headers)


def test_route_table_covers_every_protected_route(api: TestClient) -> None:
    paths = api.get("/openapi.json").json()["paths"]
    protected = {
        (method.upper(), path)
        for path, operations in paths.items()
        if not path.startswith("/health")
        for method in operations
    }
    assert protected == {(method, path) for method, path, _, _ in ROUTES}


def test_every_operation_documents_a_response_schema(api: TestClient) -> None:
    paths = api.get("/openapi.json").json()["paths"]
    for path, operations in paths.items():
        for method, operation in operations.items():
            success = {code: r for code, r in operation["responses"].items() if code < "300"}
            assert success, (method, path)
            for response in success.values():
                schema = response["content"]["application/json"]["schema"]
                assert schema, (method, path)


@pytest.mark.parametrize(("method", "path", "body", "roles"), ROUTES)
def test_routes_without_credentials_answer_401(
    api: TestClient, method: str, path: str, body: Any, roles: set[str]
) -> None:
    response = _call(api, method, path, body, {})
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize(("method", "path", "body", "roles"), ROUTES)
def test_routes_with_unknown_key_answer_401(
    api: TestClient, method: str, path: str, body: Any, roles: set[str]
) -> None:
    response = _call(api, method, path, body, {"X-API-Key": "not-a-key"})
    assert response.status_code == 401


@pytest.mark.parametrize(("method", "path", "body", "roles"), ROUTES)
def test_routes_answer_other_roles_exactly_like_unknown_keys(
    api: TestClient, method: str, path: str, body: Any, roles: set[str]
) -> None:
    # Issue 13: a 403 for another role's key told that the key is valid; now every key that
    # is not of the route's roles gets the unknown key's answer.
    unknown = _call(api, method, path, body, {"X-API-Key": "not-a-key"})
    for role in set(KEYS) - roles:
        response = _call(api, method, path, body, auth(role))
        assert response.status_code == 401, role
        assert response.json() == unknown.json()
        assert response.headers["www-authenticate"] == unknown.headers["www-authenticate"]


@pytest.mark.parametrize(("method", "path", "body", "roles"), ROUTES)
def test_routes_admit_their_roles(
    api: TestClient, method: str, path: str, body: Any, roles: set[str]
) -> None:
    for role in roles:
        response = _call(api, method, path, body, auth(role))
        assert response.status_code not in (401, 403), role


def test_api_key_header_works_like_bearer(api: TestClient) -> None:
    response = api.get("/v1/services", headers={"X-API-Key": KEYS["evaluator"]})
    assert response.status_code == 200


def test_health_routes_need_no_credentials(api: TestClient) -> None:
    assert api.get("/health/live").json() == {"status": "ok"}
    assert api.get("/health/ready").status_code == 200


def test_keyring_refuses_a_key_shared_by_two_roles() -> None:
    with pytest.raises(ValueError, match="also configured"):
        KeyRing({"caseworker": {"a": "same-key"}, "evaluator": {"b": "same-key"}})


def test_app_refuses_to_start_without_keys(tmp_path: Any) -> None:
    settings = make_settings(
        tmp_path, caseworker_keys={}, data_scientist_keys={}, evaluator_keys={}, team_lead_keys={}
    )
    with pytest.raises(RuntimeError, match="no API keys configured"):
        create_app(settings)


def test_dev_keys_are_accepted_only_when_enabled(tmp_path: Any) -> None:
    plain = make_settings(tmp_path).api_keys()
    assert "dev-caseworker-key" not in plain["caseworker"].values()
    dev = make_settings(tmp_path, dev_keys=True).api_keys()
    assert dev["caseworker"]["dev-caseworker"] == "dev-caseworker-key"
    assert dev["team_lead"]["dev-team-lead"] == "dev-team-lead-key"


def test_the_docs_say_another_roles_key_gets_401_as_the_code_answers() -> None:
    # docs/SERVICE.md once said 403, against service/auth.py and docs/SECURITY.md.
    docs = Path(__file__).resolve().parents[2] / "docs"
    for name in ("SERVICE.md", "SECURITY.md"):
        text = " ".join((docs / name).read_text(encoding="utf-8").split())
        assert not re.search(r"another role[^.]*\b403\b", text), name
        assert re.search(r"another role[^.]*\b401\b", text), name
