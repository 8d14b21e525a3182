"""Keys that protect (issue 13 item 2): a configured secret outside development, separate
derived keys per purpose, state files only their owner can read."""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from models.henkilotunnus import pseudonymous_key
from models.keys import PURPOSES, derive_key
from service.keys import KEY_FILE, KeyConfigurationError, ServiceKeys
from service.main import create_app
from tests.service.helpers import HMAC_KEY, auth, client_profile, make_settings
from tests.service.test_page import _sign_in


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_outside_development_the_server_refuses_to_start_without_a_secret(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("POLKU_STATE_DIR", str(tmp_path / "state"))
    with pytest.raises(KeyConfigurationError, match="POLKU_HMAC_KEY is not set"):
        create_app(make_settings(tmp_path, hmac_key=None))
    assert not (tmp_path / "state" / KEY_FILE).exists()  # no silent key
    with pytest.raises(KeyConfigurationError, match="at least 32"):
        create_app(make_settings(tmp_path, hmac_key="short-secret-0123456"))


def test_development_keys_are_refused_outside_development(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="refused outside development"):
        create_app(make_settings(tmp_path, dev_keys=True))


def test_in_development_a_local_secret_is_made_once_private_and_said_on_stderr(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("POLKU_STATE_DIR", str(tmp_path / "state"))
    settings = make_settings(tmp_path, hmac_key=None, environment="development", dev_keys=True)
    first = create_app(settings).state.keys
    assert "DEVELOPMENT" in capsys.readouterr().err
    key_file = tmp_path / "state" / KEY_FILE
    assert _mode(key_file) == 0o600
    assert create_app(settings).state.keys == first  # the same secret on the next start


def test_each_purpose_has_its_own_key_and_pseudonyms_use_theirs(
    tmp_path: Path, loader: Callable[[], Any]
) -> None:
    secret = HMAC_KEY.encode()
    keys = ServiceKeys.from_secret(secret)
    derived = {derive_key(secret, purpose) for purpose in PURPOSES}
    assert len(derived) == len(PURPOSES) and secret not in derived
    assert derive_key(b"another secret entirely, long enough", "pseudonym") != keys.pseudonym
    with TestClient(create_app(make_settings(tmp_path), model_loader=loader)) as api:
        profile = client_profile()
        assert api.post("/v1/eligibility", json={"profile": profile}, headers=auth("caseworker"))
        row = api.app.state.audit.records()[0]  # type: ignore[attr-defined]
    code = profile["henkilotunnus"]
    assert row["client_key"] == pseudonymous_key(code, keys.pseudonym)
    assert row["client_key"] != pseudonymous_key(code, secret)  # the secret itself keys nothing
    assert row["input_hash"] not in {pseudonymous_key(code, k) for k in derived}


def test_state_files_are_readable_by_their_owner_only(
    tmp_path: Path, loader: Callable[[], Any]
) -> None:
    audit_db = tmp_path / "audit.sqlite3"
    audit_db.touch(mode=0o644)
    os.chmod(audit_db, 0o644)  # a store made before: narrowed when opened
    with TestClient(create_app(make_settings(tmp_path), model_loader=loader)) as api:
        api.post("/v1/eligibility", json={"profile": client_profile()}, headers=auth("caseworker"))
        _sign_in(api)
        files = [
            audit_db,
            Path(f"{audit_db}-wal"),
            Path(f"{audit_db}.write-lock"),
            tmp_path / "sessions.sqlite3",
        ]
        for path in files:
            assert path.exists(), path.name
            assert _mode(path) == 0o600, path.name
