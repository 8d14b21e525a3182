"""The figures of an evaluation as frozen dataclasses, and their JSON form.

`evaluate_policies` builds an `EvaluationSummary`; promotion, the report, `polku evaluate`
and training read its attributes. `EvaluationSummary.to_json()` is the content of
`evaluation.json` (its keys and their order are a format other tools read: change them
only on purpose), and `EvaluationSummary.from_json()` reads that content back.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, fields
from typing import Any, Final, Generic, TypeVar

import numpy as np

from pipeline.evaluation.metrics import IntervalHonesty, ReliabilityBins

T = TypeVar("T")
# Which kind of evaluation a summary is: judged on a synthetic world's truth (true values
# shown beside the off-policy estimates), or on logged data alone (a real register).
EVALUATION_KINDS: Final = ("truth", "off_policy")
OPE_ESTIMATORS: Final = ("ips", "snips", "dr")
DIFFERENCE_KEY: Final = "polku_minus_caseworkers"
# What `polku evaluate` adds to say what was evaluated on what; written last, only when set.
_PROVENANCE = ("model_version", "objective", "data_fingerprint")
# The interval figures logged as metrics (MLflow, `key_metrics`).
INTERVAL_METRICS: Final = (
    "interval_coverage",
    "top1_interval_coverage",
    "top1_predicted_vs_true",
    "top1_interval_includes_zero",
    "top1_mean_shown",
    "top1_median_width",
)


def json_ready(value: Any) -> Any:
    """Turn numpy scalars into Python ones and NaN/inf into None, recursively."""
    if isinstance(value, Mapping):
        return {str(k): json_ready(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_ready(v) for v in value]
    if isinstance(value, np.ndarray):
        return [json_ready(v) for v in value.tolist()]
    if isinstance(value, np.integer | np.bool_):
        return value.item()
    if isinstance(value, float | np.floating):
        number = float(value)
        return number if math.isfinite(number) else None
    return value


def _fields_json(result: Any) -> dict[str, Any]:
    """A flat result's fields by name, JSON-ready."""
    payload: dict[str, Any] = json_ready({f.name: getattr(result, f.name) for f in fields(result)})
    return payload


def _number(value: float | None) -> float:
    """A figure read back from JSON, where an undefined (NaN) one was written as null."""
    return math.nan if value is None else float(value)


@dataclass(frozen=True)
class ByPolicy(Generic[T]):
    """One value per policy, in the order of `pipeline.evaluation.policies.POLICY_NAMES`."""

    polku: T
    caseworkers: T
    random: T
    popular: T
    imitation: T
    oracle: T

    @classmethod
    def from_mapping(cls, values: Mapping[str, T]) -> ByPolicy[T]:
        """From a mapping keyed by policy name: every policy, and no other name."""
        return cls(**values)

    def items(self) -> Iterator[tuple[str, T]]:
        """(policy name, value) pairs in policy order."""
        return ((f.name, getattr(self, f.name)) for f in fields(self))

    def values(self) -> Iterator[T]:
        return (value for _, value in self.items())


@dataclass(frozen=True)
class OracleGainByPolicy:
    """Share of the oracle's gain over the caseworkers captured by each other policy.

    None where undefined (the oracle gains nothing over the caseworkers).
    """

    polku: float | None
    random: float | None
    popular: float | None
    imitation: float | None

    def to_json(self) -> dict[str, Any]:
        return _fields_json(self)

    @classmethod
    def from_json(cls, payload: Mapping[str, Any]) -> OracleGainByPolicy:
        return cls(**{f.name: payload[f.name] for f in fields(cls)})


@dataclass(frozen=True)
class Interval:
    """An estimate with its client-clustered 95 % interval (NaN where undefined)."""

    estimate: float
    ci_low: float
    ci_high: float

    def to_json(self) -> dict[str, Any]:
        return _fields_json(self)

    @classmethod
    def from_json(cls, payload: Mapping[str, Any]) -> Interval:
        return cls(*(_number(payload[f.name]) for f in fields(cls)))


def _intervals_json(intervals: Mapping[str, Interval] | None) -> dict[str, Any] | None:
    return None if intervals is None else {k: v.to_json() for k, v in intervals.items()}


def _intervals_from_json(payload: Mapping[str, Any] | None) -> dict[str, Interval] | None:
    return None if payload is None else {k: Interval.from_json(v) for k, v in payload.items()}


@dataclass(frozen=True)
class OffPolicyEstimates:
    """A policy's true value beside its estimates from the logged data alone.

    `true` is NaN without a truth (a real register); `snips` is None where undefined (no
    logged choice matches the policy's); `matched_episodes` counts the episodes where the
    policy chose what was logged. `estimate`, `ci_low`, `ci_high` are the headline (doubly
    robust) estimate with its client-clustered 95 % interval; `intervals` holds IPS, SNIPS
    and DR each with theirs (None where the policy cannot be estimated: the oracle without
    a truth).
    """

    true: float
    ips: float
    snips: float | None
    dr: float
    direct: float
    matched_episodes: int
    estimate: float = math.nan
    ci_low: float = math.nan
    ci_high: float = math.nan
    intervals: Mapping[str, Interval] | None = None

    def to_json(self) -> dict[str, Any]:
        payload: dict[str, Any] = json_ready(
            {
                **{f.name: getattr(self, f.name) for f in fields(self) if f.name != "intervals"},
                "intervals": _intervals_json(self.intervals),
            }
        )
        return payload

    @classmethod
    def from_json(cls, payload: Mapping[str, Any]) -> OffPolicyEstimates:
        return cls(
            true=_number(payload["true"]),
            ips=_number(payload["ips"]),
            snips=None if payload["snips"] is None else float(payload["snips"]),
            dr=_number(payload["dr"]),
            direct=_number(payload["direct"]),
            matched_episodes=int(payload["matched_episodes"]),
            estimate=_number(payload.get("estimate")),
            ci_low=_number(payload.get("ci_low")),
            ci_high=_number(payload.get("ci_high")),
            intervals=_intervals_from_json(payload.get("intervals")),
        )


@dataclass(frozen=True)
class PolicyDifference:
    """Polku minus the caseworkers on the same held-out episodes.

    `estimate`, `ci_low`, `ci_high`: the doubly robust difference with its client-clustered
    95 % interval (the two share episodes: this is not the difference of two intervals);
    `intervals`: IPS, SNIPS and DR; `true`: the true difference (None without a truth).
    """

    estimate: float
    ci_low: float
    ci_high: float
    intervals: Mapping[str, Interval]
    true: float | None = None

    def to_json(self) -> dict[str, Any]:
        payload: dict[str, Any] = json_ready(
            {
                "estimate": self.estimate,
                "ci_low": self.ci_low,
                "ci_high": self.ci_high,
                "intervals": _intervals_json(self.intervals),
                "true": self.true,
            }
        )
        return payload

    @classmethod
    def from_json(cls, payload: Mapping[str, Any]) -> PolicyDifference:
        true = payload.get("true")
        return cls(
            estimate=_number(payload["estimate"]),
            ci_low=_number(payload["ci_low"]),
            ci_high=_number(payload["ci_high"]),
            intervals=_intervals_from_json(payload["intervals"]) or {},
            true=None if true is None else float(true),
        )


@dataclass(frozen=True)
class GroupOffPolicy:
    """Within one group: Polku, the caseworkers and their difference, each estimator's
    value with its client-clustered interval."""

    polku: Mapping[str, Interval]
    caseworkers: Mapping[str, Interval]
    polku_minus_caseworkers: Mapping[str, Interval]

    def to_json(self) -> dict[str, Any]:
        return {f.name: _intervals_json(getattr(self, f.name)) for f in fields(self)}

    @classmethod
    def from_json(cls, payload: Mapping[str, Any]) -> GroupOffPolicy:
        return cls(**{f.name: _intervals_from_json(payload[f.name]) or {} for f in fields(cls)})


@dataclass(frozen=True)
class Calibration:
    """Calibration of the predicted outcome of the logged choice, and error against the truth.

    `mean_abs_error_vs_truth` is over every allowed service and no service;
    `mean_abs_error_vs_truth_logged` over the logged choice only.
    """

    brier: float
    ece: float
    reliability: ReliabilityBins
    mean_abs_error_vs_truth: float
    mean_abs_error_vs_truth_logged: float

    def to_json(self) -> dict[str, Any]:
        payload: dict[str, Any] = json_ready(
            {
                "brier": self.brier,
                "ece": self.ece,
                "reliability": self.reliability.to_dict(),
                "mean_abs_error_vs_truth": self.mean_abs_error_vs_truth,
                "mean_abs_error_vs_truth_logged": self.mean_abs_error_vs_truth_logged,
            }
        )
        return payload

    @classmethod
    def from_json(cls, payload: Mapping[str, Any]) -> Calibration:
        bins = payload["reliability"]
        reliability = ReliabilityBins(
            edges=np.array(bins["edges"], dtype=np.float64),
            count=np.array(bins["count"], dtype=np.int64),
            mean_predicted=np.array([_number(v) for v in bins["mean_predicted"]]),
            observed_rate=np.array([_number(v) for v in bins["observed_rate"]]),
        )
        return cls(
            brier=_number(payload["brier"]),
            ece=_number(payload["ece"]),
            reliability=reliability,
            mean_abs_error_vs_truth=_number(payload["mean_abs_error_vs_truth"]),
            mean_abs_error_vs_truth_logged=_number(payload["mean_abs_error_vs_truth_logged"]),
        )


@dataclass(frozen=True)
class UpliftSummary:
    """Predicted uplift (over no service) of the allowed services against the true uplift.

    `correlation_with_truth` is None where undefined (constant uplift, or a single value).
    """

    rmse_vs_truth: float
    correlation_with_truth: float | None
    mean_top1_predicted: float
    mean_top1_true: float

    def to_json(self) -> dict[str, Any]:
        return _fields_json(self)

    @classmethod
    def from_json(cls, payload: Mapping[str, Any]) -> UpliftSummary:
        correlation = payload["correlation_with_truth"]
        return cls(
            rmse_vs_truth=_number(payload["rmse_vs_truth"]),
            correlation_with_truth=None if correlation is None else float(correlation),
            mean_top1_predicted=_number(payload["mean_top1_predicted"]),
            mean_top1_true=_number(payload["mean_top1_true"]),
        )


@dataclass(frozen=True)
class GroupResult:
    """The figures of one group of held-out episodes (e.g. `age_band=under_25`)."""

    n: int
    policy_value: ByPolicy[float]
    oracle_gain_captured: float | None
    top3_oracle_coverage: float
    brier: float
    ope: GroupOffPolicy | None = None

    def to_json(self) -> dict[str, Any]:
        payload: dict[str, Any] = json_ready(
            {
                "n": self.n,
                "policy_value": dict(self.policy_value.items()),
                "oracle_gain_captured": self.oracle_gain_captured,
                "top3_oracle_coverage": self.top3_oracle_coverage,
                "brier": self.brier,
                "ope": None if self.ope is None else self.ope.to_json(),
            }
        )
        return payload

    @classmethod
    def from_json(cls, payload: Mapping[str, Any]) -> GroupResult:
        gain = payload["oracle_gain_captured"]
        return cls(
            n=int(payload["n"]),
            policy_value=ByPolicy.from_mapping(
                {k: _number(v) for k, v in payload["policy_value"].items()}
            ),
            oracle_gain_captured=None if gain is None else float(gain),
            top3_oracle_coverage=_number(payload["top3_oracle_coverage"]),
            brier=_number(payload["brier"]),
            ope=None if payload.get("ope") is None else GroupOffPolicy.from_json(payload["ope"]),
        )


@dataclass(frozen=True)
class EvaluationSummary:
    """Every figure of one model's evaluation on held-out episodes.

    Attributes
    ----------
    n_episodes : int
        Held-out episodes evaluated on.
    policy_value : ByPolicy of float
        Each policy's true value: mean true probability of the objective's outcome when
        every client gets the policy's top-1 choice. Without a truth (`evaluation_kind`
        "off_policy") the doubly robust estimate of it, and NaN for the oracle.
    oracle_gain_captured : float or None
        Share of the oracle's gain over the caseworkers that Polku captures (None without
        a truth).
    oracle_gain_captured_by_policy : OracleGainByPolicy
    top3_oracle_coverage : float
        Share of episodes where the oracle's choice is in Polku's top 3.
    ope : ByPolicy of OffPolicyEstimates
    calibration : Calibration
    uplift : UpliftSummary
    by_group : mapping of grouping -> group label -> GroupResult
        Groupings in `models.groupings.GROUPINGS` order.
    model_version, objective, data_fingerprint : str or None
        What was evaluated on what, set by `polku evaluate` (`dataclasses.replace`).
    evaluation_kind : {"truth", "off_policy"}
        Judged on a truth (true values beside the estimates) or on the logged data alone.
    ope_difference : PolicyDifference or None
        Polku minus the caseworkers, written as `ope["polku_minus_caseworkers"]`.
    propensity : mapping or None
        Where the evaluation's propensities came from (`source`: logged or estimated), the
        floor, the share of floored weights and the overlap per service.
    intervals : IntervalHonesty or None
        The shown uplift and intervals against the truth, over all pairs and over the top-1
        suggestions (`metrics.interval_honesty`); None when the model gave no intervals.
    """

    n_episodes: int
    policy_value: ByPolicy[float]
    oracle_gain_captured: float | None
    oracle_gain_captured_by_policy: OracleGainByPolicy
    top3_oracle_coverage: float
    ope: ByPolicy[OffPolicyEstimates]
    calibration: Calibration
    uplift: UpliftSummary
    by_group: Mapping[str, Mapping[str, GroupResult]]
    model_version: str | None = None
    objective: str | None = None
    data_fingerprint: str | None = None
    evaluation_kind: str = "truth"
    ope_difference: PolicyDifference | None = None
    propensity: Mapping[str, Any] | None = None
    intervals: IntervalHonesty | None = None

    def __post_init__(self) -> None:
        if self.evaluation_kind not in EVALUATION_KINDS:
            raise ValueError(
                f"evaluation_kind must be one of {EVALUATION_KINDS}, got {self.evaluation_kind!r}"
            )

    def key_metrics(self) -> dict[str, float]:
        """Flat numeric metrics for MLflow and `polku models`."""
        out: dict[str, float | None] = {
            f"policy_value_{name}": value for name, value in self.policy_value.items()
        }
        out["oracle_gain_captured"] = self.oracle_gain_captured
        out["top3_oracle_coverage"] = self.top3_oracle_coverage
        out["brier"] = self.calibration.brier
        out["ece"] = self.calibration.ece
        out["n_held_out"] = float(self.n_episodes)
        if self.intervals is not None:
            for name in INTERVAL_METRICS:
                out[name] = getattr(self.intervals, name)
        if self.ope_difference is not None:
            out["ope_dr_polku_minus_caseworkers"] = self.ope_difference.estimate
            out["ope_dr_polku_minus_caseworkers_ci_low"] = self.ope_difference.ci_low
            out["ope_dr_polku_minus_caseworkers_ci_high"] = self.ope_difference.ci_high
        # An undefined figure (no oracle gain to share) is left out rather than logged as NaN.
        return {k: float(v) for k, v in out.items() if v is not None and math.isfinite(v)}

    def to_json(self) -> dict[str, Any]:
        """The content of `evaluation.json`: plain values, NaN as None.

        `evaluation_kind`, `propensity` and `intervals` follow `by_group`; `ope` ends with
        `polku_minus_caseworkers` when the difference was estimated. The provenance keys
        (`model_version`, `objective`, `data_fingerprint`) come last and only when set.
        """
        ope: dict[str, Any] = {name: estimates.to_json() for name, estimates in self.ope.items()}
        if self.ope_difference is not None:
            ope[DIFFERENCE_KEY] = self.ope_difference.to_json()
        payload: dict[str, Any] = {
            "n_episodes": self.n_episodes,
            "policy_value": dict(self.policy_value.items()),
            "oracle_gain_captured": self.oracle_gain_captured,
            "oracle_gain_captured_by_policy": self.oracle_gain_captured_by_policy.to_json(),
            "top3_oracle_coverage": self.top3_oracle_coverage,
            "ope": ope,
            "calibration": self.calibration.to_json(),
            "uplift": self.uplift.to_json(),
            "by_group": {
                grouping: {label: entry.to_json() for label, entry in table.items()}
                for grouping, table in self.by_group.items()
            },
            "evaluation_kind": self.evaluation_kind,
            "propensity": self.propensity,
            "intervals": None if self.intervals is None else _fields_json(self.intervals),
        }
        for name in _PROVENANCE:
            if (value := getattr(self, name)) is not None:
                payload[name] = value
        result: dict[str, Any] = json_ready(payload)
        return result

    @classmethod
    def from_json(cls, payload: Mapping[str, Any]) -> EvaluationSummary:
        """Read back what `to_json` gave (e.g. a stored `evaluation.json`)."""
        gain = payload["oracle_gain_captured"]
        ope = dict(payload["ope"])
        difference = ope.pop(DIFFERENCE_KEY, None)
        return cls(
            n_episodes=int(payload["n_episodes"]),
            policy_value=ByPolicy.from_mapping(
                {k: _number(v) for k, v in payload["policy_value"].items()}
            ),
            oracle_gain_captured=None if gain is None else float(gain),
            oracle_gain_captured_by_policy=OracleGainByPolicy.from_json(
                payload["oracle_gain_captured_by_policy"]
            ),
            top3_oracle_coverage=_number(payload["top3_oracle_coverage"]),
            ope=ByPolicy.from_mapping({k: OffPolicyEstimates.from_json(v) for k, v in ope.items()}),
            calibration=Calibration.from_json(payload["calibration"]),
            uplift=UpliftSummary.from_json(payload["uplift"]),
            by_group={
                grouping: {label: GroupResult.from_json(entry) for label, entry in table.items()}
                for grouping, table in payload["by_group"].items()
            },
            **{name: payload.get(name) for name in _PROVENANCE},
            evaluation_kind=str(payload.get("evaluation_kind") or "truth"),
            ope_difference=None if difference is None else PolicyDifference.from_json(difference),
            propensity=payload.get("propensity"),
            intervals=_intervals_honesty_from_json(payload.get("intervals")),
        )


def _intervals_honesty_from_json(payload: Mapping[str, Any] | None) -> IntervalHonesty | None:
    if payload is None:
        return None
    return IntervalHonesty(
        interval_coverage=_number(payload["interval_coverage"]),
        top1_interval_coverage=_number(payload["top1_interval_coverage"]),
        top1_mean_shown=_number(payload["top1_mean_shown"]),
        top1_mean_true=_number(payload["top1_mean_true"]),
        top1_predicted_vs_true=_number(payload["top1_predicted_vs_true"]),
        top1_interval_includes_zero=_number(payload["top1_interval_includes_zero"]),
        top1_median_width=_number(payload["top1_median_width"]),
        n_pairs=int(payload["n_pairs"]),
        n_top1=int(payload["n_top1"]),
    )
