"""Bodies that are not UTF-8 JSON: a documented 422, only after the role check."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient

from service.errors import NOT_JSON, NOT_UTF8
from tests.service.helpers import auth, client_profile

CODE = "170500A9056"
# Every route that reads a JSON body: its method, the role it serves and a role it refuses.
BODY_ROUTES = {
    "/v1/eligibility": ("POST", "caseworker", "evaluator"),
    "/v1/recommendations": ("POST", "caseworker", "evaluator"),
    "/v1/decisions": ("POST", "caseworker", "evaluator"),
    "/v1/admin/model-switch": ("PUT", "data_scientist", "caseworker"),
    "/v1/allocations": ("POST", "data_scientist", "caseworker"),
}
NOT_UTF8_BODIES = {
    "latin-1": f'{{"profile": {{"client_id": "Äijä", "henkilotunnus": "{CODE}"}}}}'.encode(
        "latin-1"
    ),
    "utf-16": b'{"profile": {}}'.decode().encode("utf-16"),
    "lone-byte": b'{"profile": "\xff"}',
}


def _post(api: TestClient, path: str, body: bytes, headers: dict[str, str]) -> Any:
    method = BODY_ROUTES[path][0]
    return api.request(
        method, path, content=body, headers={"Content-Type": "application/json", **headers}
    )


@pytest.mark.parametrize("name", sorted(NOT_UTF8_BODIES))
@pytest.mark.parametrize("path", BODY_ROUTES)
def test_a_body_that_is_not_utf8_is_answered_only_after_the_role_check(
    api: TestClient, path: str, name: str
) -> None:
    body = NOT_UTF8_BODIES[name]
    _, role, other_role = BODY_ROUTES[path]
    assert _post(api, path, body, {}).status_code == 401
    assert _post(api, path, body, auth(other_role)).status_code == 401  # a key of another role
    answer = _post(api, path, body, auth(role))
    assert answer.status_code == 422
    assert answer.json() == {"detail": [{"loc": ["body"], "msg": NOT_UTF8, "type": "json_invalid"}]}
    assert len(answer.headers["x-request-id"]) == 32
    assert CODE not in answer.text


@pytest.mark.parametrize("path", BODY_ROUTES)
def test_a_body_that_is_not_json_is_answered_only_after_the_role_check(
    api: TestClient, path: str
) -> None:
    body = f'{{"profile": {{"henkilotunnus": "{CODE}"'.encode()  # cut short
    assert _post(api, path, body, {}).status_code == 401
    answer = _post(api, path, body, auth(BODY_ROUTES[path][1]))
    assert answer.status_code == 422
    assert answer.json()["detail"] == [{"loc": ["body"], "msg": NOT_JSON, "type": "json_invalid"}]
    assert CODE not in answer.text


@pytest.mark.parametrize("path", BODY_ROUTES)
def test_a_deeply_nested_body_is_answered_422_only_after_the_role_check(
    api: TestClient, path: str
) -> None:
    body = ("[" * 30000 + "]" * 30000).encode()  # beyond the JSON decoder's recursion limit
    assert _post(api, path, body, {}).status_code == 401
    answer = _post(api, path, body, auth(BODY_ROUTES[path][1]))
    assert answer.status_code == 422, answer.text
    assert answer.json()["detail"] == [{"loc": ["body"], "msg": NOT_JSON, "type": "json_invalid"}]


def test_readable_bodies_are_untouched(api: TestClient) -> None:
    profile = {"profile": client_profile()}
    for content_type in ("application/json", "application/json; charset=utf-8"):
        headers = {**auth("caseworker"), "Content-Type": content_type}
        answer = api.post("/v1/eligibility", content=json.dumps(profile), headers=headers)
        assert answer.status_code == 200, (content_type, answer.text)
    missing = api.post("/v1/eligibility", json={}, headers=auth("caseworker"))
    assert missing.status_code == 422 and missing.json()["detail"][0]["type"] == "missing"


def test_every_route_with_a_json_body_requires_it(api: TestClient) -> None:
    # The middleware hands an unreadable body on as an empty one: an optional body would
    # then be accepted as absent instead of answered 422.
    schema = api.get("/openapi.json").json()
    with_body = {
        path: operation["requestBody"]
        for path, operations in schema["paths"].items()
        for operation in operations.values()
        if "application/json" in operation.get("requestBody", {}).get("content", {})
    }
    assert sorted(with_body) == sorted(BODY_ROUTES)
    assert all(body.get("required") for body in with_body.values())
