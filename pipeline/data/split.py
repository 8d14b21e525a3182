"""Split episodes into training and held-out parts by client, and optionally by time.

A client's episodes all fall on one side (a hash of `client_id` decides), so no person seen
in training is evaluated. The hash is a plain function of the id and the split settings,
so `polku train`, `polku evaluate` and `polku promote` find the same held-out clients in the
same data without storing any list of them. With a time cut, training keeps only episodes
assessed before it and evaluation only episodes assessed on or after it: the model is
judged on a later period than the one it learned from. A person stays whole on one side
then too: a training client's episodes after the cut and a held-out client's before it are
dropped, not moved (their service history stays in the later profiles' history fields,
which is what a caseworker knew at that assessment).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from typing import Final

import numpy as np
import pandas as pd

DEFAULT_TEST_FRACTION: Final = 0.25
# Salt of the split hash, so the held-out set does not line up with other hashes of the id.
SPLIT_SALT: Final = "polku-split-v1"


@dataclass(frozen=True, slots=True)
class SplitSettings:
    """How episodes are split.

    Attributes
    ----------
    test_fraction : float
        Share of clients held out, in (0, 1).
    holdout_from : datetime.date or None
        If set, training uses episodes assessed before this date and evaluation those
        assessed on or after it.
    """

    test_fraction: float = DEFAULT_TEST_FRACTION
    holdout_from: dt.date | None = None

    def __post_init__(self) -> None:
        if not 0.0 < self.test_fraction < 1.0:
            raise ValueError(f"test_fraction must lie in (0, 1), got {self.test_fraction}")

    def to_params(self) -> dict[str, str]:
        """The settings as MLflow parameters (strings)."""
        return {
            "split_test_fraction": f"{self.test_fraction:g}",
            "split_holdout_from": self.holdout_from.isoformat() if self.holdout_from else "",
            "split_salt": SPLIT_SALT,
        }

    @classmethod
    def from_params(cls, params: dict[str, str]) -> SplitSettings:
        """Rebuild the settings a training run logged (defaults for missing keys)."""
        fraction = float(params.get("split_test_fraction") or DEFAULT_TEST_FRACTION)
        raw_date = params.get("split_holdout_from") or ""
        return cls(fraction, dt.date.fromisoformat(raw_date) if raw_date else None)


def held_out_clients(client_ids: pd.Series | np.ndarray, test_fraction: float) -> np.ndarray:
    """True for clients whose salted SHA-256 bucket falls in the held-out share.

    The bucket is the first 8 bytes of ``sha256(salt + client_id)`` read as an unsigned
    integer over 2**64: uniform, stable across runs and machines.
    """
    ids = np.asarray(client_ids, dtype=object)
    buckets = np.fromiter(
        (
            int.from_bytes(hashlib.sha256(f"{SPLIT_SALT}:{cid}".encode()).digest()[:8], "big")
            for cid in ids
        ),
        dtype=np.float64,
        count=ids.size,
    )
    return np.asarray(buckets / 2.0**64 < test_fraction)


def split_masks(episodes: pd.DataFrame, settings: SplitSettings) -> tuple[np.ndarray, np.ndarray]:
    """Boolean masks (train, held_out) over the rows of `episodes`.

    Needs `client_id`, and `assessment_date` when a time cut is set. Rows on neither side
    (a training client's episode after the cut, or a held-out client's before it) are in
    neither mask.
    """
    if "client_id" not in episodes.columns:
        raise ValueError("episodes lack the column client_id, which the split needs")
    held = held_out_clients(episodes["client_id"].astype(str).to_numpy(), settings.test_fraction)
    train = ~held
    if settings.holdout_from is not None:
        if "assessment_date" not in episodes.columns:
            raise ValueError("episodes lack assessment_date, which the time split needs")
        dates = pd.to_datetime(episodes["assessment_date"]).to_numpy(dtype="datetime64[D]")
        late = dates >= np.datetime64(settings.holdout_from, "D")
        train &= ~late
        held &= late
    return train, held
