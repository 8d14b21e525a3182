"""A synthetic Helsinki: job seekers, caseworkers' choices, outcomes and the true effects.

`generate_world(SynthConfig(n_clients=..., seed=...))` draws, with vectorised numpy only:

1. the population (`pipeline.synth.population`);
2. then, one round per assessment rank (first assessments, then each person's next one,
   which depends on what happened at the last: `pipeline.synth.population.next_assessments`):
   the catalog's limits for each assessment (`models.catalog`); the true outcome
   probabilities under every service and none (`pipeline.synth.outcomes`, with the service
   history's effect, `pipeline.synth.history`); the caseworker's choice and its exact
   propensity (`pipeline.synth.caseworkers`); the logged outcomes of the choice made.

`write_world` writes `clients.parquet`, `episodes.parquet` and `truth.parquet` (and CSV
copies on request) atomically, and `catalog.json` when the world's catalog is not the
reviewed default (`pipeline.data.catalog_file`); the formats are in `docs/DATA_CARD.md`.
The same seed gives the same bytes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

import numpy as np
import pandas as pd

from models.actions import action_ids
from models.catalog import Catalog, load_catalog
from models.demographics import is_foreign_language
from models.history import months_between
from models.objectives import EPISODE_OUTCOMES, TRUTH_OUTCOMES
from models.output_files import write_atomically
from models.profile import PROFILE_COLUMNS
from pipeline.data.catalog_file import CATALOG_FILE, write_catalog
from pipeline.data.layout import (
    CLIENT_COLUMNS,
    CLIENTS_FILE,
    EPISODE_COLUMNS,
    EPISODES_FILE,
    TRUTH_FILE,
    truth_column,
)
from pipeline.data.truth import truth_matrices
from pipeline.synth.caseworkers import choice_probabilities, draw_choices
from pipeline.synth.censoring import censor_outcomes
from pipeline.synth.history import history_effect_scale
from pipeline.synth.outcomes import draw_outcomes, truth_probabilities
from pipeline.synth.population import (
    MAX_ASSESSMENTS,
    PERIOD_START,
    Population,
    draw_population,
    first_assessments,
    next_assessments,
)
from pipeline.synth.scenarios import (
    DEFAULT_SCENARIO,
    Scenario,
    scenario_catalog,
    scenario_named,
)

_CHECK_CHARACTERS: Final = "0123456789ABCDEFHJKLMNPRSTUVWXY"


@dataclass(frozen=True, slots=True)
class SynthConfig:
    """What world to draw.

    Attributes
    ----------
    n_clients : int
        Persons in the register (each has 1-3 assessments; whether a person comes back
        depends on what happened at the last one).
    seed : int
        Seed of every random draw; the same seed gives the same world, byte for byte.
    hidden_confounder : bool
        Add an unobserved motivation that raises both the chance of an active service and
        every outcome (for sensitivity tests). Off by default.
    scenario : str
        Which structural scenario to draw (`pipeline.synth.scenarios.SCENARIOS`); the
        default, "baseline", is the world as it always was.
    censored : bool
        Write the episodes as an extract taken on the last assessment date holds them:
        outcomes whose horizon (6 or 12 months) is still ahead are blank
        (`pipeline.synth.censoring`). The truth knows them all. Off by default.
    """

    n_clients: int
    seed: int = 0
    hidden_confounder: bool = False
    scenario: str = DEFAULT_SCENARIO
    censored: bool = False

    def __post_init__(self) -> None:
        if (
            isinstance(self.n_clients, bool)
            or not isinstance(self.n_clients, int)
            or self.n_clients < 1
        ):
            raise ValueError(f"n_clients must be a positive integer, got {self.n_clients!r}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise ValueError(f"seed must be a non-negative integer, got {self.seed!r}")
        scenario_named(self.scenario)


@dataclass(frozen=True)
class GeneratedWorld:
    """A generated world in memory: what `write_world` writes as a register extract and its truth.

    Read back from disk, it is a `pipeline.data.world.World` (what training and evaluation
    read, real registers included); the generator's own view keeps the clients, the catalog
    and the configuration it was drawn with.

    Attributes
    ----------
    clients : DataFrame
        One row per person (`CLIENT_COLUMNS`), the register as at their first assessment,
        with a synthetic henkilötunnus (individual numbers 900-999, the test range).
    episodes : DataFrame
        One row per assessment (`EPISODE_COLUMNS`).
    truth : DataFrame
        `episode_id` and one float32 column per (target, action): `truth_column(t, a)`.
    catalog : Catalog
    config : SynthConfig
    """

    # Out of the repr: the clients hold (synthetic) identity codes, and a failing test or a
    # debugger prints a world's repr.
    clients: pd.DataFrame = field(repr=False)
    episodes: pd.DataFrame = field(repr=False)
    truth: pd.DataFrame = field(repr=False)
    catalog: Catalog = field(repr=False)
    config: SynthConfig

    def truth_matrix(self, target: str) -> np.ndarray:
        """True probabilities of one target, (n_episodes, n_services + 1), "none" last."""
        return truth_matrices(self.truth, self.catalog, (target,))[target]


Progress = Callable[[str], None]


def generate_world(
    config: SynthConfig, catalog: Catalog | None = None, progress: Progress | None = None
) -> GeneratedWorld:
    """Draw a world (see the module docstring).

    `catalog` (default: `models/data/catalog`) is the catalog the scenario's own is derived from
    (`pipeline.synth.scenarios.scenario_catalog`); the world keeps the derived one.
    """
    scenario = scenario_named(config.scenario)
    catalog = scenario_catalog(scenario, catalog if catalog is not None else load_catalog())
    say = progress or (lambda _message: None)
    population_seed, identity_seed, choice_seed, outcome_seed = np.random.SeedSequence(
        config.seed
    ).spawn(4)
    persons_seed, *round_seeds = population_seed.spawn(1 + MAX_ASSESSMENTS)
    choice_seeds = choice_seed.spawn(MAX_ASSESSMENTS)
    outcome_seeds = outcome_seed.spawn(MAX_ASSESSMENTS)

    say(f"population of {config.n_clients:,} persons")
    population = draw_population(config.n_clients, np.random.default_rng(persons_seed))
    hkt = synthetic_henkilotunnus(
        population.persons["birth_date"].to_numpy(dtype="datetime64[D]"),
        population.persons["gender"].to_numpy(dtype=object),
        np.random.default_rng(identity_seed),
    )

    # One round per assessment rank: a person's next assessment depends on what happened.
    rounds: list[_Round] = []
    assessments = first_assessments(population, np.random.default_rng(round_seeds[0]))
    taken = np.zeros((config.n_clients, len(catalog)), dtype=bool)
    for rank in range(MAX_ASSESSMENTS):
        if rank > 0:
            last = rounds[-1]
            assessments = next_assessments(
                population,
                last.assessments,
                last.choice < len(catalog),
                last.outcomes,
                np.random.default_rng(round_seeds[rank]),
            )
        if len(assessments) == 0:
            break
        say(f"assessments of rank {rank + 1}: {len(assessments):,}")
        person = assessments["person"].to_numpy()
        rounds.append(
            _draw_round(
                population,
                assessments,
                taken[person],
                catalog,
                config,
                scenario,
                choice_rng=np.random.default_rng(choice_seeds[rank]),
                outcome_rng=np.random.default_rng(outcome_seeds[rank]),
            )
        )
        chosen = rounds[-1].choice
        served = chosen < len(catalog)
        taken[person[served], chosen[served]] = True

    say("outcomes")
    # Episodes grouped by person, in date order.
    order = np.lexsort(
        (
            np.concatenate([r.assessments["rank"].to_numpy() for r in rounds]),
            np.concatenate([r.assessments["person"].to_numpy() for r in rounds]),
        )
    )
    profiles = pd.concat([r.profiles for r in rounds], ignore_index=True).iloc[order]
    profiles = profiles.reset_index(drop=True)
    choice = _stacked([r.choice for r in rounds], order)
    propensity = _stacked([r.propensity for r in rounds], order)
    outcomes = {
        name: _stacked([r.outcomes[name] for r in rounds], order) for name in EPISODE_OUTCOMES
    }
    truth = {name: _stacked([r.truth[name] for r in rounds], order) for name in rounds[0].truth}

    episodes = profiles.copy()
    n_episodes = len(episodes)
    episodes.insert(0, "episode_id", _ids("E", n_episodes, 8))
    episodes["service_id"] = np.array(action_ids(catalog.ids), dtype=object)[choice]
    episodes["propensity"] = propensity
    for name in EPISODE_OUTCOMES:
        episodes[name] = outcomes[name]
    episodes = episodes[list(EPISODE_COLUMNS)]
    if config.censored:
        episodes = censor_outcomes(episodes)

    first = ~episodes["client_id"].duplicated().to_numpy()
    clients = profiles.loc[first].reset_index(drop=True)
    clients.insert(1, "henkilotunnus", hkt)
    clients = clients[list(CLIENT_COLUMNS)]

    say("truth table")
    truth_frame = truth_table(episodes["episode_id"].to_numpy(), truth, catalog)
    return GeneratedWorld(
        clients=clients, episodes=episodes, truth=truth_frame, catalog=catalog, config=config
    )


def _stacked(parts: list[np.ndarray], order: np.ndarray) -> np.ndarray:
    return np.concatenate(parts)[order]


@dataclass(frozen=True)
class _Round:
    """One round of assessments (one rank) with what happened at them."""

    assessments: pd.DataFrame
    profiles: pd.DataFrame
    truth: dict[str, np.ndarray]
    choice: np.ndarray
    propensity: np.ndarray
    outcomes: dict[str, np.ndarray]


def _draw_round(
    population: Population,
    assessments: pd.DataFrame,
    taken_before: np.ndarray,
    catalog: Catalog,
    config: SynthConfig,
    scenario: Scenario,
    *,
    choice_rng: np.random.Generator,
    outcome_rng: np.random.Generator,
) -> _Round:
    """Limits, true outcomes, the caseworker's choice and the logged outcomes of one round."""
    profiles = _episode_profiles(population, assessments)
    person = assessments["person"].to_numpy()
    motivation = population.motivation[person] if config.hidden_confounder else None
    allowed = catalog.allowed_frame(profiles)
    scale = history_effect_scale(
        taken_before,
        months_between(
            assessments["last_service_date"].to_numpy(dtype="datetime64[D]"),
            assessments["assessment_date"].to_numpy(dtype="datetime64[D]"),
        ),
        catalog,
    )
    truth = truth_probabilities(
        profiles, catalog, motivation=motivation, scenario=scenario, effect_scale=scale
    )
    dates = profiles["assessment_date"].to_numpy(dtype="datetime64[M]")
    month = (dates - PERIOD_START.astype("datetime64[M]")).astype(np.int64)
    foreign = is_foreign_language(
        profiles["mother_tongue"].to_numpy(dtype=str), profiles["immigrant"].to_numpy()
    )
    # Capacity is shared within a month: each round's limit scales with its own assessments
    # of the month, so the rounds together get the month's capacity.
    probabilities = choice_probabilities(
        catalog,
        allowed,
        truth,
        month=month,
        foreign_language=foreign,
        motivation=motivation,
        scenario=scenario,
    )
    choice = draw_choices(probabilities, choice_rng)
    propensity = probabilities[np.arange(len(choice)), choice]
    outcomes = draw_outcomes(truth, choice, outcome_rng)
    return _Round(assessments, profiles, truth, choice, propensity, outcomes)


def truth_table(
    episode_ids: np.ndarray, truth: dict[str, np.ndarray], catalog: Catalog
) -> pd.DataFrame:
    """The wide truth frame: `episode_id`, then float32 `target__action` columns."""
    columns: dict[str, np.ndarray] = {"episode_id": episode_ids}
    for target in TRUTH_OUTCOMES:
        matrix = truth[target].astype(np.float32)
        for j, action in enumerate(action_ids(catalog.ids)):
            columns[truth_column(target, action)] = matrix[:, j]
    return pd.DataFrame(columns)


def _ids(prefix: str, n: int, width: int) -> np.ndarray:
    return np.char.add(prefix, np.char.zfill(np.arange(1, n + 1).astype(str), width)).astype(object)


def _episode_profiles(population: Population, assessments: pd.DataFrame) -> pd.DataFrame:
    """The typed profile frame of a round of assessments (every profile column, no
    henkilötunnus)."""
    persons = population.persons
    person = assessments["person"].to_numpy()
    frame = persons.iloc[person].reset_index(drop=True)
    frame["client_id"] = _client_ids(len(persons))[person]
    for column in (
        "assessment_date",
        "labour_market_status",
        "unemployment_benefit",
        "unemployment_months",
        "outdated_skills",
        "previous_services",
        "last_service_date",
    ):
        frame[column] = assessments[column].to_numpy()
    # A client since a date after this assessment was not yet a client at it.
    since = frame["experiment_client_since"].to_numpy()
    frame["experiment_client_since"] = np.where(
        since > frame["assessment_date"].to_numpy(), np.datetime64("NaT"), since
    )
    frame["experiment_client_since"] = frame["experiment_client_since"].astype("datetime64[s]")
    return frame[list(PROFILE_COLUMNS)]


def _client_ids(n: int) -> np.ndarray:
    return _ids("C", n, 7)


def synthetic_henkilotunnus(
    birth_dates: np.ndarray, genders: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """Valid, unique test-range codes (individual numbers 900-999) agreeing with the birth dates.

    Odd individual numbers for men, even for women (docs/domain/RULES.md §4); people without a
    recorded gender get a random parity. Century signs: `-` or (since 2023) `Y` for the 1900s,
    `A` or `B` for the 2000s.
    """
    days = np.asarray(birth_dates, dtype="datetime64[D]")
    n = len(days)
    odd = np.where(genders == "male", 1, np.where(genders == "female", 0, rng.integers(0, 2, n)))
    order = np.lexsort((np.arange(n), odd, days))
    key = days.astype(np.int64) * 2 + odd
    sorted_key = key[order]
    group_start = np.r_[0, np.flatnonzero(np.diff(sorted_key)) + 1]
    starts = np.repeat(group_start, np.diff(np.r_[group_start, n]))
    rank = np.empty(n, dtype=np.int64)
    rank[order] = np.arange(n) - starts
    if n and rank.max() >= 50:
        raise ValueError(
            "more than 50 persons share a birth date and gender; the test range has no room"
        )
    individual = 900 + 2 * rank + odd
    years = days.astype("datetime64[Y]").astype(np.int64) + 1970
    month = (days.astype("datetime64[M]") - days.astype("datetime64[Y]")).astype(np.int64) + 1
    day = (days - days.astype("datetime64[M]")).astype(np.int64) + 1
    new_sign = rng.random(n) < 0.1
    sign = np.where(years >= 2000, np.where(new_sign, "B", "A"), np.where(new_sign, "Y", "-"))
    number = day * 10_000_000 + month * 100_000 + (years % 100) * 1000 + individual
    check = np.array(list(_CHECK_CHARACTERS))[number % 31]
    prefix = np.char.zfill((day * 10_000 + month * 100 + years % 100).astype(str), 6)
    return np.char.add(
        np.char.add(np.char.add(prefix, sign), individual.astype(str)), check
    ).astype(object)


def world_files(*, csv: bool = False) -> list[str]:
    """The names `write_world` may write into its directory (`catalog.json` only if needed)."""
    suffixes = (".parquet", ".csv") if csv else (".parquet",)
    stems = (CLIENTS_FILE, EPISODES_FILE, TRUTH_FILE)
    return [*(f"{stem}{suffix}" for stem in stems for suffix in suffixes), CATALOG_FILE]


def write_world(world: GeneratedWorld, out_dir: str | Path, *, csv: bool = False) -> list[Path]:
    """Write clients, episodes and truth as Parquet (and CSV), each atomically.

    A world drawn with a catalog other than the reviewed default (a scenario's variants)
    also gets its catalog as `catalog.json`, which every reader of the directory then uses
    (`pipeline.data.catalog_file`). Returns the paths written. A failure leaves no
    half-written file behind.
    """
    out = Path(out_dir)  # made, with its parents, by the first write
    written = []
    for name, frame in (
        (CLIENTS_FILE, world.clients),
        (EPISODES_FILE, world.episodes),
        (TRUTH_FILE, world.truth),
    ):
        written.append(_atomic(out / f"{name}.parquet", frame, "parquet"))
        if csv:
            written.append(_atomic(out / f"{name}.csv", frame, "csv"))
    if world.catalog.fingerprint != load_catalog().fingerprint:
        written.append(write_catalog(world.catalog, out))
    return written


def _atomic(path: Path, frame: pd.DataFrame, kind: str) -> Path:
    def fill(temporary: Path) -> None:
        if kind == "parquet":
            frame.to_parquet(temporary, index=False)
        else:
            frame.to_csv(temporary, index=False, date_format="%Y-%m-%d", float_format="%.6g")

    write_atomically(path, fill)
    return path


__all__ = [
    "GeneratedWorld",
    "SynthConfig",
    "generate_world",
    "synthetic_henkilotunnus",
    "write_world",
]
