"""MLflow on a tracking server (issue 14 items 2 and 3): `mlflow server` on loopback with a
PostgreSQL backend store and a local artifact root; Polku logs, trains and registers through
it, the champion alias moves, and served replicas (auditing to one PostgreSQL database)
follow it; two replicas under load converge, one survives the other's kill -9, and the audit
keeps every answered request in one chain.

Slow (about 2-3 min: the server migrates its own schema, `polku train` runs once); run with
`make test-all` or `pytest -m slow tests/service/test_mlflow_server.py`.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from models import persistence
from models.bundle import PolkuModel
from models.keys import derive_key
from tests.helpers import wait_until
from tests.postgres import PostgresCluster
from tests.service.audit_db import AuditDatabase
from tests.service.helpers import HMAC_KEY, auth, client_profile, free_port, start_server

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


@pytest.fixture(scope="module")
def mlflow_server(
    postgres_cluster: PostgresCluster, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """`mlflow server` over a fresh PostgreSQL database; its URL once /health answers."""
    database = postgres_cluster.new_database()
    work = tmp_path_factory.mktemp("mlflow-server")
    port = free_port()
    log = work / "mlflow-server.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [
                str(BIN / "mlflow"),
                "server",
                "--backend-store-uri",
                database.owner_url,
                "--artifacts-destination",
                str(work / "artifacts"),
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--workers",
                "1",
            ],
            cwd=work,
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"

    def healthy() -> bool:
        if process.poll() is not None:
            raise AssertionError(f"mlflow server exited:\n{log.read_text()[-3000:]}")
        try:
            return httpx.get(f"{url}/health", timeout=1).status_code == 200
        except httpx.TransportError:
            return False

    try:
        wait_until(healthy, 180, "mlflow server to answer /health", interval=0.5)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _served_version(base_url: str) -> str | None:
    response = httpx.post(
        f"{base_url}/v1/recommendations",
        json={"profile": client_profile()},
        headers=auth("caseworker"),
        timeout=30,
    )
    assert response.status_code == 200, response.text
    return response.json().get("model_version")


def test_a_replica_follows_the_champion_alias_on_a_tracking_server(
    mlflow_server: str,
    postgres_audit_db: AuditDatabase,
    tiny_model: PolkuModel,
    tiny_world_dir: Path,
    tmp_path: Path,
) -> None:
    from mlflow import MlflowClient

    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "POLKU_"))}
    env |= {"MLFLOW_TRACKING_URI": mlflow_server, "POLKU_STATE_DIR": str(tmp_path / "jobs")}
    # Versions 1 (champion) and 2 logged through the server (artifacts by its proxy)...
    model_path = tmp_path / "model.polku"
    persistence.dump(tiny_model, model_path)
    subprocess.run(
        [sys.executable, "-m", "tests.service.registry_builder", str(tmp_path / "builder"),
         str(model_path), mlflow_server],
        check=True, capture_output=True, cwd=ROOT, env=env,
    )  # fmt: skip
    # ...and version 3 trained by `polku train` through it.
    trained = subprocess.run(
        [str(BIN / "polku"), "train", "--data", str(tiny_world_dir), "--bootstrap", "5"],
        capture_output=True, text=True, cwd=tmp_path, env=env, check=False,
    )  # fmt: skip
    assert trained.returncode == 0, trained.stdout[-2000:] + trained.stderr[-2000:]
    assert "registered polku-ranker version 3" in trained.stdout + trained.stderr

    replica = start_server(
        tmp_path / "replica",
        mlflow_server,
        audit_db_url=postgres_audit_db.url,
        env={"POLKU_RELOAD_POLICY": "poll", "POLKU_RELOAD_POLL_SECONDS": "1"},
    )
    try:
        assert _served_version(replica.base_url) == "1"
        client = MlflowClient(tracking_uri=mlflow_server, registry_uri=mlflow_server)
        client.set_registered_model_alias("polku-ranker", "champion", "3")
        moved = time.monotonic()
        wait_until(lambda: _served_version(replica.base_url) == "3", 60, "the replica on v3")
        converged = time.monotonic() - moved
    finally:
        replica.stop()
    # Polled every second; loading a version from the server's artifact proxy takes the rest.
    assert converged < 30, f"{converged:.1f} s from the alias move to version 3 answering"
    print(f"alias move to the replica answering with version 3: {converged:.1f} s")
    versions = set(postgres_audit_db.scalars("SELECT model_version FROM suggestions"))
    assert versions == {"1", "3"}  # every answer, before and after, is in the audit


def _load(base_url: str, stop: threading.Event, answered: list[tuple[str, str]]) -> None:
    """Ask for recommendations until stopped or the replica is gone: (request id, version)."""
    with httpx.Client(base_url=base_url, headers=auth("caseworker"), timeout=10) as http:
        k = 0
        while not stop.is_set():
            k += 1
            try:
                response = http.post(
                    "/v1/recommendations",
                    json={"profile": client_profile(client_id=f"r-{id(answered)}-{k}")},
                )
            except httpx.TransportError:
                return
            if response.status_code == 200:
                body = response.json()
                answered.append((body["request_id"], body["model_version"]))
            time.sleep(0.02)  # a bounded load: about 50 requests a second per client at most


def test_two_replicas_converge_survive_a_kill_and_keep_one_audit_chain(
    mlflow_server: str, postgres_audit_db: AuditDatabase, tiny_model: PolkuModel, tmp_path: Path
) -> None:
    from mlflow import MlflowClient

    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "POLKU_"))}
    env |= {"MLFLOW_TRACKING_URI": mlflow_server, "POLKU_STATE_DIR": str(tmp_path / "jobs")}
    model_path = tmp_path / "model.polku"
    persistence.dump(tiny_model, model_path)
    subprocess.run(
        [sys.executable, "-m", "tests.service.registry_builder", str(tmp_path / "builder"),
         str(model_path), mlflow_server],
        check=True, capture_output=True, cwd=ROOT, env=env,
    )  # fmt: skip
    client = MlflowClient(tracking_uri=mlflow_server, registry_uri=mlflow_server)
    old = str(client.get_model_version_by_alias("polku-ranker", "champion").version)
    new = str(int(old) + 1)  # the builder's second version
    settings = {"POLKU_RELOAD_POLICY": "poll", "POLKU_RELOAD_POLL_SECONDS": "1"}
    replicas = [
        start_server(tmp_path / name, mlflow_server, audit_db_url=postgres_audit_db.url,
                     env=settings)
        for name in ("replica-a", "replica-b")
    ]  # fmt: skip
    stop = threading.Event()
    answered: list[list[tuple[str, str]]] = [[] for _ in range(4)]
    threads = [
        threading.Thread(target=_load, args=(replicas[k % 2].base_url, stop, answered[k]))
        for k in range(4)
    ]
    try:
        for thread in threads:
            thread.start()
        wait_until(lambda: all(rows for rows in answered), 60, "both replicas answering")
        assert {v for rows in answered for _, v in rows} == {old}
        client.set_registered_model_alias("polku-ranker", "champion", new)
        moved = time.monotonic()
        wait_until(
            lambda: all(rows and rows[-1][1] == new for rows in answered),
            60,
            "both replicas answering with the new version",
        )
        converged = time.monotonic() - moved
        replicas[0].kill()  # kill -9, mid-load
        after_kill = [len(rows) for rows in answered]
        wait_until(
            lambda: all(len(answered[k]) >= after_kill[k] + 20 for k in (1, 3)),
            60,
            "the surviving replica to keep answering",
        )
    finally:
        stop.set()
        for thread in threads:
            thread.join()
        for replica in replicas:
            replica.stop()
    print(
        f"two replicas: alias move to both answering with version {new}: {converged:.1f} s; "
        f"{sum(map(len, answered))} answered, all in the audit"
    )
    assert converged < 30
    for rows in answered:  # each client saw the old version, then only the new one
        versions = [v for _, v in rows]
        assert versions == [old] * versions.count(old) + [new] * versions.count(new)
    answered_ids = {rid for rows in answered for rid, _ in rows}
    stored = set(postgres_audit_db.scalars("SELECT request_id FROM suggestions"))
    assert answered_ids <= stored, f"{len(answered_ids - stored)} answered requests lack a row"
    with postgres_audit_db.store(chain_key=derive_key(HMAC_KEY.encode(), "audit-chain")) as db:
        verified = db.verify()  # two writer processes, one of them killed mid-commit
    assert verified.ok, verified.broken
    assert verified.checked["suggestions"] == len(stored)
