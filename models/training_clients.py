"""What a model was trained on: a salted, pseudonymous fingerprint set of its training clients.

Judging a model on the people it learned from flatters it (on its own training register the
champion's gain looked eight times its true size), so a model records whom it was trained on
and `polku evaluate` and `polku effects --policy` refuse data that includes them unless told
otherwise. The record holds no client id: each person is reduced to a keyed BLAKE2b digest
(64 bits) of their client id and birth date under a random salt drawn at training, and only
the digests and the salt are kept. The birth date joins the id so that two synthetic worlds
that number their clients alike (``C0000001``, ...) are not taken for the same people; in a
real register both are fixed for a person, so the key is the person.

Examples
--------
>>> record = TrainingClients.record(["C1", "C2"], ["1990-01-01", "1985-05-05"], salt=b"s" * 16)
>>> record.overlap(["C2", "C3"], ["1985-05-05", "1970-01-01"]).tolist()
[True, False]
>>> TrainingClients.from_dict(record.to_dict()) == record
True
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import pandas as pd

SALT_BYTES: Final = 16
DIGEST_BYTES: Final = 8
KEY: Final = "client_id|birth_date"
# Where a `PolkuModel` keeps the record in its metadata.
METADATA_KEY: Final = "training_clients"


def _dates(birth_dates: Iterable[Any]) -> list[str]:
    parsed = pd.to_datetime(pd.Series(list(birth_dates)), errors="coerce")
    days = parsed.to_numpy(dtype="datetime64[ns]").astype("datetime64[D]").astype(str)
    return ["" if text == "NaT" else text for text in days.tolist()]


def _digests(salt: bytes, client_ids: Iterable[Any], birth_dates: Iterable[Any]) -> list[str]:
    ids = [str(value) for value in client_ids]
    dates = _dates(birth_dates)
    if len(ids) != len(dates):
        raise ValueError(f"{len(ids)} client ids but {len(dates)} birth dates")
    return [
        hashlib.blake2b(f"{i}|{d}".encode(), key=salt, digest_size=DIGEST_BYTES).hexdigest()
        for i, d in zip(ids, dates, strict=True)
    ]


@dataclass(frozen=True)
class TrainingClients:
    """The salted digests of the people a model was trained on.

    Attributes
    ----------
    salt : str
        Hex of the random key of the digests (drawn once per model).
    digests : frozenset of str
        One hex digest per training client (of `KEY`).
    """

    salt: str
    digests: frozenset[str]

    @classmethod
    def record(
        cls,
        client_ids: Iterable[Any],
        birth_dates: Iterable[Any],
        *,
        salt: bytes | None = None,
    ) -> TrainingClients:
        """Fingerprint the training clients (one row per episode is fine: a set is kept)."""
        key = os.urandom(SALT_BYTES) if salt is None else salt
        return cls(key.hex(), frozenset(_digests(key, client_ids, birth_dates)))

    def overlap(self, client_ids: Iterable[Any], birth_dates: Iterable[Any]) -> np.ndarray:
        """Bool per row: whether that row's person was among the training clients."""
        found = _digests(bytes.fromhex(self.salt), client_ids, birth_dates)
        return np.fromiter((d in self.digests for d in found), dtype=bool, count=len(found))

    def to_dict(self) -> dict[str, Any]:
        """Plain values for the model's metadata (digests sorted, so the record is stable)."""
        return {
            "key": KEY,
            "salt": self.salt,
            "n_clients": len(self.digests),
            "digests": sorted(self.digests),
        }

    @classmethod
    def from_dict(cls, record: Mapping[str, Any]) -> TrainingClients:
        if record.get("key") != KEY:
            raise ValueError(f"training-client record keyed by {record.get('key')!r}, not {KEY}")
        return cls(str(record["salt"]), frozenset(str(d) for d in record["digests"]))


def training_clients_of(metadata: Mapping[str, Any]) -> TrainingClients | None:
    """The record in a model's metadata, or None for a model trained before it was kept."""
    record = metadata.get(METADATA_KEY)
    return None if record is None else TrainingClients.from_dict(record)


class TrainingClientsError(ValueError):
    """The evaluated clients include some the model was trained on."""


@dataclass(frozen=True)
class Overlap:
    """How many evaluated episodes and clients the model was trained on."""

    episodes: int
    clients: int
    of_episodes: int
    of_clients: int
    checked: bool = True

    @property
    def any(self) -> bool:
        return self.episodes > 0

    def sentence(self) -> str:
        """One plain sentence for errors, notes and reports."""
        if not self.checked:
            return "the model records no training clients, so overlap was not checked"
        return (
            f"{self.clients} of the {self.of_clients} evaluated clients "
            f"({self.episodes} of {self.of_episodes} episodes) are among the model's "
            "training clients"
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "checked": self.checked,
            "overlapping_clients": self.clients,
            "overlapping_episodes": self.episodes,
            "evaluated_clients": self.of_clients,
            "evaluated_episodes": self.of_episodes,
        }


def training_overlap(
    metadata: Mapping[str, Any], client_ids: Iterable[Any], birth_dates: Iterable[Any]
) -> Overlap:
    """Overlap of evaluated rows (one per episode) with a model's training clients."""
    ids = np.asarray([str(value) for value in client_ids], dtype=object)
    record = training_clients_of(metadata)
    n_clients = int(pd.unique(ids).size)
    if record is None:
        return Overlap(0, 0, len(ids), n_clients, checked=False)
    mask = record.overlap(ids, birth_dates)
    return Overlap(int(mask.sum()), int(pd.unique(ids[mask]).size), len(ids), n_clients)


def overlap_note(overlap: Overlap) -> str:
    """The sentence every output carries when a model is judged on its training clients."""
    return (
        f"WARNING: {overlap.sentence()} (allowed by --allow-training-clients): the figures "
        "flatter the model"
    )


def check_training_overlap(overlap: Overlap, allow: bool) -> None:
    """Refuse (TrainingClientsError) an overlap unless `allow`."""
    if overlap.any and not allow:
        raise TrainingClientsError(
            f"{overlap.sentence()}: a model judged on the people it learned from looks "
            "better than it is; evaluate on other clients (a later extract, or the held-out "
            "part of its training register), or pass --allow-training-clients to do it anyway"
        )


def overlap_json(overlap: Overlap, allowed: bool) -> dict[str, object]:
    """The `training_overlap` block of every JSON output."""
    return {**overlap.to_json(), "allowed_by_flag": bool(allowed and overlap.any)}
