"""The `polku` entry point's process defaults: quiet MLflow, help readable when piped."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from pipeline import cli


def test_main_turns_mlflow_download_bars_off_unless_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", raising=False)
    monkeypatch.setattr(sys, "argv", ["polku", "--help"])
    with pytest.raises(SystemExit):
        cli.main()
    assert os.environ["MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"] == "false"
    monkeypatch.setenv("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "true")
    with pytest.raises(SystemExit):
        cli.main()
    assert os.environ["MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"] == "true"


def test_piped_help_is_not_cut_at_80_columns() -> None:
    environment = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "TERMINAL_WIDTH")}
    result = subprocess.run(
        [sys.executable, "-c", "from pipeline.cli import main; main()", "--help"],
        capture_output=True,
        text=True,
        env=environment,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    sentence = (
        "Polku: eligibility, synthetic data, training, evaluation, scoring, effects, serving."
    )
    assert len(sentence) > 80
    assert any(sentence in line for line in result.stdout.splitlines()), result.stdout[:500]
