"""`polku replay` then `polku effects DIR --audit`: the evaluator's walk, end to end."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from typer.testing import CliRunner

from pipeline.cli import build_app
from pipeline.data.register import read_table


def test_replay_then_audit_effects_walks_end_to_end(
    register_fitted: Callable[..., str], tiny_world_dir: Path, state_dir: Path, tmp_path: Path
):
    register_fitted(promote_if_first=True)
    app = build_app()
    out = tmp_path / "audit.csv"
    plan = tmp_path / "plan.jsonl"
    args = ["replay", str(tiny_world_dir), "--assessments", "1000", "--seed", "2",
            "--out", str(out), "--plan-out", str(plan)]  # fmt: skip
    replayed = CliRunner().invoke(app, args)
    assert replayed.exit_code == 0, replayed.output
    assert "replayed 1000 assessments" in replayed.output
    assert f"polku effects {tiny_world_dir} --audit {out}" in replayed.output
    effects = CliRunner().invoke(
        app, ["effects", str(tiny_world_dir), "--audit", str(out), "--objective", "employment_12m"]
    )
    assert effects.exit_code == 0, effects.output
    assert "followed vs overridden" in effects.output
    assert ", 0 not." in effects.output  # every replayed decision found its assessment
    codes = read_table(tiny_world_dir / "clients.parquet")["henkilotunnus"].astype(str)
    for written in (out.read_text(), plan.read_text(), replayed.output, effects.output):
        assert not any(code in written for code in codes)


def test_replay_without_a_champion_says_so(tiny_world_dir: Path, state_dir: Path, tmp_path: Path):
    args = ["replay", str(tiny_world_dir), "--assessments", "5", "--out", str(tmp_path / "a.csv")]
    result = CliRunner().invoke(build_app(), args)
    assert result.exit_code == 2
    assert "no model to replay with" in result.output
    assert not (tmp_path / "a.csv").exists()
