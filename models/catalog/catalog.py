"""The service catalog: Helsinki's and its partners' services, in a fixed order.

`load_catalog` reads the reviewed file (`models.catalog.loading`); a `Catalog` looks
services up, says which ones a client may take (`models.catalog.limits`) and travels with
every model as a plain snapshot.

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
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Final

import numpy as np
import pandas as pd

from models.catalog.limits import LIMIT_COLUMNS, LimitTable, LimitVerdicts, profile_facts
from models.catalog.loading import CatalogError, read_services, services_from_tables
from models.catalog.services import Service
from models.profile import ClientProfile

SNAPSHOT_VERSION: Final = 1


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
    _limits: LimitTable = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_index", {s.id: i for i, s in enumerate(self.services)})
        object.__setattr__(self, "_limits", LimitTable.compile([s.limits for s in self.services]))

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
        return self._limits.allowed(profile_facts(self._profile_columns(profile)))[0]

    def verdicts(self, profile: ClientProfile | Mapping[str, Any]) -> LimitVerdicts:
        """The limits checked once for this client: `allowed` and, per closed service, the
        limits it closes on (what the serving path needs both of, without checking twice)."""
        return LimitVerdicts.of(self._limits.checks(profile_facts(self._profile_columns(profile))))

    def failed_limits(
        self, profile: ClientProfile | Mapping[str, Any]
    ) -> tuple[tuple[str, ...], ...]:
        """Per service (catalog order), the limits this client does not meet, by their
        `ServiceLimits` field name (empty: the client may take it, as `allowed` says).

        >>> closed = load_catalog().failed_limits(profile)  # doctest: +SKIP
        >>> closed[load_catalog().index("finnish_course")]  # doctest: +SKIP
        ('foreign_language_only',)
        """
        return self.verdicts(profile).closed_on()

    @staticmethod
    def _profile_columns(profile: ClientProfile | Mapping[str, Any]) -> dict[str, np.ndarray]:
        record = profile.to_record() if isinstance(profile, ClientProfile) else profile
        missing = [c for c in LIMIT_COLUMNS if c not in record]
        if missing:
            raise KeyError(f"profile lacks field(s) the catalog limits need: {missing}")
        return {c: np.asarray([record[c]]) for c in LIMIT_COLUMNS}

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
        return self._limits.allowed(profile_facts(columns))

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
        return cls(services_from_tables(snapshot.get("services")))

    @property
    def fingerprint(self) -> str:
        canonical = json.dumps(
            self.to_snapshot(), sort_keys=True, ensure_ascii=False, separators=(",", ":")
        )
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def load_catalog(path: str | Path | None = None) -> Catalog:
    """Load and validate the catalog file (default `models/data/catalog/services.toml`).

    Raises
    ------
    CatalogError
        Naming the service and field, for an unknown family, an empty name, a min age above
        the max age, a duplicate id, an unknown limit or value, ...
    """
    return Catalog(read_services(path))
