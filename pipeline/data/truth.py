"""The truth of a synthetic world: read it, check it, and turn it into matrices.

A real register has no truth; a generated world writes one (`pipeline.synth.world`): per
episode, the true probability of each outcome under each action. `load_truth` is the one
reader of the file and `truth_matrices` the one conversion of the table into the
(n_episodes, n_services + 1) arrays evaluation reads, "none" last.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from models.actions import action_ids
from models.catalog import Catalog
from models.objectives import TRUTH_OUTCOMES
from models.profile_validation import quote_value
from pipeline.data.layout import TRUTH_FILE, find_file, truth_column


def _missing_columns(truth: pd.DataFrame, catalog: Catalog, outcomes: Iterable[str]) -> list[str]:
    needed = [truth_column(t, a) for t in outcomes for a in action_ids(catalog.ids)]
    return [c for c in needed if c not in truth.columns]


def load_truth(
    directory: str | Path,
    episode_ids: Sequence[str] | pd.Series | np.ndarray | None = None,
    *,
    catalog: Catalog | None = None,
) -> pd.DataFrame:
    """The truth table (`episode_id` and one `target__action` column per target and action).

    Parameters
    ----------
    directory : path
    episode_ids : array-like, optional
        Episodes to return, in this order (every one must be in the truth).
    catalog : Catalog, optional
        When given, every (target, action) column of its services and "none" must exist.

    Raises
    ------
    ValueError
        Missing columns or episodes, duplicate episode ids, or probabilities outside [0, 1].
    """
    path = find_file(directory, TRUTH_FILE)
    truth = (
        pd.read_parquet(path)
        if path.suffix == ".parquet"
        else pd.read_csv(path, dtype={"episode_id": str})
    )
    if "episode_id" not in truth.columns:
        raise ValueError(f"{path.name}: field 'episode_id': column is missing")
    if truth["episode_id"].duplicated().any():
        row = int(np.flatnonzero(truth["episode_id"].duplicated().to_numpy())[0]) + 1
        raise ValueError(f"{path.name}: row {row}, field 'episode_id': duplicate episode id")
    value_columns = [c for c in truth.columns if c != "episode_id"]
    if catalog is not None:
        missing = _missing_columns(truth, catalog, TRUTH_OUTCOMES)
        if missing:
            raise ValueError(
                f"{path.name}: field {missing[0]!r}: column is missing "
                f"({len(missing)} missing in all)"
            )
    values = truth[value_columns].to_numpy(dtype=np.float64)
    bad = ~((values >= 0) & (values <= 1))
    if bad.any():
        row, col = np.argwhere(bad)[0]
        raise ValueError(
            f"{path.name}: row {row + 1}, field {value_columns[col]!r}: probability outside [0, 1]"
        )
    if episode_ids is None:
        return truth
    wanted = pd.Index(np.asarray(episode_ids, dtype=str))
    position = pd.Index(truth["episode_id"].astype(str)).get_indexer(wanted)
    if (position < 0).any():
        first = int(np.flatnonzero(position < 0)[0])
        episode = quote_value(wanted[first])
        raise ValueError(f"{path.name}: field 'episode_id': episode {episode} has no truth row")
    return truth.iloc[position].reset_index(drop=True)


def truth_matrices(
    truth: pd.DataFrame, catalog: Catalog, outcomes: Iterable[str] = TRUTH_OUTCOMES
) -> dict[str, np.ndarray]:
    """Per outcome, the true probabilities as float64 (n_episodes, n_services + 1).

    Columns follow the catalog's order with "none" last; rows follow the table's.

    Raises
    ------
    ValueError
        The table lacks a column the catalog needs (another catalog made the world?).
    """
    outcomes = tuple(outcomes)
    missing = _missing_columns(truth, catalog, outcomes)
    if missing:
        raise ValueError(
            f"the truth lacks column(s) {', '.join(missing[:3])}"
            + (" ..." if len(missing) > 3 else "")
            + " (was the world generated with another catalog?)"
        )
    actions = action_ids(catalog.ids)
    return {
        t: truth[[truth_column(t, a) for a in actions]].to_numpy(dtype=np.float64) for t in outcomes
    }
