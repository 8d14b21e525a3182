"""Schemathesis against the app in process (the live-server run is in test_live_server.py)."""

from __future__ import annotations

from typing import Any

import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from tests.service.helpers import auth

ROLE_OF_PATH = {
    "/v1/eligibility": "caseworker",
    "/v1/recommendations": "caseworker",
    "/v1/decisions": "caseworker",
    "/v1/services": "caseworker",
    "/v1/model": "evaluator",
    "/v1/admin/reload": "data_scientist",
    "/v1/admin/model-switch": "data_scientist",
    "/v1/audit/records": "evaluator",
}
CHECKS = [
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
    content_type_conformance,
]


def _fuzz(operation: Any, headers: dict[str, str]) -> None:
    @given(case=operation.as_strategy())
    @settings(
        max_examples=15,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def check(case: Any) -> None:
        case.call_and_validate(headers=headers, checks=CHECKS)

    check()


def test_schema_fuzzing_finds_no_5xx_and_no_answer_outside_the_schema(api: TestClient) -> None:
    # The app is already started by the `api` fixture (lifespan), so calls reach a model.
    schema = schemathesis.openapi.from_asgi("/openapi.json", api.app)
    # An invalid operation (Err) has no .ok() and fails the test.
    operations = [result.ok() for result in schema.get_all_operations()]  # type: ignore[union-attr]
    for operation in operations:
        role = ROLE_OF_PATH.get(operation.path)
        _fuzz(operation, auth(role) if role else {})
    assert len(operations) == 11
