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
from pathlib import Path
from typing import Any

PATHS = ("recommend", "answer", "answer + API body")
TOP_K = 5
LANGUAGE = "fi"


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
) -> dict[str, dict[str, tuple[float, float]]]:
    """Per tree label and path, the median over `rounds` of each round's p50 and p99 (ms).

    Every round times every path once in every tree, the trees' order reversed each round.
    """
    workers = {label: _start(tree, model_path, profiles_path) for label, tree in trees.items()}
    try:
        samples: dict[str, dict[str, list[tuple[float, float]]]] = {
            label: {path: [] for path in PATHS} for label in trees
        }
        labels = list(trees)
        for round_ in range(rounds):
            for label in labels if round_ % 2 == 0 else labels[::-1]:
                for path in PATHS:
                    samples[label][path].append(_ask(workers[label], path, calls))
        return {
            label: {
                path: (
                    statistics.median(p50 for p50, _ in runs),
                    statistics.median(p99 for _, p99 in runs),
                )
                for path, runs in by_path.items()
            }
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


def _ask(worker: subprocess.Popen[str], path: str, calls: int) -> tuple[float, float]:
    assert worker.stdin is not None
    worker.stdin.write(json.dumps({"path": path, "calls": calls}) + "\n")
    worker.stdin.flush()
    answer = json.loads(_line(worker))
    return float(answer["p50_ms"]), float(answer["p99_ms"])


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
    import numpy as np
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
            times = np.empty(calls)
            for i in range(calls):
                item = checked[i % len(checked)]
                start = time.perf_counter_ns()
                fn(item)
                times[i] = time.perf_counter_ns() - start
            p50, p99 = np.percentile(times, [50, 99]) / 1e6
            print(json.dumps({"p50_ms": p50, "p99_ms": p99}), flush=True)


if __name__ == "__main__":
    _worker(sys.argv[1], sys.argv[2])
