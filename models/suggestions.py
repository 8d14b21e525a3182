"""What the ranker hands to the service: ranked services with their uncertainty and drivers.

This is the contract between `models` (which computes) and `service` (which shows and
audits); it holds plain values only, so it can be logged, stored and compared.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

from models.eligibility import EligibilityDecision
from models.separation import DISTINCT_PROBABILITY


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
class TargetEffect:
    """A service's expected effect on one target (`models.objectives.TARGETS`) for this client.

    The same shrunk estimate and interval as the ranked objective's, computed for the one
    target, so a caseworker ranking by one objective sees what the service does to the other.
    """

    target: str
    expected_with: float
    expected_without: float
    uplift: float
    uplift_low: float
    uplift_high: float

    @property
    def credibly_harmful(self) -> bool:
        """The whole interval is below zero: the model is fairly sure the service lowers it."""
        return self.uplift_high < 0.0


@dataclass(frozen=True, slots=True)
class RankedService:
    """One service the client may take, with the expected outcome with and without it.

    `uplift` is the shrunk estimate the interval is centred on (`models.ranker.shrinkage`);
    services are ranked by the model's own uplift, so a shown uplift may be below the next
    service's. `p_above_zero` and `p_above_next` (None for the last service shown, or when
    not computed) are the probabilities that the true uplift is above zero and above the
    next ranked service's (`models.separation`); `wide_interval` marks an interval wider
    than `separation.WIDE_INTERVAL_SHARE` of the outcome range.
    """

    service_id: str
    rank: int
    expected_with: float
    expected_without: float
    uplift: float
    uplift_low: float
    uplift_high: float
    drivers: tuple[Driver, ...]
    p_above_zero: float | None = None
    p_above_next: float | None = None
    wide_interval: bool = False
    by_target: tuple[TargetEffect, ...] = ()

    @property
    def harmful_targets(self) -> tuple[str, ...]:
        """Targets the service credibly lowers (whole interval below zero) although it is
        suggested for the objective: what a caseworker must be warned of."""
        return tuple(t.target for t in self.by_target if t.credibly_harmful)

    @property
    def distinct_from_no_service(self) -> bool:
        """The model can tell this service from no service (it is likely better)."""
        return self.p_above_zero is not None and self.p_above_zero >= DISTINCT_PROBABILITY

    @property
    def distinct_from_next(self) -> bool | None:
        """The model can tell it from the next ranked service (None: no next one)."""
        if self.p_above_next is None:
            return None
        return self.p_above_next >= DISTINCT_PROBABILITY


# Why a service of the catalog is not among the suggestions (`NotSuggested.reason`).
NotSuggestedReason = Literal["not_a_client", "closed", "not_supported", "ranked_lower"]
NOT_SUGGESTED_REASONS: Final[tuple[NotSuggestedReason, ...]] = (
    "ranked_lower",
    "closed",
    "not_supported",
    "not_a_client",
)


@dataclass(frozen=True, slots=True)
class NotSuggested:
    """A catalog service left out of the suggestions, and why.

    `reason`:

    - `not_a_client`: the gate decided the person is not a client, so nothing is suggested;
    - `closed`: the client does not meet the catalog limits named in `limits` (the
      `ServiceLimits` field names);
    - `not_supported`: the training data held too few comparable clients who took it for
      the model to estimate its effect (or the model does not know the service);
    - `ranked_lower`: the client may take it and the model ranks it, at `rank`, below the
      suggestions shown, with its expected effect (`uplift` and its interval, the same
      shrunk numbers as a suggestion's).
    """

    service_id: str
    reason: NotSuggestedReason
    limits: tuple[str, ...] = ()
    rank: int | None = None
    uplift: float | None = None
    uplift_low: float | None = None
    uplift_high: float | None = None


@dataclass(frozen=True, slots=True)
class ModelAnswer:
    """Everything the model answers for one client (`PolkuModel.answer`).

    `ranked` are the suggestions (each with its effect on every target); `not_suggested`
    accounts for every other service of the catalog, ranked-lower ones first in rank order.
    """

    decision: EligibilityDecision
    ranked: tuple[RankedService, ...]
    not_suggested: tuple[NotSuggested, ...]
