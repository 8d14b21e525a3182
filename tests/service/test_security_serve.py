"""`polku serve` as a process: a wrong setup is one message, not a worker's traceback, and
workers do not outlive their supervisor."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from pathlib import Path

import httpx
import pytest

from tests.helpers import wait_until
from tests.service.helpers import HMAC_KEY, POLKU, start_server


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


def _children(pid: int) -> list[int]:
    """The processes whose parent is `pid` (from /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads processes from /proc")
def test_workers_stop_when_their_supervisor_is_killed(tmp_path: Path) -> None:
    server = start_server(
        tmp_path / "state",
        tmp_path / "empty-registry",
        args=("--workers", "2"),
        env={"POLKU_LOAD_MODEL_ON_START": "false"},
        ready_path="/health/live",
    )
    workers: list[int] = []
    try:
        wait_until(lambda: len(_workers(server.process.pid)) == 2, 60, "two workers")
        workers = _workers(server.process.pid)
        assert httpx.get(f"{server.base_url}/health/live", timeout=5).status_code == 200
        server.kill()  # kill -9 of the supervisor only
        wait_until(lambda: not any(_running(p) for p in workers), 20, "the workers to stop")
        with pytest.raises(httpx.TransportError):
            httpx.get(f"{server.base_url}/health/live", timeout=2)
    finally:  # what is left of them if the test failed
        for pid in [*workers, *_children(server.process.pid)]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        server.kill()


def _workers(supervisor: int) -> list[int]:
    """uvicorn's worker processes (spawned children), not multiprocessing's helpers."""
    return [
        pid
        for pid in _children(supervisor)
        if b"resource_tracker" not in Path(f"/proc/{pid}/cmdline").read_bytes()
    ]
