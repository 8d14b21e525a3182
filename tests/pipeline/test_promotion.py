"""The promotion rule on hand-made evaluation summaries."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pipeline.evaluation.metrics import ReliabilityBins
from pipeline.evaluation.promote import PromotionResult
from pipeline.evaluation.promotion import PairedEpisodes, compare_evaluations, compare_paired
from pipeline.evaluation.results import (
    ByPolicy,
    Calibration,
    EvaluationSummary,
    GroupResult,
    OffPolicyEstimates,
    OracleGainByPolicy,
    UpliftSummary,
)


def _values(polku: float) -> ByPolicy[float]:
    """Polku's value; the other policies' do not enter the promotion rule."""
    return ByPolicy(polku, caseworkers=0.0, random=0.0, popular=0.0, imitation=0.0, oracle=0.0)


def _summary(overall: float, groups: dict[str, float], n: int = 1000) -> EvaluationSummary:
    """A summary where only what the rule reads is meaningful: n and Polku's values."""
    estimates = OffPolicyEstimates(0.0, 0.0, None, 0.0, 0.0, 0)
    empty_bins = ReliabilityBins(np.zeros(1), np.zeros(0), np.zeros(0), np.zeros(0))
    return EvaluationSummary(
        n_episodes=n,
        policy_value=_values(overall),
        oracle_gain_captured=None,
        oracle_gain_captured_by_policy=OracleGainByPolicy(None, None, None, None),
        top3_oracle_coverage=0.0,
        ope=ByPolicy(*[estimates] * 6),
        calibration=Calibration(0.0, 0.0, empty_bins, 0.0, 0.0),
        uplift=UpliftSummary(0.0, None, 0.0, 0.0),
        by_group={
            "age_band": {
                label: GroupResult(100, _values(value), None, 0.0, 0.0)
                for label, value in groups.items()
            }
        },
    )


def test_compare_promotes_a_better_challenger():
    decision = compare_evaluations(
        _summary(0.40, {"under_25": 0.30, "55_plus": 0.50}),
        _summary(0.42, {"under_25": 0.31, "55_plus": 0.52}),
    )
    assert decision.promote
    assert "not below" in decision.reasons[0]


def test_compare_promotes_an_equal_challenger():
    same = _summary(0.40, {"under_25": 0.30})
    assert compare_evaluations(same, same).promote


def test_compare_refuses_a_worse_challenger_overall():
    decision = compare_evaluations(_summary(0.40, {"a": 0.3}), _summary(0.39, {"a": 0.3}))
    assert not decision.promote
    assert decision.reasons == (
        "the challenger's policy value 0.3900 is below the champion's 0.4000",
    )


def test_compare_refuses_when_a_group_loses_more_than_tolerance():
    decision = compare_evaluations(
        _summary(0.40, {"under_25": 0.30, "55_plus": 0.50}),
        _summary(0.41, {"under_25": 0.28, "55_plus": 0.53}),
        group_tolerance=0.01,
    )
    assert not decision.promote
    assert len(decision.reasons) == 1
    assert decision.reasons[0].startswith("group age_band=under_25 (n=100) loses 0.0200")


def test_compare_allows_a_group_loss_within_tolerance():
    decision = compare_evaluations(
        _summary(0.40, {"under_25": 0.30}),
        _summary(0.41, {"under_25": 0.295}),
        group_tolerance=0.01,
    )
    assert decision.promote
    assert decision.group_changes[0].change == pytest.approx(-0.005)


def test_compare_rejects_evaluations_of_different_data():
    with pytest.raises(ValueError, match="not on the same held-out episodes"):
        compare_evaluations(_summary(0.4, {}, n=10), _summary(0.4, {}, n=11))


def test_compare_rejects_negative_tolerance():
    with pytest.raises(ValueError, match="must not be negative"):
        compare_evaluations(_summary(0.4, {}), _summary(0.4, {}), group_tolerance=-0.1)


def test_promotion_record_keeps_its_json_keys():
    decision = compare_evaluations(
        _summary(0.40, {"under_25": 0.30}), _summary(0.41, {"under_25": 0.31})
    )
    record = PromotionResult("2", "1", True, decision.reasons, decision, Path("world")).to_json()
    assert list(record) == [
        "promote",
        "reasons",
        "champion_policy_value",
        "challenger_policy_value",
        "group_changes",
        "champion_before",
        "data_dir",
    ]
    assert list(record["group_changes"][0]) == [
        "grouping", "group", "n", "champion", "challenger", "change"
    ]  # fmt: skip
    assert record["champion_before"] == "1" and record["data_dir"] == "world"
    assert record["group_changes"][0]["change"] == pytest.approx(0.01)


# --- the rule `polku promote` applies: paired doubly robust difference -------------------


def _paired(
    champion: np.ndarray,
    challenger: np.ndarray,
    groups: dict[str, np.ndarray] | None = None,
    clients: np.ndarray | None = None,
) -> PairedEpisodes:
    ids = np.array([f"c{i}" for i in range(len(champion))]) if clients is None else clients
    return PairedEpisodes(champion, challenger, ids, groups or {})


def _noisy_terms(n: int = 2000, seed: int = 11) -> np.ndarray:
    """DR terms as they come: outcome model values plus large importance-weighted residuals."""
    rng = np.random.default_rng(seed)
    return rng.uniform(0.2, 0.6, n) + rng.normal(0.0, 1.0, n)


def test_paired_promotes_a_challenger_equal_to_the_champion():
    terms = _noisy_terms()
    decision = compare_paired(_paired(terms, terms.copy()))
    assert decision.promote
    assert decision.difference is not None
    assert decision.difference.estimate == 0.0 and decision.difference.ci_low == 0.0
    assert (
        decision.reasons[0].startswith("overall:") and "not credibly worse" in decision.reasons[0]
    )
    assert "is not below the champion's" in decision.reasons[0]
    assert decision.reasons[1].startswith("groups:")


def test_paired_promotes_a_difference_at_noise_level():
    # The old rule refused a challenger 0.0004 below the champion; noise that size is no
    # evidence: the paired interval holds zero and its lower bound is above -margin.
    rng = np.random.default_rng(3)
    champion = _noisy_terms()
    challenger = champion + rng.normal(-0.0004, 0.05, champion.size)
    decision = compare_paired(_paired(champion, challenger))
    assert decision.difference is not None
    assert decision.difference.ci_low < 0 < decision.difference.ci_high
    assert decision.difference.ci_low > -0.01
    assert decision.promote


def test_paired_refuses_a_clearly_worse_challenger_and_names_both_comparisons():
    champion = _noisy_terms()
    rng = np.random.default_rng(5)
    challenger = champion - 0.08 + rng.normal(0.0, 0.2, champion.size)
    labels = np.where(np.arange(champion.size) % 2 == 0, "under_25", "55_plus")
    decision = compare_paired(_paired(champion, challenger, {"age_band": labels}))
    assert not decision.promote
    assert decision.reasons[0].startswith("overall:")
    assert "is below the champion's" in decision.reasons[0]
    assert decision.reasons[1].startswith(
        "groups: 2 of the 2 groups of at least 200 episodes are credibly worse (the whole 95%"
    )
    assert "age_band=under_25 (n=1000)" in decision.reasons[1]


def test_a_group_only_too_noisy_to_tell_does_not_block():
    # A group whose interval reaches below -margin but also above it is not credibly worse:
    # reading the overall non-inferiority bound into every group let noise veto challengers.
    champion = _noisy_terms()
    rng = np.random.default_rng(11)
    challenger = champion + rng.normal(0.0, 0.05, champion.size)
    labels = np.where(np.arange(champion.size) < 200, "45_54", "other")
    challenger[:200] += rng.normal(0.01, 0.6, 200)  # a noisy group, better on average
    decision = compare_paired(_paired(champion, challenger, {"age_band": labels}))
    noisy = next(c for c in decision.group_changes if c.group == "45_54")
    assert noisy.difference is not None
    assert noisy.difference.ci_low < -0.01 < noisy.difference.ci_high
    assert not noisy.difference.below_margin
    assert decision.promote, decision.reasons


def test_paired_tiny_group_cannot_block_but_a_big_enough_one_can():
    champion = _noisy_terms()
    challenger = champion.copy()
    challenger[:2] -= 0.5  # two people much worse off under the challenger
    labels = np.array(["foreign_language"] * 2 + ["national_language"] * (champion.size - 2))
    groups = {"language_group": labels}
    decision = compare_paired(_paired(champion, challenger, groups))
    assert decision.promote, decision.reasons
    tiny = next(c for c in decision.group_changes if c.group == "foreign_language")
    assert tiny.n == 2 and tiny.difference is not None
    assert not tiny.difference.can_block and not tiny.difference.below_margin
    assert "1 smaller groups reported, not blocking" in decision.reasons[1]
    # The same two people block once the minimum size lets a group of two count.
    strict = compare_paired(_paired(champion, challenger, groups), min_group_episodes=2)
    assert not strict.promote
    assert "language_group=foreign_language (n=2)" in strict.reasons[1]


def test_paired_refuses_when_the_interval_is_too_wide_to_tell():
    # Non-inferiority: an estimate near zero on a handful of noisy episodes is no evidence
    # that the challenger is within the margin.
    rng = np.random.default_rng(2)
    champion = rng.normal(0.4, 1.0, 40)
    challenger = champion + rng.normal(0.0, 0.5, 40)
    decision = compare_paired(_paired(champion, challenger))
    assert decision.difference is not None and decision.difference.ci_low < -0.01
    assert not decision.promote
    assert "not shown to be within the margin" in decision.reasons[0]


def test_paired_interval_sums_within_clients():
    rng = np.random.default_rng(8)
    champion = rng.normal(0.4, 0.5, 400)
    challenger = champion + rng.normal(0.0, 0.3, 400)
    doubled = lambda a: np.concatenate([a, a])  # noqa: E731 - each client assessed twice
    ids = np.array([f"c{i}" for i in range(400)])
    independent = compare_paired(_paired(doubled(champion), doubled(challenger)))
    clustered = compare_paired(
        _paired(doubled(champion), doubled(challenger), clients=doubled(ids))
    )
    assert clustered.difference is not None and independent.difference is not None
    assert clustered.difference.n_clients == 400
    assert clustered.difference.std_error == pytest.approx(
        independent.difference.std_error * np.sqrt(2)
    )


def test_paired_shows_the_truth_beside_the_estimates():
    terms = _noisy_terms(n=300)
    paired = PairedEpisodes(
        terms, terms, np.arange(300).astype(str), {}, np.full(300, 0.3), np.full(300, 0.35)
    )
    decision = compare_paired(paired)
    assert decision.true_values == (pytest.approx(0.3), pytest.approx(0.35))
    assert decision.difference is not None
    assert decision.difference.true_change == pytest.approx(0.05)
    assert "(true 0.3500 against 0.3000)" in decision.reasons[0]
    record = decision.to_json()
    assert record["criterion"] == "doubly_robust_paired_difference"
    assert record["challenger_true_policy_value"] == pytest.approx(0.35)


def test_paired_rejects_episodes_that_do_not_line_up_and_bad_settings():
    with pytest.raises(ValueError, match="same episodes"):
        _paired(np.zeros(3), np.zeros(4))
    with pytest.raises(ValueError, match="margin must not be negative"):
        compare_paired(_paired(np.zeros(3), np.zeros(3)), margin=-0.1)
    with pytest.raises(ValueError, match="at least 1"):
        compare_paired(_paired(np.zeros(3), np.zeros(3)), min_group_episodes=0)
