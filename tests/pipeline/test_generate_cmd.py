"""`polku generate` and `polku validate` end to end through the Typer app."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from typer.testing import CliRunner

from pipeline.cli import build_app

runner = CliRunner()


def _generate(out: Path, *extra: str) -> str:
    result = runner.invoke(
        build_app(), ["generate", "--clients", "300", "--seed", "4", "--out", str(out), *extra]
    )
    assert result.exit_code == 0, result.output
    return result.output


def test_generate_writes_the_three_files_and_prints_marginals(tmp_path: Path) -> None:
    output = _generate(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "clients.parquet",
        "episodes.parquet",
        "truth.parquet",
    ]
    assert "Generated marginals beside docs/domain/CALIBRATION.md" in output
    assert "long-term share of the unemployed" in output and "target" in output
    assert "population of 300 persons" in output  # progress lines
    clients = pd.read_parquet(tmp_path / "clients.parquet")
    assert len(clients) == 300
    # The identity code is in the clients file only, never printed.
    assert not any(code in output for code in clients["henkilotunnus"])


def test_generate_csv_and_hidden_confounder(tmp_path: Path) -> None:
    output = _generate(tmp_path, "--csv", "--hidden-confounder")
    assert {"clients.csv", "episodes.csv", "truth.csv"} <= {p.name for p in tmp_path.iterdir()}
    assert "hidden confounder" in output
    episodes = pd.read_csv(tmp_path / "episodes.csv", dtype=str)
    assert episodes["assessment_date"].str.fullmatch(r"\d{4}-\d{2}-\d{2}").all()


def test_generate_defaults_to_the_state_dir(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("POLKU_STATE_DIR", str(tmp_path / "state"))
    result = runner.invoke(build_app(), ["generate", "--clients", "50"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "state" / "world" / "episodes.parquet").is_file()


def test_generate_rejects_zero_clients(tmp_path: Path) -> None:
    result = runner.invoke(build_app(), ["generate", "--clients", "0", "--out", str(tmp_path)])
    assert result.exit_code != 0
    assert not any(tmp_path.iterdir())


def test_validate_accepts_a_generated_world(tmp_path: Path) -> None:
    _generate(tmp_path)
    result = runner.invoke(build_app(), ["validate", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "valid: 300 clients" in result.output


def test_a_censored_world_validates_and_says_which_outcomes_are_awaited_or_missing(
    tmp_path: Path,
) -> None:
    _generate(tmp_path, "--censored")
    path = tmp_path / "episodes.parquet"
    episodes = pd.read_parquet(path)
    dates = pd.to_datetime(episodes["assessment_date"])
    awaited = int((dates + pd.DateOffset(months=12) > dates.max()).sum())
    assert episodes["employed_12m"].isna().sum() == awaited > 0
    # One old episode's twelve-month outcome lost: a gap, not an outcome still ahead.
    oldest = int(dates.idxmin())
    episodes.loc[oldest, "employed_12m"] = float("nan")
    episodes.to_parquet(path, index=False)
    result = runner.invoke(build_app(), ["validate", str(tmp_path)])
    assert result.exit_code == 0, result.output
    known = len(episodes) - awaited - 1
    assert (
        f"employed_12m: {known:,} known, {awaited:,} not yet due, "
        "1 blank though their 12 months had passed"
    ) in result.output


def test_validate_lists_file_row_and_field_and_exits_2(tmp_path: Path) -> None:
    _generate(tmp_path)
    path = tmp_path / "episodes.parquet"
    episodes = pd.read_parquet(path)
    episodes.loc[1, "service_id"] = "knitting"
    episodes.to_parquet(path, index=False)
    result = runner.invoke(build_app(), ["validate", str(tmp_path)])
    assert result.exit_code == 2
    assert (
        "episodes.parquet: row 2, field 'service_id': 'knitting' is not a catalog service"
        in result.output
    )
    assert "1 problem(s)" in result.output


def test_validate_reports_missing_files(tmp_path: Path) -> None:
    result = runner.invoke(build_app(), ["validate", str(tmp_path)])
    assert result.exit_code == 2
    assert "no clients.parquet or clients.csv" in result.output


def test_validate_reports_a_bad_catalog(tmp_path: Path) -> None:
    _generate(tmp_path / "world")
    bad = tmp_path / "services.toml"
    bad.write_text('[[service]]\nid = "x"\nfamily = "sports"\n', encoding="utf-8")
    result = runner.invoke(
        build_app(), ["validate", str(tmp_path / "world"), "--catalog", str(bad)]
    )
    assert result.exit_code == 2
    assert "service 'x': field 'family'" in result.output
