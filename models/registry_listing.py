"""The list of registered versions (`polku models`), read without importing MLflow.

Importing MLflow and its SQL store costs about 5 s of CPU before a single row is read, so
listing four versions took ~15 s on a busy machine. For a SQLite tracking store (the
embedded default, or any `sqlite:///` URI) the rows are read here, read-only, straight
from the registry's tables. `read_versions` answers None when it cannot (a tracking server,
or tables that do not look as expected); the caller then asks MLflow
(`models.registry.list_versions`). A test holds both readings equal on the same registry.

The names MLflow is told (`MODEL_NAME`, the tracking URI) live here so that this module and
`models.registry` share one definition.
"""

from __future__ import annotations

import datetime as dt
import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from models.state import state_dir

MODEL_NAME: Final = "polku-ranker"
TRACKING_URI_ENV: Final = "MLFLOW_TRACKING_URI"
# The metrics `polku models` shows for a version, from its training run.
KEY_METRICS: Final = (
    "policy_value_polku",
    "policy_value_caseworkers",
    "policy_value_oracle",
    "oracle_gain_captured",
    "top3_oracle_coverage",
)
_SQLITE_PREFIX: Final = "sqlite:///"
_DELETED_STAGE: Final = "Deleted_Internal"  # how MLflow's SQL store marks a deleted version


def tracking_uri() -> str:
    """`$MLFLOW_TRACKING_URI`, else the embedded SQLite store `<state_dir>/mlflow.db`."""
    configured = os.environ.get(TRACKING_URI_ENV)
    if configured:
        return configured
    return f"{_SQLITE_PREFIX}{state_dir() / 'mlflow.db'}"


@dataclass(frozen=True)
class VersionRow:
    """One line of `polku models`."""

    version: str
    aliases: tuple[str, ...]
    created: str
    run_id: str
    metrics: dict[str, float]
    data_fingerprint: str


def read_versions(uri: str | None = None) -> list[VersionRow] | None:
    """Every registered version of the ranker, newest first, read from a SQLite store; None
    if `uri` (default `tracking_uri()`) is not one this can read."""
    uri = uri or tracking_uri()
    if not uri.startswith(_SQLITE_PREFIX):
        return None
    database = Path(uri.removeprefix(_SQLITE_PREFIX))
    if not database.exists():
        return []  # nothing was ever logged there
    try:
        with sqlite3.connect(f"{database.resolve().as_uri()}?mode=ro", uri=True) as db:
            return _rows(db)
    except sqlite3.Error:  # not MLflow's tables as this knows them: let MLflow read them
        return None


def _rows(db: sqlite3.Connection) -> list[VersionRow]:
    versions = db.execute(
        "SELECT version, creation_time, run_id FROM model_versions "
        "WHERE name = ? AND current_stage != ?",
        (MODEL_NAME, _DELETED_STAGE),
    ).fetchall()
    if not versions:
        return []
    aliases: dict[str, list[str]] = {}
    for alias, version in db.execute(
        "SELECT alias, version FROM registered_model_aliases WHERE name = ?", (MODEL_NAME,)
    ):
        aliases.setdefault(str(version), []).append(alias)
    runs = sorted({run_id for _, _, run_id in versions if run_id})
    marks = ",".join("?" * len(runs))
    metrics: dict[str, dict[str, float]] = {}
    for run_id, key, value in db.execute(
        f"SELECT run_uuid, key, value FROM latest_metrics WHERE run_uuid IN ({marks}) "
        f"AND key IN ({','.join('?' * len(KEY_METRICS))})",
        (*runs, *KEY_METRICS),
    ):
        metrics.setdefault(run_id, {})[key] = float(value)
    fingerprints = dict(
        db.execute(
            f"SELECT run_uuid, value FROM params WHERE run_uuid IN ({marks}) AND key = ?",
            (*runs, "data_fingerprint"),
        ).fetchall()
    )
    rows = []
    for version, created_ms, run_id in sorted(versions, key=lambda v: int(v[0]), reverse=True):
        created = dt.datetime.fromtimestamp(created_ms / 1000, dt.UTC)
        rows.append(
            VersionRow(
                version=str(version),
                aliases=tuple(sorted(aliases.get(str(version), ()))),
                created=created.isoformat(timespec="seconds"),
                run_id=run_id or "",
                metrics=metrics.get(run_id, {}),
                data_fingerprint=fingerprints.get(run_id, ""),
            )
        )
    return rows
