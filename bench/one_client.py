"""One client's answer timed in process for two source trees side by side (before and after).

`side_by_side` starts one worker process per tree, each importing Polku from its own tree
(`PYTHONPATH`) and loading the same model file and profiles, then asks them in turn, tree
after tree and in alternating order, to time each path over the same calls: whatever the
rest of the machine does hits both alike, which separate runs minutes apart cannot promise.
A worker only answers when asked, so the trees never run at the same time.

Paths timed (top 5 services, the default objective, Finnish, as `bench_api.py` asks):

- `recommend`: `PolkuModel.recommend` (gate, limits, encode, score, intervals, drivers);
- `answer`: `PolkuModel.answer` (the same, plus both targets and why-not for every service);
- `answer + API body`: `answer`, then the body `POST /v1/recommendations` returns
  (`service.views.recommendation_response`, serialised to JSON), as each tree builds it by
  default.

Every call is timed twice (`time_calls`): on the wall clock, and on the CPU clock of the
calling thread. The difference is time the thread was not running (on this shared machine
the scheduler takes the core away for a whole 4 ms tick now and then), so the CPU p99 is
what the code itself costs, and the share of calls descheduled says how much of the wall
p99 the scheduler makes.

Run as a script, this file is the worker: `python bench/one_client.py MODEL PROFILES`, with
Polku's tree first on `PYTHONPATH`; it reads one request per line on stdin.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import astuple, dataclass
from pathlib import Path
from typing import Any

PATHS = ("recommend", "answer", "answer + API body")
TOP_K = 5
LANGUAGE = "fi"
# A call that spent this much longer on the wall clock than on the CPU was descheduled.
DESCHEDULED_MS = 1.0


@dataclass(frozen=True)
class CallTimes:
    """Percentiles (ms) of one path's calls, on the wall clock and on the thread's CPU clock,
    and the share of the calls descheduled (wall minus CPU above `DESCHEDULED_MS`)."""

    p50_ms: float
    p99_ms: float
    cpu_p50_ms: float
    cpu_p99_ms: float
    descheduled: float


def time_calls(fn: Callable[[Any], object], items: Sequence[Any], calls: int) -> CallTimes:
    """Time `fn(item)` over `calls` calls, cycling through `items`."""
    import numpy as np

    wall, cpu = np.empty(calls), np.empty(calls)
    for i in range(calls):
        item = items[i % len(items)]
        cpu_start = time.thread_time_ns()
        start = time.perf_counter_ns()
        fn(item)
        wall[i] = time.perf_counter_ns() - start
        cpu[i] = time.thread_time_ns() - cpu_start
    p50, p99 = np.percentile(wall, [50, 99]) / 1e6
    cpu_p50, cpu_p99 = np.percentile(cpu, [50, 99]) / 1e6
    descheduled = float(np.mean(wall - cpu > DESCHEDULED_MS * 1e6))
    return CallTimes(float(p50), float(p99), float(cpu_p50), float(cpu_p99), descheduled)


def median_times(runs: Sequence[CallTimes]) -> CallTimes:
    """Each field's median over repeated runs."""
    return CallTimes(*(statistics.median(field) for field in zip(*map(astuple, runs), strict=True)))


def source_tree_argument(value: str) -> tuple[str, Path]:
    """`--against LABEL=DIR` of the bench scripts: the label and a Polku source tree."""
    label, _, directory = value.rpartition("=")
    tree = Path(directory).resolve()
    if not label or not all((tree / f).is_file() for f in ("models/bundle.py", "service/cli.py")):
        sys.exit(f"--against wants LABEL=DIR with DIR a Polku source tree, got {value!r}")
    return label, tree


def side_by_side(
    trees: dict[str, Path],
    model_path: Path,
    profiles_path: Path,
    *,
    calls: int = 2000,
    rounds: int = 5,
) -> dict[str, dict[str, CallTimes]]:
    """Per tree label and path, the median over `rounds` of each round's `CallTimes`.

    Every round times every path once in every tree, the trees' order reversed each round.
    """
    workers = {label: _start(tree, model_path, profiles_path) for label, tree in trees.items()}
    try:
        samples: dict[str, dict[str, list[CallTimes]]] = {
            label: {path: [] for path in PATHS} for label in trees
        }
        labels = list(trees)
        for round_ in range(rounds):
            for label in labels if round_ % 2 == 0 else labels[::-1]:
                for path in PATHS:
                    samples[label][path].append(_ask(workers[label], path, calls))
        return {
            label: {path: median_times(runs) for path, runs in by_path.items()}
            for label, by_path in samples.items()
        }
    finally:
        for worker in workers.values():
            if worker.stdin is not None:
                worker.stdin.close()
            worker.wait(timeout=60)


def _start(tree: Path, model_path: Path, profiles_path: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(tree), "OMP_NUM_THREADS": "1"}
    worker = subprocess.Popen(
        [sys.executable, str(Path(__file__).resolve()), str(model_path), str(profiles_path)],
        cwd=tree,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    ready = json.loads(_line(worker))
    if Path(ready["polku"]).resolve() != tree.resolve():
        worker.kill()
        raise RuntimeError(f"the worker for {tree} imported Polku from {ready['polku']}")
    return worker


def _ask(worker: subprocess.Popen[str], path: str, calls: int) -> CallTimes:
    assert worker.stdin is not None
    worker.stdin.write(json.dumps({"path": path, "calls": calls}) + "\n")
    worker.stdin.flush()
    return CallTimes(**json.loads(_line(worker)))


def _line(worker: subprocess.Popen[str]) -> str:
    assert worker.stdout is not None
    line = worker.stdout.readline()
    if not line:
        raise RuntimeError(f"a timing worker exited with {worker.wait()}")
    return line


def profile_records(profiles: list[Any]) -> list[dict[str, Any]]:
    """`ClientProfile`s as a request sends them (dates as ISO text, no empty fields)."""
    import dataclasses
    import datetime as dt

    out = []
    for profile in profiles:
        record = {}
        for name, value in dataclasses.asdict(profile).items():
            if value is None:
                continue
            record[name] = value.isoformat() if isinstance(value, dt.date) else value
        out.append(record)
    return out


# -- the worker ----------------------------------------------------------------------------


def _worker(model_path: str, profiles_path: str) -> None:
    import dataclasses

    from threadpoolctl import threadpool_limits

    import models
    from models.objectives import DEFAULT_OBJECTIVE, Objective
    from models.persistence import load
    from service.suggest import RecommendationAnswer, check_profile
    from service.versions import Versions
    from service.views import recommendation_response

    model = load(model_path)
    checked = [check_profile(r) for r in json.loads(Path(profiles_path).read_text())]
    objective = Objective.parse(DEFAULT_OBJECTIVE)
    versions = Versions("rules", "7", "hash", "catalog")

    def body(item: Any) -> str:
        answered = model.answer(item.profile, objective, top_k=TOP_K)
        eligible = answered.decision.eligible
        answer = RecommendationAnswer(
            request_id="bench",
            language=LANGUAGE,
            objective=objective.name,
            model_version="7",
            rules_version=answered.decision.rules_version,
            decision=answered.decision,
            ranking=answered.ranked if eligible else (),
            profile=item.profile,
            catalog=model.catalog,
            audit=None,  # type: ignore[arg-type]  # the view does not read it
            versions=versions,
            not_suggested=answered.not_suggested,
            ranked_by=objective,
        )
        return str(recommendation_response(answer).model_dump_json())

    timed = {
        "recommend": lambda item: model.recommend(item.profile, objective, top_k=TOP_K),
        "answer": lambda item: model.answer(item.profile, objective, top_k=TOP_K),
        "answer + API body": body,
    }
    print(json.dumps({"polku": str(Path(models.__file__).parent.parent)}), flush=True)
    with threadpool_limits(limits=1):
        for line in sys.stdin:
            request = json.loads(line)
            fn, calls = timed[request["path"]], int(request["calls"])
            for item in checked[:20]:  # warm the caches of this path
                fn(item)
            times = time_calls(fn, checked, calls)
            print(json.dumps(dataclasses.asdict(times)), flush=True)


if __name__ == "__main__":
    _worker(sys.argv[1], sys.argv[2])
