"""Run `polku serve` as a real uvicorn process on a free loopback port, for live tests."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.helpers import wait_until
from tests.service.helpers import HMAC_KEY, KEYS
from tests.service.registry_builder import tracking_uri

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

    @property
    def audit_path(self) -> Path:
        return self.state_dir / "audit.sqlite3"

    def ready(self) -> bool:
        """Whether /health/ready answers 200; raises if the process has exited."""
        if self.process.poll() is not None:
            raise RuntimeError(f"the server exited early:\n{self.log_path.read_text()[-3000:]}")
        try:
            return httpx.get(f"{self.base_url}/health/ready", timeout=1).status_code == 200
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


def start_server(state_dir: Path, registry: Path, *, timeout: float = 90.0) -> LiveServer:
    """Start `polku serve` with test keys, an audit store in `state_dir`, the given registry."""
    state_dir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    log_path = state_dir / f"server-{port}.log"
    env = {
        **os.environ,
        "POLKU_STATE_DIR": str(state_dir),
        "MLFLOW_TRACKING_URI": tracking_uri(registry),
        "POLKU_HMAC_KEY": HMAC_KEY,
        "POLKU_CASEWORKER_KEYS": json.dumps({"desk-1": KEYS["caseworker"]}),
        "POLKU_DATA_SCIENTIST_KEYS": json.dumps({"ds-1": KEYS["data_scientist"]}),
        "POLKU_EVALUATOR_KEYS": json.dumps({"eval-1": KEYS["evaluator"]}),
    }
    env.pop("POLKU_AUDIT_DB_URL", None)
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            [str(POLKU), "serve", "--port", str(port)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=state_dir,
        )
    server = LiveServer(process, f"http://127.0.0.1:{port}", state_dir, log_path)
    try:
        wait_until(server.ready, timeout, "the server's /health/ready", interval=0.2)
    except AssertionError:
        server.kill()
        raise RuntimeError(
            f"the server was not ready in {timeout} s:\n{log_path.read_text()[-3000:]}"
        ) from None
    return server
