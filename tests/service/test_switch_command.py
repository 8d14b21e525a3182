"""`polku model-switch status|off|on`: the same switch as the API, from the command line."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from pipeline.cli import build_app
from service.main import create_app
from tests.service.helpers import HMAC_KEY, FakeLoaded, auth, client_profile, make_settings


@pytest.fixture
def audit_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    url = f"sqlite:///{tmp_path / 'audit.sqlite3'}"
    monkeypatch.setenv("POLKU_AUDIT_DB_URL", url)
    monkeypatch.setenv("POLKU_HMAC_KEY", HMAC_KEY)
    from service.settings import get_settings

    get_settings.cache_clear()
    yield url
    get_settings.cache_clear()


def _polku(*args: str) -> str:
    result = CliRunner().invoke(build_app(), list(args))
    assert result.exit_code == 0, result.output
    return result.output


def test_the_command_switches_what_a_server_follows(
    audit_url: str, tmp_path: Path, loader: Callable[[], FakeLoaded]
) -> None:
    assert "on (never switched)" in _polku("model-switch", "status")
    out = _polku("model-switch", "off", "--reason", "incident 42", "--by", "ops-anna")
    assert "the model is off" in out
    assert "off since" in _polku("model-switch", "status")
    assert "ops-anna: incident 42" in _polku("model-switch", "status")
    assert "nothing written" in _polku("model-switch", "off", "--reason", "again")

    settings = make_settings(tmp_path, audit_db_url=audit_url)
    with TestClient(create_app(settings, model_loader=loader)) as api:
        answer = api.post(
            "/v1/recommendations", json={"profile": client_profile()}, headers=auth("caseworker")
        ).json()
        assert answer["degraded"] is True
        assert api.app.state.audit.verify().ok  # type: ignore[attr-defined]
    assert "the model is on" in _polku("model-switch", "on", "--reason", "fixed")


def test_the_command_refuses_a_reason_with_an_identity_code(audit_url: str) -> None:
    result = CliRunner().invoke(
        build_app(), ["model-switch", "off", "--reason", "client 170500A9056"]
    )
    assert result.exit_code != 0
    assert "170500A9056" not in result.output
    assert "on (never switched)" in _polku("model-switch", "status")
