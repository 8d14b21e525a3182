"""What the ranker hands to the service: ranked services with their uncertainty and drivers.

This is the contract between `models` (which computes) and `service` (which shows and
audits); it holds plain values only, so it can be logged, stored and compared.
"""

from __future__ import annotations

from dataclasses import dataclass


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
