"""evaluate_policies on hand-made held-out data where the answers are known."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from pipeline.evaluation.evaluate import (
    Baselines,
    EvaluationData,
    evaluate_policies,
)
from pipeline.evaluation.policies import POLICY_NAMES, ImitationPolicy, PopularPolicy
from pipeline.evaluation.report import write_report
from pipeline.evaluation.results import ByPolicy, EvaluationSummary

N_SERVICES = 3


def _frame(n: int, rng: np.random.Generator) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "birth_date": pd.to_datetime("1960-01-01")
            + pd.to_timedelta(rng.integers(0, 40 * 365, n), unit="D"),
            "assessment_date": pd.to_datetime("2022-06-01"),
            "mother_tongue": rng.choice(["fi", "sv", "ru", "so"], n),
            "immigrant": rng.random(n) < 0.2,
            "gender": rng.choice(["female", "male", None], n),
            "unemployment_months": rng.integers(0, 30, n),
        }
    )


def _data(n: int = 400, seed: int = 0) -> tuple[EvaluationData, np.ndarray]:
    rng = np.random.default_rng(seed)
    truth = rng.uniform(0.1, 0.6, size=(n, N_SERVICES + 1))
    allowed = rng.random((n, N_SERVICES)) < 0.8
    allowed[:, 0] = True  # everyone may take service 0
    logged = rng.integers(0, N_SERVICES + 1, n)
    logged = np.where(
        logged < N_SERVICES, np.where(allowed[np.arange(n), logged % 3], logged, 3), 3
    )
    propensity = np.full(n, 0.25)
    reward = (rng.random(n) < truth[np.arange(n), logged]).astype(float)
    data = EvaluationData(_frame(n, rng), logged, propensity, reward, truth, allowed)
    return data, rng.normal(size=(n, 2))


def _baselines(features: np.ndarray, logged: np.ndarray) -> Baselines:
    imitation = ImitationPolicy(N_SERVICES, estimator=LogisticRegression()).fit(features, logged)
    return Baselines(PopularPolicy(N_SERVICES).fit(logged), imitation, seed=1)


def test_evaluate_policies_with_perfect_predictions_matches_oracle():
    data, features = _data()
    evaluation = evaluate_policies(
        data, data.true_outcomes, _baselines(features, data.logged_action), features
    )
    summary = evaluation.summary
    assert summary.policy_value.polku == pytest.approx(summary.policy_value.oracle)
    assert summary.oracle_gain_captured == pytest.approx(1.0)
    assert summary.top3_oracle_coverage == 1.0
    assert summary.uplift.rmse_vs_truth == pytest.approx(0.0)
    assert summary.calibration.mean_abs_error_vs_truth == pytest.approx(0.0)
    # The DR estimate with the true outcome model is close to the truth.
    assert summary.ope.polku.dr == pytest.approx(summary.policy_value.polku, abs=0.05)


def test_evaluate_policies_reversed_predictions_capture_less_than_nothing():
    data, features = _data()
    evaluation = evaluate_policies(
        data, 1.0 - data.true_outcomes, _baselines(features, data.logged_action), features
    )
    summary = evaluation.summary
    assert summary.policy_value.polku < summary.policy_value.random
    assert summary.oracle_gain_captured is not None
    gain_random = summary.oracle_gain_captured_by_policy.random
    assert gain_random is not None
    assert summary.oracle_gain_captured < gain_random


def test_evaluate_policies_choices_respect_allowed_services():
    data, features = _data()
    evaluation = evaluate_policies(
        data, data.true_outcomes[::-1].copy(), _baselines(features, data.logged_action), features
    )
    rows = np.arange(len(data.frame))
    for name in ("polku", "random", "popular", "imitation", "oracle"):
        choice = evaluation.choices[name]
        assert (choice < N_SERVICES).all()  # service 0 is always allowed
        assert data.allowed[rows, choice].all(), name


def test_evaluate_policies_group_values_average_to_overall():
    data, features = _data()
    evaluation = evaluate_policies(
        data, data.true_outcomes, _baselines(features, data.logged_action), features
    )
    for grouping, table in evaluation.summary.by_group.items():
        total = sum(entry.n for entry in table.values())
        assert total == len(data.frame), grouping
        weighted = sum(entry.n * entry.policy_value.caseworkers for entry in table.values())
        assert weighted / total == pytest.approx(evaluation.summary.policy_value.caseworkers)


def test_evaluate_policies_rejects_misshaped_predictions():
    data, features = _data()
    with pytest.raises(ValueError, match="predicted outcomes have shape"):
        evaluate_policies(
            data, data.true_outcomes[:, :2], _baselines(features, data.logged_action), features
        )


def test_evaluation_data_rejects_misaligned_arrays():
    data, _ = _data(n=10)
    with pytest.raises(ValueError, match=r"reward has shape \(9,\)"):
        EvaluationData(
            data.frame,
            data.logged_action,
            data.propensity,
            data.reward[:9],
            data.true_outcomes,
            data.allowed,
        )


def test_write_report_writes_json_html_and_plots(tmp_path):
    data, features = _data()
    evaluation = evaluate_policies(
        data, data.true_outcomes * 0.9, _baselines(features, data.logged_action), features
    )
    page = write_report(evaluation, data.allowed, data.true_outcomes, tmp_path / "report")
    text = page.read_text()
    assert text.count("data:image/png;base64,") == 3
    assert "Oracle" in text and "SNIPS" in text
    for name in ("policy_values_by_group", "calibration_curve", "uplift_distributions"):
        assert (tmp_path / "report" / f"{name}.png").read_bytes()[:4] == b"\x89PNG"
    saved = json.loads((tmp_path / "report" / "evaluation.json").read_text())
    assert set(saved) >= {
        "policy_value",
        "oracle_gain_captured",
        "top3_oracle_coverage",
        "ope",
        "calibration",
        "by_group",
    }
    assert not list((tmp_path / "report").glob(".*.tmp"))
    # What is written reads back to the same summary.
    assert saved == evaluation.summary.to_json()
    assert EvaluationSummary.from_json(saved).to_json() == saved


def test_evaluate_policies_polku_picks_only_rankable_services():
    data, features = _data()
    rankable = np.zeros_like(data.allowed)
    rankable[:, 0] = True  # the model supports service 0 only
    evaluation = evaluate_policies(
        data, data.true_outcomes, _baselines(features, data.logged_action), features, rankable
    )
    assert (evaluation.choices["polku"] == 0).all()
    assert evaluation.summary.policy_value.polku == pytest.approx(data.true_outcomes[:, 0].mean())


def test_evaluate_policies_caseworkers_ope_is_the_on_policy_mean():
    data, features = _data()
    evaluation = evaluate_policies(
        data, data.true_outcomes, _baselines(features, data.logged_action), features
    )
    caseworkers = evaluation.summary.ope.caseworkers
    assert caseworkers.ips == pytest.approx(data.reward.mean())
    assert caseworkers.snips == pytest.approx(data.reward.mean())
    assert caseworkers.dr == pytest.approx(data.reward.mean())
    assert caseworkers.matched_episodes == len(data.frame)


def test_key_metrics_leave_out_an_undefined_gain():
    data, features = _data()
    flat = data.true_outcomes.copy()
    flat[:] = 0.3  # every action equally good: the oracle gains nothing over anyone
    flat_data = EvaluationData(
        data.frame, data.logged_action, data.propensity, data.reward, flat, data.allowed
    )
    evaluation = evaluate_policies(
        flat_data, flat, _baselines(features, data.logged_action), features
    )
    assert evaluation.summary.oracle_gain_captured is None
    metrics = evaluation.summary.key_metrics()
    assert "oracle_gain_captured" not in metrics
    assert metrics["policy_value_polku"] == pytest.approx(0.3)


EVALUATION_JSON_KEYS = [
    "n_episodes",
    "policy_value",
    "oracle_gain_captured",
    "oracle_gain_captured_by_policy",
    "top3_oracle_coverage",
    "ope",
    "calibration",
    "uplift",
    "by_group",
    # Added for evaluation without truth (issue 11): after today's keys, never between them.
    "evaluation_kind",
    "propensity",
    # Added for the top suggestion's honesty (issue 12): shown uplift and intervals vs truth.
    "intervals",
]
POLICY_KEYS = ["polku", "caseworkers", "random", "popular", "imitation", "oracle"]


def test_evaluation_json_keeps_its_keys_and_their_order():
    # Written out from the dict-shaped summary before the typed results; readers rely on it.
    data, features = _data()
    evaluation = evaluate_policies(
        data, data.true_outcomes * 0.9, _baselines(features, data.logged_action), features
    )
    saved = evaluation.summary.to_json()
    assert list(saved) == EVALUATION_JSON_KEYS
    assert list(saved["policy_value"]) == POLICY_KEYS
    assert list(saved["oracle_gain_captured_by_policy"]) == [
        "polku", "random", "popular", "imitation"
    ]  # fmt: skip
    assert list(saved["ope"]) == [*POLICY_KEYS, "polku_minus_caseworkers"]
    for name in POLICY_KEYS:
        assert list(saved["ope"][name]) == [
            "true", "ips", "snips", "dr", "direct", "matched_episodes",
            "estimate", "ci_low", "ci_high", "intervals",
        ]  # fmt: skip
    assert list(saved["ope"]["polku_minus_caseworkers"]) == [
        "estimate", "ci_low", "ci_high", "intervals", "true"
    ]  # fmt: skip
    assert saved["evaluation_kind"] == "truth"
    assert list(saved["calibration"]) == [
        "brier", "ece", "reliability", "mean_abs_error_vs_truth", "mean_abs_error_vs_truth_logged"
    ]  # fmt: skip
    assert list(saved["calibration"]["reliability"]) == [
        "edges", "count", "mean_predicted", "observed_rate"
    ]  # fmt: skip
    assert list(saved["uplift"]) == [
        "rmse_vs_truth", "correlation_with_truth", "mean_top1_predicted", "mean_top1_true"
    ]  # fmt: skip
    assert list(saved["by_group"]) == [
        "age_band", "language_group", "gender", "long_term_unemployed"
    ]  # fmt: skip
    assert list(saved["by_group"]["age_band"]) == ["under_25", "25_29", "30_44", "45_54", "55_plus"]
    assert list(saved["by_group"]["gender"]) == ["female", "male", "unknown"]
    for table in saved["by_group"].values():
        for entry in table.values():
            assert list(entry) == [
                "n", "policy_value", "oracle_gain_captured", "top3_oracle_coverage", "brier",
                "ope",
            ]  # fmt: skip
            assert list(entry["policy_value"]) == POLICY_KEYS
    # `polku evaluate` adds what was evaluated on what, last.
    labelled = dataclasses.replace(
        evaluation.summary, model_version="3", objective="employment", data_fingerprint="abc"
    ).to_json()
    assert list(labelled) == [
        *EVALUATION_JSON_KEYS,
        "model_version",
        "objective",
        "data_fingerprint",
    ]
    assert labelled["model_version"] == "3"


def test_evaluation_summary_reads_back_from_its_json():
    data, features = _data()
    evaluation = evaluate_policies(
        data, 1.0 - data.true_outcomes, _baselines(features, data.logged_action), features
    )
    stored = json.loads(json.dumps(evaluation.summary.to_json(), allow_nan=False))
    again = EvaluationSummary.from_json(stored)
    assert again.to_json() == stored
    assert again.policy_value == evaluation.summary.policy_value
    assert again.ope == evaluation.summary.ope
    assert again.by_group == evaluation.summary.by_group


def test_by_policy_follows_the_policy_names():
    assert [f.name for f in dataclasses.fields(ByPolicy)] == list(POLICY_NAMES)
    with pytest.raises(TypeError):
        ByPolicy.from_mapping({"polku": 0.1})


def test_atomic_write_keeps_the_old_file_when_the_rename_fails(tmp_path, monkeypatch):
    import os

    from models.output_files import OutputPathError
    from pipeline.evaluation.report import atomic_write_bytes

    target = tmp_path / "evaluation.json"
    target.write_bytes(b"old")

    def broken_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OutputPathError, match=r"cannot write .*evaluation\.json: disk full"):
        atomic_write_bytes(target, b"new")
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["evaluation.json"]


def test_evaluation_scores_the_shown_intervals_of_the_top_suggestion() -> None:
    from types import SimpleNamespace

    from pipeline.evaluation.results import EvaluationSummary

    data, features = _data()
    predicted = data.true_outcomes * 0.9
    true_uplift = data.true_outcomes[:, :-1] - data.true_outcomes[:, -1:]
    # Intervals two points either side of the truth for every pair: all hold it.
    shown = SimpleNamespace(
        shown=true_uplift + 0.01, shown_low=true_uplift - 0.02, shown_high=true_uplift + 0.02
    )
    evaluation = evaluate_policies(
        data, predicted, _baselines(features, data.logged_action), features, shown=shown
    )
    summary = evaluation.summary
    assert summary.intervals is not None
    assert summary.intervals.interval_coverage == 1.0
    assert summary.intervals.top1_interval_coverage == 1.0
    assert summary.intervals.n_top1 == int((evaluation.choices["polku"] < data.n_services).sum())
    assert summary.intervals.top1_mean_shown > summary.intervals.top1_mean_true
    metrics = summary.key_metrics()
    assert metrics["top1_interval_coverage"] == 1.0 and "top1_predicted_vs_true" in metrics
    assert EvaluationSummary.from_json(summary.to_json()).intervals == summary.intervals
    from pipeline.evaluation.report import render_html

    assert "of top suggestions" in render_html(summary, {}, "evaluation")
    # Without intervals the block is absent, and so are its metrics.
    plain = evaluate_policies(data, predicted, _baselines(features, data.logged_action), features)
    assert (
        plain.summary.intervals is None and "interval_coverage" not in plain.summary.key_metrics()
    )
