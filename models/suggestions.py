"""What the ranker hands to the service: ranked services with their uncertainty and drivers.

This is the contract between `models` (which computes) and `service` (which shows and
audits); it holds plain values only, so it can be logged, stored and compared.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

# What the model predicts for each client and service (probabilities of the outcome).
TARGETS: Final = ("employment_or_education_6m", "employment_12m")
DEFAULT_OBJECTIVE: Final = "employment_or_education_6m"


@dataclass(frozen=True, slots=True)
class Objective:
    """A weighted mix of the targets; a named objective puts all its weight on one target.

    Examples
    --------
    >>> Objective.parse("employment_12m").weights
    (('employment_12m', 1.0),)
    >>> Objective.parse("employment_or_education_6m=0.7,employment_12m=0.3").name
    'employment_or_education_6m=0.7,employment_12m=0.3'
    """

    weights: tuple[tuple[str, float], ...]

    @classmethod
    def parse(cls, spec: str) -> Objective:
        """Read `target` or `target=w,target=w` (weights non-negative, summing to 1)."""
        spec = spec.strip()
        if "=" not in spec:
            if spec not in TARGETS:
                raise ValueError(
                    f"unknown objective {spec!r}; expected one of {', '.join(TARGETS)}"
                )
            return cls(((spec, 1.0),))
        weights: dict[str, float] = {}
        for part in spec.split(","):
            target, _, raw_weight = part.partition("=")
            target = target.strip()
            if target not in TARGETS:
                raise ValueError(f"unknown target {target!r} in objective; expected {TARGETS}")
            if target in weights:
                raise ValueError(f"target {target!r} appears twice in the objective")
            try:
                weight = float(raw_weight)
            except ValueError:
                raise ValueError(f"weight of {target!r} is not a number") from None
            if not 0.0 <= weight <= 1.0:
                raise ValueError(f"weight of {target!r} must lie in [0, 1]")
            weights[target] = weight
        if abs(sum(weights.values()) - 1.0) > 1e-9:
            raise ValueError("objective weights must sum to 1")
        return cls(tuple((t, weights[t]) for t in TARGETS if t in weights))

    @property
    def name(self) -> str:
        if len(self.weights) == 1 and self.weights[0][1] == 1.0:
            return self.weights[0][0]
        return ",".join(f"{target}={weight:g}" for target, weight in self.weights)


@dataclass(frozen=True, slots=True)
class Driver:
    """A need or barrier of this client that moves a service's expected effect.

    `factor` is a need field of the profile (for example `language_level` or
    `health_limitations`); `uplift_without` is what the model expects the uplift to be for
    this client without that need, so `uplift - uplift_without` is its share.
    """

    factor: str
    uplift_without: float


@dataclass(frozen=True, slots=True)
class RankedService:
    """One service the client may take, with the expected outcome with and without it."""

    service_id: str
    rank: int
    expected_with: float
    expected_without: float
    uplift: float
    uplift_low: float
    uplift_high: float
    drivers: tuple[Driver, ...]
