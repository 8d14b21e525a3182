"""`polku eligibility` end to end through the Typer app."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner, Result

from pipeline.cli import build_app
from pipeline.commands.eligibility import write_csv_atomically

HEADER = (
    "client_id,henkilotunnus,birth_date,home_municipality,mother_tongue,immigrant,"
    "registered_jobseeker,labour_market_status,unemployment_benefit,"
    "experiment_client_since,assessment_date"
)
CODE = "131052-308T"  # valid, born 1952-10-13
ROWS = [
    # 70-year-old Russian speaker: foreign_language.
    f"a,{CODE},,091,ru,false,true,unemployed,earnings_related_allowance,,2023-07-01",
    # Espoo resident under 30, assessed on --today.
    "b,,1999-01-01,049,fi,FALSE,TRUE,unemployed,none,,",
    # 45-year-old Finnish speaker on earnings-related allowance.
    "c,,1978-03-15,091,fi,false,true,unemployed,earnings_related_allowance,,2023-03-15",
]


def _run(tmp_path: Path, rows: list[str], *extra: str) -> tuple[Result, Path]:
    source = tmp_path / "in.csv"
    source.write_text("\n".join([HEADER, *rows]) + "\n", encoding="utf-8")
    output = tmp_path / "out" / "decisions.csv"
    result = CliRunner().invoke(
        build_app(), ["eligibility", str(source), "--output", str(output), *extra]
    )
    return result, output


def test_eligibility_cmd_writes_one_decision_per_row(tmp_path: Path) -> None:
    result, output = _run(tmp_path, ROWS, "--today", "2025-01-01")
    assert result.exit_code == 0, result.output
    with output.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [r["client_id"] for r in rows] == ["a", "b", "c"]
    assert list(rows[0]) == [
        "client_id",
        "eligible",
        "target_groups",
        "failed_conditions",
        "rules_version",
    ]
    assert rows[0] == {
        "client_id": "a",
        "eligible": "true",
        "target_groups": "foreign_language",
        "failed_conditions": "",
        "rules_version": "kuntakokeilu-amendment-2022",
    }
    # 2025-01-01 from --today: after the experiment, and Espoo besides.
    assert rows[1]["eligible"] == "false"
    assert rows[1]["failed_conditions"] == "outside_experiment_period;not_helsinki_resident"
    assert rows[1]["target_groups"] == "no_earnings_related_allowance;under_30"
    assert rows[2]["failed_conditions"] == "no_target_group"
    assert CODE not in output.read_text()
    assert "2 with the TE office" in result.output


def test_eligibility_cmd_lists_every_invalid_row_and_writes_nothing(tmp_path: Path) -> None:
    rows = [
        ROWS[0].replace(CODE, "131052-308U"),
        ROWS[1],
        ROWS[2].replace("1978-03-15", "1978-02-30").replace("unemployed", "idle"),
    ]
    result, output = _run(tmp_path, rows)
    assert result.exit_code == 2
    stderr = result.stderr
    assert "row 1: henkilotunnus: wrong check character" in stderr
    assert "row 3: birth_date: impossible date '1978-02-30'" in stderr
    assert "row 3: labour_market_status: unknown value 'idle'" in stderr
    assert "row 2" not in stderr
    assert "2 of 3 rows are invalid; nothing was written" in stderr
    assert "131052-308U" not in stderr + result.stdout
    assert not output.exists()


def test_eligibility_cmd_leaves_an_old_output_alone_on_invalid_input(tmp_path: Path) -> None:
    output = tmp_path / "out" / "decisions.csv"
    output.parent.mkdir()
    output.write_text("previous run\n")
    result, _ = _run(tmp_path, [ROWS[0].replace("091", "91")])
    assert result.exit_code == 2
    assert output.read_text() == "previous run\n"
    assert list(output.parent.iterdir()) == [output]


def test_eligibility_cmd_rejects_an_empty_file(tmp_path: Path) -> None:
    source = tmp_path / "in.csv"
    source.write_text("")
    result = CliRunner().invoke(
        build_app(), ["eligibility", str(source), "--output", str(tmp_path / "o.csv")]
    )
    assert result.exit_code == 2
    assert "the file is empty" in result.stderr


def test_eligibility_cmd_rejects_a_bad_today(tmp_path: Path) -> None:
    result, output = _run(tmp_path, ROWS, "--today", "1.1.2024")
    assert result.exit_code == 2
    assert "YYYY-MM-DD" in result.stderr
    assert not output.exists()


def test_eligibility_cmd_reads_parquet(tmp_path: Path) -> None:
    frame = pd.read_csv(io.StringIO("\n".join([HEADER, *ROWS])), dtype=str, keep_default_na=False)
    frame["immigrant"] = frame["immigrant"].str.lower() == "true"
    frame["registered_jobseeker"] = True
    source = tmp_path / "in.parquet"
    frame.to_parquet(source)
    output = tmp_path / "o.csv"
    result = CliRunner().invoke(
        build_app(),
        ["eligibility", str(source), "--output", str(output), "--today", "2024-01-01"],
    )
    assert result.exit_code == 0, result.stderr
    assert pd.read_csv(output)["eligible"].tolist() == [True, False, False]


def test_write_csv_atomically_removes_its_temporary_file_on_failure(tmp_path: Path) -> None:
    class Boom(pd.DataFrame):
        def to_csv(self, *args: object, **kwargs: object) -> None:  # type: ignore[override]
            raise RuntimeError("disk full")

    target = tmp_path / "x.csv"
    with pytest.raises(RuntimeError, match="disk full"):
        write_csv_atomically(Boom({"a": [1]}), target)
    assert list(tmp_path.iterdir()) == []
