"""`polku effects` never echoes a personal identity code, whatever the column is called."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from models.henkilotunnus import (
    contains_henkilotunnus,
    format_henkilotunnus,
    pseudonymous_key,
)
from pipeline.cli import build_app
from pipeline.effects.estimators import REDACTED_CODE, EffectsError
from pipeline.effects.table import check_table, holds_identity_codes

N = 3000
CODES = [
    format_henkilotunnus(dt.date(1972, 1, 1) + dt.timedelta(days=i // 50), 900 + 2 * (i % 50))
    for i in range(N)
]


def _run(*args: str):
    app = build_app()
    single = len(app.registered_commands) + len(app.registered_groups) == 1
    return CliRunner().invoke(app, list(args) if single else ["effects", *args])


@pytest.fixture
def table(tmp_path: Path) -> Path:
    """3000 people: their codes in a column `hetu`, an outcome, a course and an age."""
    rng = np.random.default_rng(0)
    path = tmp_path / "t1.csv"
    pd.DataFrame(
        {
            "hetu": CODES,
            "course": rng.integers(0, 2, N),
            "age": rng.integers(18, 65, N),
            "employed_6m": rng.integers(0, 2, N),
        }
    ).to_csv(path, index=False)
    return path


def _no_code(output: str) -> None:
    assert not contains_henkilotunnus(output), output
    assert not any(code in output for code in CODES[:50])


@pytest.mark.parametrize(
    ("option", "role"),
    [
        (("--treatment", "hetu", "--outcome", "employed_6m"), "treatment"),
        (("--treatment", "course", "--outcome", "hetu"), "outcome"),
        (("--treatment", "course", "--outcome", "employed_6m", "--covariates", "age,hetu"),
         "covariate"),
        (("--treatment", "course", "--outcome", "employed_6m", "--cluster", "hetu"), "cluster"),
    ],
)  # fmt: skip
def test_a_column_of_codes_is_refused_naming_only_the_column(
    table: Path, option: tuple[str, ...], role: str
) -> None:
    result = _run(str(table), *option)
    assert result.exit_code == 2, result.output
    assert f"{role} column 'hetu' holds personal identity codes" in result.output
    assert "cannot be a treatment, outcome, covariate or cluster" in result.output
    _no_code(result.output)


def test_a_column_of_codes_is_left_out_of_the_default_covariates(
    table: Path, tmp_path: Path
) -> None:
    out = tmp_path / "o.json"
    result = _run(
        str(table), "--treatment", "course", "--outcome", "employed_6m", "--json", str(out)
    )
    assert result.exit_code == 0, result.output
    payload = out.read_text(encoding="utf-8")
    assert json.loads(payload)["data"]["covariates"] == ["age"]
    assert "hetu" not in payload and "covariates: age" in result.output
    _no_code(result.output + payload)


def test_a_code_given_as_an_arm_label_is_not_echoed(table: Path) -> None:
    result = _run(
        str(table), "--treatment", "course", "--outcome", "employed_6m",
        "--control-value", CODES[7],
    )  # fmt: skip
    assert result.exit_code == 2, result.output
    assert f"--control-value '{REDACTED_CODE}' does not occur in treatment column 'course'" in (
        result.output
    )
    _no_code(result.output)


def test_one_code_among_other_labels_still_refuses_the_column() -> None:
    """A single code (here full-width, as a disguise) is enough: its neighbours may be too."""
    labels = ["a", "b", "c"] * 10 + ["０１０１７２－９００Ｕ"]
    frame = pd.DataFrame({"arm": labels, "y": [0, 1] * 15 + [1]})
    with pytest.raises(EffectsError, match="treatment column 'arm' holds personal identity"):
        check_table(frame, treatment="arm", outcome="y")


def test_a_column_name_shaped_like_a_code_is_redacted_in_the_column_list() -> None:
    frame = pd.DataFrame({"x": [0, 1] * 10, CODES[0]: [1, 0] * 10})
    with pytest.raises(EffectsError) as caught:
        check_table(frame, treatment="x", outcome="salary")
    message = str(caught.value)
    assert "outcome column 'salary' is not in the data" in message
    assert f"'{REDACTED_CODE}'" in message and CODES[0] not in message


def test_numbers_and_plain_text_are_not_identity_codes() -> None:
    assert not holds_identity_codes(pd.Series([123456.7891, 2.0]))  # "123456.7891" as text
    assert not holds_identity_codes(pd.Series(["C0000001", "2024-03-04 10:15", None]))
    assert holds_identity_codes(pd.Series(["C0000001", None, CODES[3]]))


def test_a_pseudonymous_key_still_clusters(table: Path) -> None:
    """Hex keys often hold a run shaped like a code; the key column is no code column."""
    frame = pd.read_csv(table).drop(columns="hetu")
    frame["client_key"] = [pseudonymous_key(code, b"secret") for code in CODES]
    assert any(contains_henkilotunnus(key) for key in frame["client_key"])
    frame.to_csv(table, index=False)
    result = _run(
        str(table), "--treatment", "course", "--outcome", "employed_6m", "--covariates", "age",
        "--cluster", "client_key",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
