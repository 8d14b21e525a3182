"""Audit replay: a planned session through the service, dated at the assessments, joins back."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

from models.henkilotunnus import pseudonymous_key
from models.objectives import Objective
from models.session_plan import PlannedVisit, read_plan, write_plan
from pipeline.data.register import read_table
from pipeline.effects.audit import join_audit
from pipeline.replay.plan import plan_register
from service.audit import AuditStore
from service.keys import ServiceKeys
from service.model_holder import ModelHolder
from service.replay import REPLAY_ACTOR, open_service, replay_session
from tests.service.helpers import HMAC_KEY, FakeLoaded

# The keys the server derives from its secret: the replay writes rows as the server would.
KEYS = ServiceKeys.from_secret(HMAC_KEY.encode())

N_VISITS = 120


@pytest.fixture
def replayed(
    tiny_world_dir: Path, tmp_path: Path, loader: Callable[[], FakeLoaded]
) -> tuple[pd.DataFrame, object, list[PlannedVisit]]:
    visits = plan_register(tiny_world_dir, n_visits=N_VISITS, seed=5)
    plan = tmp_path / "plan.jsonl"
    write_plan(visits, plan)
    with AuditStore(f"sqlite:///{tmp_path / 'audit.db'}", chain_key=KEYS.audit_chain) as store:
        service = open_service(store, KEYS, ModelHolder(loader=loader))
        summary = replay_session(
            read_plan(plan), service, objective=Objective.parse("employment_12m"), top_k=5
        )
        store.export(tmp_path / "audit.csv")
    audit = pd.read_csv(tmp_path / "audit.csv", dtype=str, keep_default_na=False, na_values=[""])
    return audit, summary, visits


def test_the_plan_is_seeded_dated_at_the_assessments_and_carries_no_code(tiny_world_dir):
    first = plan_register(tiny_world_dir, n_visits=40, seed=1)
    assert first == plan_register(tiny_world_dir, n_visits=40, seed=1)
    assert first != plan_register(tiny_world_dir, n_visits=40, seed=2)
    for visit in first:
        assert "henkilotunnus" not in visit.profile
        assert visit.at.date().isoformat() == visit.profile["assessment_date"]
    assert [v.at for v in first] == sorted(v.at for v in first)


def test_a_plan_with_an_identity_code_is_refused():
    line = json.dumps({"profile": {"henkilotunnus": "170500A9056"}, "at": "2022-01-01T09:00:00",
                       "logged_service": "none"})  # fmt: skip
    with pytest.raises(ValueError, match="identity codes"):
        PlannedVisit.from_line(line)


def test_replay_records_the_logged_choice_at_the_assessment_day(replayed, tiny_world_dir):
    audit, summary, visits = replayed
    recommendations = audit[audit["kind"] == "recommendation"]
    assert summary.visits == N_VISITS
    assert summary.decided + summary.rejected == summary.suggested == N_VISITS - summary.not_clients
    # The register holds non-clients too (about a fifth): the gate refuses them, no decision.
    assert summary.decided > 0.6 * N_VISITS
    assert len(recommendations) == N_VISITS
    assert set(recommendations["actor"]) == {REPLAY_ACTOR}
    assert set(recommendations["created_at"].str[:10]) == {v.at.date().isoformat() for v in visits}
    decided = recommendations[recommendations["choice"].notna()]
    # Each decision is the register's logged service for that visit (none stays none).
    logged = {
        (pseudonymous_key(v.profile["client_id"], KEYS.pseudonym), v.at.date().isoformat()):
        v.logged_service for v in visits
    }  # fmt: skip
    for row in decided.itertuples():
        expected = logged[(row.client_key, row.created_at[:10])]
        assert (row.chosen_service_id if isinstance(row.chosen_service_id, str) else "none") == (
            expected
        )
    followed = decided["followed_top"].str.lower() == "true"
    assert int(followed.sum()) == summary.followed_top
    # Not following the top suggestion carries the replay's reason, as the service requires.
    assert decided.loc[~followed, "reason"].notna().all()


def test_the_replayed_audit_joins_back_to_every_assessment(replayed, tiny_world_dir):
    audit, summary, _ = replayed
    clients = read_table(tiny_world_dir / "clients.parquet")
    episodes = read_table(tiny_world_dir / "episodes.parquet")
    joined = join_audit(audit, episodes, KEYS.pseudonym, clients=clients)
    assert joined.n_decided == summary.decided
    assert joined.n_unmatched == 0
    assert len(joined.table) == summary.decided
    # No identity code reaches the export.
    text = audit.to_csv(index=False)
    assert not any(code in text for code in clients["henkilotunnus"].astype(str))
