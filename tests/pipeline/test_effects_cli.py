"""`polku effects` on CSV files: outputs, and the errors a user meets."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from pipeline.cli import build_app


def _run(*args: str):
    app = build_app()
    # Typer runs a lone command as the app itself; with several, "effects" names it.
    single = len(app.registered_commands) + len(app.registered_groups) == 1
    return CliRunner().invoke(app, list(args) if single else ["effects", *args])


def _confounded_csv(path: Path, n: int = 600, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    age = rng.integers(18, 65, n)
    town = rng.choice(["north", "south", "east"], n)
    e = 1 / (1 + np.exp(-((age - 40) / 10 + (town == "north"))))
    treated = rng.random(n) < e
    p = 1 / (1 + np.exp(-(-1 + (age - 40) / 15 + 0.4 * treated)))
    frame = pd.DataFrame(
        {
            "age": age,
            "town": town,
            "course": treated.astype(int),
            "arm": np.where(treated, rng.choice(["a", "b"], n), "none"),
            "employed": (rng.random(n) < p).astype(int),
        }
    )
    frame.to_csv(path, index=False)
    return path


def _hand_csv(path: Path) -> Path:
    # 10 treated with 7 employed, 10 controls with 3 employed: difference 0.4 exactly.
    frame = pd.DataFrame(
        {
            "group": ["yes"] * 10 + ["no"] * 10,
            "employed": [1] * 7 + [0] * 3 + [1] * 3 + [0] * 7,
        }
    )
    frame.to_csv(path, index=False)
    return path


def test_effects_cli_hand_table_every_estimator_is_the_difference(tmp_path):
    out = tmp_path / "out.json"
    result = _run(
        str(_hand_csv(tmp_path / "hand.csv")),
        "--treatment", "group", "--outcome", "employed", "--json", str(out),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    payload = json.loads(out.read_text())
    for name in ("difference_in_means", "regression_adjustment", "ipw", "aipw"):
        assert payload["estimates"][name]["estimate"] == pytest.approx(0.4)
    # unpooled standard error of two proportions, 0.21 each over 10
    se = np.sqrt(2 * 0.7 * 0.3 / 10)
    dim = payload["estimates"]["difference_in_means"]
    assert dim["ci_low"] == pytest.approx(0.4 - 1.959964 * se, abs=1e-5)
    assert "yes vs no" in result.output


def test_effects_cli_writes_json_and_html_report(tmp_path):
    data = _confounded_csv(tmp_path / "d.csv")
    report = tmp_path / "report"
    result = _run(
        str(data), "--treatment", "course", "--outcome", "employed",
        "--covariates", "age,town", "--json", str(tmp_path / "o.json"), "--report", str(report),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    payload = json.loads((tmp_path / "o.json").read_text())
    assert set(payload["estimates"]) == {
        "difference_in_means",
        "regression_adjustment",
        "ipw",
        "aipw",
    }
    assert {"estimate", "ci_low", "ci_high"} <= set(payload["estimates"]["aipw"])
    assert payload["data"]["features"] == ["age", "town=east", "town=north", "town=south"]
    assert isinstance(payload["warnings"], list)
    assert payload["diagnostics"]["treated"]["effective_sample_size"] > 0
    page = (report / "report.html").read_text()
    assert page.count("data:image/png;base64,") == 2  # overlap histogram and love plot
    assert "AIPW (doubly robust)" in page
    assert not list(report.glob(".*.tmp"))


def test_effects_cli_multivalued_treatment_against_control(tmp_path):
    data = _confounded_csv(tmp_path / "d.csv")
    out = tmp_path / "o.json"
    result = _run(
        str(data), "--treatment", "arm", "--outcome", "employed", "--covariates", "age,town",
        "--control-value", "none", "--estimand", "att", "--bootstrap", "50", "--json", str(out),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    payload = json.loads(out.read_text())
    assert [c["treated_value"] for c in payload["comparisons"]] == ["a", "b"]
    assert "estimates" not in payload  # several comparisons: no single top-level estimate
    aipw = payload["comparisons"][0]["estimates"]["aipw"]
    assert aipw["ci_method"].startswith("percentile bootstrap, 50 draws")
    assert "a vs none" in result.output and "b vs none" in result.output


def test_effects_cli_missing_column_names_it(tmp_path):
    data = _confounded_csv(tmp_path / "d.csv")
    result = _run(str(data), "--treatment", "course", "--outcome", "salary")
    assert result.exit_code == 2
    assert "outcome column 'salary' is not in the data" in result.output


def test_effects_cli_many_valued_treatment_needs_control(tmp_path):
    data = _confounded_csv(tmp_path / "d.csv")
    result = _run(str(data), "--treatment", "arm", "--outcome", "employed")
    assert result.exit_code == 2
    assert "treatment column 'arm' has 3 distinct values" in result.output
    assert "--control-value" in result.output


def test_effects_cli_stated_treated_value_absent(tmp_path):
    data = _confounded_csv(tmp_path / "d.csv")
    result = _run(
        str(data), "--treatment", "course", "--outcome", "employed", "--treated-value", "2"
    )
    assert result.exit_code == 2
    assert "--treated-value '2' does not occur in treatment column 'course'" in result.output


def test_effects_cli_ambiguous_two_labels_need_treated_value(tmp_path):
    frame = pd.DataFrame({"arm": ["x"] * 12 + ["y"] * 12, "out": [0, 1] * 12})
    frame.to_csv(tmp_path / "d.csv", index=False)
    result = _run(str(tmp_path / "d.csv"), "--treatment", "arm", "--outcome", "out")
    assert result.exit_code == 2
    assert "say which is treated with --treated-value" in result.output
    ok = _run(
        str(tmp_path / "d.csv"), "--treatment", "arm", "--outcome", "out", "--treated-value", "y"
    )
    assert ok.exit_code == 0, ok.output
    assert "y vs x" in ok.output


def test_effects_cli_missing_values_counted_with_rows(tmp_path):
    data = _confounded_csv(tmp_path / "d.csv")
    frame = pd.read_csv(data)
    frame["age"] = frame["age"].astype(float)
    frame.loc[[3, 9], "age"] = np.nan
    frame.to_csv(data, index=False)
    result = _run(str(data), "--treatment", "course", "--outcome", "employed")
    assert result.exit_code == 2
    assert "column 'age' has 2 missing value(s) (data rows 4, 10)" in result.output


def test_effects_cli_constant_covariate_rejected(tmp_path):
    data = _confounded_csv(tmp_path / "d.csv")
    frame = pd.read_csv(data).assign(country="FI")
    frame.to_csv(data, index=False)
    result = _run(
        str(data), "--treatment", "course", "--outcome", "employed", "--covariates", "age,country"
    )
    assert result.exit_code == 2
    assert "column 'country' is constant" in result.output


def test_effects_cli_too_few_units_in_an_arm(tmp_path):
    frame = pd.DataFrame({"t": [1] * 5 + [0] * 50, "y": [0, 1] * 27 + [1], "x": range(55)})
    frame.to_csv(tmp_path / "d.csv", index=False)
    result = _run(str(tmp_path / "d.csv"), "--treatment", "t", "--outcome", "y")
    assert result.exit_code == 2
    assert "arm '1' has 5 unit(s), fewer than the 10" in result.output


def test_effects_cli_non_numeric_outcome(tmp_path):
    frame = pd.DataFrame({"t": [1, 0] * 15, "y": ["good", "bad", "bad"] * 10})
    frame.to_csv(tmp_path / "d.csv", index=False)
    result = _run(str(tmp_path / "d.csv"), "--treatment", "t", "--outcome", "y")
    assert result.exit_code == 2
    assert "outcome column 'y' is not numeric (found 'good')" in result.output


def test_effects_cli_missing_file(tmp_path):
    result = _run(str(tmp_path / "nope.csv"), "--treatment", "t", "--outcome", "y")
    assert result.exit_code == 2
    assert "does not exist" in result.output


def test_effects_cli_audit_style_followed_flag_with_clusters(tmp_path):
    # The audit export's followed_top column (True/False) is read as treated/control, and a
    # client key with several rows clusters the interval.
    rng = np.random.default_rng(5)
    n = 400
    need = rng.integers(0, 24, n)
    followed = rng.random(n) < 1 / (1 + np.exp(-(need - 12) / 6))
    employed = (rng.random(n) < 0.3 + 0.1 * followed - 0.005 * need).astype(int)
    frame = pd.DataFrame(
        {
            "client_key": [f"k{i // 2}" for i in range(n)],
            "followed_top": followed,
            "unemployment_months": need,
            "employed_12m": employed,
        }
    )
    frame.to_csv(tmp_path / "joined.csv", index=False)
    out = tmp_path / "o.json"
    result = _run(
        str(tmp_path / "joined.csv"), "--treatment", "followed_top", "--outcome", "employed_12m",
        "--covariates", "unemployment_months", "--cluster", "client_key", "--estimand", "att",
        "--json", str(out),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "True vs False" in result.output
    payload = json.loads(out.read_text())
    assert payload["estimates"]["aipw"]["ci_method"].endswith("cluster-robust")


def test_effects_cli_identity_code_never_used_nor_echoed(tmp_path):
    data = _confounded_csv(tmp_path / "d.csv")
    frame = pd.read_csv(data)
    frame["henkilotunnus"] = [f"010190-9{i % 100:02d}X" for i in range(len(frame))]
    frame.to_csv(data, index=False)
    refused = _run(str(data), "--treatment", "course", "--outcome", "employed",
                   "--cluster", "henkilotunnus")  # fmt: skip
    assert refused.exit_code == 2
    assert "personal identity code" in refused.output
    assert "010190-9" not in refused.output
    out = tmp_path / "o.json"
    ok = _run(str(data), "--treatment", "course", "--outcome", "employed", "--json", str(out))
    assert ok.exit_code == 0, ok.output  # left out of the default covariates
    assert "henkilotunnus" not in out.read_text()
