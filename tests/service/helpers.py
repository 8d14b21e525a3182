"""Helpers shared by the service tests: keys, profiles, settings, audit records, live servers.

Plain functions and classes only; the fixtures are in `conftest.py`.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from service.audit import DecisionRecord, SuggestionRecord
from service.settings import Settings
from tests.helpers import wait_until

KEYS = {
    "caseworker": "test-caseworker-key-0001",
    "data_scientist": "test-data-scientist-key-0001",
    "evaluator": "test-evaluator-key-0001",
    "team_lead": "test-team-lead-key-0001",
}
HMAC_KEY = "test-hmac-key-of-sufficient-length"


def auth(role: str) -> dict[str, str]:
    """Headers of a caller with `role`."""
    return {"Authorization": f"Bearer {KEYS[role]}"}


def client_profile(**changes: Any) -> dict[str, Any]:
    """A raw profile of a client (under 30, unemployed in Helsinki, inside the experiment)."""
    profile: dict[str, Any] = {
        "client_id": "client-0001",
        "henkilotunnus": "170500A9056",
        "home_municipality": "091",
        "mother_tongue": "fi",
        "immigrant": False,
        "registered_jobseeker": True,
        "labour_market_status": "unemployed",
        "unemployment_benefit": "labour_market_subsidy",
        "assessment_date": "2024-03-04",
        "education_level": "basic",
        "unemployment_months": 14,
        "work_experience_years": 1.5,
        "language_level": "B1",
        "debt_problems": True,
        "low_digital_skills": True,
    }
    profile.update(changes)
    return {k: v for k, v in profile.items() if v is not None}


def non_client_profile(**changes: Any) -> dict[str, Any]:
    """A raw profile the gate refuses: an Espoo resident (C2 fails)."""
    return client_profile(home_municipality="049", **changes)


@dataclass(frozen=True)
class FakeLoaded:
    """What `models.registry.load_champion` returns, for loaders injected into the app."""

    model: Any
    version: str
    trained_at: str
    metrics: dict[str, float]


def make_settings(tmp_path: Path, **changes: Any) -> Settings:
    """Settings with test keys and an audit store in `tmp_path`."""
    values: dict[str, Any] = {
        "audit_db_url": f"sqlite:///{tmp_path / 'audit.sqlite3'}",
        "hmac_key": HMAC_KEY,
        "caseworker_keys": {"desk-1": KEYS["caseworker"]},
        "data_scientist_keys": {"ds-1": KEYS["data_scientist"]},
        "evaluator_keys": {"eval-1": KEYS["evaluator"]},
        "team_lead_keys": {"lead-1": KEYS["team_lead"]},
        "limit_native_threads": False,
    }
    values.update(changes)
    return Settings(**values)


def suggestion(request_id: str, *, created_at: dt.datetime | None = None) -> SuggestionRecord:
    """An audit row of a recommendation (two services, the first followed by `decision`)."""
    return SuggestionRecord(
        request_id=request_id,
        created_at=created_at or dt.datetime(2026, 3, 1, 12, 0, 0),
        kind="recommendation",
        actor="desk-1",
        client_key="k" * 64,
        input_hash="h" * 64,
        rules_version="kuntakokeilu-amendment-2022",
        model_version="3",
        objective="employment_12m",
        language="fi",
        top_k=2,
        eligible=True,
        responsible_office="helsinki",
        ranking=json.dumps([{"service_id": "debt_advice"}, {"service_id": "work_trial"}]),
    )


def decision(
    request_id: str, choice: str = "suggested", service: str | None = "debt_advice"
) -> DecisionRecord:
    """An audit row of the caseworker's decision on `suggestion(request_id)`."""
    return DecisionRecord(
        request_id=request_id,
        created_at=dt.datetime(2026, 3, 1, 12, 5, 0),
        actor="desk-1",
        choice=choice,  # type: ignore[arg-type]
        service_id=service,
        followed_top=service == "debt_advice",
        reason=None if service == "debt_advice" else "client's wish",
    )


def tracking_uri(root: Path) -> str:
    """The tracking URI of the MLflow registry under `root`."""
    return f"sqlite:///{root / 'mlflow.db'}"


POLKU = Path(sys.executable).parent / "polku"


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class LiveServer:
    """A running `polku serve` and where it writes."""

    process: subprocess.Popen[bytes]
    base_url: str
    state_dir: Path
    log_path: Path
    ready_path: str = "/health/ready"

    @property
    def audit_path(self) -> Path:
        return self.state_dir / "audit.sqlite3"

    def ready(self) -> bool:
        """Whether /health/ready answers 200; raises if the process has exited."""
        if self.process.poll() is not None:
            raise RuntimeError(f"the server exited early:\n{self.log_path.read_text()[-3000:]}")
        try:
            return httpx.get(f"{self.base_url}{self.ready_path}", timeout=1).status_code == 200
        except httpx.TransportError:
            return False

    def stop(self) -> None:
        """Stop gracefully (SIGTERM), or kill after 20 s."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def kill(self) -> None:
        """`kill -9`: no shutdown, no flush."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()


def copy_registry(source: Path, target: Path) -> Path:
    """A private copy of a registry (the alias may change in it without touching others)."""
    shutil.copytree(source, target)
    return target


def start_server(
    state_dir: Path,
    registry: Path | str,
    *,
    timeout: float = 90.0,
    env: dict[str, str] | None = None,
    args: tuple[str, ...] = (),
    ready_path: str = "/health/ready",
    audit_db_url: str | None = None,
) -> LiveServer:
    """Start `polku serve` with test keys, the registry under `registry` (a folder, or a
    tracking server's URL), and the audit store at `audit_db_url` (default: SQLite in
    `state_dir`).

    `env` adds to (or overrides) the environment, `args` to the command line; the server
    counts as started once `ready_path` answers 200.
    """
    state_dir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    log_path = state_dir / f"server-{port}.log"
    environment = {
        **os.environ,
        "POLKU_STATE_DIR": str(state_dir),
        "MLFLOW_TRACKING_URI": registry if isinstance(registry, str) else tracking_uri(registry),
        "POLKU_HMAC_KEY": HMAC_KEY,
        "POLKU_CASEWORKER_KEYS": json.dumps({"desk-1": KEYS["caseworker"]}),
        "POLKU_DATA_SCIENTIST_KEYS": json.dumps({"ds-1": KEYS["data_scientist"]}),
        "POLKU_EVALUATOR_KEYS": json.dumps({"eval-1": KEYS["evaluator"]}),
        "POLKU_TEAM_LEAD_KEYS": json.dumps({"lead-1": KEYS["team_lead"]}),
        # The load of the kill -9 tests comes from one key and address.
        "POLKU_API_REQUESTS_PER_MINUTE": "100000000",
    }
    environment.pop("POLKU_AUDIT_DB_URL", None)
    if audit_db_url is not None:
        environment["POLKU_AUDIT_DB_URL"] = audit_db_url
    environment.update(env or {})
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            [str(POLKU), "serve", "--port", str(port), *args],
            env=environment,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=state_dir,
        )
    server = LiveServer(process, f"http://127.0.0.1:{port}", state_dir, log_path, ready_path)
    try:
        wait_until(server.ready, timeout, "the server's /health/ready", interval=0.2)
    except AssertionError:
        server.kill()
        raise RuntimeError(
            f"the server was not ready in {timeout} s:\n{log_path.read_text()[-3000:]}"
        ) from None
    return server
