"""`polku score`: a registered version's ranked services for every assessment of a cohort."""

from __future__ import annotations

import dataclasses
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from models.bundle import PolkuModel
from models.profile_validation import parse_profile_frame, profile_from_row
from pipeline.cli import build_app

KEY_COLUMNS = ("client_id", "rank", "service_id", "model_version", "rules_version", "objective")
NUMBERS = ("uplift", "uplift_low", "uplift_high", "expected_without", "expected_with")


def _score(*args: str) -> object:
    return CliRunner().invoke(build_app(), ["score", *args])


def _expected(model: PolkuModel, frame: pd.DataFrame, top_k: int | None = None) -> list:
    """`recommend` for every row of a typed frame: (decision, ranked) per row."""
    return [
        model.recommend(profile_from_row(frame.iloc[i]), top_k=top_k) for i in range(len(frame))
    ]


def _check_rows(scored: pd.DataFrame, decision, ranked, version: str) -> None:
    assert len(scored) == len(ranked)
    for (_, row), service in zip(scored.iterrows(), ranked, strict=True):
        assert row["service_id"] == service.service_id
        assert row["rank"] == service.rank
        for name in NUMBERS:
            assert row[name] == pytest.approx(getattr(service, name), abs=1e-9), name
        assert list(row["drivers"]) == [d.factor for d in service.drivers[:3]]
        shares = [service.uplift - d.uplift_without for d in service.drivers[:3]]
        assert list(row["driver_shares"]) == pytest.approx(shares, abs=1e-9)
        assert row["model_version"] == version
        assert row["rules_version"] == decision.rules_version


def test_score_a_register_directory_gives_recommend_for_every_episode(
    state_dir: Path,
    tiny_world_dir: Path,
    tiny_model: PolkuModel,
    register_fitted: Callable[..., str],
    tmp_path: Path,
):
    version = register_fitted(promote_if_first=True)
    out = tmp_path / "nightly" / "scores.parquet"
    result = _score(str(tiny_world_dir), "--out", str(out))
    assert result.exit_code == 0, result.output
    scored = pd.read_parquet(out)
    assert list(scored.columns[:1]) == ["episode_id"]
    assert set(KEY_COLUMNS) <= set(scored.columns)
    assert "henkilotunnus" not in scored.columns

    episodes = pd.read_parquet(tiny_world_dir / "episodes.parquet")
    frame = parse_profile_frame(episodes).frame.reset_index(drop=True)
    expected = _expected(tiny_model, frame)
    counts = {eid: len(r) for eid, (_, r) in zip(episodes["episode_id"], expected, strict=True)}
    assert len(scored) == sum(counts.values())
    got = scored.groupby("episode_id").size()
    assert {k: v for k, v in counts.items() if v} == got.to_dict()
    non_clients = {eid for eid, (d, _) in zip(episodes["episode_id"], expected, strict=True)
                   if not d.eligible}  # fmt: skip
    assert non_clients, "the tiny world should hold non-clients"
    assert not non_clients & set(scored["episode_id"])
    assert (scored["objective"] == tiny_model.metadata["objective"]).all()

    rng = np.random.default_rng(0)
    ranked_rows = [i for i, (_, r) in enumerate(expected) if r]
    for i in rng.choice(ranked_rows, size=15, replace=False):
        decision, ranked = expected[i]
        rows = scored[scored["episode_id"] == episodes["episode_id"].iloc[i]]
        assert (rows["client_id"] == episodes["client_id"].iloc[i]).all()
        _check_rows(rows, decision, ranked, version)
    assert f"with version {version}" in result.output


def test_score_a_profile_table_keys_rows_by_number_and_keeps_the_top_k(
    state_dir: Path,
    tiny_world_dir: Path,
    tiny_model: PolkuModel,
    register_fitted: Callable[..., str],
    tmp_path: Path,
):
    version = register_fitted()
    clients = pd.read_parquet(tiny_world_dir / "clients.parquet").head(400)
    table = tmp_path / "office.csv"
    clients.to_csv(table, index=False, date_format="%Y-%m-%d")
    out = tmp_path / "scores.parquet"
    result = _score(str(table), "--out", str(out), "--version", version, "--top-k", "2")
    assert result.exit_code == 0, result.output
    scored = pd.read_parquet(out)
    assert scored.columns[0] == "row_id"
    assert scored["rank"].max() == 2
    assert "henkilotunnus" not in scored.columns

    frame = parse_profile_frame(pd.read_csv(table, dtype=str)).frame.reset_index(drop=True)
    expected = _expected(tiny_model, frame, top_k=2)
    assert len(scored) == sum(len(r) for _, r in expected)
    for i in (0, 1, 2, 50, 399):
        decision, ranked = expected[i]
        _check_rows(scored[scored["row_id"] == i + 1], decision, ranked, version)


def test_a_bad_row_exits_2_names_row_and_field_and_writes_nothing(
    state_dir: Path, tiny_world_dir: Path, register_fitted: Callable[..., str], tmp_path: Path
):
    register_fitted(promote_if_first=True)
    extract = tmp_path / "extract"
    shutil.copytree(tiny_world_dir, extract)
    episodes = pd.read_parquet(extract / "episodes.parquet")
    episodes.loc[4, "unemployment_months"] = -3
    episodes.to_parquet(extract / "episodes.parquet", index=False)
    out = tmp_path / "out" / "scores.parquet"
    out.parent.mkdir()
    out.write_bytes(b"yesterday")

    result = _score(str(extract), "--out", str(out))
    assert result.exit_code == 2
    assert "episodes.parquet: row 5, field 'unemployment_months'" in result.stderr
    assert "nothing was written" in result.stderr
    assert "Traceback" not in result.output
    assert out.read_bytes() == b"yesterday"
    assert sorted(p.name for p in out.parent.iterdir()) == ["scores.parquet"]

    table = tmp_path / "one.csv"
    raw = pd.read_parquet(tiny_world_dir / "clients.parquet").head(10)
    raw["birth_date"] = raw["birth_date"].astype(str)
    raw.loc[2, "birth_date"] = "1990-02-30"
    raw = raw.drop(columns=["henkilotunnus"])
    raw.to_csv(table, index=False)
    fresh = tmp_path / "fresh.parquet"
    result = _score(str(table), "--out", str(fresh))
    assert result.exit_code == 2
    assert "one.csv: row 3, field 'birth_date'" in result.stderr
    assert not fresh.exists()


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--version", "1", "--alias", "champion"], "not both"),
        (["--alias", "staging"], "only the 'champion' alias"),
        (["--version", "99"], "cannot load version 99"),
        ([], "cannot load the champion"),
    ],
)
def test_score_names_what_is_wrong_with_the_model_choice(
    state_dir: Path, tiny_world_dir: Path, tmp_path: Path, extra: list[str], message: str
):
    out = tmp_path / "scores.parquet"
    result = _score(str(tiny_world_dir), "--out", str(out), *extra)
    assert result.exit_code == 2, result.output
    assert message in result.stderr
    assert "Traceback" not in result.output
    assert not out.exists()


def test_score_wants_a_parquet_output(state_dir: Path, tiny_world_dir: Path, tmp_path: Path):
    result = _score(str(tiny_world_dir), "--out", str(tmp_path / "scores.csv"))
    assert result.exit_code == 2
    assert "FILE.parquet" in result.stderr


def test_chunks_report_progress_and_join_to_the_one_chunk_table(
    tiny_world_dir: Path, tiny_model: PolkuModel, catalog, tmp_path: Path
):
    from models.objectives import Objective
    from pipeline.scoring.cohort import read_cohort, score_cohort, write_parquet_atomically

    cohort = read_cohort(tiny_world_dir, catalog)
    objective = Objective.parse("employment_12m")
    lines: list[str] = []
    chunked, summary = score_cohort(
        tiny_model, "7", cohort, objective, chunk_rows=1000, progress=lines.append
    )
    whole, _ = score_cohort(tiny_model, "7", cohort, objective, progress=lines.append)
    # Equal up to rounding (a matrix product's blocking depends on its size).
    a, b = chunked.to_pandas(), whole.to_pandas()
    pd.testing.assert_frame_equal(a.drop(columns="driver_shares"), b.drop(columns="driver_shares"))
    # Absolute too: where the ranker's stacking finds nothing credible for a target the
    # shares are ~1e-10 (the tie-break weight), and relative rounding alone says nothing there.
    np.testing.assert_allclose(
        np.concatenate(a["driver_shares"].to_list()),
        np.concatenate(b["driver_shares"].to_list()),
        atol=1e-12,
    )
    assert len(lines) == -(-len(cohort) // 1000)  # one line per chunk, none for one chunk
    assert lines[-1].startswith(f"scored {len(cohort):,} of {len(cohort):,} assessments")
    assert summary.n_pairs == chunked.num_rows and summary.n_assessments == len(cohort)

    empty = dataclasses.replace(cohort, frame=cohort.frame.iloc[:0], keys=cohort.keys[:0])
    table, summary = score_cohort(tiny_model, "7", empty, objective)
    assert table.num_rows == 0 and table.schema.names == whole.schema.names
    write_parquet_atomically(table, tmp_path / "none.parquet")
    assert pd.read_parquet(tmp_path / "none.parquet").empty
