"""Register extracts unlike the generator's: what each reader refuses, and says, before a row.

Each case came from a review of extracts a real register might give: identity codes in the
wrong column, headers that differ only in case or spaces, a `;`-separated spreadsheet,
time-zoned Parquet dates, a misspelt mapping key.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from models.catalog import Catalog
from pipeline.cli import build_app
from pipeline.data.mapping import MappingError, parse_mapping
from pipeline.data.register import load_episodes, validate_register
from pipeline.synth.world import GeneratedWorld, SynthConfig, generate_world, write_world

CODE = "131052-308T"  # a valid henkilötunnus (test range), never to be echoed


@pytest.fixture(scope="module")
def world(catalog: Catalog) -> GeneratedWorld:
    return generate_world(SynthConfig(n_clients=150, seed=4), catalog)


@pytest.fixture()
def csv_dir(tmp_path: Path, world: GeneratedWorld) -> Path:
    write_world(world, tmp_path, csv=True)
    for name in ("clients", "episodes", "truth"):
        (tmp_path / f"{name}.parquet").unlink()
    return tmp_path


def _edit(path: Path, change) -> None:
    table = pd.read_csv(path, dtype=str, keep_default_na=False)
    change(table)
    table.to_csv(path, index=False)


def _messages(directory: Path, catalog: Catalog) -> list[str]:
    return [str(e) for e in validate_register(directory, catalog).errors]


def test_an_identity_code_in_service_or_episode_id_is_named_but_never_shown(
    csv_dir: Path, catalog: Catalog
) -> None:
    def plant(table: pd.DataFrame) -> None:
        table.loc[0, "service_id"] = CODE
        table.loc[1, "episode_id"] = CODE

    _edit(csv_dir / "episodes.csv", plant)
    messages = _messages(csv_dir, catalog)
    assert not any(CODE in m for m in messages), messages
    assert any(
        "row 1, field 'service_id': (a value shaped like a henkilötunnus, not shown)" in m
        for m in messages
    )
    assert any("row 2, field 'episode_id': looks like a henkilötunnus" in m for m in messages), (
        messages
    )


def test_a_header_differing_only_in_case_or_spaces_is_refused_not_ignored(
    csv_dir: Path, catalog: Catalog
) -> None:
    def rename(table: pd.DataFrame) -> None:
        table.rename(
            columns={
                "experiment_client_since": "Experiment_Client_Since",
                "health_limitations": "health_limitations ",
            },
            inplace=True,
        )

    _edit(csv_dir / "clients.csv", rename)
    messages = _messages(csv_dir, catalog)
    assert (
        "clients.csv: field '-': column 'Experiment_Client_Since' is not read: the field is "
        "named 'experiment_client_since'"
    ) in messages
    assert any("column 'health_limitations ' is not read" in m for m in messages)


def test_a_missing_required_column_is_said_once_not_once_per_row(
    csv_dir: Path, catalog: Catalog
) -> None:
    _edit(csv_dir / "clients.csv", lambda t: t.drop(columns=["home_municipality"], inplace=True))
    messages = _messages(csv_dir, catalog)
    assert (
        messages.count("clients.csv: field '-': column 'home_municipality' is missing (required)")
        == 1
    )
    assert not any("row " in m and "clients.csv" in m for m in messages), messages[:5]


def test_a_semicolon_separated_extract_reads_like_a_comma_separated_one(
    csv_dir: Path, catalog: Catalog
) -> None:
    before = load_episodes(csv_dir, catalog)[0]
    for name in ("clients", "episodes"):
        path = csv_dir / f"{name}.csv"
        table = pd.read_csv(path, dtype=str, keep_default_na=False)
        table.to_csv(path, index=False, sep=";")
    after = load_episodes(csv_dir, catalog)[0]
    pd.testing.assert_frame_equal(before, after)


def test_a_ragged_line_is_named_by_its_line(csv_dir: Path, catalog: Catalog) -> None:
    path = csv_dir / "clients.csv"
    lines = path.read_text(encoding="utf-8").splitlines()
    lines[4] += ",extra"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    messages = _messages(csv_dir, catalog)
    assert any(
        m.startswith("clients.csv: field '-': line 5 (counting the header) has") for m in messages
    ), messages


def test_a_register_without_assessment_dates_is_refused_not_dated_today(
    csv_dir: Path, catalog: Catalog
) -> None:
    for name in ("clients", "episodes"):
        _edit(csv_dir / f"{name}.csv", lambda t: t.drop(columns=["assessment_date"], inplace=True))
    messages = _messages(csv_dir, catalog)
    assert any(
        m.startswith("episodes.csv: field 'assessment_date': column is missing") for m in messages
    ), messages


def test_a_header_only_episodes_file_says_it_has_no_rows(csv_dir: Path, catalog: Catalog) -> None:
    path = csv_dir / "episodes.csv"
    path.write_text(path.read_text(encoding="utf-8").splitlines()[0] + "\n", encoding="utf-8")
    (csv_dir / "truth.csv").unlink()
    assert "episodes.csv: field '-': no episode rows (only a header)" in _messages(csv_dir, catalog)


def test_time_zoned_parquet_dates_keep_their_own_calendar_day(
    tmp_path: Path, world: GeneratedWorld
) -> None:
    clients = world.clients.copy()
    clients["assessment_date"] = pd.to_datetime(clients["assessment_date"])
    naive = tmp_path / "naive.parquet"
    zoned = tmp_path / "zoned.parquet"
    clients.to_parquet(naive, index=False)
    clients.assign(
        assessment_date=clients["assessment_date"].dt.tz_localize("Europe/Helsinki")
    ).to_parquet(zoned, index=False)
    runner = CliRunner()
    outputs = []
    for source in (naive, zoned):
        out = tmp_path / f"{source.stem}.csv"
        result = runner.invoke(build_app(), ["eligibility", str(source), "--output", str(out)])
        assert result.exit_code == 0, result.output
        outputs.append(pd.read_csv(out, dtype=str, keep_default_na=False))
    pd.testing.assert_frame_equal(outputs[0], outputs[1])


def test_a_mapped_column_the_extract_lacks_is_an_error() -> None:
    mapping = parse_mapping(
        {"columns": {"kokeilun_asiakas_alkanut": "experiment_client_since"}}, "m.toml"
    )
    with pytest.raises(MappingError) as caught:
        mapping.apply(pd.DataFrame({"client_id": ["a"]}), "clients.csv")
    assert list(caught.value.problems) == [
        "clients.csv: m.toml maps column 'kokeilun_asiakas_alkanut' to "
        "'experiment_client_since', but the extract has no column 'kokeilun_asiakas_alkanut'"
    ]


def test_two_codes_equal_once_stripped_are_refused() -> None:
    with pytest.raises(MappingError) as caught:
        parse_mapping({"values": {"work_ability": {"T": "full", " T": "partial"}}}, "m.toml")
    assert list(caught.value.problems) == [
        "values.work_ability.' T': is the same code as 'T' once spaces are stripped"
    ]


def test_hashed_episode_ids_holding_a_code_shaped_run_are_accepted(
    csv_dir: Path, catalog: Catalog
) -> None:
    # 64-hex keys often hold a run shaped like a code ("131052a308c"); only a whole value is one.
    def hash_ids(table: pd.DataFrame) -> None:
        table["episode_id"] = [f"9f131052a308c{i:051x}" for i in range(len(table))]

    _edit(csv_dir / "episodes.csv", hash_ids)
    (csv_dir / "truth.csv").unlink()
    assert validate_register(csv_dir, catalog).ok
