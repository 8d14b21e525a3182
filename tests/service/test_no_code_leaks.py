"""In process: many valid codes sent, none found in answers, logs, the audit store or an export."""

from __future__ import annotations

import datetime as dt
import logging
import random
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from models.henkilotunnus import format_henkilotunnus
from tests.service.helpers import auth, client_profile, non_client_profile

CASEWORKER = auth("caseworker")


def valid_codes(n: int, seed: int) -> list[str]:
    """`n` distinct valid codes with individual numbers in normal use (002-899)."""
    rng = random.Random(seed)
    codes: set[str] = set()
    while len(codes) < n:
        birth = dt.date(1950, 1, 1) + dt.timedelta(days=rng.randrange(0, 19_000))
        codes.add(format_henkilotunnus(birth, rng.randrange(2, 900)))
    return sorted(codes)


def test_no_code_reaches_answers_logs_audit_or_export(
    api: TestClient, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    codes = valid_codes(40, seed=9)
    texts: list[str] = []
    with caplog.at_level(logging.DEBUG):
        for k, code in enumerate(codes):
            make = non_client_profile if k % 3 == 0 else client_profile
            profile = make(client_id=f"scan-{k}", henkilotunnus=code)
            requests: list[tuple[str, dict[str, Any]]] = [
                ("/v1/eligibility", {"profile": profile, "language": "sv"}),
                ("/v1/recommendations", {"profile": profile, "top_k": 3}),
                ("/v1/eligibility", {"profile": {**profile, "client_id": code}}),
                ("/v1/eligibility", {"profile": {**profile, "mother_tongue": code}}),
                ("/v1/eligibility", {"profile": {**profile, "birth_date": "1901-01-01"}}),
                ("/v1/eligibility", {"profile": {**profile, code: code}}),
                ("/v1/recommendations", {"profile": profile, "objective": code}),
            ]
            for path, body in requests:
                response = api.post(path, json=body, headers=CASEWORKER)
                assert response.status_code in (200, 422)
                texts.append(response.text)
        texts.append(
            api.get("/v1/audit/records", params={"limit": 5000}, headers=auth("evaluator")).text
        )
    audit = api.app.state.audit  # type: ignore[attr-defined]
    export = tmp_path / "export.jsonl"
    audit.export(export)
    assert audit.count("suggestions") == 40 + 40  # the valid eligibility and recommendations
    db_path = Path(audit.url.removeprefix("sqlite:///"))
    sources = {"answers": "\n".join(texts), "logs": caplog.text, "export": export.read_text()}
    for suffix in ("", "-wal"):
        db_file = Path(f"{db_path}{suffix}")
        if db_file.exists():
            sources[db_file.name] = db_file.read_bytes().decode("latin-1")
    for name, text in sources.items():
        leaked = [code for code in codes if code in text]
        assert not leaked, f"{len(leaked)} codes in the {name}"
