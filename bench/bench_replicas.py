"""Two `polku serve` replicas on one PostgreSQL audit store and one MLflow tracking server.

Run as `.venv/bin/python bench/bench_replicas.py` (needs PostgreSQL's initdb/pg_ctl and
`wrk`). In a fresh state directory it starts a throwaway PostgreSQL cluster (tests/postgres.py,
fsync on) with two databases, one for `mlflow server`'s backend store and one for the audit;
generates a world and trains two versions through the tracking server (`polku train`, the
first made champion); migrates the audit (`polku audit migrate`) and starts two replicas on
different ports, each with one worker, following the champion alias (`poll`).

Measured, beside each other:
- load on both replicas at once (`wrk` on each, half the connections each) at total
  concurrency 8 and 32: the sum of req/s and the larger of the two p99s, medians of
  `--repeats` runs of `--seconds`; server CPU per request (both replicas + PostgreSQL);
- under a lighter load on both (concurrency 2 each), the champion alias is moved between
  the two versions `--moves` times: the seconds from each move to both replicas answering
  with the new version (median and worst).

The result goes into the `replicas` section of BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench_api import (
    BIN,
    KEY,
    free_port,
    group_cpu_seconds,
    lua_script,
    migrate_postgres,
    parse_wrk,
    profiles,
    run,
    start_polku,
    start_postgres,
    stop,
    tree_cpu_seconds,
    wait_until,
    wrk_command,
)
from benchmarks_md import write_section

from tests.postgres import PostgresCluster, why_unavailable

CONCURRENCY = (8, 32)
MODEL = "polku-ranker"


@dataclass(frozen=True)
class PairRun:
    rps: float  # both replicas together
    p99_ms: float  # the larger of the two
    errors: int
    cpu_ms: float  # both replicas' processes per request
    db_cpu_ms: float  # PostgreSQL's per request


def start_mlflow_server(
    backend_url: str, state: Path, env: dict[str, str]
) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    with (state / "mlflow-server.log").open("ab") as handle:
        process = subprocess.Popen(
            [
                str(BIN / "mlflow"),
                "server",
                "--backend-store-uri",
                backend_url,
                "--artifacts-destination",
                str(state / "artifacts"),
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--workers",
                "1",
            ],
            cwd=state,
            env=env,
            stdout=handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return process, f"http://127.0.0.1:{port}"


def load_both(
    bases: list[str],
    script: Path,
    concurrency: int,
    seconds: int,
    pgids: list[int],
    db_pid: int,
) -> PairRun:
    """`wrk` on each replica at once, `concurrency` split between them."""
    each = concurrency // len(bases)
    cpu_before = sum(group_cpu_seconds(g) for g in pgids)
    db_before = tree_cpu_seconds(db_pid)
    loads = [
        subprocess.Popen(
            wrk_command(f"{base}/v1/recommendations", script, each, seconds, 1),
            stdout=subprocess.PIPE,
            text=True,
        )
        for base in bases
    ]
    outs = [load.communicate()[0] for load in loads]
    parsed = [parse_wrk(out) for out in outs]
    served = max(sum(p[4] for p in parsed), 1)
    return PairRun(
        rps=sum(p[0] for p in parsed),
        p99_ms=max(p[2] for p in parsed),
        errors=sum(p[3] for p in parsed),
        cpu_ms=(sum(group_cpu_seconds(g) for g in pgids) - cpu_before) * 1000 / served,
        db_cpu_ms=(tree_cpu_seconds(db_pid) - db_before) * 1000 / served,
    )


def served_version(http: httpx.Client, base: str, body: dict[str, object]) -> str | None:
    response = http.post(f"{base}/v1/recommendations", json=body, timeout=10)
    response.raise_for_status()
    version = response.json().get("model_version")
    return str(version) if version is not None else None


def convergence(
    bases: list[str],
    script: Path,
    tracking_uri: str,
    versions: tuple[str, str],
    moves: int,
    body: dict[str, object],
) -> list[float]:
    """Seconds from each alias move to both replicas answering with the moved-to version."""
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
    background = [
        subprocess.Popen(
            wrk_command(f"{base}/v1/recommendations", script, 2, 30 * moves + 60, 1),
            stdout=subprocess.DEVNULL,
        )
        for base in bases
    ]
    seconds: list[float] = []
    headers = {"Authorization": f"Bearer {KEY}"}
    try:
        with httpx.Client(headers=headers) as http:
            for move in range(moves):
                target = versions[(move + 1) % 2]  # version 2, back to 1, to 2, ...
                time.sleep(3)  # answering steadily with the current version first
                client.set_registered_model_alias(MODEL, "champion", target)
                moved = time.monotonic()
                pending = set(bases)
                while pending:
                    if time.monotonic() - moved > 120:
                        raise RuntimeError(f"not all replicas on version {target} in 120 s")
                    pending = {b for b in pending if served_version(http, b, body) != target}
                    time.sleep(0.05)
                seconds.append(time.monotonic() - moved)
                print(f"alias -> {target}: both replicas in {seconds[-1]:.2f} s", flush=True)
    finally:
        for process in background:
            process.terminate()
            process.wait()
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=10_000)
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--moves", type=int, default=3, help="alias moves timed")
    parser.add_argument("--poll-seconds", type=float, default=1.0, help="replicas' alias poll")
    parser.add_argument("--bootstrap", type=int, default=40, help="training's bootstrap refits")
    parser.add_argument("--keep", action="store_true", help="keep the state directory")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is missing: apt-get install wrk")
    if missing := why_unavailable():
        sys.exit(missing)

    state = Path(tempfile.mkdtemp(prefix="polku-bench-replicas-"))
    base_env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "POLKU_"))}
    processes: list[subprocess.Popen[bytes]] = []
    cluster: PostgresCluster | None = None
    try:
        cluster, audit_db = start_postgres()
        mlflow_db = cluster.new_database()
        server, tracking_uri = start_mlflow_server(mlflow_db.owner_url, state, base_env)
        processes.append(server)
        wait_until(f"{tracking_uri}/health", server)
        env = {
            **base_env,
            "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
            "POLKU_STATE_DIR": str(state),
            "MLFLOW_TRACKING_URI": tracking_uri,
            "POLKU_CASEWORKER_KEYS": json.dumps({"bench": KEY}),
            "POLKU_HMAC_KEY": "bench-hmac-key-0123456789abcdef-0123456789",
            "POLKU_API_REQUESTS_PER_MINUTE": "100000000",
            "POLKU_RELOAD_POLICY": "poll",
            "POLKU_RELOAD_POLL_SECONDS": str(args.poll_seconds),
            "OMP_NUM_THREADS": "1",
        }
        world = state / "world"
        polku = str(BIN / "polku")
        run([polku, "generate", "--clients", str(args.clients), "--seed", "1", "--out", str(world)],
            env)  # fmt: skip
        train = [polku, "train", "--data", str(world), "--bootstrap", str(args.bootstrap)]
        run([*train, "--promote-if-first"], env)
        run(train, env)  # version 2, registered beside the champion
        served_env = migrate_postgres(env, audit_db)
        records = profiles(world)
        script = state / "polku.lua"
        lua_script(
            script,
            "polku",
            [json.dumps({"profile": r, "top_k": 5, "language": "fi"}) for r in records],
        )
        replicas = []
        for name in ("a", "b"):
            process, base = start_polku(served_env, 1, state / f"replica-{name}.log")
            processes.append(process)
            replicas.append((process, base))
        starts = [wait_until(f"{base}/health/ready", process) for process, base in replicas]
        bases = [base for _, base in replicas]
        pgids = [process.pid for process, _ in replicas]
        db_pid = cluster.postmaster_pid()
        load_both(bases, script, 8, 2, pgids, db_pid)  # warm up
        results: dict[int, PairRun] = {}
        for concurrency in CONCURRENCY:
            runs = [
                load_both(bases, script, concurrency, args.seconds, pgids, db_pid)
                for _ in range(args.repeats)
            ]
            results[concurrency] = PairRun(
                statistics.median(r.rps for r in runs),
                statistics.median(r.p99_ms for r in runs),
                sum(r.errors for r in runs),
                statistics.median(r.cpu_ms for r in runs),
                statistics.median(r.db_cpu_ms for r in runs),
            )
            r = results[concurrency]
            print(
                f"two replicas c={concurrency:<3} {r.rps:8.1f} req/s  p99 {r.p99_ms:7.1f} ms  "
                f"CPU {r.cpu_ms:.2f} + PostgreSQL {r.db_cpu_ms:.2f} ms/req  errors {r.errors}",
                flush=True,
            )
        body = {"profile": records[0], "top_k": 5, "language": "fi"}
        moves = convergence(bases, script, tracking_uri, ("1", "2"), args.moves, body)
        audited = _count(audit_db.owner_url)
    finally:
        for process in processes:
            stop(process)
        if cluster is not None:
            cluster.stop()
        if not args.keep:
            shutil.rmtree(state, ignore_errors=True)

    text = report(results, moves, starts, args, audited, os.getloadavg())
    write_section("replicas", "python bench/bench_replicas.py", text)
    print(text)


def _count(url: str) -> int:
    import sqlalchemy

    engine = sqlalchemy.create_engine(url)
    try:
        with engine.connect() as conn:
            query = sqlalchemy.text("SELECT COUNT(*) FROM suggestions")
            return int(conn.execute(query).scalar_one())
    finally:
        engine.dispose()


def report(
    results: dict[int, PairRun],
    moves: list[float],
    starts: list[float],
    args: argparse.Namespace,
    audited: int,
    load: tuple[float, float, float],
) -> str:
    """The body of the `replicas` section of BENCHMARKS.md."""
    rows = [
        "| total concurrency | req/s (both) | p99 ms (worse replica) | CPU ms/request: "
        "replicas + PostgreSQL | errors |",
        "|---|---|---|---|---|",
    ]
    for concurrency, r in results.items():
        rows.append(
            f"| {concurrency} | {r.rps:.0f} | {r.p99_ms:.1f} | "
            f"{r.cpu_ms:.2f} + {r.db_cpu_ms:.2f} | {r.errors} |"
        )
    return f"""
Two `polku serve` replicas (one worker each, different ports) auditing to one PostgreSQL
database (fsync on, the service's append-only role) and loading the champion from one
`mlflow server` (PostgreSQL backend store, local artifact root behind its proxy), all on
loopback on the same shared 2-core machine as `wrk`. Model: trained by `polku train`
(bootstrap {args.bootstrap}) on a {args.clients:,}-client world, twice, through the tracking
server. `wrk` on both replicas at once, half the connections each; medians of {args.repeats}
runs of {args.seconds} s. Replicas ready {max(starts):.1f} s after start.

{chr(10).join(rows)}

Alias moves: under load on both (2 connections each), the champion alias was moved
{len(moves)} times between versions 1 and 2 with the replicas polling the registry every
{args.poll_seconds:g} s: both replicas answered with the new version
{statistics.median(moves):.1f} s after the move (median; worst {max(moves):.1f} s; each
move: {", ".join(f"{m:.1f}" for m in moves)} s). {audited:,} suggestions were audited.

Load average of the machine at the end: {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f}
(2 cores shared with other engineers' jobs; the two replicas, PostgreSQL, the MLflow server
and `wrk` share them too, so two replicas here cannot show a second machine's gain).
"""


if __name__ == "__main__":
    main()
