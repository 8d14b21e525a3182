"""What the ranker hands to the service: ranked services with their uncertainty and drivers.

This is the contract between `models` (which computes) and `service` (which shows and
audits); it holds plain values only, so it can be logged, stored and compared.
"""

from __future__ import annotations

from dataclasses import dataclass

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
