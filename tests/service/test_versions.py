"""Versions (rules, model and its hash, catalog) on every answer and every audit row, from one
source; an older store gains the columns on open and its chain still verifies."""

from __future__ import annotations

import hashlib
import hmac
import json
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from models.bundle import PolkuModel
from service.audit import AuditStore
from service.audit.chain import GENESIS
from service.main import create_app
from service.settings import Settings
from tests.service.helpers import auth, client_profile, make_settings, suggestion

SHA = "ab" * 32  # what the registry recorded for the model file


@dataclass(frozen=True)
class LoadedWithHash:
    """A champion as `models.registry.load_champion` returns it, with the file's hash."""

    model: Any
    version: str
    trained_at: str
    metrics: dict[str, float]
    sha256: str


@pytest.fixture
def api(settings: Settings, tiny_model: PolkuModel) -> Iterator[TestClient]:
    loaded = LoadedWithHash(tiny_model, "7", tiny_model.trained_at, {}, SHA)
    with TestClient(create_app(settings, model_loader=lambda: loaded)) as client:
        yield client


def _expected(api: TestClient, rules_version: str) -> dict[str, str]:
    fingerprint = api.get("/v1/services", headers=auth("caseworker")).json()
    return {
        "rules_version": rules_version,
        "model_version": "7",
        "model_hash": SHA[:16],
        "catalog_version": fingerprint["catalog_fingerprint"][:16],
    }


def _row_versions(record: Any) -> dict[str, Any]:
    names = ("rules_version", "model_version", "model_hash", "catalog_version")
    return {name: getattr(record, name) for name in names}


def test_every_answer_and_its_audit_row_carry_the_same_versions(api: TestClient) -> None:
    store = api.app.state.audit  # type: ignore[attr-defined]
    gate = api.post(
        "/v1/eligibility", json={"profile": client_profile()}, headers=auth("caseworker")
    ).json()
    expected = _expected(api, gate["decision"]["rules_version"])
    assert gate["versions"] == expected
    assert _row_versions(store.suggestion(gate["request_id"])) == expected

    ranked = api.post(
        "/v1/recommendations", json={"profile": client_profile()}, headers=auth("caseworker")
    ).json()
    assert ranked["versions"] == expected
    assert ranked["model_version"] == "7" and ranked["rules_version"] == expected["rules_version"]
    assert _row_versions(store.suggestion(ranked["request_id"])) == expected

    decided = api.post(
        "/v1/decisions",
        json={"request_id": ranked["request_id"], "choice": "none", "reason": "client's wish"},
        headers=auth("caseworker"),
    ).json()
    assert decided["versions"] == expected  # the suggestion's, decided on
    row = next(r for r in store.records() if r["request_id"] == ranked["request_id"])
    assert row["choice"] == "none" and row["model_hash"] == SHA[:16]
    with store.engine.connect() as conn:
        stored = conn.exec_driver_sql(
            "SELECT rules_version, model_version, model_hash, catalog_version FROM decisions"
        ).one()
    assert dict(zip(expected, stored, strict=True)) == expected
    assert store.verify().ok


def test_a_refused_decision_is_audited_with_the_versions_served(
    tmp_path: Path, tiny_model: PolkuModel
) -> None:
    loaded = LoadedWithHash(tiny_model, "7", tiny_model.trained_at, {}, SHA)
    two = make_settings(
        tmp_path,
        caseworker_keys={"desk-1": "desk-one-key-000001", "desk-2": "desk-two-key-000002"},
    )
    with TestClient(create_app(two, model_loader=lambda: loaded)) as client:
        asked = client.post(
            "/v1/recommendations",
            json={"profile": client_profile()},
            headers={"X-API-Key": "desk-one-key-000001"},
        ).json()
        refused = client.post(
            "/v1/decisions",
            json={"request_id": asked["request_id"], "choice": "none", "reason": "x"},
            headers={"X-API-Key": "desk-two-key-000002"},
        )
        assert refused.status_code == 403
        store = client.app.state.audit  # type: ignore[attr-defined]
        with store.engine.connect() as conn:
            event = conn.exec_driver_sql(
                "SELECT event, model_version, model_hash, catalog_version, rules_version "
                "FROM security_events"
            ).one()
    assert event[:4] == (
        "decision_refused",
        "7",
        SHA[:16],
        asked["versions"]["catalog_version"],
    )
    assert event[4]  # the rule set in force today


def _old_link(key: bytes, previous: str, table: str, values: list[Any]) -> str:
    """The chain hash as Polku computed it before the version columns existed."""
    content = json.dumps([table, values], separators=(",", ":"), ensure_ascii=False)
    return hmac.new(key, previous.encode() + b"\n" + content.encode(), hashlib.sha256).hexdigest()


OLD_SUGGESTIONS = (
    "CREATE TABLE suggestions (id INTEGER PRIMARY KEY, request_id VARCHAR(36) NOT NULL UNIQUE, "
    "created_at DATETIME NOT NULL, kind VARCHAR(16) NOT NULL, actor VARCHAR(64), client_key "
    "VARCHAR(64) NOT NULL, input_hash VARCHAR(64) NOT NULL, rules_version VARCHAR(64) NOT NULL, "
    "model_version VARCHAR(64), objective VARCHAR(200), language VARCHAR(2) NOT NULL, top_k "
    "INTEGER, eligible BOOLEAN NOT NULL, responsible_office VARCHAR(32) NOT NULL, ranking TEXT "
    "NOT NULL, chain_hash VARCHAR(64))"
)


def test_an_older_store_gains_the_columns_and_its_chain_still_holds(tmp_path: Path) -> None:
    key = b"k" * 32
    path = tmp_path / "old.sqlite3"
    created = "2026-01-01T00:00:00.000000"
    values = [
        "r" * 32, created, "eligibility", "desk-1", "k", "h", "rules-1", None, None, "fi",
        None, True, "helsinki", "[]",
    ]  # fmt: skip
    with sqlite3.connect(path) as conn:
        conn.execute(OLD_SUGGESTIONS)
        conn.execute(
            "INSERT INTO suggestions (request_id, created_at, kind, actor, client_key, "
            "input_hash, rules_version, model_version, objective, language, top_k, eligible, "
            "responsible_office, ranking, chain_hash) VALUES (?, '2026-01-01 00:00:00.000000', "
            "?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [*values[:1], *values[2:], _old_link(key, GENESIS, "suggestions", values)],
        )
    with AuditStore(f"sqlite:///{path}", chain_key=key) as store:
        new = suggestion("n" * 32)
        store.write_suggestion(new)
        result = store.verify()
        assert result.ok, result.broken
        assert result.checked["suggestions"] == 2 and result.unchained["suggestions"] == 0
        old = store.suggestion("r" * 32)
        assert old is not None and old.catalog_version is None and old.degraded is None
    columns = {row[1] for row in sqlite3.connect(path).execute("PRAGMA table_info(suggestions)")}
    assert {"model_hash", "catalog_version", "degraded"} <= columns

    # The added columns are covered once set: giving the old row a version is evident.
    with sqlite3.connect(path) as conn:
        conn.execute("DROP TRIGGER suggestions_append_only")
        conn.execute("UPDATE suggestions SET catalog_version = 'forged' WHERE id = 1")
    with AuditStore(f"sqlite:///{path}", chain_key=key) as store:
        broken = store.verify().broken
    assert broken is not None and (broken.table, broken.row_id) == ("suggestions", 1)


def test_a_version_changed_on_a_new_row_breaks_the_chain(tmp_path: Path) -> None:
    path = tmp_path / "audit.sqlite3"
    with AuditStore(f"sqlite:///{path}", chain_key=b"k" * 32) as store:
        store.write_suggestion(replace(suggestion("a" * 32), catalog_version="c" * 16))
        assert store.verify().ok
    with sqlite3.connect(path) as conn:
        conn.execute("DROP TRIGGER suggestions_append_only")
        conn.execute("UPDATE suggestions SET catalog_version = NULL")
    with AuditStore(f"sqlite:///{path}", chain_key=b"k" * 32) as store:
        assert not store.verify().ok
