"""Every `polku` option that names an output file refuses a bad path up front: exit 2, a
sentence naming the option, the path and why, no traceback, the inputs untouched and no
temporary file left (the rule is `models.output_files`, written once)."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from pipeline.cli import build_app

HEADER = (
    "client_id,henkilotunnus,birth_date,home_municipality,mother_tongue,immigrant,"
    "registered_jobseeker,labour_market_status,unemployment_benefit,"
    "experiment_client_since,assessment_date"
)
ROW = "b,,1999-01-01,049,fi,false,true,unemployed,none,,2024-01-01"


def _invoke(args: list[str]) -> Result:
    # Wide columns: the service's usage errors are boxed by rich, which wraps at the width.
    return CliRunner().invoke(build_app(), args, env={"COLUMNS": "400"})


def _refused(result: Result, *words: str) -> str:
    """Assert a clean usage refusal (exit 2, no traceback); the one-line message."""
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(
        result.exception
    )
    assert "Traceback" not in result.output
    text = " ".join(result.output.split())
    for word in words:
        assert word in text, text
    return text


def _snapshot(root: Path) -> dict[str, bytes | None]:
    """Every path under `root` with its bytes (None for a directory)."""
    return {
        str(p.relative_to(root)): (None if p.is_dir() else p.read_bytes())
        for p in sorted(root.rglob("*"))
    }


@pytest.fixture
def place(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working directory with an extract, a register-like directory and a directory `el`."""
    monkeypatch.setenv("POLKU_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.chdir(tmp_path)
    (tmp_path / "clients.csv").write_text(f"{HEADER}\n{ROW}\n", encoding="utf-8")
    (tmp_path / "world").mkdir()
    (tmp_path / "world" / "episodes.parquet").write_bytes(b"not really parquet")
    (tmp_path / "el").mkdir()
    (tmp_path / "dir.parquet").mkdir()
    return tmp_path


# `polku effects` on a table of the place (its treatment and outcome columns named).
EFFECTS_ON_A_TABLE = ["effects", "clients.csv", "--treatment", "a", "--outcome", "b"]

# Each command and option that writes a file, pointed at an existing directory.
EXISTING_DIRECTORY = {
    "eligibility --output": ["eligibility", "clients.csv", "--output", "el"],
    "score --out": ["score", "clients.csv", "--out", "dir.parquet"],
    "allocate --out": ["allocate", "clients.csv", "--out", "dir.parquet"],
    "effects --json": [*EFFECTS_ON_A_TABLE, "--json", "el"],
    "evaluate --json": ["evaluate", "--version", "1", "--data", "world", "--json", "el"],
    "feedback --out": ["feedback", "clients.csv", "clients.csv", "--out", "el"],
    "replay --out": ["replay", "world", "--out", "el"],
    "replay --plan-out": ["replay", "world", "--plan-out", "el"],
    "audit export --out": ["audit", "export", "--out", "el"],
    "audit export-inputs --out": ["audit", "export-inputs", "--out", "el"],
}


@pytest.mark.parametrize("args", EXISTING_DIRECTORY.values(), ids=EXISTING_DIRECTORY.keys())
def test_an_existing_directory_as_an_output_file_is_refused(place: Path, args: list[str]) -> None:
    before = _snapshot(place)
    _refused(_invoke(args), f"{args[-2]} {args[-1]}: is an existing directory")
    assert _snapshot(place) == before  # inputs unchanged, no temporary file, nothing made


def test_the_allocation_summary_beside_the_output_is_checked_too(place: Path) -> None:
    (place / "plan.summary.json").mkdir()
    result = _invoke(["allocate", "clients.csv", "--out", "plan.parquet"])
    _refused(result, "--out (its summary) plan.summary.json: is an existing directory")
    assert not (place / "plan.parquet").exists()


# Each option that names a directory of files, pointed at an existing file.
FILE_AS_DIRECTORY = {
    "effects --report": EFFECTS_ON_A_TABLE,
    "evaluate --report": ["evaluate", "--version", "1", "--data", "world", "--json", "e.json"],
    "train --report": ["train", "--data", "world"],
    "evaluate-feedback --report": ["evaluate-feedback", "clients.csv"],
    "monitor --report": ["monitor", "world", "--inputs", "clients.csv"],
}


@pytest.mark.parametrize("args", FILE_AS_DIRECTORY.values(), ids=FILE_AS_DIRECTORY.keys())
def test_a_file_as_a_report_directory_is_refused(place: Path, args: list[str]) -> None:
    before = _snapshot(place)
    result = _invoke([*args, "--report", "clients.csv"])
    _refused(result, "--report clients.csv: is a file, not a directory")
    assert _snapshot(place) == before


def test_generate_refuses_a_file_as_its_directory(place: Path) -> None:
    before = _snapshot(place)
    _refused(_invoke(["generate", "--out", "clients.csv"]), "--out clients.csv: is a file")
    assert _snapshot(place) == before


def test_a_report_directory_holding_a_directory_where_a_file_goes_is_refused(
    place: Path,
) -> None:
    (place / "report" / "report.html").mkdir(parents=True)
    result = _invoke([*EFFECTS_ON_A_TABLE, "--report", "report"])
    _refused(result, "--report report (report.html)", "is an existing directory")


@pytest.mark.parametrize(
    "args",
    [
        ["score", "clients.csv", "--out", "/proc/nope/s.parquet"],
        [*EFFECTS_ON_A_TABLE, "--json", "/proc/nope/x.json"],
        ["eligibility", "clients.csv", "--output", "/proc/decisions.csv"],
        ["generate", "--out", "/proc/nope"],
    ],
    ids=["score --out", "effects --json", "eligibility --output", "generate --out"],
)
def test_a_place_that_cannot_be_written_is_refused(place: Path, args: list[str]) -> None:
    before = _snapshot(place)
    text = _refused(_invoke(args), f"{args[-2]} {args[-1]}: cannot create")
    assert "in /proc" in text
    assert _snapshot(place) == before


def test_a_parent_that_is_a_file_is_refused(place: Path) -> None:
    before = _snapshot(place)
    result = _invoke(["feedback", "clients.csv", "clients.csv", "--out", "clients.csv/e.parquet"])
    _refused(result, "--out clients.csv/e.parquet:", "clients.csv is a file, not a directory")
    assert _snapshot(place) == before


def test_eligibility_refuses_to_overwrite_its_input(place: Path) -> None:
    before = _snapshot(place)
    result = _invoke(["eligibility", "clients.csv", "-o", "clients.csv"])
    _refused(result, "--output clients.csv: is also INPUT", "overwrite that input")
    assert _snapshot(place) == before


def test_the_input_is_recognised_through_another_spelling_of_its_path(place: Path) -> None:
    before = _snapshot(place)
    result = _invoke(["eligibility", "clients.csv", "-o", str(place / "el" / ".." / "clients.csv")])
    _refused(result, "is also INPUT")
    assert _snapshot(place) == before


def test_score_refuses_to_overwrite_a_file_of_its_register(place: Path) -> None:
    before = _snapshot(place)
    result = _invoke(["score", "world", "--out", "world/episodes.parquet"])
    _refused(result, "--out world/episodes.parquet: is also DATA (episodes.parquet)")
    assert _snapshot(place) == before


def test_effects_refuses_a_json_that_is_its_table(place: Path) -> None:
    (place / "table.json").write_text("a,b\n1,0\n")
    before = _snapshot(place)
    result = _invoke(
        ["effects", "table.json", "--treatment", "a", "--outcome", "b", "--json", "table.json"]
    )
    _refused(result, "--json table.json: is also DATA")
    assert _snapshot(place) == before


def test_a_write_that_fails_at_the_rename_is_a_clear_error_leaving_the_old_file(
    place: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (place / "out.csv").write_text("old decisions\n")
    before = _snapshot(place)

    def disk_full(src: object, dst: object) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "replace", disk_full)
    result = _invoke(["eligibility", "clients.csv", "-o", "out.csv", "--today", "2024-01-01"])
    _refused(result, "cannot write out.csv: no space left on the device")
    assert _snapshot(place) == before  # old output kept, input unchanged, no temporary file


def test_a_good_output_still_goes_through(place: Path) -> None:
    result = _invoke(["eligibility", "clients.csv", "-o", "new/decisions.csv"])
    assert result.exit_code == 0, result.output
    assert (place / "new" / "decisions.csv").read_text().startswith("client_id,eligible")
    assert not list(place.rglob("*.tmp"))


def test_an_allocation_whose_summary_cannot_be_written_leaves_neither_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import pandas as pd

    from models.output_files import OutputPathError
    from pipeline.allocation.output import summary_path, write_allocation

    out = tmp_path / "allocation.parquet"
    out.write_bytes(b"last week's allocation")
    real = Path.write_bytes
    written: list[Path] = []

    def full_after_the_table(path: Path, data: bytes) -> int:
        written.append(path)
        if len(written) == 2:  # the summary's temporary: the disk is full by then
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real(path, data)

    monkeypatch.setattr(Path, "write_bytes", full_after_the_table)
    with pytest.raises(OutputPathError, match="no space left"):
        write_allocation(pd.DataFrame({"client_id": ["a"]}), {"status": "optimal"}, out)
    assert out.read_bytes() == b"last week's allocation"  # the table was not replaced
    assert not summary_path(out).exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["allocation.parquet"]
