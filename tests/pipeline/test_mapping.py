"""Extracts in other shapes: a mapping file from an extract's own columns and codes to Polku's.

The central check: a generated world rewritten with the example mapping's column names and
codes validates, decides and loads for training exactly as the original does without one.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from models.catalog import Catalog
from models.features import FeatureEncoder
from pipeline.cli import build_app
from pipeline.data.mapping import ExtractMapping, MappingError, load_mapping, parse_mapping
from pipeline.data.register import RegisterValidationError, load_episodes, validate_register
from pipeline.data.world import load_world
from pipeline.scoring.cohort import CohortError, read_cohort
from pipeline.synth.world import SynthConfig, generate_world, write_world
from tests.helpers import EXAMPLE_MAPPING, TinyTraining, rewrite_as_extract

EXAMPLE = EXAMPLE_MAPPING


@pytest.fixture(scope="module")
def example() -> ExtractMapping:
    return load_mapping(EXAMPLE)


@pytest.fixture(scope="module")
def worlds(tmp_path_factory: pytest.TempPathFactory, catalog: Catalog, example: ExtractMapping):
    """(original CSV world, the same world in the example extract's shape)."""
    original = tmp_path_factory.mktemp("original")
    write_world(generate_world(SynthConfig(n_clients=400, seed=5), catalog), original, csv=True)
    for name in ("clients", "episodes", "truth"):
        (original / f"{name}.parquet").unlink()
    return original, rewrite_as_extract(original, tmp_path_factory.mktemp("mapped"), example)


def test_rewritten_world_really_is_in_another_shape(worlds: tuple[Path, Path]) -> None:
    _, mapped = worlds
    header = (mapped / "clients.csv").read_text(encoding="utf-8").splitlines()[0]
    assert "kotikunta" in header and "home_municipality" not in header
    statuses = set(pd.read_csv(mapped / "clients.csv", dtype=str)["tyomarkkina_asema"])
    assert statuses <= {f"0{i}" for i in range(1, 10)}


def test_mapped_world_validates_identically(
    worlds: tuple[Path, Path], catalog: Catalog, example: ExtractMapping
) -> None:
    original, mapped = worlds
    plain = validate_register(original, catalog)
    assert plain.ok, plain.errors[:3]
    assert not validate_register(mapped, catalog).ok  # without the mapping it is not Polku's
    recoded = validate_register(mapped, catalog, example)
    assert recoded.ok, recoded.errors[:3]
    pd.testing.assert_frame_equal(recoded.clients, plain.clients)
    pd.testing.assert_frame_equal(recoded.episodes, plain.episodes)


def test_mapped_world_decides_identically(
    worlds: tuple[Path, Path], tmp_path: Path, example: ExtractMapping
) -> None:
    original, mapped = worlds
    runner = CliRunner()
    plain_out, mapped_out = tmp_path / "plain.csv", tmp_path / "mapped.csv"
    args = ["eligibility", "--today", "2024-01-01", "--output"]
    plain = runner.invoke(build_app(), [*args, str(plain_out), str(original / "clients.csv")])
    recoded = runner.invoke(
        build_app(),
        [*args, str(mapped_out), str(mapped / "clients.csv"), "--mapping", str(EXAMPLE)],
    )
    assert plain.exit_code == 0, plain.output
    assert recoded.exit_code == 0, recoded.output
    assert mapped_out.read_bytes() == plain_out.read_bytes()
    assert "true" in plain_out.read_text(encoding="utf-8")


def test_polku_validate_with_a_mapping(worlds: tuple[Path, Path]) -> None:
    _, mapped = worlds
    result = CliRunner().invoke(build_app(), ["validate", str(mapped), "--mapping", str(EXAMPLE)])
    assert result.exit_code == 0, result.output
    assert "valid: 400 clients" in result.output


def test_a_bad_row_is_named_by_the_extracts_column(
    worlds: tuple[Path, Path], tmp_path: Path, catalog: Catalog, example: ExtractMapping
) -> None:
    _, mapped = worlds
    broken = tmp_path / "broken"
    shutil.copytree(mapped, broken)
    clients = pd.read_csv(broken / "clients.csv", dtype=str, keep_default_na=False)
    clients.loc[3, "kotikunta"] = "Helsinki"
    clients.loc[5, "tyomarkkina_asema"] = "99"  # a code the mapping does not know passes as is
    clients.to_csv(broken / "clients.csv", index=False)
    messages = [str(e) for e in validate_register(broken, catalog, example).errors]
    assert any(
        m.startswith("clients.csv: row 4, column 'kotikunta' (home_municipality): ")
        and "'Helsinki'" in m
        for m in messages
    ), messages
    assert any(
        m.startswith("clients.csv: row 6, column 'tyomarkkina_asema' (labour_market_status): ")
        and "'99'" in m
        for m in messages
    ), messages
    result = CliRunner().invoke(
        build_app(),
        ["validate", str(broken), "--mapping", str(EXAMPLE)],
    )
    assert result.exit_code == 2
    assert "row 4, column 'kotikunta' (home_municipality)" in result.output
    decided = CliRunner().invoke(
        build_app(),
        [
            "eligibility",
            str(broken / "clients.csv"),
            "--output",
            str(tmp_path / "out.csv"),
            "--mapping",
            str(EXAMPLE),
        ],
    )
    assert decided.exit_code == 2
    assert "row 4: column 'kotikunta' (home_municipality): " in decided.output
    assert not (tmp_path / "out.csv").exists()


def _with_an_unknown_service(mapped: Path, tmp_path: Path) -> Path:
    """A copy of the mapped extract whose second episode names no catalog service."""
    broken = tmp_path / "broken"
    shutil.copytree(mapped, broken)
    episodes = pd.read_csv(broken / "episodes.csv", dtype=str, keep_default_na=False)
    episodes.loc[1, "palvelu"] = "no_such_service"
    episodes.to_csv(broken / "episodes.csv", index=False)
    return broken


def test_load_episodes_errors_name_the_extracts_column(
    worlds: tuple[Path, Path], tmp_path: Path, catalog: Catalog, example: ExtractMapping
) -> None:
    broken = _with_an_unknown_service(worlds[1], tmp_path)
    with pytest.raises(RegisterValidationError) as caught:
        load_episodes(broken, catalog, example)
    assert "episodes.csv: row 2, column 'palvelu' (service_id): " in str(caught.value)


def test_a_mapped_cohort_scores_as_the_original(
    worlds: tuple[Path, Path], tmp_path: Path, catalog: Catalog, example: ExtractMapping
) -> None:
    original, mapped = worlds
    plain = read_cohort(original, catalog)
    recoded = read_cohort(mapped, catalog, example)
    pd.testing.assert_frame_equal(recoded.frame, plain.frame)
    assert list(recoded.keys) == list(plain.keys)
    table = read_cohort(mapped / "episodes.csv", catalog, example)
    assert table.key_column == "episode_id" and len(table) == len(plain)
    broken = tmp_path / "episodes.csv"
    episodes = pd.read_csv(mapped / "episodes.csv", dtype=str, keep_default_na=False)
    episodes.loc[2, "kielitaito"] = "fluent-ish"
    episodes.to_csv(broken, index=False)
    with pytest.raises(CohortError) as caught:
        read_cohort(broken, catalog, example)
    assert any(
        str(e).startswith("episodes.csv: row 3, column 'kielitaito' (language_level): ")
        for e in caught.value.errors
    ), caught.value.errors


def test_polku_effects_reads_the_extract_through_its_mapping(
    worlds: tuple[Path, Path], tmp_path: Path
) -> None:
    original, mapped = worlds

    def effects(data: Path, *extra: str) -> tuple[Any, Path]:
        out = tmp_path / f"{data.name}-{len(extra)}.json"
        args = ["effects", str(data), "--json", str(out), *extra]
        return CliRunner().invoke(build_app(), args), out

    plain, plain_json = effects(original)
    recoded, recoded_json = effects(mapped, "--mapping", str(EXAMPLE))
    assert plain.exit_code == 0, plain.output
    assert recoded.exit_code == 0, recoded.output
    assert recoded_json.read_bytes() == plain_json.read_bytes()
    assert json.loads(plain_json.read_text())["data"]["client_episodes"] > 0
    unmapped, _ = effects(mapped)  # without the mapping the extract is not Polku's
    assert unmapped.exit_code == 2
    assert "column 'client_id' is missing (required)" in unmapped.output
    assert "Traceback" not in unmapped.output


def test_polku_effects_names_the_extracts_column_and_refuses_a_mapped_table(
    worlds: tuple[Path, Path], tmp_path: Path
) -> None:
    broken = _with_an_unknown_service(worlds[1], tmp_path)
    runner = CliRunner()
    result = runner.invoke(build_app(), ["effects", str(broken), "--mapping", str(EXAMPLE)])
    assert result.exit_code == 2
    assert "the register does not validate" in result.output
    assert "episodes.csv: row 2, column 'palvelu' (service_id): " in result.output
    table = runner.invoke(
        build_app(),
        ["effects", str(worlds[1] / "episodes.csv"), "--treatment", "palvelu", "--outcome",
         "tyollinen_6kk", "--mapping", str(EXAMPLE)],
    )  # fmt: skip
    assert table.exit_code == 2
    assert "--mapping applies to a register directory" in table.output


def test_polku_effects_policy_reads_the_extract_through_its_mapping(
    mapped_tiny_world: Path,
    tiny_world_dir: Path,
    state_dir: Path,
    register_fitted: Callable[..., str],
    tmp_path: Path,
) -> None:
    register_fitted(promote_if_first=True)

    def whatif(data: Path, *extra: str) -> tuple[Any, Path]:
        out = tmp_path / f"{data.name}.json"
        args = ["effects", str(data), "--policy", "champion", "--allow-training-clients"]
        return CliRunner().invoke(build_app(), [*args, "--json", str(out), *extra]), out

    plain, plain_json = whatif(tiny_world_dir)
    recoded, recoded_json = whatif(mapped_tiny_world, "--mapping", str(EXAMPLE))
    assert plain.exit_code == 0, plain.output
    assert recoded.exit_code == 0, recoded.output
    assert json.loads(recoded_json.read_text()) == json.loads(plain_json.read_text())


def test_a_partial_mapping_renames_and_recodes_only_what_it_lists() -> None:
    mapping = parse_mapping(
        {"columns": {"kunta": "home_municipality"}, "values": {"immigrant": {"K": True}}}
    )
    raw = pd.DataFrame({"kunta": ["091"], "immigrant": [" K "], "mother_tongue": ["fi"]})
    out = mapping.apply(raw)
    assert out.to_dict("list") == {
        "home_municipality": ["091"],
        "immigrant": ["true"],
        "mother_tongue": ["fi"],
    }
    assert raw.columns.tolist() == ["kunta", "immigrant", "mother_tongue"]  # untouched
    kept = mapping.apply(pd.DataFrame({"kunta": ["091", "091"], "immigrant": ["false", None]}))
    assert kept["immigrant"].iloc[0] == "false" and pd.isna(kept["immigrant"].iloc[1])


def test_a_column_shadowed_by_a_mapped_one_is_an_error(
    worlds: tuple[Path, Path], tmp_path: Path, catalog: Catalog
) -> None:
    original, _ = worlds
    doubled = tmp_path / "doubled"
    shutil.copytree(original, doubled)
    clients = pd.read_csv(doubled / "clients.csv", dtype=str, keep_default_na=False)
    clients["kunta"] = clients["home_municipality"]
    clients.to_csv(doubled / "clients.csv", index=False)
    mapping = parse_mapping({"columns": {"kunta": "home_municipality"}}, "m.toml")
    messages = [str(e) for e in validate_register(doubled, catalog, mapping).errors]
    assert any(
        "column 'home_municipality' is in the extract, but m.toml maps 'kunta' to it" in m
        for m in messages
    ), messages


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        ({"columns": {"kunta": "home_town"}}, "columns.kunta: 'home_town' is not a Polku field"),
        (
            {"columns": {"a": "client_id", "b": "client_id"}},
            "columns.b: 'client_id' is already mapped from columns.a",
        ),
        ({"columns": {"a": 3}}, "columns.a: must name a Polku field"),
        (
            {"values": {"labour_market_status": {"01": "jobless"}}},
            "values.labour_market_status.'01': 'jobless' is not allowed: one of: unemployed",
        ),
        ({"values": {"immigrant": {"K": "yes"}}}, "values.immigrant.'K': must be true or false"),
        (
            {"values": {"home_municipality": {"HKI": "Helsinki"}}},
            "values.home_municipality.'HKI': 'Helsinki' is not allowed: a 3-digit",
        ),
        ({"values": {"employed_6m": {"K": 2}}}, "values.employed_6m.'K': must be 0 or 1"),
        ({"values": {"home_town": {"a": "b"}}}, "[values.home_town]: 'home_town' is not a Polku"),
        (
            {"values": {"henkilotunnus": {"a": "b"}}},
            "[values.henkilotunnus]: the values of 'henkilotunnus' cannot be recoded",
        ),
        ({"values": {"immigrant": "K"}}, "values.immigrant: must be a table"),
        ({"colums": {}}, "[colums]: unknown section"),
        (
            {"columns": {"gender": "work_ability"}},
            "columns.gender: 'gender' is a protected or identifying field and cannot be mapped",
        ),
    ],
)
def test_bad_mappings_give_named_errors(document: dict, expected: str) -> None:
    with pytest.raises(MappingError) as caught:
        parse_mapping(document, "bad.toml")
    assert any(expected in p for p in caught.value.problems), caught.value.problems
    assert str(caught.value).startswith("invalid mapping bad.toml: ")


def test_bad_mapping_files_stop_every_command_with_a_named_error(
    worlds: tuple[Path, Path], tmp_path: Path
) -> None:
    original, _ = worlds
    bad = tmp_path / "bad.toml"
    bad.write_text('[columns]\nkunta = "home_town"\n', encoding="utf-8")
    runner = CliRunner()
    for args in (
        ["validate", str(original)],
        ["eligibility", str(original / "clients.csv"), "--output", str(tmp_path / "o.csv")],
        ["train", "--data", str(original)],
        ["score", str(original), "--out", str(tmp_path / "scores.parquet")],
        ["effects", str(original)],
    ):
        result = runner.invoke(build_app(), [*args, "--mapping", str(bad)])
        assert result.exit_code == 2, (args, result.output)
        assert "bad.toml" in result.output and "columns.kunta" in result.output, result.output
        assert "Traceback" not in result.output
    not_toml = tmp_path / "broken.toml"
    not_toml.write_text("[columns\n", encoding="utf-8")
    with pytest.raises(MappingError, match=r"broken\.toml: not valid TOML"):
        load_mapping(not_toml)
    with pytest.raises(MappingError, match="cannot read the file"):
        load_mapping(tmp_path / "absent.toml")


def test_the_example_mapping_is_valid(example: ExtractMapping) -> None:
    assert example.columns["kotikunta"] == "home_municipality"
    assert example.values["labour_market_status"]["01"] == "unemployed"
    assert example.values["immigrant"] == {"K": True, "E": False}
    assert example.column_label("home_municipality") == "column 'kotikunta' (home_municipality)"
    assert example.column_label("mental_health_needs") is None


@pytest.fixture(scope="module")
def mapped_tiny_world(
    tiny_world_dir: Path, tmp_path_factory: pytest.TempPathFactory, example: ExtractMapping
) -> Path:
    """The session's tiny world as a CSV extract in the example mapping's shape."""
    as_csv = tmp_path_factory.mktemp("tiny-csv")
    for name in ("clients", "episodes", "truth"):
        frame = pd.read_parquet(tiny_world_dir / f"{name}.parquet")
        frame.to_csv(
            as_csv / f"{name}.csv", index=False, date_format="%Y-%m-%d", float_format="%.17g"
        )
    return rewrite_as_extract(as_csv, tmp_path_factory.mktemp("tiny-mapped"), example)


def test_training_reads_the_mapped_world_as_the_original(
    mapped_tiny_world: Path, tiny_training: TinyTraining, example: ExtractMapping
) -> None:
    """`fit_model` is a function of the World: the same frames give the same model."""
    world = load_world(mapped_tiny_world, mapping=example)
    original = tiny_training.world
    pd.testing.assert_frame_equal(world.episodes, original.episodes)
    pd.testing.assert_frame_equal(world.truth, original.truth, check_dtype=False)
    assert world.files[-1] == EXAMPLE  # the mapping is part of the data's fingerprint
    encoder = FeatureEncoder().fit(original.episodes)
    np.testing.assert_array_equal(
        encoder.transform(world.episodes), encoder.transform(original.episodes)
    )


def test_polku_train_loads_through_the_mapping(
    mapped_tiny_world: Path, monkeypatch: pytest.MonkeyPatch, tiny_training: TinyTraining
) -> None:
    import pipeline.training.train as training

    loaded = []

    def stop_after_loading(*args: object, **kwargs: object) -> None:
        loaded.append(load_world(*args, **kwargs))  # type: ignore[arg-type]
        raise ValueError("stopped after loading")

    monkeypatch.setattr(training, "load_world", stop_after_loading)
    result = CliRunner().invoke(
        build_app(), ["train", "--data", str(mapped_tiny_world), "--mapping", str(EXAMPLE)]
    )
    assert result.exit_code == 2 and "stopped after loading" in result.output, result.output
    pd.testing.assert_frame_equal(loaded[0].episodes, tiny_training.world.episodes)


def test_protected_attributes_stay_out_of_the_features_whatever_the_mapping(
    worlds: tuple[Path, Path], catalog: Catalog
) -> None:
    """Mapping an extract column onto `gender` (and scrambling it) changes no feature."""
    original, _ = worlds
    episodes = validate_register(original, catalog).episodes
    raw = pd.read_csv(original / "episodes.csv", dtype=str, keep_default_na=False)
    rng = np.random.default_rng(0)
    raw["sukupuoli"] = rng.choice(["N", "M", "X"], size=len(raw))
    raw["aidinkieli"] = rng.choice(["fi", "sv", "so", "ru"], size=len(raw))
    raw = raw.drop(columns=["gender", "mother_tongue"])
    mapping = parse_mapping(
        {
            "columns": {"sukupuoli": "gender", "aidinkieli": "mother_tongue"},
            "values": {"gender": {"N": "female", "M": "male", "X": "other"}},
        }
    )
    from pipeline.data.register import validate_episodes

    scrambled, errors = validate_episodes(mapping.apply(raw), catalog)
    assert not errors, errors[:3]
    assert (scrambled["gender"] != episodes["gender"]).any()
    encoder = FeatureEncoder().fit(episodes)
    np.testing.assert_array_equal(encoder.transform(scrambled), encoder.transform(episodes))


def test_a_run_trained_through_a_mapping_records_the_mapping(
    state_dir: Path, tiny_training: TinyTraining, tiny_world_dir: Path, example: ExtractMapping
) -> None:
    """The run names the mapping file beside the data directory; without one it does not."""
    from mlflow import MlflowClient

    from pipeline.training.train import log_and_register

    world, trained, settings = tiny_training
    with_mapping = log_and_register(trained, world, settings, tiny_world_dir, mapping=example)
    without = log_and_register(trained, world, settings, tiny_world_dir)
    uri = f"sqlite:///{state_dir / 'mlflow.db'}"
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)

    def params(version: str) -> dict[str, str]:
        run_id = client.get_model_version("polku-ranker", version).run_id
        return client.get_run(run_id).data.params

    assert params(with_mapping.version)["data_mapping"] == str(EXAMPLE)
    assert "data_mapping" not in params(without.version)


def test_without_a_mapping_errors_name_polkus_field_as_before(
    worlds: tuple[Path, Path], tmp_path: Path, catalog: Catalog
) -> None:
    original, _ = worlds
    broken = tmp_path / "broken"
    shutil.copytree(original, broken)
    clients = pd.read_csv(broken / "clients.csv", dtype=str, keep_default_na=False)
    clients.loc[3, "home_municipality"] = "Helsinki"
    clients.to_csv(broken / "clients.csv", index=False)
    messages = [str(e) for e in validate_register(broken, catalog).errors]
    assert any(m.startswith("clients.csv: row 4, field 'home_municipality': ") for m in messages), (
        messages
    )


def test_typed_columns_are_recoded_by_their_text() -> None:
    """A Parquet extract's numbers and object cells match the codes by their text."""
    mapping = parse_mapping(
        {"values": {"labour_market_status": {"1": "unemployed"}, "immigrant": {"K": True}}}
    )
    raw = pd.DataFrame(
        {
            "labour_market_status": pd.Series([1, 2], dtype="int64"),
            "immigrant": pd.Series(["K", None], dtype=object),
        }
    )
    out = mapping.apply(raw)
    assert out["labour_market_status"].tolist() == ["unemployed", 2]
    assert out["immigrant"].iloc[0] == "true" and out["immigrant"].iloc[1] is None


def test_polku_evaluate_reads_the_extract_through_its_mapping(
    mapped_tiny_world: Path,
    tiny_world_dir: Path,
    state_dir: Path,
    register_fitted: Callable[..., str],
    tmp_path: Path,
) -> None:
    version = register_fitted()

    def evaluate(data: Path, *extra: str) -> Any:
        out = tmp_path / f"{data.name}-{len(extra)}.json"
        args = ["evaluate", "--version", version, "--data", str(data), "--json", str(out)]
        return CliRunner().invoke(build_app(), [*args, *extra]), out

    original, original_json = evaluate(tiny_world_dir)
    mapped, mapped_json = evaluate(mapped_tiny_world, "--mapping", str(EXAMPLE))
    assert original.exit_code == 0, original.output
    assert mapped.exit_code == 0, mapped.output
    as_original = json.loads(original_json.read_text())
    as_mapped = json.loads(mapped_json.read_text())
    assert as_mapped["policy_value"] == as_original["policy_value"]
    assert as_mapped["n_episodes"] == as_original["n_episodes"]
    unmapped, _ = evaluate(mapped_tiny_world)
    assert unmapped.exit_code == 2
    assert "Traceback" not in unmapped.output
