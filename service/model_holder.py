"""The champion the service answers with, and its safe replacement.

`reload()` loads the current champion from the registry (which checks the artifact's hash),
checks it on a smoke profile, and only then swaps it in, atomically: a request reads
`holder.current` once and keeps that model for its whole answer. If anything fails, the old
model keeps serving and the outcome says why.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from models.catalog import Catalog
from models.eligibility import EligibilityDecision
from models.objectives import TARGETS, Objective
from models.profile import ClientProfile
from models.suggestions import ModelAnswer, RankedService
from service.versions import catalog_version, model_hash

log = logging.getLogger(__name__)

# An under-30 unemployed Helsinki resident inside the experiment period: a client under
# every rule set, so a healthy model must rank at least one service for them.
SMOKE_PROFILE = ClientProfile(
    client_id="polku-smoke-check",
    birth_date=dt.date(2000, 5, 17),
    home_municipality="091",
    mother_tongue="fi",
    immigrant=False,
    registered_jobseeker=True,
    labour_market_status="unemployed",
    unemployment_benefit="labour_market_subsidy",
    assessment_date=dt.date(2024, 3, 4),
    education_level="upper_secondary",
    unemployment_months=7,
    work_experience_years=2.0,
)


class Recommender(Protocol):
    """What the service needs of a model bundle (`models.bundle.PolkuModel`)."""

    def recommend(
        self, profile: ClientProfile, objective: Objective, top_k: int | None = None
    ) -> tuple[EligibilityDecision, list[RankedService]]: ...

    def answer(
        self, profile: ClientProfile, objective: Objective, top_k: int | None = None
    ) -> ModelAnswer: ...


class LoadedChampion(Protocol):
    """What the service needs of `models.registry.load_champion()`'s answer."""

    @property
    def model(self) -> Any: ...
    @property
    def version(self) -> Any: ...
    @property
    def trained_at(self) -> Any: ...
    @property
    def metrics(self) -> Any: ...


@dataclass(frozen=True)
class ServedModel:
    """A model that passed its checks, with what the API reports about it.

    `model_hash` and `catalog_version` are `service.versions`', computed once at load.
    """

    model: Recommender
    version: str
    name: str
    rules_versions: tuple[str, ...]
    catalog: Catalog
    trained_at: str | None
    metrics: dict[str, float]
    catalog_fingerprint: str = ""
    model_hash: str | None = None
    catalog_version: str | None = None
    loaded_at: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))


@dataclass(frozen=True, slots=True)
class ReloadOutcome:
    """What a reload did: swapped in a new model, kept the same, or failed (and why)."""

    reloaded: bool
    version: str | None
    previous_version: str | None
    message: str


class ModelCheckError(RuntimeError):
    """A loaded model failed the smoke check; the message says how."""


def default_loader() -> LoadedChampion:
    """The registry's champion (imported here: loading MLflow is for the lifespan, not import)."""
    from models.registry import load_champion

    return load_champion()


def champion_version() -> str | None:
    """The version the registry's champion alias points at, without loading it."""
    from models.registry import champion_version as registry_champion_version

    return registry_champion_version()


def default_model_name() -> str:
    """The registered model's name."""
    from models.registry import MODEL_NAME

    return str(MODEL_NAME)


class ModelHolder:
    """Holds the served model and replaces it only with one that passed every check.

    Parameters
    ----------
    loader : callable returning the champion (`.model`, `.version`, `.trained_at`,
        `.metrics`); default `models.registry.load_champion`.
    name : the registered model name reported by `GET /v1/model`.
    """

    def __init__(
        self,
        loader: Callable[[], LoadedChampion] | None = None,
        name: str | None = None,
    ) -> None:
        self._loader = loader or default_loader
        self._name = name
        self._current: ServedModel | None = None
        self._reload_lock = threading.Lock()
        self.last_error: str | None = "no model loaded yet"

    @property
    def current(self) -> ServedModel | None:
        """The model to answer with (read it once per request)."""
        return self._current

    def reload(self) -> ReloadOutcome:
        """Load the current champion, check it, swap it in; keep the old one on any failure."""
        with self._reload_lock:
            previous = self._current
            previous_version = previous.version if previous else None
            try:
                loaded = self._loader()
                candidate = self._serve(loaded)
                smoke_check(candidate)
            except Exception as exc:  # any failure leaves the old model serving
                reason = f"{type(exc).__name__}: {exc}"
                log.warning("model reload failed, still serving %s: %s", previous_version, reason)
                if previous is None:
                    self.last_error = reason
                still = (
                    f"still serving version {previous_version}" if previous else "no model loaded"
                )
                return ReloadOutcome(
                    False, previous_version, previous_version, f"{reason}; {still}"
                )
            if previous is not None and previous.version == candidate.version:
                return ReloadOutcome(
                    False,
                    previous_version,
                    previous_version,
                    f"version {candidate.version} is the champion and already served",
                )
            self._current = candidate  # one reference assignment: atomic for readers
            self.last_error = None
            log.info("serving model version %s (was %s)", candidate.version, previous_version)
            return ReloadOutcome(
                True,
                candidate.version,
                previous_version,
                f"now serving version {candidate.version}",
            )

    def _serve(self, loaded: LoadedChampion) -> ServedModel:
        model = loaded.model
        catalog = getattr(model, "catalog", None)
        if not isinstance(catalog, Catalog):
            raise ModelCheckError("the model carries no service catalog")
        rules_versions = tuple(getattr(model, "rules_versions", ()))
        if not rules_versions or not all(isinstance(v, str) and v for v in rules_versions):
            raise ModelCheckError("the model carries no rules versions")
        trained_at = loaded.trained_at
        metrics = {
            str(k): float(v)
            for k, v in dict(loaded.metrics or {}).items()
            if isinstance(v, int | float) and math.isfinite(float(v))
        }
        return ServedModel(
            model=model,
            version=str(loaded.version),
            name=self._name or default_model_name(),
            rules_versions=rules_versions,
            catalog=catalog,
            trained_at=trained_at.isoformat()
            if isinstance(trained_at, dt.datetime | dt.date)
            else (str(trained_at) if trained_at is not None else None),
            metrics=metrics,
            catalog_fingerprint=catalog.fingerprint,
            # The registry's hash of the file it checked (loaders of tests may not know it).
            model_hash=model_hash(str(getattr(loaded, "sha256", "") or "")),
            catalog_version=catalog_version(catalog),
        )


def smoke_check(served: ServedModel) -> None:
    """Rank the smoke profile under every target; raise `ModelCheckError` if anything is off."""
    for target in TARGETS:
        decision, ranking = served.model.recommend(
            SMOKE_PROFILE, Objective.parse(target), top_k=None
        )
        if not decision.eligible:
            raise ModelCheckError("the smoke profile (a client under every rule set) was refused")
        if not ranking:
            raise ModelCheckError(f"no service ranked for the smoke profile under {target}")
        for position, item in enumerate(ranking, start=1):
            _check_item(item, position, served.catalog, target)
    # The caseworker's answer (both targets, why not the others) must work too.
    answer = served.model.answer(SMOKE_PROFILE, Objective.parse(TARGETS[0]), top_k=3)
    accounted = [r.service_id for r in answer.ranked] + [n.service_id for n in answer.not_suggested]
    if sorted(accounted) != sorted(served.catalog.ids):
        raise ModelCheckError("the answer does not account for every service of the catalog")


def _check_item(item: RankedService, position: int, catalog: Catalog, target: str) -> None:
    where = f"service #{position} under {target}"
    if item.service_id not in catalog.ids:
        raise ModelCheckError(f"{where}: {item.service_id!r} is not in the model's catalog")
    if item.rank != position:
        raise ModelCheckError(f"{where}: rank {item.rank}, expected {position}")
    values = (
        item.expected_with,
        item.expected_without,
        item.uplift,
        item.uplift_low,
        item.uplift_high,
    )
    if not all(math.isfinite(v) for v in values):
        raise ModelCheckError(f"{where}: a prediction is not a finite number")
    if not (0.0 <= item.expected_with <= 1.0 and 0.0 <= item.expected_without <= 1.0):
        raise ModelCheckError(f"{where}: expected outcomes outside [0, 1]")
    if not item.uplift_low <= item.uplift_high:
        raise ModelCheckError(f"{where}: the uplift interval is reversed")
