from __future__ import annotations

import copy
import pickle

import numpy as np
import pytest

from models.bundle import PolkuModel, RulesVersionError
from models.catalog import Catalog
from models.features import DRIVER_FACTORS
from models.objectives import DEFAULT_OBJECTIVE
from models.profile import ClientProfile
from models.ranker import ServiceRanker
from models.suggestions import RankedService
from tests.models.world import ToyEpisodes, base_profile, fit_ranker, make_world, profile_of


def _by_id(ranked: list[RankedService]) -> dict[str, RankedService]:
    return {r.service_id: r for r in ranked}


def _model_uplift(
    model: PolkuModel, profile: ClientProfile, objective: str = DEFAULT_OBJECTIVE
) -> dict[str, float]:
    """The model's own (unshrunk) uplift of each service: what the ranking follows."""
    row, _, _ = model.ranker.encoder_.encode_with_counterfactuals(profile)
    values = np.concatenate([[1.0], row]) @ model.ranker.objective_uplift_coef(objective)
    return dict(zip(model.service_ids, values.tolist(), strict=True))


def test_recommend_health_barrier_ranks_health_services_higher(polku_model: PolkuModel) -> None:
    # A beginner in Finnish, so language courses, not health checks, lead without the barrier.
    needs = {"mother_tongue": "ru", "immigrant": True, "language_level": "A1"}
    _, without = polku_model.recommend(base_profile(**needs))
    _, with_barrier = polku_model.recommend(base_profile(health_limitations=True, **needs))
    before, after = _by_id(without)["health_check"], _by_id(with_barrier)["health_check"]
    # Not strictly up: leaning on the outcome model (the stacking's plug-in candidate), the
    # health check can rank third already, behind the two language services that lead.
    assert after.rank <= before.rank
    assert after.uplift > before.uplift
    ranked_by = _model_uplift(polku_model, base_profile(health_limitations=True, **needs))
    assert (
        ranked_by["health_check"]
        > _model_uplift(polku_model, base_profile(**needs))["health_check"] + 0.01
    )


def test_recommend_low_language_raises_language_courses(polku_model: PolkuModel) -> None:
    # B2 is the highest level the Finnish course still admits (catalog limits).
    foreign = {"mother_tongue": "ru", "immigrant": True}
    _, beginner = polku_model.recommend(base_profile(language_level="A1", **foreign))
    _, advanced = polku_model.recommend(base_profile(language_level="B2", **foreign))
    course = "finnish_language_course"
    assert _by_id(beginner)[course].uplift > _by_id(advanced)[course].uplift
    # Ranks are not compared: A1 also opens integration training, which B2 does not.
    drivers = {d.factor: d for d in _by_id(beginner)[course].drivers}
    assert drivers["language_level"].uplift_without < _by_id(beginner)[course].uplift


def test_recommend_ranks_only_services_the_client_may_take(
    polku_model: PolkuModel, world: ToyEpisodes, catalog: Catalog
) -> None:
    for row in range(0, 400, 7):
        profile = profile_of(world.frame, row)
        allowed = dict(zip(catalog.ids, catalog.allowed(profile), strict=True))
        decision, ranked = polku_model.recommend(profile)
        assert decision.eligible
        assert ranked, "an eligible client in the test world may take some service"
        assert all(allowed[r.service_id] for r in ranked)
        assert [r.rank for r in ranked] == list(range(1, len(ranked) + 1))
        # Ranked by the model's uplift; the shown (shrunk) uplift may dip below the next one.
        model_uplift = _model_uplift(polku_model, profile)
        keys = [model_uplift[r.service_id] for r in ranked]
        assert keys == sorted(keys, reverse=True)


def test_recommend_never_ranks_an_ineligible_service(polku_model: PolkuModel) -> None:
    # Under 30 and Finnish-speaking: no integration training, no 55+ subsidy, no start-up grant.
    import datetime as dt

    profile = base_profile(birth_date=dt.date(1998, 1, 1))
    _, ranked = polku_model.recommend(profile)
    ids = {r.service_id for r in ranked}
    assert not ids & {"integration_training", "employment_subsidy_55", "startup_grant"}
    assert (
        "ohjaamo" in ids
        or not polku_model.ranker.supported_[polku_model.service_ids.index("ohjaamo")]
    )


def test_recommend_non_client_gets_no_services(polku_model: PolkuModel) -> None:
    decision, ranked = polku_model.recommend(base_profile(home_municipality="049"))
    assert not decision.eligible
    assert "not_helsinki_resident" in decision.failed_conditions
    assert ranked == []


def test_recommend_ignores_gender_and_mother_tongue(polku_model: PolkuModel) -> None:
    reference = base_profile(gender="female", mother_tongue="fi")
    # Swedish is a national language too, so the same services are allowed: all equal.
    _, first = polku_model.recommend(reference)
    _, second = polku_model.recommend(base_profile(gender="male", mother_tongue="sv"))
    assert first == second
    # A foreign mother tongue opens foreign-language services; the shared ones score the same.
    _, third = polku_model.recommend(base_profile(gender=None, mother_tongue="so"))
    shared = set(_by_id(first)) & set(_by_id(third))
    assert shared
    for service in shared:
        a, b = _by_id(first)[service], _by_id(third)[service]
        assert (a.uplift, a.uplift_low, a.uplift_high, a.expected_without, a.drivers) == (
            b.uplift,
            b.uplift_low,
            b.uplift_high,
            b.expected_without,
            b.drivers,
        )


def test_recommend_same_seed_same_ranking(catalog: Catalog) -> None:
    episodes = make_world(1500, seed=21, catalog=catalog)
    models = [
        PolkuModel.build(fit_ranker(episodes, catalog, n_bootstrap=3, random_state=4), catalog)
        for _ in range(2)
    ]
    profile = base_profile(debt_problems=True, unemployment_months=20)
    assert models[0].recommend(profile)[1] == models[1].recommend(profile)[1]
    np.testing.assert_array_equal(models[0].ranker.uplift_boot_, models[1].ranker.uplift_boot_)


def test_recommend_drivers_are_the_clients_needs(polku_model: PolkuModel) -> None:
    profile = base_profile(health_limitations=True, debt_problems=True, unemployment_months=15)
    _, ranked = polku_model.recommend(profile)
    health = _by_id(ranked)["health_check"]
    factors = [d.factor for d in health.drivers]
    assert set(factors) == {"health_limitations", "debt_problems", "unemployment_months"}
    assert set(factors) <= set(DRIVER_FACTORS)
    shares = [abs(health.uplift - d.uplift_without) for d in health.drivers]
    assert shares == sorted(shares, reverse=True)
    by_factor = {d.factor: d for d in health.drivers}
    assert by_factor["health_limitations"].uplift_without < health.uplift


def test_recommend_client_without_needs_has_no_drivers(polku_model: PolkuModel) -> None:
    _, ranked = polku_model.recommend(base_profile())
    assert all(r.drivers == () for r in ranked)


def test_recommend_top_k_cuts_the_list(polku_model: PolkuModel) -> None:
    _, everything = polku_model.recommend(base_profile())
    _, top = polku_model.recommend(base_profile(), top_k=3)
    assert top == everything[:3]
    with pytest.raises(ValueError, match="top_k"):
        polku_model.recommend(base_profile(), top_k=0)


def _assert_consistent(r: RankedService) -> None:
    assert 0.0 <= r.expected_without <= 1.0
    assert 0.0 <= r.expected_with <= 1.0
    assert r.uplift == pytest.approx(r.expected_with - r.expected_without, abs=1e-12)
    assert -r.expected_without - 1e-12 <= r.uplift_low <= r.uplift_high
    assert r.uplift_high <= 1.0 - r.expected_without + 1e-12


def test_recommend_expected_with_is_without_plus_uplift(polku_model: PolkuModel) -> None:
    _, ranked = polku_model.recommend(base_profile(language_level="B1", mother_tongue="et"))
    for r in ranked:
        _assert_consistent(r)
        assert r.expected_with == pytest.approx(r.expected_without + r.uplift)


def _overconfident(model: PolkuModel, shift: np.ndarray) -> PolkuModel:
    """The model with every uplift (point and replicas) moved by `shift` per service."""
    ranker = copy.deepcopy(model.ranker)
    ranker.uplift_coef_[:, 0, :] += shift
    ranker.uplift_boot_[:, :, 0, :] += shift
    # The shown (shrunk) uplift moves by the same shift.
    ranker.shrinkage_.coef[..., 0] += (1.0 - ranker.shrinkage_.coef[..., 1]) * shift
    ranker.__dict__.pop("_serving_cache", None)
    return PolkuModel(ranker, model.catalog_snapshot, model.rules_versions)


def test_recommend_keeps_numbers_consistent_when_the_model_overshoots(
    polku_model: PolkuModel, world: ToyEpisodes
) -> None:
    # Like a tiny model's "with 100 %, +117 points": uplifts far past what a probability allows.
    n_services = len(polku_model.service_ids)
    shift = np.where(np.arange(n_services) % 2 == 0, 1.2, -1.2)
    model = _overconfident(polku_model, shift)
    frame = world.frame.iloc[:30]
    scores = model.score_frame(frame, with_intervals=True)
    assert scores.uplift_low is not None and scores.uplift_high is not None
    clipped_top = clipped_bottom = 0
    for row in range(0, 30, 3):
        _, ranked = model.recommend(profile_of(frame, row))
        assert ranked
        for r in ranked:
            _assert_consistent(r)
            clipped_top += r.expected_with == 1.0
            clipped_bottom += r.expected_with == 0.0
            k = model.service_ids.index(r.service_id)
            assert scores.uplift[row, k] == pytest.approx(r.uplift)
            assert scores.uplift_low[row, k] == pytest.approx(r.uplift_low)
            assert scores.uplift_high[row, k] == pytest.approx(r.uplift_high)
        keys = [_model_uplift(model, profile_of(frame, row))[r.service_id] for r in ranked]
        assert keys == sorted(keys, reverse=True)
        assert scores.top_service_ids(1)[row, 0] == ranked[0].service_id
        # Drivers stay within what an uplift can be from this client's baseline.
        for r in ranked:
            for d in r.drivers:
                assert -r.expected_without - 1e-12 <= d.uplift_without
                assert d.uplift_without <= 1.0 - r.expected_without + 1e-12
    assert clipped_top and clipped_bottom  # the shift really pushed past both bounds
    long = scores.to_frame()
    np.testing.assert_allclose(long["expected_with"] - long["expected_without"], long["uplift"])
    assert long["expected_with"].between(0, 1).all()


def test_score_frame_agrees_with_recommend(polku_model: PolkuModel, world: ToyEpisodes) -> None:
    frame = world.frame.iloc[:40].copy()
    frame.loc[frame.index[3], "home_municipality"] = "049"  # one non-client
    scores = polku_model.score_frame(frame, "employment_12m", with_intervals=True)
    assert not scores.eligible[3] and not scores.allowed[3].any()
    for row in (0, 5, 17):
        _, ranked = polku_model.recommend(profile_of(frame, row), "employment_12m")
        for r in ranked:
            k = polku_model.service_ids.index(r.service_id)
            assert scores.uplift[row, k] == pytest.approx(r.uplift)
            assert scores.uplift_low is not None and scores.uplift_high is not None
            assert scores.uplift_low[row, k] == pytest.approx(r.uplift_low)
            assert scores.uplift_high[row, k] == pytest.approx(r.uplift_high)
            assert scores.expected_without[row] == pytest.approx(r.expected_without)
        assert scores.allowed[row].sum() == len(ranked)
        top = scores.top_service_ids(1)[row, 0]
        assert top == ranked[0].service_id


@pytest.mark.parametrize("overshoot", [False, True])
@pytest.mark.parametrize("top_k", [None, 2])
def test_rank_frame_is_recommend_for_every_row(
    polku_model: PolkuModel, world: ToyEpisodes, overshoot: bool, top_k: int | None
) -> None:
    model = polku_model
    if overshoot:  # clipped numbers and ties at the bounds must still match
        n_services = len(model.service_ids)
        model = _overconfident(model, np.where(np.arange(n_services) % 2 == 0, 1.2, -1.2))
    frame = world.frame.iloc[:60].copy()
    frame.loc[frame.index[3], "home_municipality"] = "049"  # one non-client
    pairs = model.rank_frame(frame, "employment_12m", top_k=top_k, n_drivers=4)
    assert np.all(np.diff(pairs.row) >= 0)
    assert 3 not in pairs.row and not pairs.eligible[3]
    for row in range(len(frame)):
        decision, ranked = model.recommend(profile_of(frame, row), "employment_12m", top_k)
        chosen = np.flatnonzero(pairs.row == row)
        assert len(chosen) == len(ranked)
        assert pairs.rules_version[row] == decision.rules_version
        for j, r in zip(chosen, ranked, strict=True):
            assert model.service_ids[pairs.service[j]] == r.service_id
            assert pairs.rank[j] == r.rank
            for name in ("uplift", "uplift_low", "uplift_high", "expected_without", "p_above_zero"):
                assert getattr(pairs, name)[j] == pytest.approx(getattr(r, name), abs=1e-12)
            next_one = pairs.p_above_next[j]
            assert (r.p_above_next is None) == bool(np.isnan(next_one))
            assert r.p_above_next is None or next_one == pytest.approx(r.p_above_next, abs=1e-12)
            assert pairs.wide_interval[j] == r.wide_interval
            assert pairs.expected_with[j] == pytest.approx(r.expected_with, abs=1e-12)
            drivers = [(pairs.factors[k], w) for k, w in
                       zip(pairs.driver_index[j], pairs.driver_uplift_without[j], strict=True)
                       if k >= 0]  # fmt: skip
            assert [f for f, _ in drivers] == [d.factor for d in r.drivers[:4]]
            assert [w for _, w in drivers] == pytest.approx(
                [d.uplift_without for d in r.drivers[:4]], abs=1e-12
            )


def test_rank_frame_of_no_rows_is_empty(polku_model: PolkuModel, world: ToyEpisodes) -> None:
    pairs = polku_model.rank_frame(world.frame.iloc[:0])
    assert len(pairs) == 0 and pairs.driver_index.shape == (0, 3)


def test_frame_scores_long_format_ranks_each_row(
    polku_model: PolkuModel, world: ToyEpisodes
) -> None:
    scores = polku_model.score_frame(world.frame.iloc[:10])
    long = scores.to_frame()
    assert len(long) == scores.allowed.sum()
    assert scores.rank_key is not None
    position = {s: k for k, s in enumerate(scores.service_ids)}
    for row, group in long.groupby("row"):
        assert list(group["rank"]) == list(range(1, len(group) + 1))
        keys = [scores.rank_key[row, position[s]] for s in group["service_id"]]
        assert keys == sorted(keys, reverse=True)


def test_bundle_refuses_decisions_under_unknown_rules(
    ranker: ServiceRanker, catalog: Catalog
) -> None:
    model = PolkuModel(ranker, catalog.to_snapshot(), ["some-other-rules"])
    with pytest.raises(RulesVersionError, match="some-other-rules"):
        model.recommend(base_profile())


def test_bundle_refuses_an_unfitted_ranker(catalog: Catalog) -> None:
    with pytest.raises(ValueError, match="must be fitted"):
        PolkuModel.build(ServiceRanker(), catalog)


def test_bundle_pickle_round_trip_gives_identical_suggestions(polku_model: PolkuModel) -> None:
    restored = pickle.loads(pickle.dumps(polku_model))
    profile: ClientProfile = base_profile(caregiving_duties=True, language_level="A2")
    assert restored.recommend(profile) == polku_model.recommend(profile)
    assert restored.describe()["catalog_fingerprint"] == polku_model.catalog.fingerprint
    np.testing.assert_array_equal(restored.ranker.uplift_coef_, polku_model.ranker.uplift_coef_)


def test_recommend_says_whether_each_service_can_be_told_apart(
    polku_model: PolkuModel, world: ToyEpisodes
) -> None:
    from models.separation import DISTINCT_PROBABILITY, WIDE_INTERVAL_SHARE

    for row in range(0, 120, 11):
        _, ranked = polku_model.recommend(profile_of(world.frame, row))
        _, top = polku_model.recommend(profile_of(world.frame, row), top_k=2)
        # Compared with the next ranked service, shown or not: top_k only cuts the list.
        assert [(r.service_id, r.p_above_next) for r in top] == [
            (r.service_id, r.p_above_next) for r in ranked[:2]
        ]
        for r, after in zip(ranked, [*ranked[1:], None], strict=True):
            assert r.p_above_zero is not None and 0.0 <= r.p_above_zero <= 1.0
            # Told apart from no service exactly when the interval's lower end clears zero.
            assert r.distinct_from_no_service == (r.p_above_zero >= DISTINCT_PROBABILITY)
            if r.uplift_low > 1e-9:
                assert r.distinct_from_no_service
            if r.uplift_low < -1e-9:
                assert not r.distinct_from_no_service
            assert r.wide_interval == (r.uplift_high - r.uplift_low > WIDE_INTERVAL_SHARE)
            if after is None:
                assert r.p_above_next is None and r.distinct_from_next is None
            else:
                assert r.p_above_next is not None
                assert (r.p_above_next > 0.5) == (r.uplift > after.uplift)


def test_answer_ranks_as_recommend_and_accounts_for_every_catalog_service(
    tiny_model: PolkuModel,
) -> None:
    from models.objectives import TARGETS, Objective

    # The A1 speaker: the Finnish course must be reachable from the answer.
    profile = base_profile(language_level="A1", mother_tongue="so", immigrant=True)
    for objective in (*TARGETS, "employment_or_education_6m=0.5,employment_12m=0.5"):
        parsed = Objective.parse(objective)
        decision, ranked = tiny_model.recommend(profile, parsed, top_k=3)
        answer = tiny_model.answer(profile, parsed, top_k=3)
        assert answer.decision == decision
        assert [r.service_id for r in answer.ranked] == [r.service_id for r in ranked]
        assert [r.uplift for r in answer.ranked] == [r.uplift for r in ranked]
        ids = [r.service_id for r in answer.ranked] + [n.service_id for n in answer.not_suggested]
        assert sorted(ids) == sorted(tiny_model.catalog.ids)
        _, every = tiny_model.recommend(profile, parsed)
        lower = [n for n in answer.not_suggested if n.reason == "ranked_lower"]
        assert [(n.service_id, n.rank, n.uplift) for n in lower] == [
            (r.service_id, r.rank, r.uplift) for r in every[3:]
        ]
        for r in answer.ranked:
            assert [e.target for e in r.by_target] == list(TARGETS)
            if len(parsed.weights) == 1:  # the ranked target's effect is the suggestion's own
                [own] = [e for e in r.by_target if e.target == objective]
                assert (own.uplift, own.uplift_low, own.uplift_high) == (
                    r.uplift,
                    r.uplift_low,
                    r.uplift_high,
                )
        closed = [n for n in answer.not_suggested if n.reason == "closed"]
        assert all(n.limits for n in closed)
    outside = base_profile(home_municipality="049")
    refused = tiny_model.answer(outside)
    assert refused.ranked == ()
    assert {n.reason for n in refused.not_suggested} == {"not_a_client"}


def test_score_frame_gives_todays_practice_when_asked(
    polku_model: PolkuModel, world: ToyEpisodes
) -> None:
    assert polku_model.score_frame(world.frame.iloc[:5]).practice is None
    scores = polku_model.score_frame(world.frame, with_practice=True)
    practice = scores.practice
    assert practice is not None and practice.shape == scores.allowed.shape
    assert (practice[~scores.allowed] == 0).all() and (practice >= 0).all()
    assert (practice.sum(axis=1) < 1).all()  # none keeps its share
    # The model of the logged choices gives, over the episodes, about the share that got a
    # service, and about each service's share.
    logged = np.array([a != "none" for a in world.actions])
    assert practice.sum(axis=1).mean() == pytest.approx(logged.mean(), abs=0.05)
    for k, service_id in enumerate(polku_model.service_ids):
        share = float(np.mean(world.actions == service_id))
        assert practice[:, k].mean() == pytest.approx(share, abs=0.03)


def test_one_blas_thread_limits_the_blas_pools_and_restores_them() -> None:
    from threadpoolctl import ThreadpoolController, threadpool_limits

    from models.bundle import one_blas_thread

    pools = ThreadpoolController().select(user_api="blas")
    if not pools.lib_controllers:
        pytest.skip("no BLAS library is loaded")
    with threadpool_limits(limits=2, user_api="blas"):
        with one_blas_thread():
            assert [lib.num_threads for lib in pools.lib_controllers] == [1] * len(pools)
        assert [lib.num_threads for lib in pools.lib_controllers] == [2] * len(pools)


def test_one_blas_thread_leaves_pools_at_one_thread_alone(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A serving process limits its pools at start (service.threads): no limit per call.
    from threadpoolctl import threadpool_limits

    from models import bundle

    def limit(**_: object) -> None:
        raise AssertionError("the pools were limited again")

    with threadpool_limits(limits=1, user_api="blas"):
        monkeypatch.setattr(bundle._blas_pools(), "limit", limit)
        with bundle.one_blas_thread():
            pass
