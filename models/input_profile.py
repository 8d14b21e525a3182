"""The model-input profile: what the ranker read of a client, without what identifies them.

Monitoring compares the profiles Polku served with the ones its champion was trained on.
It needs the ranker's inputs, and nothing else: the fields the feature encoder reads
(`models.features.FEATURE_SOURCE_COLUMNS`) with the birth date replaced by the age in whole
years at the assessment and the assessment date dropped (the audit row has its own time).
Never the identity code, the client id, or a protected attribute (`NEVER_FEATURES`: gender,
mother tongue), none of which the encoder reads. The same representation is made of a
served profile (`input_record`, stored beside its audit row) and of a training frame
(`input_frame`), so the two compare column by column.
"""

from __future__ import annotations

from typing import Any, Final

import numpy as np
import pandas as pd

from models.demographics import age_in_years
from models.features import FEATURE_SOURCE_COLUMNS
from models.profile import BOOL_FIELDS, NEVER_FEATURES, ClientProfile

_DROPPED: Final = ("birth_date", "assessment_date")
INPUT_COLUMNS: Final = ("age", *(c for c in FEATURE_SOURCE_COLUMNS if c not in _DROPPED))
NUMERIC_INPUTS: Final = ("age", "unemployment_months", "work_experience_years")
CATEGORICAL_INPUTS: Final = tuple(c for c in INPUT_COLUMNS if c not in NUMERIC_INPUTS)
assert not set(INPUT_COLUMNS) & set(NEVER_FEATURES)


def input_record(profile: ClientProfile) -> dict[str, Any]:
    """One served profile's model inputs (JSON values: numbers, strings, booleans)."""
    born, assessed = np.datetime64(profile.birth_date), np.datetime64(profile.assessment_date)
    age = int(age_in_years(born, assessed)[()])
    record: dict[str, Any] = {"age": age}
    for column in INPUT_COLUMNS[1:]:
        value = getattr(profile, column)
        record[column] = value if isinstance(value, bool | int | float | str) else str(value)
    return record


def input_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """The model inputs of every row of a typed profile frame (training data, or episodes)."""
    out = pd.DataFrame(index=frame.index)
    out["age"] = age_in_years(
        frame["birth_date"].to_numpy(dtype="datetime64[D]"),
        frame["assessment_date"].to_numpy(dtype="datetime64[D]"),
    )
    for column in INPUT_COLUMNS[1:]:
        values = frame[column]
        out[column] = values.astype(bool) if column in BOOL_FIELDS else values
    return out.reset_index(drop=True)
