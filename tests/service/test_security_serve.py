"""`polku serve` as a process: a wrong setup is one message, not a worker's traceback."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.service.helpers import HMAC_KEY, POLKU


def _serve(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("POLKU_")}
    return subprocess.run(
        [str(POLKU), "serve", "--port", "1"],  # never reached: the check comes first
        env={**base, "POLKU_STATE_DIR": str(tmp_path), **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize(
    ("env", "says"),
    [
        ({}, "POLKU_HMAC_KEY is not set"),
        ({"POLKU_HMAC_KEY": HMAC_KEY}, "no API keys configured"),
        ({"POLKU_HMAC_KEY": HMAC_KEY, "POLKU_CASEWORKER_KEYS": "desk-1"}, "expected JSON"),
        (
            {"POLKU_HMAC_KEY": HMAC_KEY, "POLKU_MAX_BODY_BYTES": "0"},
            "POLKU_MAX_BODY_BYTES: Input should be greater than 0",
        ),
    ],
    ids=["no-secret", "no-keys", "keys-not-json", "bad-number"],
)
def test_serve_with_a_wrong_setup_prints_one_message_and_exits_nonzero(
    tmp_path: Path, env: dict[str, str], says: str
) -> None:
    result = _serve(tmp_path, **env)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr + result.stdout
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("polku serve: ") and says in lines[0]
