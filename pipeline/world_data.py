"""A world on disk as training and evaluation read it: episodes, truth, and a fingerprint.

Loading and validation of the files belong to `pipeline.register` (the register extract and
the truth loader); this module only joins what training needs: the episodes, the truth
aligned to them row by row, and the SHA-256 fingerprint of the episode file, which every
MLflow run records.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from models.catalog import Catalog
from models.suggestions import Objective
from pipeline.training_data import TRUTH_COLUMN_OF_TARGET, file_fingerprint, true_objective_outcomes


@dataclass(frozen=True)
class World:
    """A loaded world.

    Attributes
    ----------
    episodes : DataFrame
        Validated episodes: typed profile columns (no henkilötunnus), `episode_id`,
        `service_id`, `propensity`, `employed_6m`, `education_6m`, `employed_12m`.
    truth : DataFrame
        Aligned row by row with `episodes`: one column per (outcome, action), named
        `pipeline.synth.truth_column(outcome, action)`.
    fingerprint : str
        SHA-256 of the episode file's bytes.
    files : tuple of Path
        The files the fingerprint covers.
    """

    episodes: pd.DataFrame
    truth: pd.DataFrame
    fingerprint: str
    files: tuple[Path, ...]

    def truth_matrices(self, catalog: Catalog) -> dict[str, np.ndarray]:
        """Per outcome the ranker's targets need, the (n, n_services + 1) truth, "none" last."""
        from pipeline.synth import truth_column
        from pipeline.synth_outcomes import NO_SERVICE

        actions = (*catalog.ids, NO_SERVICE)
        out = {}
        for outcome in TRUTH_COLUMN_OF_TARGET.values():
            columns = [truth_column(outcome, action) for action in actions]
            missing = [c for c in columns if c not in self.truth.columns]
            if missing:
                raise ValueError(
                    f"the truth lacks column(s) {', '.join(missing[:3])}"
                    + (" ..." if len(missing) > 3 else "")
                    + " (was the world generated with another catalog?)"
                )
            out[outcome] = self.truth[columns].to_numpy(dtype=np.float64)
        return out

    def true_outcomes(self, objective: Objective | str, catalog: Catalog) -> np.ndarray:
        """True probability of the objective's outcome per episode and action."""
        return true_objective_outcomes(self.truth_matrices(catalog), objective)


def load_world(data_dir: Path) -> World:
    """Load a world's episodes and truth, the truth aligned to the episodes by `episode_id`.

    Raises
    ------
    FileNotFoundError
        A file is missing.
    ValueError
        The truth does not cover every episode exactly once.
    """
    directory = Path(data_dir)
    episode_file = directory / "episodes.parquet"
    truth_file = directory / "truth.parquet"
    for path in (episode_file, truth_file):
        if not path.is_file():
            raise FileNotFoundError(f"{path} is missing (generate a world with `polku generate`)")
    episodes = pd.read_parquet(episode_file)
    truth = pd.read_parquet(truth_file)
    return World(
        episodes=episodes.reset_index(drop=True),
        truth=align_truth(truth, episodes["episode_id"]),
        fingerprint=file_fingerprint([episode_file]),
        files=(episode_file,),
    )


def align_truth(truth: pd.DataFrame, episode_ids: pd.Series) -> pd.DataFrame:
    """The truth's rows in the order of `episode_ids` (each must appear exactly once)."""
    if "episode_id" not in truth.columns:
        raise ValueError("the truth lacks the column episode_id")
    duplicated = truth["episode_id"].duplicated()
    if duplicated.any():
        row = int(np.flatnonzero(duplicated.to_numpy())[0]) + 1
        raise ValueError(f"truth row {row}: episode_id appears more than once")
    indexed = truth.set_index("episode_id")
    missing = ~episode_ids.isin(indexed.index)
    if missing.any():
        row = int(np.flatnonzero(missing.to_numpy())[0]) + 1
        raise ValueError(f"episode row {row}: no truth for its episode_id")
    return indexed.loc[episode_ids.to_numpy()].reset_index(drop=True)
