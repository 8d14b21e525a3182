"""Clients' stated preferences: which services each will (or will not) take, and likes.

A CSV with the columns `client_id`, `service_id` and `preference`, one row per statement:

- `allowed`: the client will take only the services so marked (or none);
- `preferred`: the client would like this service: its value in the programme gets the
  preference weight on top of its expected uplift (`--preference-weight`);
- `refused`: the client will not take this service.

Clients the file does not name have no preferences. Every problem names the file, the row
and the field; a client id not in the cohort is an error too (a typing error would
otherwise be silently ignored).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Final

import numpy as np
import pandas as pd

from models.catalog import Catalog
from pipeline.allocation.office_file import OfficeFileError, read_office_file
from pipeline.data.register import RegisterError

PREFERENCE_COLUMNS: Final = ("client_id", "service_id", "preference")
PREFERENCES: Final = ("allowed", "preferred", "refused")


class PreferencesFileError(OfficeFileError):
    """The preferences file cannot be used; `.errors` names each problem."""

    what = "preferences file"


@dataclass(frozen=True)
class Preferences:
    """The statements as masks over (assessment, service), catalog order.

    `permitted` is False where a client refused the service or named others as the only
    ones allowed; `preferred` is True where a client would like the service.
    """

    permitted: np.ndarray
    preferred: np.ndarray

    @classmethod
    def none(cls, n: int, m: int) -> Preferences:
        return cls(np.ones((n, m), dtype=bool), np.zeros((n, m), dtype=bool))


def read_preferences(path: Path, client_ids: np.ndarray, catalog: Catalog) -> Preferences:
    """The preferences of the cohort's clients (`client_ids`, one per assessment).

    Raises
    ------
    PreferencesFileError
        Unreadable file, a missing column, an unknown client, service or preference word.
    """
    name = path.name
    raw = read_office_file(path, PREFERENCE_COLUMNS, PreferencesFileError)
    clients = np.asarray(client_ids, dtype=object).astype(str)
    rows_of: dict[str, list[int]] = {}
    for i, client in enumerate(clients):
        rows_of.setdefault(client, []).append(i)
    n, m = len(clients), len(catalog)
    only = np.zeros((n, m), dtype=bool)
    has_only = np.zeros(n, dtype=bool)
    refused = np.zeros((n, m), dtype=bool)
    preferred = np.zeros((n, m), dtype=bool)
    errors: list[RegisterError] = []
    for row, (client, service, word) in enumerate(
        zip(raw["client_id"], raw["service_id"], raw["preference"], strict=True), start=1
    ):
        client_text = "" if pd.isna(client) else str(client).strip()
        service_text = "" if pd.isna(service) else str(service).strip()
        word_text = "" if pd.isna(word) else str(word).strip().lower()
        problems_before = len(errors)
        if client_text not in rows_of:
            errors.append(RegisterError(name, row, "client_id", "not a client of the cohort"))
        if service_text not in catalog.ids:
            errors.append(RegisterError(name, row, "service_id", "not a service of the catalog"))
        if word_text not in PREFERENCES:
            errors.append(
                RegisterError(name, row, "preference", f"expected one of {', '.join(PREFERENCES)}")
            )
        if len(errors) > problems_before:
            continue
        at, j = rows_of[client_text], catalog.index(service_text)
        if word_text == "allowed":
            only[at, j] = True
            has_only[at] = True
        elif word_text == "refused":
            refused[at, j] = True
        else:
            preferred[at, j] = True
    if errors:
        raise PreferencesFileError(errors)
    permitted = np.where(has_only[:, None], only, True) & ~refused
    return Preferences(permitted, preferred & permitted)
