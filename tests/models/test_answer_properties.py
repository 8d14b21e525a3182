"""Properties of `PolkuModel.answer` on random profiles: what it says of every service agrees
with the catalog limits checked directly and with the full scoring.

The answer checks the limits once and scores only what it ranks or shows, so a slip there
would change an answer silently; these compare it with the slow, plain way.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from models.bundle import PolkuModel, consistent_outcomes
from models.catalog import LIMIT_COLUMNS
from models.catalog.limits import profile_facts
from models.objectives import TARGETS, Objective
from models.profile import ClientProfile
from tests.models.test_eligibility_properties import profiles

OBJECTIVES = (*TARGETS, "employment_or_education_6m=0.6,employment_12m=0.4")


def _failed_limits_directly(
    model: PolkuModel, profile: ClientProfile
) -> dict[str, tuple[str, ...]]:
    """Per catalog service, the limits it closes on, read off each limit's own test."""
    record = profile.to_record()
    columns = {c: np.asarray([record[c]]) for c in LIMIT_COLUMNS}
    checks = model.catalog._limits.checks(profile_facts(columns))
    return {
        service_id: tuple(name for name, test in checks.items() if not test[0, j])
        for j, service_id in enumerate(model.catalog.ids)
    }


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    profile=profiles() | profiles(c1_to_c4=True),
    objective=st.sampled_from(OBJECTIVES),
    top_k=st.none() | st.integers(1, 8),
)
def test_answer_accounts_for_every_service_as_the_limits_and_scores_say(
    polku_model: PolkuModel, profile: ClientProfile, objective: str, top_k: int | None
) -> None:
    model = polku_model
    answer = model.answer(profile, objective, top_k=top_k)
    left_out = {n.service_id: n for n in answer.not_suggested}
    shown = [r.service_id for r in answer.ranked]
    # Every catalog service exactly once: suggested or left out with a reason.
    assert sorted(shown + list(left_out)) == sorted(model.catalog.ids)
    if not answer.decision.eligible:
        assert not shown and {n.reason for n in left_out.values()} == {"not_a_client"}
        return
    failed = _failed_limits_directly(model, profile)
    supported = {s for s, ok in zip(model.service_ids, model.ranker.supported_, strict=True) if ok}
    for service_id in model.catalog.ids:
        if service_id in shown:
            assert failed[service_id] == () and service_id in supported
            continue
        item = left_out[service_id]
        if failed[service_id]:
            assert (item.reason, item.limits) == ("closed", failed[service_id])
        elif service_id in supported:
            assert item.reason == "ranked_lower" and item.limits == ()
        else:
            assert (item.reason, item.limits) == ("not_supported", ())

    # The ranking and the ranked-lower numbers are the full ranking's (recommend, no cut).
    _, everything = model.recommend(profile, objective)
    assert [r.service_id for r in everything[: len(shown)]] == shown
    lower = [n for n in answer.not_suggested if n.reason == "ranked_lower"]
    assert [(n.service_id, n.rank) for n in lower] == [
        (r.service_id, r.rank) for r in everything[len(shown) :]
    ]
    for n, r in zip(lower, everything[len(shown) :], strict=True):
        assert (n.uplift, n.uplift_low, n.uplift_high) == pytest.approx(
            (r.uplift, r.uplift_low, r.uplift_high), rel=1e-12, abs=1e-15
        )

    # Each suggestion's effect on every target is that target's full scoring at the service.
    design = np.concatenate([[1.0], model.ranker.encoder_.encode_one(profile)])
    columns = [model.service_ids.index(s) for s in shown]
    for target_index, target in enumerate(TARGETS):
        scores = model.ranker.score_design(design, Objective(((target, 1.0),)))
        base, with_service, uplift, low, high = consistent_outcomes(
            scores.expected_without,
            scores.uplift_shown[columns],
            scores.uplift_low[columns],
            scores.uplift_high[columns],
        )
        assert low is not None and high is not None
        for i, ranked in enumerate(answer.ranked):
            effect = ranked.by_target[target_index]
            assert effect.target == target
            assert (
                effect.expected_without,
                effect.expected_with,
                effect.uplift,
                effect.uplift_low,
                effect.uplift_high,
            ) == pytest.approx(
                (float(base), with_service[i], uplift[i], low[i], high[i]), rel=1e-12, abs=1e-15
            )
