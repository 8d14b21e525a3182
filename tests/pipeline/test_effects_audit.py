"""Followed against overridden: the audit export joined to the register by pseudonymous key."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from models.henkilotunnus import pseudonymous_key
from models.keys import derive_key
from pipeline.cli import build_app
from pipeline.effects.audit import join_audit, latest_decisions
from pipeline.synth.censoring import censor_outcomes
from pipeline.synth.world import SynthConfig, generate_world, write_world
from tests.helpers import EXAMPLE_MAPPING, rewrite_as_extract

KEY = b"test-secret-key-0123456789"


@pytest.fixture(scope="module")
def world():
    return generate_world(SynthConfig(n_clients=1500, seed=31))


def _audit(
    world, n: int = 400, seed: int = 0, key: bytes = KEY
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """An export as `polku audit export` writes it, for `n` sampled assessments, its client
    keys made with the pseudonym key `key`."""
    rng = np.random.default_rng(seed)
    episodes = world.episodes
    picked = episodes.iloc[rng.choice(len(episodes), size=n, replace=False)].reset_index(drop=True)
    codes = world.clients.set_index("client_id")["henkilotunnus"]
    by_code = rng.random(n) < 0.5  # half the requests carried the identity code
    keys = [
        pseudonymous_key(codes[c].upper(), key) if use_code else pseudonymous_key(c, key)
        for c, use_code in zip(picked["client_id"], by_code, strict=True)
    ]
    followed = rng.random(n) < 1 / (1 + np.exp(-(picked["unemployment_months"] - 12) / 6))
    created = pd.to_datetime(picked["assessment_date"]) + pd.Timedelta(days=3)
    audit = pd.DataFrame(
        {
            "request_id": [f"r{i}" for i in range(n)],
            "created_at": created.dt.strftime("%Y-%m-%dT10:00:00"),
            "kind": "recommendation",
            "client_key": keys,
            "decided_at": (created + pd.Timedelta(hours=1)).dt.strftime("%Y-%m-%dT11:00:00"),
            "followed_top": followed,
        }
    )
    # A corrected decision: the later record wins.
    correction = audit.iloc[[0]].assign(
        decided_at=(created.iloc[0] + pd.Timedelta(hours=2)).strftime("%Y-%m-%dT12:00:00"),
        followed_top=not bool(followed[0]),
    )
    strangers = pd.DataFrame(
        {
            "request_id": [f"x{i}" for i in range(10)],
            "created_at": "2022-05-01T10:00:00",
            "kind": "recommendation",
            "client_key": [pseudonymous_key(f"nobody-{i}", key) for i in range(10)],
            "decided_at": "2022-05-01T11:00:00",
            "followed_top": True,
        }
    )
    return pd.concat([audit, correction, strangers], ignore_index=True), picked


def test_latest_decisions_keeps_the_correction():
    audit = pd.DataFrame(
        {
            "request_id": ["a", "a", "b"],
            "created_at": ["2022-01-01T10:00"] * 3,
            "client_key": ["k1", "k1", "k2"],
            "decided_at": ["2022-01-01T11:00", "2022-01-01T12:00", "2022-01-01T11:00"],
            "followed_top": [True, False, True],
        }
    )
    latest = latest_decisions(audit).set_index("request_id")
    assert len(latest) == 2
    assert not bool(latest.loc["a", "followed_top"])


def test_latest_decisions_leaves_out_answers_made_with_the_model_switched_off():
    # A degraded (gate-only) answer suggested nothing: its decision neither follows nor
    # overrides a suggestion. Exports from before the column have no `degraded` at all.
    audit = pd.DataFrame(
        {
            "request_id": ["a", "b", "c"],
            "created_at": ["2022-01-01T10:00"] * 3,
            "client_key": ["k1", "k2", "k3"],
            "decided_at": ["2022-01-01T11:00"] * 3,
            "followed_top": [True, False, False],
            "degraded": [False, True, None],
        }
    )
    assert list(latest_decisions(audit)["request_id"]) == ["a", "c"]


def test_join_audit_matches_each_decision_to_its_assessment(world):
    audit, picked = _audit(world)
    joined = join_audit(audit, world.episodes, KEY, clients=world.clients)
    assert joined.n_decided == 410
    assert joined.n_unmatched == 10
    assert len(joined.table) == 400
    assert "client_id" not in joined.table and "henkilotunnus" not in joined.table
    # Each suggestion came 3 days after its assessment, so each row carries that episode's
    # outcome (request r<i> was made for picked episode i).
    rows = [int(r[1:]) for r in joined.table["request_id"]]
    expected = np.maximum(picked["employed_6m"].to_numpy(), picked["education_6m"].to_numpy())[rows]
    np.testing.assert_array_equal(joined.table["employment_or_education_6m"], expected)
    first = joined.table[joined.table["request_id"] == "r0"]
    assert first["followed_top"].iloc[0] == (
        "overridden" if audit["followed_top"][0] else "followed"
    )


def test_join_audit_wrong_key_matches_nothing(world):
    audit, _ = _audit(world, n=50)
    joined = join_audit(audit, world.episodes, b"another-secret-0123456789", clients=world.clients)
    assert joined.table.empty
    assert joined.n_unmatched == joined.n_decided


def test_effects_cli_audit_followed_against_overridden(world, tmp_path, monkeypatch):
    write_world(world, tmp_path / "world")
    # The service keys clients with the pseudonym key derived from its secret (issue 13).
    audit, _ = _audit(world, key=derive_key(KEY, "pseudonym"))
    audit.to_csv(tmp_path / "audit.csv", index=False)
    monkeypatch.setenv("POLKU_HMAC_KEY", KEY.decode())
    app = build_app()
    args = ["effects", str(tmp_path / "world"), "--audit", str(tmp_path / "audit.csv"),
            "--objective", "employment_12m"]  # fmt: skip
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "410 decided recommendations in the audit export; 400 matched" in result.output
    assert "followed vs overridden" in result.output
    assert "Caseworkers override for reasons the register may not record" in result.output
    monkeypatch.setenv("POLKU_HMAC_KEY", "another-secret-0123456789")
    wrong = CliRunner().invoke(app, args)
    assert wrong.exit_code == 2
    assert "wrong HMAC key" in wrong.output


def test_effects_cli_audit_reads_a_mapped_extract_through_its_mapping(world, tmp_path, monkeypatch):
    """The example extract calls the identity code `hetu`: keys made from it match only when
    the clients are read through the mapping too."""
    from pipeline.data.mapping import load_mapping

    write_world(world, tmp_path / "world", csv=True)
    mapped = rewrite_as_extract(
        tmp_path / "world", tmp_path / "mapped", load_mapping(EXAMPLE_MAPPING)
    )
    audit, _ = _audit(world, key=derive_key(KEY, "pseudonym"))
    audit.to_csv(tmp_path / "audit.csv", index=False)
    monkeypatch.setenv("POLKU_HMAC_KEY", KEY.decode())
    args = ["effects", str(mapped), "--audit", str(tmp_path / "audit.csv"),
            "--objective", "employment_12m", "--mapping", str(EXAMPLE_MAPPING)]  # fmt: skip
    result = CliRunner().invoke(build_app(), args)
    assert result.exit_code == 0, result.output
    assert "410 decided recommendations in the audit export; 400 matched" in result.output
    assert "followed vs overridden" in result.output


def test_no_match_names_the_dates_when_the_keys_are_right(world):
    # Decisions recorded today, for register clients: the keys match, the dates cannot.
    audit, _ = _audit(world, n=30)
    audit = audit[audit["request_id"].str.startswith("r")].assign(
        created_at="2026-12-01T10:00:00", decided_at="2026-12-01T11:00:00"
    )
    joined = join_audit(audit, world.episodes, KEY, clients=world.clients)
    assert joined.table.empty
    reason = joined.no_match_reason()
    assert "30 of 30 carry the key of a register client" in reason
    assert "2026-12-01..2026-12-01" in reason
    first, last = joined.assessed_span
    assert f"{first.isoformat()}..{last.isoformat()}" in reason
    assert "HMAC" not in reason
    assert "polku replay" in reason


def test_no_match_blames_the_key_only_when_no_key_is_known(world):
    audit, _ = _audit(world, n=20)
    joined = join_audit(audit, world.episodes, b"another-secret-0123456789", clients=world.clients)
    assert joined.n_known_keys == 0
    assert "wrong HMAC key" in joined.no_match_reason()


def test_audit_on_a_censored_register_leaves_unknown_outcomes_out_and_counts_them(
    world, tmp_path, monkeypatch
):
    """A recommendation whose assessment has no outcome yet still matches that assessment
    (not an earlier one); the estimate leaves it out, the output counts it, never a 0."""
    censored = censor_outcomes(world.episodes)
    audit, _ = _audit(world)
    full = join_audit(audit, world.episodes, KEY, clients=world.clients)
    joined = join_audit(audit, censored, KEY, clients=world.clients)
    assert list(joined.table["request_id"]) == list(full.table["request_id"])
    blank = joined.table["employment_12m"].isna().to_numpy()
    assert joined.n_unobserved("employment_12m") == int(blank.sum()) > 0
    assert joined.n_unobserved("employment_or_education_6m") < int(blank.sum())
    np.testing.assert_array_equal(
        joined.table.loc[~blank, "employment_12m"], full.table.loc[~blank, "employment_12m"]
    )
    write_world(dataclasses.replace(world, episodes=censored), tmp_path / "world")
    exported, _ = _audit(world, key=derive_key(KEY, "pseudonym"))
    exported.to_csv(tmp_path / "audit.csv", index=False)
    monkeypatch.setenv("POLKU_HMAC_KEY", KEY.decode())
    out = tmp_path / "audit.json"
    args = ["effects", str(tmp_path / "world"), "--audit", str(tmp_path / "audit.csv"),
            "--objective", "employment_12m", "--json", str(out)]  # fmt: skip
    result = CliRunner().invoke(build_app(), args)
    assert result.exit_code == 0, result.output
    n_blank = int(blank.sum())
    assert (
        f"400 matched to an assessment in the register (within 31 days before the "
        f"suggestion), 10 not. Of the matched, {n_blank} await their employment_12m outcome "
        f"(not yet observed in the register) and are left out; the estimate uses "
        f"{400 - n_blank}."
    ) in result.output
    payload = json.loads(out.read_text())
    assert payload["data"]["rows"] == 400 - n_blank
    assert np.isfinite(payload["estimates"]["aipw"]["estimate"])


def test_audit_when_every_matched_outcome_is_still_ahead_says_so(world, tmp_path, monkeypatch):
    first_day = world.episodes["assessment_date"].min()
    censored = censor_outcomes(world.episodes, extract_date=first_day)
    write_world(dataclasses.replace(world, episodes=censored), tmp_path / "world")
    audit, _ = _audit(world, key=derive_key(KEY, "pseudonym"))
    audit.to_csv(tmp_path / "audit.csv", index=False)
    monkeypatch.setenv("POLKU_HMAC_KEY", KEY.decode())
    args = ["effects", str(tmp_path / "world"), "--audit", str(tmp_path / "audit.csv"),
            "--objective", "employment_12m"]  # fmt: skip
    result = CliRunner().invoke(build_app(), args)
    assert result.exit_code == 2
    assert "all 400 matched recommendations await their employment_12m outcome" in result.output
