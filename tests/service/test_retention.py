"""Scheduled retention: the server prunes by itself, logs counts only, keeps the chain whole,
and never keeps less than six months."""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable
from pathlib import Path

import pydantic
import pytest
from fastapi.testclient import TestClient

from service.audit import AuditStore
from service.main import create_app
from service.settings import Settings
from tests.service.helpers import (
    FakeLoaded,
    auth,
    client_profile,
    decision,
    make_settings,
    suggestion,
)

DAY = 86_400.0


def _wait_for(condition: Callable[[], bool], seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "retention did not run in time"
        time.sleep(0.02)


def test_the_server_prunes_on_schedule_and_logs_counts_only(
    tmp_path: Path, loader: Callable[[], FakeLoaded], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="service.retention")
    settings = make_settings(tmp_path, retention_days=183, retention_every_hours=0.05 / 3600)
    later = time.time() + 200 * DAY  # the server's clock, past the retention age
    with TestClient(create_app(settings, model_loader=loader, clock=lambda: later)) as api:
        store: AuditStore = api.app.state.audit  # type: ignore[attr-defined]
        answer = api.post(
            "/v1/recommendations", json={"profile": client_profile()}, headers=auth("caseworker")
        ).json()
        switched = api.put(
            "/v1/admin/model-switch",
            json={"model_on": False, "reason": "drill"},
            headers=auth("data_scientist"),
        )
        assert switched.status_code == 200
        _wait_for(lambda: store.count("suggestions") == 0)
        result = store.verify()
        assert result.ok, result.broken
        assert store.count("model_switch_events") == 1  # the switch's state is never pruned
    lines = [r.getMessage() for r in caplog.records if r.name == "service.retention"]
    assert any("removed 1 suggestions, 0 decisions" in line for line in lines), lines
    logged = "\n".join(lines)
    assert answer["request_id"] not in logged
    assert "170500A9056" not in logged


def test_records_within_the_retention_age_stay(
    tmp_path: Path, loader: Callable[[], FakeLoaded]
) -> None:
    settings = make_settings(tmp_path, retention_days=183, retention_every_hours=0.05 / 3600)
    soon = time.time() + 100 * DAY
    with TestClient(create_app(settings, model_loader=loader, clock=lambda: soon)) as api:
        api.post("/v1/eligibility", json={"profile": client_profile()}, headers=auth("caseworker"))
        time.sleep(0.5)  # about ten passes
        assert api.app.state.audit.count("suggestions") == 1  # type: ignore[attr-defined]


def test_scheduled_retention_can_be_turned_off(
    tmp_path: Path, loader: Callable[[], FakeLoaded]
) -> None:
    settings = make_settings(
        tmp_path,
        retention_days=183,
        retention_every_hours=0.05 / 3600,
        scheduled_retention=False,
    )
    later = time.time() + 400 * DAY
    with TestClient(create_app(settings, model_loader=loader, clock=lambda: later)) as api:
        api.post("/v1/eligibility", json={"profile": client_profile()}, headers=auth("caseworker"))
        time.sleep(0.3)
        assert api.app.state.audit.count("suggestions") == 1  # type: ignore[attr-defined]


def test_retention_keeps_at_least_six_months_by_default_and_by_rule(tmp_path: Path) -> None:
    assert Settings().retention_days >= 183
    with pytest.raises(pydantic.ValidationError):
        make_settings(tmp_path, retention_days=182)


def test_a_large_backlog_goes_in_short_batches_and_the_chain_holds(tmp_path: Path) -> None:
    now = dt.datetime(2026, 12, 1, 12, 0)
    with AuditStore(f"sqlite:///{tmp_path / 'audit.sqlite3'}", chain_key=b"k" * 32) as store:
        for i in range(5):
            store.write_suggestion(suggestion(f"{i:032x}", created_at=now - dt.timedelta(days=400)))
        store.write_decision(decision(f"{0:032x}"))
        store.write_suggestion(suggestion("f" * 32, created_at=now - dt.timedelta(days=10)))
        result = store.prune(183, now=now, batch=2)
        assert (result.suggestions, result.decisions) == (5, 1)
        assert store.count("suggestions") == 1
        store.write_suggestion(suggestion("e" * 32, created_at=now))
        verified = store.verify()
        assert verified.ok, verified.broken
        assert verified.checked["suggestions"] == 2
