"""bench/bench_api.py's report and wrk parsing, without a server (the bench is no test)."""

from __future__ import annotations

from types import ModuleType

import pytest

from tests.helpers import load_bench_module

WRK_OUT = """Running 8s test @ http://127.0.0.1:1/v1/recommendations
  Latency Distribution
     50%    7.50ms
     99%   1.20s
  2400 requests in 8.00s, 1.00MB read
  Non-2xx or 3xx responses: 3
Requests/sec:    300.00
"""


@pytest.fixture(scope="module")
def bench_api() -> ModuleType:
    return load_bench_module("bench_api.py", "bench_api")


def test_wrk_output_is_read_with_its_units(bench_api: ModuleType) -> None:
    assert bench_api.parse_wrk(WRK_OUT) == (300.0, 7.5, 1200.0, 3, 2400)


def test_the_report_sets_postgresql_rows_beside_sqlite(bench_api: ModuleType) -> None:
    def runs(rps: float, cpu: float, db: float = 0.0) -> dict[int, object]:
        return {c: bench_api.Run(rps, 5.0, 20.0, 0, cpu, db) for c in bench_api.CONCURRENCY}

    results = {
        "Polku API, 1 worker": runs(300, 3.0),
        "Polku API, 2 workers": runs(400, 3.2),
        "Polku API, 1 worker, PostgreSQL": runs(150, 4.0, 2.0),
        "Polku API, 2 workers, PostgreSQL": runs(200, 4.2, 2.1),
        "mlflow models serve, 1 worker": runs(30, 15.0),
    }
    starts = dict.fromkeys(results, 2.0)
    body = bench_api.report(results, starts, 3, 8, 10_000, 5000, (1.0, 1.0, 1.0), 4000)
    assert "| Polku API, 1 worker, PostgreSQL | 2.0 |" in body
    assert "| 4.00 + 2.00 |" in body  # Polku's CPU + PostgreSQL's
    assert "1 worker: 150 req/s against 300 on SQLite (0.50x)" in body
    assert "4,000 audit rows were written to PostgreSQL" in body
    without = {k: v for k, v in results.items() if "PostgreSQL" not in k}
    assert "No PostgreSQL rows" in bench_api.report(without, starts, 3, 8, 10_000, 5000, (1, 1, 1))


def test_the_report_sets_the_other_tree_beside_this_one(bench_api: ModuleType) -> None:
    def runs(rps: float, cpu: float) -> dict[int, object]:
        return {c: bench_api.Run(rps, 5.0, 20.0, 0, cpu) for c in bench_api.CONCURRENCY}

    results = {
        "Polku API, 1 worker": runs(300, 3.0),
        "Polku API, 1 worker (main)": runs(100, 6.0),
        "Polku API, 2 workers": runs(400, 3.2),
        "mlflow models serve, 1 worker": runs(30, 15.0),
    }
    starts = dict.fromkeys(results, 2.0)
    body = bench_api.report(results, starts, 3, 8, 10_000, 5000, (1, 1, 1), None, "main")
    assert "| Polku API, 1 worker (main) | 2.0 |" in body
    assert "server CPU per request at c=8 6.00 -> 3.00 ms (2.00x less)" in body
    assert "c=8: 100 -> 300 req/s (3.00x)" in body
    assert "This tree against" not in bench_api.report(
        results, starts, 3, 8, 10_000, 5000, (1, 1, 1)
    )
