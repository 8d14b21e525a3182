"""Exploration per office (probabilities in the audit row's ranking) and the served model
inputs kept beside each recommendation for monitoring."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from models.bundle import PolkuModel
from models.input_profile import INPUT_COLUMNS
from models.profile_validation import parse_profile
from service.audit.served_inputs import export_served_inputs, iter_served_inputs
from service.main import create_app
from tests.helpers import wait_until
from tests.service.helpers import (
    FakeLoaded,
    auth,
    client_profile,
    make_settings,
    non_client_profile,
)

CASEWORKER = auth("caseworker")


def _ask(api: TestClient, profile: dict[str, Any]) -> dict[str, Any]:
    response = api.post(
        "/v1/recommendations", json={"profile": profile, "top_k": 5}, headers=CASEWORKER
    )
    assert response.status_code == 200, response.text
    return response.json()


def _ranking(api: TestClient, request_id: str) -> list[dict[str, Any]]:
    record = api.app.state.audit.suggestion(request_id)  # type: ignore[attr-defined]
    return json.loads(record.ranking)


def test_off_by_default_the_ranking_is_the_models_and_logs_no_probabilities(
    api: TestClient,
) -> None:
    answer = _ask(api, client_profile())
    entries = _ranking(api, answer["request_id"])
    assert entries and all("p_first" not in e for e in entries)


def test_an_exploring_office_logs_the_probability_of_what_it_showed_first(
    tmp_path: Path, loader: Callable[[], FakeLoaded]
) -> None:
    # near_ties: where there are near-ties the top keeps only 0.5, so 12 requests vary.
    settings = make_settings(
        tmp_path,
        caseworker_teams={"desk-1": "itakeskus"},
        exploration_offices=["itakeskus"],
        exploration_design="near_ties",
    )
    with TestClient(create_app(settings, model_loader=loader)) as api:
        firsts = set()
        for i in range(12):
            answer = _ask(api, client_profile(client_id=f"client-{i:04d}"))
            entries = _ranking(api, answer["request_id"])
            shown = [s["service_id"] for s in answer["services"]]
            assert [e["service_id"] for e in entries] == shown  # the audit holds what was shown
            assert [e["rank"] for e in entries] == list(range(1, len(entries) + 1))
            assert sorted(e["model_rank"] for e in entries) == list(range(1, len(entries) + 1))
            assert 0 < entries[0]["p_first"] <= 1
            assert sum(e["p_first"] for e in entries) <= 1 + 1e-6
            firsts.add(entries[0]["model_rank"])
        # The same client profile, different requests: the draw varies with the request.
        assert len(firsts) > 1


def test_an_office_explores_with_the_posterior_design_by_default(
    tmp_path: Path, loader: Callable[[], FakeLoaded]
) -> None:
    settings = make_settings(
        tmp_path,
        caseworker_teams={"desk-1": "itakeskus"},
        exploration_offices=["itakeskus"],
    )  # the posterior design is the default
    with TestClient(create_app(settings, model_loader=loader)) as api:
        candidates = set()
        for i in range(8):
            answer = _ask(api, client_profile(client_id=f"client-{i:04d}"))
            entries = _ranking(api, answer["request_id"])
            top = next(e for e in entries if e["model_rank"] == 1)
            # The top keeps at least 1 - share (0.9) of the first place.
            assert 0.9 - 1e-6 <= top["p_first"] < 1.0
            # The audit row keeps each probability to 6 decimals.
            assert sum(e["p_first"] for e in entries) == pytest.approx(1.0, abs=1e-5)
            candidates.add(sum(e["p_first"] > 0 for e in entries))
        assert max(candidates) > 1


def test_served_inputs_hold_the_model_inputs_and_nothing_identifying(
    api: TestClient, tmp_path: Path, tiny_model: PolkuModel
) -> None:
    answer = _ask(api, client_profile())
    refused = _ask(api, non_client_profile(client_id="client-0002"))
    engine = api.app.state.audit.engine  # type: ignore[attr-defined]
    # Written in the writer's batch with (or right after) its suggestion: not waited for.
    listed = wait_until(
        lambda: [r for r in [list(iter_served_inputs(engine))] if len(r) == 2],
        10,
        "both inputs rows",
    )[0]
    rows = {r["request_id"]: r for r in listed}
    row = rows[answer["request_id"]]
    assert row["eligible"] is True and rows[refused["request_id"]]["eligible"] is False
    assert set(INPUT_COLUMNS) <= set(row)
    assert row["age"] == 23 and row["unemployment_months"] == 14
    text = json.dumps(row, default=str)
    for secret in ("170500A9056", "client-0001", "2000-05-17", "mother_tongue", "gender"):
        assert secret not in text
    # Taken from the answer's own check of the limits: what the served model's catalog
    # closes (stored sorted).
    catalog = tiny_model.catalog
    allowed = catalog.allowed(parse_profile(client_profile()))
    assert row["closed_by_catalog"] == sorted(
        s for s, ok in zip(catalog.ids, allowed, strict=True) if not ok
    )
    assert row["closed_by_catalog"]  # the 23-year-old Finnish speaker is closed out of some
    out = export_served_inputs(engine, tmp_path / "inputs.parquet")
    assert out == 2
    assert len(pd.read_parquet(tmp_path / "inputs.parquet")) == 2


def test_retention_removes_the_inputs_with_their_suggestion(api: TestClient) -> None:
    _ask(api, client_profile())
    store = api.app.state.audit  # type: ignore[attr-defined]
    wait_until(lambda: list(iter_served_inputs(store.engine)), 10, "the inputs row")
    store.prune(1, now=dt.datetime.now(dt.UTC) + dt.timedelta(days=3))
    assert list(iter_served_inputs(store.engine)) == []


def test_the_export_inputs_command_writes_what_monitor_reads(
    tmp_path: Path, loader: Callable[[], FakeLoaded], monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from pipeline.cli import build_app
    from service.settings import get_settings

    settings = make_settings(tmp_path)
    with TestClient(create_app(settings, model_loader=loader)) as api:
        _ask(api, client_profile())
        engine = api.app.state.audit.engine  # type: ignore[attr-defined]
        wait_until(lambda: list(iter_served_inputs(engine)), 10, "the inputs row")
    monkeypatch.setenv("POLKU_AUDIT_DB_URL", settings.resolved_audit_db_url())
    get_settings.cache_clear()
    try:
        out = tmp_path / "inputs.csv"
        result = CliRunner().invoke(build_app(), ["audit", "export-inputs", "--out", str(out)])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    frame = pd.read_csv(out)
    assert list(frame["eligible"]) == [True] and "request_id" in frame
    assert set(INPUT_COLUMNS) <= set(frame.columns)
