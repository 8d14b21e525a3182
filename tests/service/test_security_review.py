"""The security review (bench/bench_security_review.py) in small: every figure at zero.

Slow (a world is generated and a champion trained, then a real server is fuzzed, scanned
and killed): `pytest -m slow tests/service/test_security_review.py`. The full run, with
the figures in docs/SECURITY.md, is `.venv/bin/python bench/bench_security_review.py`.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_the_review_in_small_finds_nothing(tmp_path: Path) -> None:
    out = tmp_path / "review.json"
    small = ["--clients", "2000", "--examples", "4", "--codes", "1", "--kills", "1"]
    where = ["--kill-after", "3", "--state", str(tmp_path / "state"), "--out", str(out)]
    script = str(ROOT / "bench" / "bench_security_review.py")
    subprocess.run(
        [sys.executable, script, *small, *where],
        check=True,
        capture_output=True,
        cwd=ROOT,
        timeout=1800,
    )
    figures = json.loads(out.read_text())
    assert figures["schemathesis"]["requests"] > 100
    assert figures["schemathesis"]["server_errors"] == 0
    assert figures["schemathesis"]["check_failures"] == 0, figures["schemathesis"]["failures"]
    assert figures["role_matrix"]["violations"] == 0, figures["role_matrix"]["which"]
    assert set(figures["echo_scan"]["codes_found"].values()) == {0}
    assert figures["echo_scan"]["world_codes_found_in_mlflow"] == 0
    assert figures["kill_9"]["answered_suggestions"] > 0
    assert figures["kill_9"]["lost_suggestions"] == figures["kill_9"]["lost_decisions"] == 0
