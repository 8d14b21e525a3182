"""polku feedback: audit export + later outcomes -> episodes that record what Polku did."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from models.henkilotunnus import pseudonymous_key
from models.keys import derive_key
from pipeline.cli import build_app

SECRET = "test-hmac-secret-of-sufficient-length"
KEY = derive_key(SECRET.encode(), "pseudonym")


def _entry(service: str, rank: int, model_rank: int | None = None, p: float | None = None):  # type: ignore[no-untyped-def]
    entry = {"service_id": service, "rank": rank, "uplift": 0.01}
    if p is not None:
        entry.update(model_rank=model_rank, p_first=p)
    return entry


def _row(request: str, key: str, day: str, ranking: list, **decision: object) -> dict:  # type: ignore[type-arg]
    row = {
        "request_id": request, "created_at": f"{day}T10:00:00Z", "kind": "recommendation",
        "actor": "desk-1", "client_key": key, "model_version": "3", "objective": "eo6",
        "eligible": True, "ranking": json.dumps(ranking), "decision_id": None,
        "decided_at": None, "decided_by": None, "choice": None, "chosen_service_id": None,
        "followed_top": None, "reason": None,
    }  # fmt: skip
    row.update(decision)
    return row


@pytest.fixture
def inputs(tmp_path: Path) -> tuple[Path, Path]:
    a, c, d = (pseudonymous_key(i, KEY) for i in ("C1", "C3", "C4"))
    b_code = pseudonymous_key("170500A9056", KEY)
    explored = [_entry("s2", 1, 2, 0.25), _entry("s1", 2, 1, 0.5), _entry("s3", 3, 3, 0.25)]
    plain = [_entry("s1", 1), _entry("s2", 2)]
    rows = [
        _row("r1", a, "2024-03-05", explored, decided_at="2024-03-05T11:00:00Z",
             choice="suggested", chosen_service_id="s2", followed_top="true"),
        _row("r2", b_code, "2024-03-06", plain, decided_at="2024-03-06T11:00:00Z",
             choice="suggested", chosen_service_id="s1", followed_top="true"),
        # A correction of r2, later: it wins.
        _row("r2", b_code, "2024-03-06", plain, decided_at="2024-03-06T12:00:00Z",
             choice="none", followed_top="false", reason="client moved away"),
        _row("r3", c, "2024-03-07", plain),  # undecided
        _row("r4", d, "2024-03-08", plain, decided_at="2024-03-08T11:00:00Z",
             choice="other", chosen_service_id="s9", followed_top="false", reason="waiting list"),
    ]  # fmt: skip
    audit = tmp_path / "audit.csv"
    pd.DataFrame(rows).to_csv(audit, index=False)
    outcomes = tmp_path / "outcomes.csv"
    pd.DataFrame(
        {
            "henkilotunnus": ["", "170500A9056", "", ""],
            "client_id": ["C1", "", "C3", "C4"],
            "assessment_date": ["2024-03-01", "2024-03-06", "2024-03-07", "2023-12-01"],
            "employed_6m": ["1", "0", "1", "0"],
            "education_6m": ["0", "1", "0", "0"],
            "employed_12m": ["", "1", "", ""],
            "education_level": ["basic", "master", "basic", "basic"],
        }
    ).to_csv(outcomes, index=False)
    return audit, outcomes


def _run(*args: str, env: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    result = CliRunner().invoke(build_app(), ["feedback", *args], env=env)
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result


def test_feedback_joins_decided_recommendations_with_their_outcomes(
    inputs: tuple[Path, Path], tmp_path: Path
) -> None:
    out = tmp_path / "episodes.parquet"
    result = _run(*map(str, inputs), "--out", str(out), env={"POLKU_HMAC_KEY": SECRET})
    assert result.exit_code == 0, result.output
    assert "4 recommendations in the audit export, 3 decided; 2 joined" in result.output
    episodes = pd.read_parquet(out).set_index("request_id")
    assert list(episodes.index) == ["r1", "r2"]  # r3 undecided; r4's assessment is too old
    r1, r2 = episodes.loc["r1"], episodes.loc["r2"]
    assert r1["suggested_service_id"] == "s2" and r1["model_top_service_id"] == "s1"
    assert bool(r1["randomised"]) and r1["suggestion_probability"] == 0.25
    assert r1["service_id"] == "s2" and bool(r1["followed_top"])
    assert r1["employed_6m"] == 1 and pd.isna(r1["employed_12m"])  # not yet known
    assert json.loads(r1["first_place_probabilities"]) == {"s2": 0.25, "s1": 0.5, "s3": 0.25}
    assert not bool(r2["randomised"]) and r2["suggestion_probability"] == 1.0
    assert json.loads(r2["first_place_probabilities"]) == {"s1": 1.0}  # the only one possible
    assert r2["choice"] == "none" and r2["service_id"] == "none"  # the correction
    assert r2["reason"] == "client moved away" and r2["employed_12m"] == 1
    # Profile columns of the extract come along, the client named by its key only.
    assert r2["education_level"] == "master" and r2["client_id"] == r2["client_key"]
    text = out.read_bytes()
    for secret in (b"170500A9056", b"C1", b"C3"):
        assert secret not in text


def test_feedback_names_every_bad_row_and_field(inputs: tuple[Path, Path], tmp_path: Path) -> None:
    audit, outcomes = inputs
    frame = pd.read_csv(outcomes, dtype=str, keep_default_na=False)
    frame.loc[1, "employed_6m"] = "2"
    frame.loc[2, "assessment_date"] = "soon"
    frame.to_csv(outcomes, index=False)
    broken = pd.read_csv(audit, dtype=str, keep_default_na=False)
    broken.loc[0, "ranking"] = "{not json"
    broken.to_csv(audit, index=False)
    out = tmp_path / "episodes.parquet"
    result = _run(str(audit), str(outcomes), "--out", str(out), env={"POLKU_HMAC_KEY": SECRET})
    assert result.exit_code == 2
    assert "audit export row 1, ranking: is not JSON" in result.output
    fixed = broken.copy()
    fixed.loc[0, "ranking"] = "[]"
    fixed.to_csv(audit, index=False)
    result = _run(str(audit), str(outcomes), "--out", str(out), env={"POLKU_HMAC_KEY": SECRET})
    assert result.exit_code == 2
    assert "outcome extract row 2, employed_6m: is not 0, 1 or empty" in result.output
    assert "outcome extract row 3, assessment_date: is not a date" in result.output
    assert not out.exists()  # nothing half-written


def test_feedback_without_the_secret_says_how_to_give_it(
    inputs: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("POLKU_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.delenv("POLKU_HMAC_KEY", raising=False)
    result = _run(*map(str, inputs), "--out", str(tmp_path / "e.parquet"))
    assert result.exit_code == 2
    assert "HMAC" in result.output


def test_evaluate_feedback_reads_what_feedback_writes(
    inputs: tuple[Path, Path], tmp_path: Path
) -> None:
    out = tmp_path / "episodes.parquet"
    assert _run(*map(str, inputs), "--out", str(out), env={"POLKU_HMAC_KEY": SECRET}).exit_code == 0
    evaluate = ["evaluate-feedback", str(out), "--no-mlflow"]
    result = CliRunner().invoke(build_app(), evaluate)
    assert result.exit_code == 2  # the fixture's objective "eo6" is no objective
    assert "the episodes' objective 'eo6'" in result.output and "give --objective" in result.output
    result = CliRunner().invoke(
        build_app(), [*evaluate, "--objective", "employment_or_education_6m"]
    )
    assert result.exit_code == 0, result.output
    # r1 (randomised, p 0.25, employed) and r2 (not randomised, in education): both known.
    assert "2 episodes read, 2 with the employment_or_education_6m outcome known" in result.output
    assert "1 with the first place randomised" in result.output
    # The served model's best first (s1) was shown only in r2 (reward 1, p 1): IPW 1/2.
    assert "the served model's best first: IPW 0.5000" in result.output
