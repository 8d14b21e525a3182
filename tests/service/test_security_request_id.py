"""The request id on the access line and on 500 answers (issue 13, point 8)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from service.access_log import ACCESS_LOGGER, log_config
from service.main import create_app
from tests.service.helpers import FakeLoaded, auth, client_profile, make_settings

CODE = "170500A9056"


@pytest.fixture
def failing_app(tmp_path: Path, loader: Callable[[], FakeLoaded]) -> Iterator[TestClient]:
    app: FastAPI = create_app(make_settings(tmp_path), model_loader=loader)

    async def fails() -> None:
        raise RuntimeError(f"an error quoting the input {CODE}")

    app.add_api_route("/v1/fails", fails, methods=["GET"])
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


@pytest.fixture
def caseworker_api(tmp_path: Path, loader: Callable[[], FakeLoaded]) -> Iterator[TestClient]:
    with TestClient(create_app(make_settings(tmp_path), model_loader=loader)) as client:
        yield client


def test_an_unhandled_error_answers_500_with_the_request_id_and_nothing_internal(
    failing_app: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO):
        response = failing_app.get("/v1/fails", headers={"X-Request-ID": "caller_id_0001"})
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {"detail": "internal error", "request_id": "caller_id_0001"}
    assert response.headers["x-request-id"] == "caller_id_0001"
    assert CODE not in caplog.text and "quoting the input" not in caplog.text
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1
    message = errors[0].getMessage()
    assert "RuntimeError" in message and "caller_id_0001" in message
    assert "test_security_request_id.py" in message  # where, so an operator can find it


def test_a_new_request_id_is_on_the_500_when_the_caller_sent_none(
    failing_app: TestClient,
) -> None:
    response = failing_app.get("/v1/fails")
    assert response.status_code == 500
    assert response.json()["request_id"] == response.headers["x-request-id"]
    assert len(response.headers["x-request-id"]) == 32


def test_every_access_line_carries_the_request_id_and_no_code(
    failing_app: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger=ACCESS_LOGGER):
        answers = [
            failing_app.get("/health/live"),
            failing_app.get("/v1/model"),  # 401
            failing_app.get("/v1/fails"),  # 500
            failing_app.get(f"/answers/{CODE[:6]}%2D{CODE[7:]}", follow_redirects=False),
            failing_app.get("/v1/model", headers=auth("data_scientist")),
        ]
    lines = [r.getMessage() for r in caplog.records if r.name == ACCESS_LOGGER]
    assert len(lines) == len(answers)
    for answer, line in zip(answers, lines, strict=True):
        assert f"request_id={answer.headers['x-request-id']}" in line
        assert f'" {answer.status_code} ' in line
    assert all(CODE not in line and CODE[:6] not in line for line in lines), lines


def test_the_access_line_names_the_audit_record_it_wrote_or_decided_on(
    caseworker_api: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger=ACCESS_LOGGER):
        body = {"profile": client_profile(), "top_k": 3}
        answer = caseworker_api.post("/v1/recommendations", json=body, headers=auth("caseworker"))
        assert answer.status_code == 200, answer.text
        audit_id = answer.json()["request_id"]
        decision = {"request_id": audit_id, "choice": "none", "reason": "client declined"}
        decided = caseworker_api.post("/v1/decisions", json=decision, headers=auth("caseworker"))
        assert decided.status_code == 201, decided.text
        health = caseworker_api.get("/health/live")
    lines = [r.getMessage() for r in caplog.records if r.name == ACCESS_LOGGER]
    assert len(lines) == 3
    assert audit_id != answer.headers["x-request-id"]  # two ids: the line joins them
    assert f"request_id={answer.headers['x-request-id']} audit_id={audit_id}" in lines[0]
    assert f"request_id={decided.headers['x-request-id']} audit_id={audit_id}" in lines[1]
    assert health.status_code == 200 and "audit_id=" not in lines[2]


def test_serve_turns_uvicorns_access_line_off_and_the_services_on() -> None:
    config = log_config(access_log=True)
    assert config["loggers"]["uvicorn.access"]["handlers"] == []
    assert config["loggers"][ACCESS_LOGGER]["level"] == "INFO"
    assert all(h["filters"] == ["redact"] for h in config["handlers"].values())
    assert log_config(access_log=False)["loggers"][ACCESS_LOGGER]["level"] == "WARNING"
    logging.config.dictConfig(config)  # a config logging accepts, its filter importable


def test_new_request_ids_never_look_like_an_identity_code() -> None:
    from models.henkilotunnus import contains_henkilotunnus
    from service.request_id import new_request_id

    ids = [new_request_id() for _ in range(2000)]
    assert not any(contains_henkilotunnus(i) for i in ids)
    assert all(len(i) == 32 and int(i, 16) >= 0 for i in ids)
    assert len(set(ids)) == len(ids)


def test_a_callers_request_id_shaped_like_a_code_is_not_echoed(failing_app: TestClient) -> None:
    response = failing_app.get("/health/live", headers={"X-Request-ID": f"id_{CODE}"})
    assert CODE not in response.headers["x-request-id"]


def test_a_code_with_a_space_written_as_plus_in_a_query_is_redacted(
    failing_app: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    # Found by the echo scan of bench/bench_security_review.py: httpx and browsers write a
    # space as "+" in a query string, so "170500 A9056" reached the access line as-is.
    with caplog.at_level(logging.INFO, logger=ACCESS_LOGGER):
        for disguised in ("170500+A9056", "170500A+9056", "170500+A+9056"):
            failing_app.get(f"/v1/audit/records?since={disguised}", headers=auth("evaluator"))
    lines = [r.getMessage() for r in caplog.records if r.name == ACCESS_LOGGER]
    assert len(lines) == 3
    assert all("170500" not in line and "[redacted]" in line for line in lines), lines


def test_a_client_gone_mid_request_is_no_error(
    tmp_path: Path, loader: Callable[[], FakeLoaded], caplog: pytest.LogCaptureFixture
) -> None:
    from starlette.requests import ClientDisconnect

    app: FastAPI = create_app(make_settings(tmp_path), model_loader=loader)

    async def gone() -> None:
        raise ClientDisconnect()

    app.add_api_route("/v1/gone", gone, methods=["GET"])
    with TestClient(app, raise_server_exceptions=False) as client, caplog.at_level(logging.INFO):
        client.get("/v1/gone")
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    access = [r.getMessage() for r in caplog.records if r.name == ACCESS_LOGGER]
    assert len(access) == 1 and '" - ' in access[0]  # no status: nothing was answered
