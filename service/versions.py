"""The versions an answer was made under, computed in one place for answers and audit rows.

- **rules version**: the gate's rule set that decided (`EligibilityDecision.rules_version`);
  for a row that is no gate decision (a security event, a switch of the model), the set in
  force today.
- **model version**: the registry's version number of the served model, and its **model
  hash**, the first 16 hex digits of the artifact's SHA-256 as the registry recorded it
  (null when the loader does not know it). Both null while no model is loaded. They name
  the model served at the time even when it was switched off (`degraded` says it was not
  asked).
- **catalog version**: the catalog has no version field, so its content hash: the first 16
  hex digits of `Catalog.fingerprint` (the SHA-256 of its canonical snapshot, shown in full
  by `GET /v1/services`), of the served model's catalog, else of the reviewed file's.

A decision carries the versions of the suggestion it decides on (what the caseworker saw).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from models.catalog import Catalog

HASH_DIGITS: Final = 16


@dataclass(frozen=True, slots=True)
class Versions:
    """What one answer or audit row was made under (see the module's docstring)."""

    rules_version: str | None
    model_version: str | None
    model_hash: str | None
    catalog_version: str | None

    @classmethod
    def of(cls, row: Any) -> Versions:
        """The versions an audit record carries (its fields of the same names)."""
        return cls(row.rules_version, row.model_version, row.model_hash, row.catalog_version)

    def as_fields(self) -> dict[str, str | None]:
        """The versions as an audit record's keyword arguments."""
        return {name: getattr(self, name) for name in self.__slots__}


def catalog_version(catalog: Catalog) -> str:
    """The catalog's version: a prefix of its content hash (compute it once per catalog)."""
    return catalog.fingerprint[:HASH_DIGITS]


def model_hash(artifact_sha256: str | None) -> str | None:
    """The model's hash as answers show it: a prefix of the artifact's SHA-256, or None."""
    return artifact_sha256[:HASH_DIGITS] if artifact_sha256 else None
