"""The register extract's layout: its files, their columns, and the truth's column names.

One contract for everything that reads or writes an extract: the register reader
(`pipeline.data.register`), the truth reader (`pipeline.data.truth`) and the synthetic world
that writes one (`pipeline.synth.world`). The formats are in `docs/DATA_CARD.md`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

from models.objectives import EPISODE_OUTCOMES
from models.profile import PROFILE_COLUMNS

CLIENTS_FILE: Final = "clients"
EPISODES_FILE: Final = "episodes"
TRUTH_FILE: Final = "truth"
# Fields every episodes file must have; `propensity` is optional (a real register does not log
# the probability of the caseworker's choice: training and evaluation then estimate it).
EPISODE_FIELDS: Final = ("episode_id", "service_id", *EPISODE_OUTCOMES)
OPTIONAL_EPISODE_FIELDS: Final = ("propensity",)
EPISODE_COLUMNS: Final = (
    "episode_id",
    *PROFILE_COLUMNS,
    "service_id",
    "propensity",
    *EPISODE_OUTCOMES,
)
CLIENT_COLUMNS: Final = ("client_id", "henkilotunnus", *PROFILE_COLUMNS[1:])
TRUTH_SEPARATOR: Final = "__"


def truth_column(target: str, action: str) -> str:
    """Name of the truth column of one target under one action (service id or "none")."""
    return f"{target}{TRUTH_SEPARATOR}{action}"


def find_file(directory: str | Path, name: str) -> Path:
    """`<name>.parquet` (preferred) or `<name>.csv` in `directory`."""
    directory = Path(directory)
    for suffix in (".parquet", ".csv"):
        path = directory / f"{name}{suffix}"
        if path.is_file():
            return path
    raise FileNotFoundError(f"{directory} holds no {name}.parquet or {name}.csv")
