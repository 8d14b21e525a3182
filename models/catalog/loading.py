"""Reading the catalog file: every `[[service]]` table checked and turned into a `Service`.

The catalog is a reviewed file (`data/catalog/services.toml`); a snapshot stored with a
model is checked by the same code. Every error names the service and the field.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Final

from models.catalog.services import FAMILIES, Service, ServiceLimits
from models.languages import LANGUAGES, LocalizedText
from models.profile import (
    BARRIER_FLAGS,
    EDUCATION_LEVELS,
    LABOUR_MARKET_STATUSES,
    LANGUAGE_LEVELS,
    UNEMPLOYMENT_BENEFITS,
)

DEFAULT_CATALOG_PATH: Final = (
    Path(__file__).resolve().parents[2] / "data" / "catalog" / "services.toml"
)


class CatalogError(ValueError):
    """The catalog file or snapshot is malformed; the message names the service and field."""


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
    if isinstance(provider, str):
        # Snapshots of models trained before the names were translated hold one text.
        if not provider.strip():
            raise _fail(service_id, "provider", "is missing or empty")
        provider = dict.fromkeys(LANGUAGES, provider)
    elif provider is None:
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
        provider=_text(provider, service_id, "provider", required=LANGUAGES),
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


def services_from_tables(raw_services: Any) -> tuple[Service, ...]:
    """Validate the `[[service]]` tables of the file (or a snapshot's list) into services."""
    if not isinstance(raw_services, list) or not raw_services:
        raise CatalogError("the catalog holds no services (expected [[service]] tables)")
    services = tuple(_service(raw, i + 1) for i, raw in enumerate(raw_services))
    seen: set[str] = set()
    for service in services:
        if service.id in seen:
            raise _fail(service.id, "id", "duplicate id")
        seen.add(service.id)
    return services


def read_services(path: str | Path | None = None) -> tuple[Service, ...]:
    """The services of a catalog file (default `data/catalog/services.toml`), checked.

    Raises
    ------
    CatalogError
        If the file is not valid TOML or a service fails a check (see `load_catalog`).
    """
    path = Path(path) if path is not None else DEFAULT_CATALOG_PATH
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise CatalogError(f"{path}: not valid TOML: {exc}") from None
    return services_from_tables(raw.get("service"))
