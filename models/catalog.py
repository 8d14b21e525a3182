"""The service catalog: Helsinki's and its partners' services, and who may take each one.

The catalog is a reviewed file (`data/catalog/services.toml`). This module loads and
validates it and decides, for one profile or a whole typed profile frame at once, which
services a client may take. Each limit is written once, on numpy arrays
(`_allowed_columns`); a single profile goes through the same code as arrays of length one,
so serving and training cannot disagree about who may take what.

Examples
--------
>>> catalog = load_catalog()
>>> "debt_advice" in catalog.ids
True
>>> catalog.name("debt_advice", "en")
'Financial and debt advice'
"""

from __future__ import annotations

import hashlib
import json
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Final

import numpy as np
import pandas as pd

from models.demographics import age_in_years, is_foreign_language
from models.languages import LANGUAGES
from models.profile import (
    BARRIER_FLAGS,
    EDUCATION_LEVELS,
    LABOUR_MARKET_STATUSES,
    LANGUAGE_LEVELS,
    UNEMPLOYMENT_BENEFITS,
    ClientProfile,
)

FAMILIES: Final = ("entrepreneurship", "job_search", "education", "social", "health")
SNAPSHOT_VERSION: Final = 1
DEFAULT_CATALOG_PATH: Final = (
    Path(__file__).resolve().parent.parent / "data" / "catalog" / "services.toml"
)

# Profile columns the limits read; allowed_frame needs only these.
LIMIT_COLUMNS: Final = (
    "birth_date",
    "assessment_date",
    "mother_tongue",
    "immigrant",
    "labour_market_status",
    "unemployment_benefit",
    "unemployment_months",
    "education_level",
    "language_level",
    "work_ability",
    "entrepreneurship_interest",
    *BARRIER_FLAGS,
)


class CatalogError(ValueError):
    """The catalog file or snapshot is malformed; the message names the service and field."""


@dataclass(frozen=True, slots=True)
class LocalizedText:
    """A text in Finnish, Swedish and English (Swedish may be empty for descriptions)."""

    fi: str
    sv: str
    en: str

    def get(self, lang: str) -> str:
        if lang not in LANGUAGES:
            raise ValueError(f"unknown language {lang!r}; expected one of {', '.join(LANGUAGES)}")
        return str(getattr(self, lang))


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
    provider : str
        Who delivers it (Helsinki or the partner).
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
    provider: str
    name: LocalizedText
    description: LocalizedText
    limits: ServiceLimits
    duration_weeks: float
    monthly_capacity: int
    languages: tuple[str, ...]
    assumption: str | None = None


def _fail(service_id: str, field_name: str, message: str) -> CatalogError:
    return CatalogError(f"service {service_id!r}: field {field_name!r}: {message}")


def _text(raw: Any, service_id: str, field_name: str, required: Sequence[str]) -> LocalizedText:
    if not isinstance(raw, Mapping):
        raise _fail(service_id, field_name, "must be a table with keys fi, sv, en")
    unknown = set(raw) - set(LANGUAGES)
    if unknown:
        raise _fail(service_id, field_name, f"unknown language(s) {sorted(unknown)}")
    values = {}
    for lang in LANGUAGES:
        value = raw.get(lang, "")
        if not isinstance(value, str):
            raise _fail(service_id, f"{field_name}.{lang}", "must be a string")
        if lang in required and not value.strip():
            raise _fail(service_id, f"{field_name}.{lang}", "is empty")
        values[lang] = value.strip()
    return LocalizedText(**values)


def _str_tuple(
    raw: Any, service_id: str, field_name: str, allowed: Sequence[str]
) -> tuple[str, ...]:
    if isinstance(raw, str):
        raw = [raw]
    if not isinstance(raw, list | tuple) or not all(isinstance(v, str) for v in raw):
        raise _fail(service_id, field_name, "must be a string or a list of strings")
    bad = [v for v in raw if v not in allowed]
    if bad:
        raise _fail(
            service_id, field_name, f"unknown value(s) {bad}; expected some of {list(allowed)}"
        )
    if len(set(raw)) != len(raw):
        raise _fail(service_id, field_name, "lists a value twice")
    return tuple(raw)


def _int(raw: Any, service_id: str, field_name: str, *, minimum: int = 0) -> int:
    if isinstance(raw, bool) or not isinstance(raw, int):
        raise _fail(service_id, field_name, f"must be an integer, got {raw!r}")
    if raw < minimum:
        raise _fail(service_id, field_name, f"must be at least {minimum}, got {raw}")
    return raw


def _bool(raw: Any, service_id: str, field_name: str) -> bool:
    if not isinstance(raw, bool):
        raise _fail(service_id, field_name, f"must be true or false, got {raw!r}")
    return raw


_LIMIT_KEYS: Final = tuple(ServiceLimits.__dataclass_fields__)


def _limits(raw: Any, service_id: str) -> ServiceLimits:
    if raw is None:
        return ServiceLimits()
    if not isinstance(raw, Mapping):
        raise _fail(service_id, "limits", "must be a table")
    unknown = set(raw) - set(_LIMIT_KEYS)
    if unknown:
        raise _fail(service_id, f"limits.{sorted(unknown)[0]}", "is not a known limit")
    kw: dict[str, Any] = {}
    for key in ("min_age", "max_age"):
        if raw.get(key) is not None:
            kw[key] = _int(raw[key], service_id, f"limits.{key}")
    if (
        kw.get("min_age") is not None
        and kw.get("max_age") is not None
        and kw["min_age"] > kw["max_age"]
    ):
        raise _fail(
            service_id,
            "limits.min_age",
            f"min age {kw['min_age']} is above max age {kw['max_age']}",
        )
    if "min_unemployment_months" in raw:
        kw["min_unemployment_months"] = _int(
            raw["min_unemployment_months"], service_id, "limits.min_unemployment_months"
        )
    for key in (
        "foreign_language_only",
        "reduced_work_ability_only",
        "business_plan_required",
        "entrepreneurship_interest_required",
    ):
        if key in raw:
            kw[key] = _bool(raw[key], service_id, f"limits.{key}")
    for key, allowed in (
        ("requires_barrier", BARRIER_FLAGS),
        ("labour_market_statuses", LABOUR_MARKET_STATUSES),
        ("unemployment_benefits", UNEMPLOYMENT_BENEFITS),
        ("education_levels", EDUCATION_LEVELS),
    ):
        if key in raw:
            kw[key] = _str_tuple(raw[key], service_id, f"limits.{key}", allowed)
    if raw.get("max_language_level") is not None:
        level = raw["max_language_level"]
        if level not in LANGUAGE_LEVELS:
            raise _fail(service_id, "limits.max_language_level", f"unknown level {level!r}")
        kw["max_language_level"] = level
    return ServiceLimits(**kw)


_SERVICE_KEYS: Final = frozenset(Service.__dataclass_fields__)


def _service(raw: Any, position: int) -> Service:
    if not isinstance(raw, Mapping):
        raise CatalogError(f"service #{position}: must be a table")
    service_id = raw.get("id")
    if not isinstance(service_id, str) or not service_id.strip():
        raise CatalogError(f"service #{position}: field 'id': is missing or empty")
    if (
        not service_id.replace("_", "").isalnum()
        or service_id != service_id.lower()
        or service_id == "none"
    ):
        raise _fail(
            service_id, "id", "must be lowercase letters, digits and underscores, and not 'none'"
        )
    unknown = set(raw) - _SERVICE_KEYS
    if unknown:
        raise _fail(service_id, sorted(unknown)[0], "is not a known field")
    family = raw.get("family")
    if family not in FAMILIES:
        raise _fail(
            service_id, "family", f"unknown family {family!r}; expected one of {list(FAMILIES)}"
        )
    provider = raw.get("provider")
    if not isinstance(provider, str) or not provider.strip():
        raise _fail(service_id, "provider", "is missing or empty")
    duration = raw.get("duration_weeks")
    if (
        isinstance(duration, bool)
        or not isinstance(duration, int | float)
        or not 0 < duration <= 260
    ):
        raise _fail(
            service_id, "duration_weeks", f"must be a number of weeks in (0, 260], got {duration!r}"
        )
    languages = raw.get("languages")
    if not isinstance(languages, list | tuple) or not languages:
        raise _fail(service_id, "languages", "must be a non-empty list of language codes")
    if not all(isinstance(v, str) and v.isalpha() and v.islower() for v in languages):
        raise _fail(service_id, "languages", "must hold lowercase ISO 639 codes")
    assumption = raw.get("assumption")
    if assumption is not None and (not isinstance(assumption, str) or not assumption.strip()):
        raise _fail(service_id, "assumption", "must be a non-empty string when given")
    return Service(
        id=service_id,
        family=family,
        provider=provider.strip(),
        name=_text(raw.get("name"), service_id, "name", required=LANGUAGES),
        description=_text(raw.get("description"), service_id, "description", required=("fi", "en")),
        limits=_limits(raw.get("limits"), service_id),
        duration_weeks=float(duration),
        monthly_capacity=_int(
            raw.get("monthly_capacity"), service_id, "monthly_capacity", minimum=1
        ),
        languages=tuple(languages),
        assumption=assumption.strip() if assumption else None,
    )


def _services_from_raw(raw_services: Any) -> tuple[Service, ...]:
    if not isinstance(raw_services, list) or not raw_services:
        raise CatalogError("the catalog holds no services (expected [[service]] tables)")
    services = tuple(_service(raw, i + 1) for i, raw in enumerate(raw_services))
    seen: set[str] = set()
    for service in services:
        if service.id in seen:
            raise _fail(service.id, "id", "duplicate id")
        seen.add(service.id)
    return services


@dataclass(frozen=True)
class Catalog:
    """The services a client may be offered, in a fixed order, and their limits.

    Build it with `load_catalog` or `Catalog.from_snapshot`. The order of `services` is the
    order of every per-service array (`allowed`, `allowed_frame`, the ranker's outputs).

    Attributes
    ----------
    services : tuple of Service
    ids : tuple of str
    fingerprint : str
        SHA-256 of the canonical snapshot: equal catalogs have equal fingerprints.
    """

    services: tuple[Service, ...]
    _index: dict[str, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_index", {s.id: i for i, s in enumerate(self.services)})

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(s.id for s in self.services)

    def __len__(self) -> int:
        return len(self.services)

    def index(self, service_id: str) -> int:
        """Position of a service in catalog order."""
        try:
            return self._index[service_id]
        except KeyError:
            raise KeyError(f"unknown service id {service_id!r}") from None

    def get(self, service_id: str) -> Service:
        """The service with this id (KeyError naming the id if there is none)."""
        return self.services[self.index(service_id)]

    def name(self, service_id: str, lang: str = "en") -> str:
        """The service's name in `lang` (fi, sv or en)."""
        return self.get(service_id).name.get(lang)

    def allowed(self, profile: ClientProfile | Mapping[str, Any]) -> np.ndarray:
        """Which services this client may take: bool array, one per service, catalog order."""
        record = profile.to_record() if isinstance(profile, ClientProfile) else profile
        missing = [c for c in LIMIT_COLUMNS if c not in record]
        if missing:
            raise KeyError(f"profile lacks field(s) the catalog limits need: {missing}")
        columns = {c: np.asarray([record[c]]) for c in LIMIT_COLUMNS}
        return self._allowed_columns(columns)[0]

    def allowed_frame(self, frame: pd.DataFrame) -> np.ndarray:
        """Which services each row may take: bool array (n_rows, n_services), catalog order.

        Parameters
        ----------
        frame : DataFrame
            A typed profile frame (at least the columns of `LIMIT_COLUMNS`).
        """
        missing = [c for c in LIMIT_COLUMNS if c not in frame.columns]
        if missing:
            raise KeyError(f"frame lacks column(s) the catalog limits need: {missing}")
        columns = {c: frame[c].to_numpy() for c in LIMIT_COLUMNS}
        return self._allowed_columns(columns)

    def _allowed_columns(self, col: Mapping[str, np.ndarray]) -> np.ndarray:
        n = len(col["birth_date"])
        age = age_in_years(
            np.asarray(col["birth_date"], dtype="datetime64[D]"),
            np.asarray(col["assessment_date"], dtype="datetime64[D]"),
        )
        foreign = is_foreign_language(
            col["mother_tongue"], np.asarray(col["immigrant"], dtype=bool)
        )
        months = np.asarray(col["unemployment_months"], dtype=np.int64)
        partial = np.asarray(col["work_ability"], dtype=object) == "partial"
        interest = np.asarray(col["entrepreneurship_interest"], dtype=object)
        status = np.asarray(col["labour_market_status"], dtype=object)
        benefit = np.asarray(col["unemployment_benefit"], dtype=object)
        education = np.asarray(col["education_level"], dtype=object)
        level_rank = language_level_rank(col["language_level"])
        barriers = {flag: np.asarray(col[flag], dtype=bool) for flag in BARRIER_FLAGS}
        # One contiguous row per service, narrowed in place by its limits; transposed at the end.
        by_service = np.ones((len(self.services), n), dtype=bool)
        for j, service in enumerate(self.services):
            lim = service.limits
            ok = by_service[j]
            if lim.min_age is not None:
                ok &= age >= lim.min_age
            if lim.max_age is not None:
                ok &= age <= lim.max_age
            if lim.foreign_language_only:
                ok &= foreign
            if lim.min_unemployment_months:
                ok &= months >= lim.min_unemployment_months
            if lim.reduced_work_ability_only:
                ok &= partial
            if lim.business_plan_required:
                ok &= interest == "business_plan"
            if lim.entrepreneurship_interest_required:
                ok &= interest != "none"
            if lim.requires_barrier:
                ok &= np.logical_or.reduce([barriers[b] for b in lim.requires_barrier])
            if lim.labour_market_statuses:
                ok &= _is_in(status, lim.labour_market_statuses)
            if lim.unemployment_benefits:
                ok &= _is_in(benefit, lim.unemployment_benefits)
            if lim.education_levels:
                ok &= _is_in(education, lim.education_levels)
            if lim.max_language_level is not None:
                ok &= level_rank <= LANGUAGE_LEVELS.index(lim.max_language_level)
        return np.ascontiguousarray(by_service.T)

    def to_snapshot(self) -> dict[str, Any]:
        """A plain, JSON-serialisable copy of the catalog (stored with every model)."""
        services = []
        for s in self.services:
            d = asdict(s)
            d["limits"] = {
                k: list(v) if isinstance(v, tuple) else v for k, v in d["limits"].items()
            }
            d["languages"] = list(s.languages)
            services.append(d)
        return {"version": SNAPSHOT_VERSION, "services": services}

    @classmethod
    def from_snapshot(cls, snapshot: Mapping[str, Any]) -> Catalog:
        """Rebuild (and re-validate) a catalog from `to_snapshot` output."""
        if not isinstance(snapshot, Mapping) or snapshot.get("version") != SNAPSHOT_VERSION:
            raise CatalogError(f"not a catalog snapshot of version {SNAPSHOT_VERSION}")
        return cls(_services_from_raw(snapshot.get("services")))

    @property
    def fingerprint(self) -> str:
        canonical = json.dumps(
            self.to_snapshot(), sort_keys=True, ensure_ascii=False, separators=(",", ":")
        )
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


_FEW_ROWS: Final = 64


def _is_in(values: np.ndarray, options: tuple[str, ...]) -> np.ndarray:
    """`np.isin(values, options)`; for a few rows (one API request) a plain membership test,
    since `np.isin` sorts and concatenates arrays for every call."""
    if len(values) > _FEW_ROWS:
        return np.isin(values, options)
    return np.fromiter((v in options for v in values), dtype=bool, count=len(values))


def language_level_rank(levels: Any) -> np.ndarray:
    """Position of each language level in `LANGUAGE_LEVELS` (A0 = 0 ... native = 7)."""
    arr = np.asarray(levels, dtype=object)
    rank = np.full(arr.shape, -1, dtype=np.int64)
    for i, level in enumerate(LANGUAGE_LEVELS):
        rank[arr == level] = i
    if (rank < 0).any():
        bad = arr[rank < 0][0]
        raise ValueError(f"unknown language level {bad!r}")
    return rank


def load_catalog(path: str | Path | None = None) -> Catalog:
    """Load and validate the catalog file (default `data/catalog/services.toml`).

    Raises
    ------
    CatalogError
        Naming the service and field, for an unknown family, an empty name, a min age above
        the max age, a duplicate id, an unknown limit or value, ...
    """
    path = Path(path) if path is not None else DEFAULT_CATALOG_PATH
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise CatalogError(f"{path}: not valid TOML: {exc}") from None
    return Catalog(_services_from_raw(raw.get("service")))


__all__ = [
    "FAMILIES",
    "LIMIT_COLUMNS",
    "Catalog",
    "CatalogError",
    "LocalizedText",
    "Service",
    "ServiceLimits",
    "language_level_rank",
    "load_catalog",
]
