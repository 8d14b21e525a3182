"""An office's capacity file: the places of each service for the period, as it gives them.

A CSV with the columns `service_id` and `places` (a whole number, 0 or more), one row per
service; a service the file does not name keeps the catalog's places for the period. Every
problem names the file, the row (data rows from 1) and the field, and all are reported at
once.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

import numpy as np
import pandas as pd

from models.catalog import Catalog
from pipeline.allocation.office_file import OfficeFileError, read_office_file
from pipeline.data.register import RegisterError

CAPACITY_COLUMNS: Final = ("service_id", "places")


class CapacityFileError(OfficeFileError):
    """The capacity file cannot be used; `.errors` names each problem."""

    what = "capacity file"


def read_capacity(path: Path, catalog: Catalog, default: np.ndarray) -> np.ndarray:
    """The places per service (catalog order): `default`, with the file's rows in place.

    Raises
    ------
    CapacityFileError
        Unreadable file, a missing column, an unknown or repeated service, or places that
        are not a whole number of at least 0.
    """
    name = path.name
    raw = read_office_file(path, CAPACITY_COLUMNS, CapacityFileError)
    places = np.asarray(default, dtype=np.int64).copy()
    errors: list[RegisterError] = []
    seen: set[str] = set()
    for row, (service_id, text) in enumerate(
        zip(raw["service_id"], raw["places"], strict=True), start=1
    ):
        service = "" if pd.isna(service_id) else str(service_id).strip()
        if not service:
            errors.append(RegisterError(name, row, "service_id", "missing"))
        elif service not in catalog.ids:
            errors.append(RegisterError(name, row, "service_id", "not a service of the catalog"))
        elif service in seen:
            errors.append(RegisterError(name, row, "service_id", "named twice"))
        count = _whole(text)
        if count is None:
            errors.append(
                RegisterError(name, row, "places", "must be a whole number of at least 0")
            )
        if service in catalog.ids and service not in seen and count is not None:
            places[catalog.index(service)] = count
        seen.add(service)
    if errors:
        raise CapacityFileError(errors)
    return places


def _whole(text: object) -> int | None:
    if not isinstance(text, str):  # a missing cell
        return None
    value = text.strip()
    if not value.isdigit():  # no sign, no decimals: places are counted
        return None
    return int(value)
