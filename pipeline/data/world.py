"""A world on disk as training and evaluation read it: episodes, truth if any, a fingerprint.

Loading and validation of the files belong to `pipeline.data.register` (the register extract and
the truth loader); this module only joins what training needs: the episodes, the truth
aligned to them row by row when the directory has one (a generated world; a real register
has none), and the SHA-256 fingerprint of the episode file, which every MLflow run records.
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
        `service_id`, `propensity` (when logged), `employed_6m`, `education_6m`,
        `employed_12m`.
    truth : DataFrame or None
        Aligned row by row with `episodes`: one column per (outcome, action), named
        `pipeline.synth.world.truth_column(outcome, action)`. None for a register without
        a truth file (every real one).
    fingerprint : str
        SHA-256 of the episode file's bytes.
    files : tuple of Path
        The files the fingerprint covers.
    catalog : Catalog or None
        The catalog the episodes were read with (`pipeline.data.catalog_file`: the one asked
        for, the directory's own `catalog.json`, or the reviewed default); None: the default.
    """

    episodes: pd.DataFrame
    truth: pd.DataFrame | None
    fingerprint: str
    files: tuple[Path, ...]
    catalog: Catalog | None = None

    @property
    def has_truth(self) -> bool:
        return self.truth is not None

    @property
    def has_propensity(self) -> bool:
        """Whether the episodes carry the logged propensity of each choice."""
        return "propensity" in self.episodes.columns

    def truth_matrices(self, catalog: Catalog) -> dict[str, np.ndarray]:
        """Per outcome the ranker's targets need, the (n, n_services + 1) truth, "none" last.

        Raises
        ------
        ValueError
            The world has no truth.
        """
        if self.truth is None:
            raise ValueError("this register has no truth file")
        return truth_matrices(self.truth, catalog, TRUTH_OUTCOME_OF_TARGET.values())

    def true_outcomes(self, objective: Objective | str, catalog: Catalog) -> np.ndarray | None:
        """True probability of the objective's outcome per episode and action (None without
        a truth file)."""
        if self.truth is None:
            return None
        return true_objective_outcomes(self.truth_matrices(catalog), objective)


def load_world(
    data_dir: Path, catalog: Catalog | None = None, mapping: ExtractMapping | None = None
) -> World:
    """Load and validate a world's episodes and, when there is one, its truth.

    The truth comes back aligned with the episodes row by row; a directory without a truth
    file (a real register extract) gives `truth=None`. Without a `catalog`, the directory's
    own (`catalog.json`, written with a world drawn with another catalog) or else the
    reviewed default is used (`pipeline.data.catalog_file.resolve_catalog`). With a `mapping`
    (`pipeline.data.mapping`), the extract is renamed and recoded first; the mapping file is
    then part of what the fingerprint covers.

    Raises
    ------
    FileNotFoundError
        The episodes file is missing.
    ValueError
        A file does not validate (`RegisterValidationError` names file, row and field).
    """
    from pipeline.data.catalog_file import resolve_catalog
    from pipeline.data.layout import TRUTH_FILE, find_file
    from pipeline.data.register import load_episodes
    from pipeline.data.truth import load_truth

    directory = Path(data_dir)
    catalog = resolve_catalog(directory, catalog)
    episodes, episode_file = load_episodes(directory, catalog, mapping)
    try:
        find_file(directory, TRUTH_FILE)
    except FileNotFoundError:
        truth = None
    else:
        truth = load_truth(directory, episodes["episode_id"], catalog=catalog).reset_index(
            drop=True
        )
    files = (
        (episode_file,) if mapping is None or mapping.path is None else (episode_file, mapping.path)
    )
    return World(
        episodes=episodes.reset_index(drop=True),
        truth=truth,
        fingerprint=file_fingerprint(list(files)),
        files=files,
        catalog=catalog,
    )
