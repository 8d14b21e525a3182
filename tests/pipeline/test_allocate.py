"""`polku allocate`: a cohort allocated within the places, described for caseworkers."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from models.allocation import DEFAULT_UNCERTAINTY, with_preferences
from models.bundle import PolkuModel
from models.henkilotunnus import contains_henkilotunnus
from pipeline.cli import build_app


def _allocate(*args: str) -> object:
    return CliRunner().invoke(build_app(), ["allocate", *args])


@pytest.fixture
def champion(state_dir: Path, register_fitted: Callable[..., str]) -> str:
    return register_fitted(promote_if_first=True)


def _scores(world: Path, tmp_path: Path) -> pd.DataFrame:
    out = tmp_path / "scores.parquet"
    result = CliRunner().invoke(build_app(), ["score", str(world), "--out", str(out)])
    assert result.exit_code == 0, result.output
    return pd.read_parquet(out)


def test_allocation_respects_places_and_describes_each_client(
    champion: str, tiny_world_dir: Path, tiny_model: PolkuModel, tmp_path: Path
) -> None:
    out = tmp_path / "alloc" / "week.parquet"
    result = _allocate(str(tiny_world_dir), "--out", str(out), "--share", "0.05")
    assert result.exit_code == 0, result.output
    assert "solver optimal" in result.output
    clients = pd.read_parquet(out)
    summary = json.loads((tmp_path / "alloc" / "week.summary.json").read_text())
    assert summary["solver"]["status"] == "optimal"
    assert summary["solver"]["seconds"] >= 0
    assert summary["uncertainty"] == DEFAULT_UNCERTAINTY == "ranked"
    # Do no harm (default): a floor for every group of every grouping, each one held.
    assert summary["do_no_harm"] == "floors"
    floors = summary["group_floors"]
    assert {name.split("=")[0] for name in floors} == set(summary["groups"])
    for name, floor in floors.items():
        grouping, label = name.split("=")
        group = summary["groups"][grouping][label]
        assert floor >= 0
        assert group["mean_expected_gain"] * group["clients"] >= floor - 1e-9

    episodes = pd.read_parquet(tiny_world_dir / "episodes.parquet")
    assert len(clients) == len(episodes)
    assert "henkilotunnus" not in clients.columns
    assert not any(contains_henkilotunnus(str(v)) for v in clients.to_numpy().ravel())

    services = pd.DataFrame(summary["services"]).set_index("service_id")
    used = clients["service_id"].value_counts()
    for service_id, count in used.items():
        assert count <= services.loc[service_id, "places"]
        assert services.loc[service_id, "used"] == count
    assert (services["left"] >= 0).all()
    assert (services["left"] == 0).any(), "places at 5 % of Helsinki's should bind somewhere"

    # Every allocated service is one the client's own ranked list holds, at the rank and with
    # the numbers `polku score` gives it.
    scored = _scores(tiny_world_dir, tmp_path).set_index(["episode_id", "service_id"])
    given = clients.dropna(subset=["service_id"])
    assert len(given) > 0
    for _, row in given.iterrows():
        listed = scored.loc[(row["episode_id"], row["service_id"])]
        assert row["rank_in_own_list"] == listed["rank"]
        assert row["uplift"] == pytest.approx(listed["uplift"], abs=1e-9)
        assert row["uplift_low"] == pytest.approx(listed["uplift_low"], abs=1e-9)
        assert row["uplift_high"] == pytest.approx(listed["uplift_high"], abs=1e-9)
        assert row["uplift"] > 0
    # The alternative has places left and differs from the allocated service.
    full = set(services.index[services["left"] <= 0])
    alternatives = clients["alternative_service_id"].dropna()
    assert not set(alternatives) & full
    assert (clients["alternative_service_id"] != clients["service_id"]).all()
    non_clients = clients[clients["own_top_service_id"].isna()]
    assert non_clients["service_id"].isna().all()


def test_a_capacity_file_sets_the_places(
    champion: str, tiny_world_dir: Path, tmp_path: Path
) -> None:
    first = tmp_path / "first.parquet"
    assert _allocate(str(tiny_world_dir), "--out", str(first)).exit_code == 0
    popular = pd.read_parquet(first)["service_id"].value_counts().index[0]
    capacity = tmp_path / "places.csv"
    capacity.write_text(f"service_id,places\n{popular},0\n")
    out = tmp_path / "capped.parquet"
    result = _allocate(str(tiny_world_dir), "--out", str(out), "--capacity", str(capacity))
    assert result.exit_code == 0, result.output
    assert popular not in set(pd.read_parquet(out)["service_id"].dropna())


def test_a_bad_capacity_file_names_every_row_and_field_and_writes_nothing(
    champion: str, tiny_world_dir: Path, tmp_path: Path
) -> None:
    capacity = tmp_path / "places.csv"
    capacity.write_text(
        "service_id,places\ndebt_advice,-3\nno_such_course,4\ndebt_advice,2\n,1\ntyorasti,2.5\n"
    )
    out = tmp_path / "a.parquet"
    result = _allocate(str(tiny_world_dir), "--out", str(out), "--capacity", str(capacity))
    assert result.exit_code == 2
    text = result.output
    assert "places.csv: row 1, field 'places'" in text
    assert "places.csv: row 2, field 'service_id': not a service of the catalog" in text
    assert "places.csv: row 3, field 'service_id': named twice" in text
    assert "places.csv: row 4, field 'service_id': missing" in text
    assert "places.csv: row 5, field 'places'" in text
    assert not out.exists()
    capacity.write_text("service,places\n")
    result = _allocate(str(tiny_world_dir), "--out", str(out), "--capacity", str(capacity))
    assert result.exit_code == 2 and "field 'service_id': column missing" in result.output


def test_preferences_constrain_and_weigh(
    champion: str, tiny_world_dir: Path, tmp_path: Path
) -> None:
    base = tmp_path / "base.parquet"
    assert _allocate(str(tiny_world_dir), "--out", str(base)).exit_code == 0
    clients = pd.read_parquet(base).dropna(subset=["service_id"]).head(6)
    refused, only = clients.iloc[:3], clients.iloc[3:]
    lines = ["client_id,service_id,preference"]
    lines += [f"{r.client_id},{r.service_id},refused" for r in refused.itertuples()]
    lines += [f"{r.client_id},debt_advice,allowed" for r in only.itertuples()]
    prefs = tmp_path / "prefs.csv"
    prefs.write_text("\n".join(lines) + "\n")
    out = tmp_path / "prefs.parquet"
    result = _allocate(str(tiny_world_dir), "--out", str(out), "--preferences", str(prefs))
    assert result.exit_code == 0, result.output
    after = pd.read_parquet(out).set_index("episode_id")
    for r in refused.itertuples():
        assert after.loc[r.episode_id, "service_id"] != r.service_id
    for r in only.itertuples():
        given = after.loc[r.episode_id, "service_id"]
        assert pd.isna(given) or given == "debt_advice"

    prefs.write_text("client_id,service_id,preference\nC9999999,debt_advice,likes\n")
    result = _allocate(str(tiny_world_dir), "--out", str(out), "--preferences", str(prefs))
    assert result.exit_code == 2
    assert "row 1, field 'client_id': not a client of the cohort" in result.output
    assert "row 1, field 'preference'" in result.output


def test_a_preference_tips_a_pair_that_does_about_nothing_never_one_that_harms() -> None:
    # Values as the ranked reading gives them: pairs the shown uplift says do not help are 0.
    objective = np.array([[0.0, 0.0, 0.5, np.nan]])
    gain = np.array([[-0.30, -0.01, 0.02, np.nan]])
    preferred = np.array([[True, True, True, True]])
    value = with_preferences(objective, gain, preferred, 0.02)
    assert value[0, 0] == 0.0  # expected to harm by 0.30: stays out of the programme
    assert value[0, 1] == pytest.approx(0.02)  # about nothing: the preference tips it in
    assert value[0, 2] == pytest.approx(0.52) and np.isnan(value[0, 3])
    unpreferred = with_preferences(objective, gain, ~preferred, 0.02)
    np.testing.assert_array_equal(unpreferred, objective)


def test_a_period_a_lower_quantile_and_a_group_floor(
    champion: str, tiny_world_dir: Path, tmp_path: Path
) -> None:
    episodes = pd.read_parquet(tiny_world_dir / "episodes.parquet")
    dates = pd.to_datetime(episodes["assessment_date"])
    start, end = "2022-01-01", "2022-03-31"
    inside = ((dates >= start) & (dates <= end)).sum()
    out = tmp_path / "q1.parquet"
    result = _allocate(
        str(tiny_world_dir), "--out", str(out), "--from", start, "--to", end,
        "--uncertainty", "lower", "--group-by", "language_group", "--group-floor", "0.8",
        "--share", "0.05",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    clients = pd.read_parquet(out)
    assert len(clients) == inside
    summary = json.loads((tmp_path / "q1.summary.json").read_text())
    assert summary["period"] == {"from": start, "to": end, "days": 90}
    share_floors = {k: v for k, v in summary["group_floors"].items() if "=" not in k}
    assert set(share_floors) <= {"foreign_language", "national_language"}
    groups = summary["groups"]["language_group"]
    for label, floor in share_floors.items():
        # The floor is on the allocated pairs' lower ends (the values allocated on).
        assert groups[label]["mean_expected_gain"] * groups[label]["clients"] >= floor - 1e-9
    # On the 25 % quantile, only pairs likely to help are worth a place.
    given = clients.dropna(subset=["service_id"])
    quarter = given["uplift"] - (0.6744897501960817 / 1.6448536269514722) * (
        given["uplift"] - given["uplift_low"]
    )
    assert (quarter > -1e-3).all()


def test_bad_options_are_refused(champion: str, tiny_world_dir: Path, tmp_path: Path) -> None:
    out = str(tmp_path / "x.parquet")
    world = str(tiny_world_dir)
    assert _allocate(world, "--out", str(tmp_path / "x.csv")).exit_code == 2
    result = _allocate(world, "--out", out, "--group-floor", "0.5")
    assert result.exit_code == 2 and "grouping" in result.output
    result = _allocate(world, "--out", out, "--uncertainty", "median")
    assert result.exit_code == 2
    result = _allocate(world, "--out", out, "--from", "2030-01-01")
    assert result.exit_code == 2 and "no assessment" in result.output
    assert not np.any([Path(out).exists()])
