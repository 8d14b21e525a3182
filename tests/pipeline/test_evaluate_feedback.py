"""polku evaluate-feedback: off-policy values from feedback episodes with logged probabilities.

The episodes are made as `polku feedback` writes them, from a small generated world served
by the tiny model (`pipeline.loop.serve`: the first place drawn with exploration, caseworkers
following with a stated probability, outcomes drawn from the world's truth), so every
estimate has a true value to be judged against. That world is a fresh one (other people) on
the tiny world's calendar, so by date every episode falls in the tiny model's training
period: the tests of the estimates keep them (`allow_training_period`), and the tests of the
guard give the model another recorded period.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from models.bundle import PolkuModel
from models.catalog import load_catalog
from models.exploration import ExplorationRule
from models.objectives import DEFAULT_OBJECTIVE, Objective
from models.profile import PROFILE_COLUMNS
from models.training_period import METADATA_KEY, TAG_FIRST, TAG_LAST, TrainingPeriod
from pipeline.cli import build_app
from pipeline.feedback.evaluate import evaluate_feedback, read_episodes
from pipeline.feedback.evaluation_report import describe, markdown
from pipeline.feedback.training_period import TrainingPeriodError, episode_dates
from pipeline.loop.periods import Period, draw_period
from pipeline.loop.serve import Suggestions, one_hot, serve, suggest, true_values

FOLLOW = 0.7
OBJECTIVE = Objective.parse(DEFAULT_OBJECTIVE)


def _episodes(period: Period, suggested: Suggestions, seed: int) -> pd.DataFrame:
    """One served period as `polku feedback`'s episodes (profiles passed on)."""
    log = serve(period, suggested, FOLLOW, OBJECTIVE, np.random.default_rng(seed))
    ids = np.array([*load_catalog().ids, None], dtype=object)
    chances = [
        json.dumps({str(ids[j]): float(row[j]) for j in np.flatnonzero(row > 0)})
        for row in suggested.probabilities
    ]
    frame = period.frame[list(PROFILE_COLUMNS)].copy()
    episodes = pd.DataFrame(
        {
            "request_id": [f"r{i}" for i in range(len(period))],
            "client_key": frame["client_id"],
            "model_version": "7",
            "objective": DEFAULT_OBJECTIVE,
            "suggested_service_id": ids[log.shown],
            "model_top_service_id": ids[suggested.greedy],
            "randomised": (suggested.probabilities > 0).sum(axis=1) > 1,
            "suggestion_probability": np.where(log.shown >= 0, log.shown_probability, np.nan),
            "first_place_probabilities": chances,
            "followed_top": log.followed,
            "service_id": np.append(ids[:-1], "none")[log.action],
            "employed_6m": log.outcomes[:, 0],  # the six-month union, as employment
            "education_6m": 0.0,
            "employed_12m": log.outcomes[:, 1],
        }
    )
    return pd.concat([episodes, frame.drop(columns=["client_id"])], axis=1).assign(
        client_id=frame["client_id"]
    )


@pytest.fixture(scope="module")
def served(tiny_model: PolkuModel) -> tuple[Period, Suggestions, pd.DataFrame]:
    period = draw_period(2500, 5, 1, load_catalog(), OBJECTIVE)
    suggested = suggest(tiny_model, period, OBJECTIVE, ExplorationRule.posterior())
    return period, suggested, _episodes(period, suggested, seed=9)


def test_the_estimates_hold_the_true_values(
    served: tuple[Period, Suggestions, pd.DataFrame], tiny_model: PolkuModel
) -> None:
    period, suggested, episodes = served
    logged = read_episodes(episodes, OBJECTIVE)
    result = evaluate_feedback(logged, OBJECTIVE, tiny_model, "7", allow_training_period=True)
    assert result.n_episodes == len(period) and result.n_unknown == 0
    assert result.n_randomised == int(episodes["randomised"].sum()) > len(period) / 2
    truth_served = true_values(period, suggested.probabilities, FOLLOW).mean()
    k = suggested.probabilities.shape[1]
    truth_best = true_values(period, one_hot(suggested.greedy, k), FOLLOW).mean()
    assert result.served.covers(truth_served)
    best_first, candidate = result.policies
    assert best_first.name == "served_model_best_first" and best_first.ipw.support == 1.0
    assert best_first.ipw.covers(truth_best)
    # The candidate is the served model itself: same choices, full support, both hold it.
    assert candidate.ipw.support == 1.0
    assert candidate.ipw.value == pytest.approx(best_first.ipw.value)
    assert candidate.ipw.covers(truth_best)
    assert candidate.dr is not None and candidate.dr.covers(truth_best)
    assert candidate.difference_dr is not None
    assert candidate.difference_dr.covers(truth_best - truth_served)
    assert candidate.dr.high - candidate.dr.low < candidate.ipw.high - candidate.ipw.low


def test_a_candidate_without_logged_support_is_said_to_have_none(
    served: tuple[Period, Suggestions, pd.DataFrame], tiny_model: PolkuModel
) -> None:
    period, suggested, _ = served
    # Logs that always showed the model's second best first, without randomising.
    scores = tiny_model.score_frame(period.frame, OBJECTIVE)
    second = scores.top(2)[:, 1]
    k = suggested.probabilities.shape[1]
    deterministic = Suggestions(one_hot(second, k), second, suggested.predicted)
    episodes = _episodes(period, deterministic, seed=10)
    logged = read_episodes(episodes, OBJECTIVE)
    result = evaluate_feedback(logged, OBJECTIVE, tiny_model, "7", allow_training_period=True)
    candidate = result.policies[1]
    assert result.n_randomised == 0
    assert candidate.ipw.support == pytest.approx(float((second < 0).mean()))
    assert candidate.n_matched == int((second < 0).sum())
    assert "IPW counts them as zero" in markdown(result)


def _with_period(model: PolkuModel, period: TrainingPeriod | None) -> PolkuModel:
    """The tiny model as if it recorded another training period (None: none, as a model
    trained before periods were kept); the shared model itself is left as it is."""
    other = copy.copy(model)
    other.metadata = {k: v for k, v in model.metadata.items() if k != METADATA_KEY}
    if period is not None:
        other.metadata[METADATA_KEY] = period.to_dict()
    return other


def _cut_in_the_middle(
    episodes: pd.DataFrame, model: PolkuModel
) -> tuple[PolkuModel, dt.date, np.ndarray]:
    dates = pd.to_datetime(episodes["assessment_date"])
    cutoff = dates.median().date()
    on_or_before = (dates.dt.date <= cutoff).to_numpy()
    return _with_period(model, TrainingPeriod(dt.date(2020, 1, 1), cutoff)), cutoff, on_or_before


def test_episodes_assessed_on_or_before_the_last_training_date_are_left_out_and_counted(
    served: tuple[Period, Suggestions, pd.DataFrame], tiny_model: PolkuModel
) -> None:
    _, _, episodes = served
    model, cutoff, on_or_before = _cut_in_the_middle(episodes, tiny_model)
    n_in = int(on_or_before.sum())
    assert 0 < n_in < len(episodes)
    result = evaluate_feedback(read_episodes(episodes, OBJECTIVE), OBJECTIVE, model, "7")
    check = result.training_period
    assert check is not None and check.checked and check.excluded == n_in
    assert result.n_episodes == len(episodes) - n_in
    assert result.to_dict()["episodes"]["excluded_training_period"] == n_in
    assert result.to_dict()["training_period"]["last"] == cutoff.isoformat()
    assert result.metrics()["episodes_excluded_training_period"] == n_in
    assert result.metrics()["training_period_checked"] == 1.0
    assert (
        f"{n_in} episodes assessed on or before version 7's last training date "
        f"{cutoff.isoformat()} (training period 2020-01-01 to {cutoff.isoformat()}) left out"
    ) in describe(result)
    assert "may be flattered" not in markdown(result)
    # Every estimate is of the later episodes alone: the same as evaluating only them.
    later = read_episodes(episodes.loc[~on_or_before], OBJECTIVE)
    alone = evaluate_feedback(later, OBJECTIVE, model, "7")
    assert alone.training_period is not None and alone.training_period.in_period == 0
    assert result.served.value == pytest.approx(alone.served.value)
    assert result.policies[1].dr is not None and alone.policies[1].dr is not None
    assert result.policies[1].dr.value == pytest.approx(alone.policies[1].dr.value)
    assert result.served.value != pytest.approx(float(episodes["employed_6m"].mean()))


def test_the_option_keeps_them_and_the_report_says_the_estimate_may_be_flattered(
    served: tuple[Period, Suggestions, pd.DataFrame], tiny_model: PolkuModel
) -> None:
    _, _, episodes = served
    model, cutoff, on_or_before = _cut_in_the_middle(episodes, tiny_model)
    logged = read_episodes(episodes, OBJECTIVE)
    result = evaluate_feedback(logged, OBJECTIVE, model, "7", allow_training_period=True)
    check = result.training_period
    assert check is not None and check.flattered and check.excluded == 0
    assert check.in_period == int(on_or_before.sum()) and result.n_episodes == len(episodes)
    assert result.to_dict()["training_period"]["allowed_by_flag"] is True
    assert result.metrics()["episodes_excluded_training_period"] == 0
    assert f"last training date {cutoff.isoformat()}" in describe(result)
    assert "kept (--allow-training-period)" in describe(result)
    assert "**The estimates may be flattered:**" in markdown(result)


def test_with_every_episode_in_the_training_period_the_evaluation_is_refused(
    served: tuple[Period, Suggestions, pd.DataFrame], tiny_model: PolkuModel
) -> None:
    _, _, episodes = served
    last = pd.to_datetime(episodes["assessment_date"]).max().date()
    model = _with_period(tiny_model, TrainingPeriod(dt.date(2021, 3, 1), last))
    logged = read_episodes(episodes.iloc[:300], OBJECTIVE)
    with pytest.raises(TrainingPeriodError) as refused:
        evaluate_feedback(logged, OBJECTIVE, model, "7")
    message = str(refused.value)
    assert "300 of the 300 feedback episodes" in message and "leaving 0" in message
    assert f"last training date {last.isoformat()}" in message
    assert f"2021-03-01 to {last.isoformat()}" in message
    assert "--allow-training-period" in message
    # Without a candidate nothing is judged, so nothing is left out.
    assert evaluate_feedback(logged, OBJECTIVE).training_period is None


def test_a_model_without_a_recorded_period_is_reported_as_unchecked(
    served: tuple[Period, Suggestions, pd.DataFrame], tiny_model: PolkuModel
) -> None:
    _, _, episodes = served
    model = _with_period(tiny_model, None)
    result = evaluate_feedback(read_episodes(episodes.iloc[:300], OBJECTIVE), OBJECTIVE, model)
    check = result.training_period
    assert check is not None and not check.checked and result.n_episodes == 300
    assert "the candidate records no training period" in describe(result)
    assert "cannot be checked" in describe(result)
    assert "**Not checked against its training data:**" in markdown(result)
    assert result.to_dict()["training_period"]["checked"] is False
    assert result.metrics()["training_period_checked"] == 0.0


def test_an_episode_is_dated_by_its_assessment_else_by_its_suggestion() -> None:
    frame = pd.DataFrame(
        {
            "assessment_date": ["2023-05-02", None, None],
            "suggested_on": ["2023-05-20", "2023-06-01T09:30:00+03:00", ""],
        }
    )
    dates = episode_dates(frame)
    assert dates[:2].astype(str).tolist() == ["2023-05-02", "2023-06-01"]
    assert np.isnat(dates[2])
    assert episode_dates(frame.drop(columns="assessment_date"))[0] == np.datetime64("2023-05-20")


def test_undated_episodes_count_as_possibly_trained_on(
    served: tuple[Period, Suggestions, pd.DataFrame], tiny_model: PolkuModel
) -> None:
    _, _, episodes = served
    model = _with_period(tiny_model, TrainingPeriod(dt.date(2020, 1, 1), dt.date(2020, 12, 31)))
    undated = episodes.iloc[:200].drop(columns="assessment_date")  # and no suggested_on
    result = evaluate_feedback(
        read_episodes(undated, OBJECTIVE), OBJECTIVE, model, "7", allow_training_period=True
    )
    assert result.training_period is not None
    assert result.training_period.undated == result.training_period.in_period == 200
    with pytest.raises(TrainingPeriodError, match="200 of them undated"):
        evaluate_feedback(read_episodes(undated, OBJECTIVE), OBJECTIVE, model, "7")


def _run(*args: str):  # type: ignore[no-untyped-def]
    result = CliRunner().invoke(build_app(), ["evaluate-feedback", *args])
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result


def test_the_command_writes_the_report_and_an_mlflow_run(
    served: tuple[Period, Suggestions, pd.DataFrame],
    register_fitted: Callable[..., str],
    tiny_model: PolkuModel,
    tmp_path: Path,
) -> None:
    from mlflow import MlflowClient

    from models.registry import configure_tracking

    _, _, episodes = served
    path = tmp_path / "feedback-episodes.parquet"
    episodes.iloc[:400].assign(employed_12m=np.nan).to_parquet(path, index=False)
    version = register_fitted(promote_if_first=True)
    # The version's training period covers every episode: refused, naming dates and option.
    period = TrainingPeriod.from_dict(tiny_model.metadata[METADATA_KEY])
    refused = _run(str(path), "--version", version, "--report", str(tmp_path / "out"))
    assert refused.exit_code == 2
    assert (
        "400 of the 400 feedback episodes with a known outcome are assessed on or before "
        f"version {version}'s last training date {period.last.isoformat()}" in refused.output
    )
    assert "--allow-training-period" in refused.output and not (tmp_path / "out").exists()
    result = _run(
        str(path), "--version", version, "--report", str(tmp_path / "out"),
        "--allow-training-period",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "400 episodes assessed on or before" in result.output
    assert "may be flattered" in result.output
    assert "400 episodes read, 400 with the employment_or_education_6m outcome known" in (
        result.output
    )
    report = json.loads((tmp_path / "out" / "evaluation.json").read_text())
    assert report["candidate_version"] == version
    assert report["episodes"]["randomised_with_logged_probabilities"] == int(
        episodes.iloc[:400]["randomised"].sum()
    )
    names = [p["name"] for p in report["policies"]]
    assert names == ["served_model_best_first", "candidate"]
    assert report["policies"][1]["support"] == 1.0
    assert report["training_period"]["last"] == period.last.isoformat()
    assert report["training_period"]["allowed_by_flag"] is True
    assert report["episodes"]["excluded_training_period"] == 0
    assert "| candidate |" in (tmp_path / "out" / "report.md").read_text()
    assert "**The estimates may be flattered:**" in (tmp_path / "out" / "report.md").read_text()
    configure_tracking()
    runs = MlflowClient().search_runs(
        [e.experiment_id for e in MlflowClient().search_experiments()],
        "tags.`polku.kind` = 'feedback_evaluation'",
    )
    assert len(runs) == 1 and runs[0].data.metrics["candidate_support"] == 1.0
    assert runs[0].data.metrics["episodes_in_training_period"] == 400
    assert runs[0].data.metrics["episodes_excluded_training_period"] == 0
    assert runs[0].data.tags["polku.training_period"] == "allowed"
    # The registered version carries the period as tags (dates only).
    tags = MlflowClient().get_model_version("polku-ranker", version).tags
    assert (tags[TAG_FIRST], tags[TAG_LAST]) == (period.first.isoformat(), period.last.isoformat())
    champion = _run(str(path), "--champion", "--no-mlflow", "--allow-training-period")
    assert champion.exit_code == 0 and f"candidate (version {version})" in champion.output
    assert _run(str(path), "--champion", "--version", version).exit_code == 2
    # Valued on the twelve-month outcome, which none of these episodes has yet.
    result = _run(str(path), "--objective", "employment_12m", "--no-mlflow")
    assert result.exit_code == 2
    assert "0 episode(s) with a known outcome" in result.output


def test_bad_episodes_are_named_row_and_field_and_nothing_is_written(
    served: tuple[Period, Suggestions, pd.DataFrame], tiny_model: PolkuModel, tmp_path: Path
) -> None:
    _, _, episodes = served
    broken = episodes.iloc[:50].astype({"suggestion_probability": object}).copy()
    broken["followed_top"] = broken["followed_top"].astype(object)
    broken["first_place_probabilities"] = broken["first_place_probabilities"].astype(object)
    broken.loc[2, "suggestion_probability"] = 2.0
    broken.loc[4, "followed_top"] = "maybe"
    broken.loc[6, "first_place_probabilities"] = "{not json"
    broken.loc[7, "employed_6m"] = 3.0
    first = str(broken.loc[9, "suggested_service_id"])
    p9 = float(broken.loc[9, "suggestion_probability"])
    broken.loc[9, "first_place_probabilities"] = json.dumps({first: p9, "not-a-service": 0.02})
    # Six decimals per entry, as the audit row keeps them: a sum a little off 1 is fine.
    rounded = json.loads(broken.loc[10, "first_place_probabilities"])
    broken.loc[10, "first_place_probabilities"] = json.dumps(
        {k: round(v, 6) + 5e-7 for k, v in rounded.items()}
    )
    path = tmp_path / "episodes.csv"
    broken.to_csv(path, index=False)
    out = tmp_path / "out"
    result = _run(str(path), "--report", str(out), "--no-mlflow")
    assert result.exit_code == 2
    for text in (
        "feedback episodes row 3, suggestion_probability: is not a probability in (0, 1]",
        "feedback episodes row 5, followed_top: is not true or false",
        "feedback episodes row 7, first_place_probabilities: is not a JSON object",
        "feedback episodes row 8, employed_6m: is not 0, 1 or empty",
        "feedback episodes row 10, first_place_probabilities: does not sum to 1",
    ):
        assert text in result.output
    assert "row 11" not in result.output
    assert not out.exists()
    missing = tmp_path / "missing.csv"
    episodes.iloc[:5].drop(columns=["followed_top"]).to_csv(missing, index=False)
    result = _run(str(missing), "--no-mlflow")
    assert result.exit_code == 2 and "followed_top: column is missing" in result.output
    # A candidate needs the profiles; without them the command says so.
    bare = tmp_path / "bare.csv"
    episodes.iloc[:20].drop(columns=list(PROFILE_COLUMNS)).to_csv(bare, index=False)
    logged = read_episodes(pd.read_csv(bare), OBJECTIVE)
    with pytest.raises(ValueError, match="carry no client profiles"):
        evaluate_feedback(logged, OBJECTIVE, tiny_model, allow_training_period=True)
