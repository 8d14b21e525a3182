"""What a service of the catalog is: its facts, its texts and who may take it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from models.languages import LocalizedText

FAMILIES: Final = ("entrepreneurship", "job_search", "education", "social", "health")


@dataclass(frozen=True, slots=True)
class ServiceLimits:
    """Who may take a service. Every limit left at its default lets everyone through.

    Attributes
    ----------
    min_age, max_age : int or None
        Age range in completed years on the assessment date, both ends inclusive.
    foreign_language_only : bool
        Only foreign-language speakers or immigrants (`models.demographics.is_foreign_language`).
    min_unemployment_months : int
        At least this many months unemployed.
    reduced_work_ability_only : bool
        Only clients with `work_ability == "partial"`.
    business_plan_required : bool
        Only clients with `entrepreneurship_interest == "business_plan"`.
    entrepreneurship_interest_required : bool
        Only clients with some interest in entrepreneurship (`some` or `business_plan`).
    requires_barrier : tuple of str
        At least one of these barrier flags must be set (empty: no barrier needed).
    labour_market_statuses, unemployment_benefits, education_levels : tuple of str
        Allowed values of that field (empty: any value).
    max_language_level : str or None
        Finnish/Swedish level at most this (e.g. `B1`); `native` counts as the highest.
    """

    min_age: int | None = None
    max_age: int | None = None
    foreign_language_only: bool = False
    min_unemployment_months: int = 0
    reduced_work_ability_only: bool = False
    business_plan_required: bool = False
    entrepreneurship_interest_required: bool = False
    requires_barrier: tuple[str, ...] = ()
    labour_market_statuses: tuple[str, ...] = ()
    unemployment_benefits: tuple[str, ...] = ()
    education_levels: tuple[str, ...] = ()
    max_language_level: str | None = None


@dataclass(frozen=True, slots=True)
class Service:
    """One service of the catalog.

    Attributes
    ----------
    id : str
        Stable identifier (lowercase snake case), used in episodes and suggestions.
    family : str
        One of `FAMILIES`.
    provider : LocalizedText
        Who delivers it (Helsinki or the partner), named in each language.
    name, description : LocalizedText
    limits : ServiceLimits
    duration_weeks : float
        Typical length.
    monthly_capacity : int
        Typical number of starts a month in Helsinki.
    languages : tuple of str
        Languages of delivery (ISO 639-1).
    assumption : str or None
        What in this entry is an assumption (facts marked (?) in the sources), else None.
    """

    id: str
    family: str
    provider: LocalizedText
    name: LocalizedText
    description: LocalizedText
    limits: ServiceLimits
    duration_weeks: float
    monthly_capacity: int
    languages: tuple[str, ...]
    assumption: str | None = None
