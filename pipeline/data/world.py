"""A world on disk as training and evaluation read it: episodes, truth, and a fingerprint.

Loading and validation of the files belong to `pipeline.data.register` (the register extract and
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
from models.objectives import TRUTH_OUTCOME_OF_TARGET, Objective
from pipeline.data.episodes import file_fingerprint, true_objective_outcomes
from pipeline.data.mapping import ExtractMapping
from pipeline.data.truth import truth_matrices


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
        `pipeline.synth.world.truth_column(outcome, action)`.
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
        return truth_matrices(self.truth, catalog, TRUTH_OUTCOME_OF_TARGET.values())

    def true_outcomes(self, objective: Objective | str, catalog: Catalog) -> np.ndarray:
        """True probability of the objective's outcome per episode and action."""
        return true_objective_outcomes(self.truth_matrices(catalog), objective)


def load_world(
    data_dir: Path, catalog: Catalog | None = None, mapping: ExtractMapping | None = None
) -> World:
    """Load and validate a world's episodes and truth (`pipeline.data.register`).

    The truth comes back aligned with the episodes row by row. With a `mapping`
    (`pipeline.data.mapping`), the extract is renamed and recoded first; the mapping file is
    then part of what the fingerprint covers.

    Raises
    ------
    FileNotFoundError
        The episodes or the truth file is missing.
    ValueError
        A file does not validate (`RegisterValidationError` names file, row and field).
    """
    from pipeline.data.register import load_episodes
    from pipeline.data.truth import load_truth

    directory = Path(data_dir)
    episodes, episode_file = load_episodes(directory, catalog, mapping)
    truth = load_truth(directory, episodes["episode_id"], catalog=catalog)
    files = (
        (episode_file,) if mapping is None or mapping.path is None else (episode_file, mapping.path)
    )
    return World(
        episodes=episodes.reset_index(drop=True),
        truth=truth.reset_index(drop=True),
        fingerprint=file_fingerprint(list(files)),
        files=files,
    )
