"""Where Polku keeps its local state: generated data, the MLflow store, the audit database.

Resolved when asked, never at import time, so tests can point it elsewhere.
"""

from __future__ import annotations

import os
from pathlib import Path

STATE_DIR_ENV = "POLKU_STATE_DIR"


def state_dir() -> Path:
    """The state directory: `$POLKU_STATE_DIR`, or `.polku` under the working directory."""
    return Path(os.environ.get(STATE_DIR_ENV, ".polku")).resolve()


def default_data_dir() -> Path:
    """Where `polku run` generates and finds the embedded default world."""
    return state_dir() / "world"
