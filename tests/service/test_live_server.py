"""Against a real `polku serve` on loopback: reload under load, kill -9, schema, no codes leak."""

from __future__ import annotations

import datetime as dt
import random
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from models import persistence
from models.bundle import PolkuModel
from models.henkilotunnus import format_henkilotunnus
from tests.helpers import wait_until
from tests.service.helpers import (
    LiveServer,
    auth,
    client_profile,
    copy_registry,
    non_client_profile,
    start_server,
    tracking_uri,
)

CASEWORKER = auth("caseworker")

# Each test starts real servers (MLflow import, champion load) and the registry is built in
# a subprocess: about 35 s in all on an idle 2-core machine, so they stay in the default
# suite; run them alone with `pytest tests/service/test_live_server.py`.


@pytest.fixture(scope="session")
def registry_root(tmp_path_factory: pytest.TempPathFactory, tiny_model: PolkuModel) -> Path:
    """A registry with versions 1 (champion) and 2 of the tiny model, built once."""
    root = tmp_path_factory.mktemp("registry")
    model_path = tmp_path_factory.mktemp("tiny-model") / "model.polku"
    persistence.dump(tiny_model, model_path)
    subprocess.run(
        [sys.executable, "-m", "tests.service.registry_builder", str(root), str(model_path)],
        check=True,
        capture_output=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    return root


@pytest.fixture(scope="module")
def live(registry_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """One server shared by the read-mostly tests of this module."""
    server = start_server(tmp_path_factory.mktemp("live"), registry_root)
    yield server
    server.stop()


def _load(base_url: str, stop: threading.Event, results: list[tuple[int, str | None]]) -> None:
    with httpx.Client(base_url=base_url, headers=CASEWORKER, timeout=30) as http:
        while not stop.is_set():
            response = http.post("/v1/recommendations", json={"profile": client_profile()})
            version = response.json().get("model_version") if response.status_code == 200 else None
            results.append((response.status_code, version))


def test_swapping_the_champion_under_load_loses_no_request(
    registry_root: Path, tmp_path: Path
) -> None:
    from mlflow.tracking import MlflowClient

    registry = copy_registry(registry_root, tmp_path / "registry")
    server = start_server(tmp_path / "state", registry)
    try:
        stop = threading.Event()
        per_thread: list[list[tuple[int, str | None]]] = [[] for _ in range(4)]
        threads = [
            threading.Thread(target=_load, args=(server.base_url, stop, r)) for r in per_thread
        ]
        for thread in threads:
            thread.start()
        wait_until(
            lambda: all(any(v == "1" for _, v in rows) for rows in per_thread),
            60,
            "every client to be answered by version 1",
        )
        uri = tracking_uri(registry)
        MlflowClient(tracking_uri=uri, registry_uri=uri).set_registered_model_alias(
            "polku-ranker", "champion", "2"
        )
        reload = httpx.post(
            f"{server.base_url}/v1/admin/reload", headers=auth("data_scientist"), timeout=120
        )
        # Each client's next request may have been in flight during the reload; the one
        # after it was sent once the reload had returned.
        answered_before = [len(rows) for rows in per_thread]
        wait_until(
            lambda: all(len(r) >= n + 2 for r, n in zip(per_thread, answered_before, strict=True)),
            60,
            "every client to send a request after the reload and be answered",
        )
        stop.set()
        for thread in threads:
            thread.join()
    finally:
        stop.set()
        server.stop()
    assert reload.status_code == 200, reload.text
    assert reload.json()["version"] == "2"
    results = [r for rows in per_thread for r in rows]
    assert {status for status, _ in results} == {200}
    for rows in per_thread:
        versions = [v or "" for _, v in rows]
        # Each client sees version 1 until the swap, then only version 2.
        assert versions == sorted(versions), "a request saw the old model after the new one"
        assert versions[-1] == "2"
    assert any(v == "1" for _, v in results)


def _write_stream(
    base_url: str, stop: threading.Event, answered: list[str], decided: list[str]
) -> None:
    with httpx.Client(base_url=base_url, headers=CASEWORKER, timeout=10) as http:
        k = 0
        while not stop.is_set():
            k += 1
            try:
                response = http.post(
                    "/v1/recommendations",
                    json={"profile": client_profile(client_id=f"kill-{id(answered)}-{k}")},
                )
                if response.status_code != 200:
                    continue
                answer = response.json()
                answered.append(answer["request_id"])
                decision = http.post(
                    "/v1/decisions",
                    json={
                        "request_id": answer["request_id"],
                        "choice": "suggested",
                        "service_id": answer["services"][0]["service_id"],
                    },
                )
                if decision.status_code == 201:
                    decided.append(answer["request_id"])
            except httpx.TransportError:
                return  # the server is gone


def test_kill_9_loses_no_audit_row_of_an_answered_request(
    registry_root: Path, tmp_path: Path
) -> None:
    server = start_server(tmp_path / "state", registry_root)
    stop = threading.Event()
    answered: list[list[str]] = [[] for _ in range(6)]
    decided: list[list[str]] = [[] for _ in range(6)]
    threads = [
        threading.Thread(target=_write_stream, args=(server.base_url, stop, a, d))
        for a, d in zip(answered, decided, strict=True)
    ]
    for thread in threads:
        thread.start()
    try:
        # Kill mid-stream, once every client has had suggestions and decisions answered.
        wait_until(
            lambda: all(len(a) >= 2 and d for a, d in zip(answered, decided, strict=True)),
            60,
            "every client to have two suggestions and a decision answered",
        )
    finally:
        server.kill()
        stop.set()
        for thread in threads:
            thread.join()
    answered_ids = {rid for rows in answered for rid in rows}
    decided_ids = [rid for rows in decided for rid in rows]

    restarted = start_server(tmp_path / "state", registry_root)
    try:
        assert httpx.get(f"{restarted.base_url}/health/ready").status_code == 200
    finally:
        restarted.stop()
    with sqlite3.connect(server.audit_path) as db:
        stored = {row[0] for row in db.execute("SELECT request_id FROM suggestions")}
        decisions = {row[0] for row in db.execute("SELECT request_id FROM decisions")}
    assert answered_ids <= stored, f"{len(answered_ids - stored)} answered suggestions lost"
    assert set(decided_ids) <= decisions, "an answered decision was lost"


ROLE_OF_PATH = {
    "/v1/eligibility": "caseworker",
    "/v1/recommendations": "caseworker",
    "/v1/decisions": "caseworker",
    "/v1/services": "evaluator",
    "/v1/model": "data_scientist",
    "/v1/admin/reload": "data_scientist",
    "/v1/admin/model-switch": "data_scientist",
    "/v1/audit/records": "evaluator",
}


def _fuzz(operation: Any, headers: dict[str, str], base_url: str, checks: list[Any]) -> None:
    @given(case=operation.as_strategy())
    @settings(
        max_examples=30,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def check(case: Any) -> None:
        case.call_and_validate(base_url=base_url, headers=headers, checks=checks)

    check()


def test_schemathesis_finds_no_5xx_and_no_answer_outside_the_schema(live: LiveServer) -> None:
    # Built by hand instead of `schemathesis.pytest.from_fixture`, which pytest 9 breaks.
    schema = schemathesis.openapi.from_url(f"{live.base_url}/openapi.json")
    checks = [
        not_a_server_error,
        response_schema_conformance,
        status_code_conformance,
        content_type_conformance,
    ]
    tested = []
    for result in schema.get_all_operations():
        operation = result.ok()  # type: ignore[union-attr]  # an Err fails the test
        role = ROLE_OF_PATH.get(operation.path)
        _fuzz(operation, auth(role) if role else {}, live.base_url, checks)
        tested.append(f"{operation.method.upper()} {operation.path}")
    assert len(tested) == 11, tested


def _codes(n: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    codes: set[str] = set()
    while len(codes) < n:
        born = rng.randrange(-7300, 12000)  # days from 1970: born 1950-2002
        birth = dt.date(1970, 1, 1) + dt.timedelta(days=born)
        codes.add(format_henkilotunnus(birth, rng.randrange(2, 900)))
    return sorted(codes)


def test_no_personal_identity_code_reaches_logs_answers_or_the_audit_store(
    live: LiveServer, tmp_path: Path
) -> None:
    codes = _codes(120, seed=5)
    answers: list[str] = []
    with httpx.Client(base_url=live.base_url, headers=CASEWORKER, timeout=30) as http:
        for k, code in enumerate(codes):
            profile = client_profile(client_id=f"scan-{k}", henkilotunnus=code)
            if k % 4 == 0:
                profile = non_client_profile(client_id=f"scan-{k}", henkilotunnus=code)
            bad_requests: list[tuple[str, dict[str, Any]]] = [
                ("/v1/eligibility", {"profile": profile, "language": "sv"}),
                ("/v1/recommendations", {"profile": profile, "language": "en", "top_k": 3}),
                ("/v1/eligibility", {"profile": {**profile, "client_id": code}}),
                ("/v1/eligibility", {"profile": {**profile, "mother_tongue": code}}),
                ("/v1/eligibility", {"profile": {**profile, "birth_date": "1901-01-01"}}),
                ("/v1/eligibility", {"profile": {**profile, code: code}}),
                ("/v1/recommendations", {"profile": profile, "objective": code}),
                ("/v1/eligibility", {"profile": {**profile, "henkilotunnus": code[:-1] + "?"}}),
            ]
            for path, body in bad_requests:
                response = http.post(path, json=body)
                assert response.status_code in (200, 422), response.text
                answers.append(response.text)
            answered = http.post("/v1/recommendations", json={"profile": profile}).json()
            decision = http.post(
                "/v1/decisions",
                json={"request_id": answered["request_id"], "choice": "none", "reason": code},
            )
            assert decision.status_code == 422
            answers.append(decision.text)
        records = http.get("/v1/audit/records", params={"limit": 5000}, headers=auth("evaluator"))
        answers.append(records.text)
    export = tmp_path / "export.csv"
    subprocess.run(
        [
            sys.executable,
            "-c",
            "from pipeline.cli import main; main()",
            "audit",
            "export",
            "--out",
            str(export),
        ],
        check=True,
        capture_output=True,
        env={"POLKU_STATE_DIR": str(live.state_dir), "PATH": ""},
        cwd=Path(__file__).resolve().parents[2],
    )
    sources = {
        "answers": "\n".join(answers),
        "server log": live.log_path.read_text(errors="replace"),
        "export": export.read_text(),
    }
    for suffix in ("", "-wal", "-shm"):
        db_file = Path(f"{live.audit_path}{suffix}")
        if db_file.exists():
            sources[db_file.name] = db_file.read_bytes().decode("latin-1")
    assert len(records.json()["records"]) >= 2 * len(codes)
    for name, text in sources.items():
        leaked = [code for code in codes if code in text or code.lower() in text]
        assert not leaked, f"{len(leaked)} codes found in the {name}"
