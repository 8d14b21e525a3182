"""Effects of each service against none on a Polku register, overall and by group.

The defaults of `polku effects DIR` when DIR holds a register (`episodes.parquet`):

- the units are the episodes of clients (those the gate lets in), clustered by client;
- for each catalog service, the treated arm is the episodes in which the caseworker chose
  it and the control arm those in which they chose none, among the episodes whose client
  met the service's limits (the catalog decides; outside them the service was never
  possible, so there is nothing to learn);
- the outcomes are the ranker's targets (`models.suggestions.TARGETS`):
  employment or education at six months, and employment at twelve months;
- the covariates are the need fields of the profile, plus the facts the caseworkers and the
  outcomes both depend on: age, foreign-language status, labour-market status, benefit and
  the assessment year. Protected attributes may adjust an evaluation (leaving them out
  would bias it); they still never reach the ranker;
- the default estimand is the effect on the treated (ATT): what the service did for the
  people who got it, which the logged data can answer without extrapolating to people no
  caseworker would send.

The group slices are those of the evaluation report (`models.groupings.group_labels`):
age band, language group and long-term unemployment. A group's estimate reuses the
comparison's cross-fitted nuisances and restricts the estimator's sums to the group.

A register is censored: a recent episode's outcome may not be observed yet (NaN,
`models.objectives.target_observed`). Each target is then estimated on the comparison's
episodes whose outcome for that target is known (complete cases per target), its
nuisances (propensity and outcome models) fitted on those episodes; the episodes left out
are counted per target and per comparison. A target known in every episode of a comparison
is estimated exactly as it always was (one shared fit for the targets known everywhere).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Final

import numpy as np
import pandas as pd

from models.actions import NO_SERVICE
from models.catalog import Catalog
from models.demographics import age_in_years, is_foreign_language
from models.eligibility import assess_eligibility_frame
from models.groupings import group_labels
from models.objectives import TARGETS, outcomes_from_episodes, target_observed
from models.profile import NEED_FIELDS, PROFILE_COLUMNS
from pipeline.effects.analysis import ESTIMAND_WORDS
from pipeline.effects.diagnostics import Diagnostics, diagnose, range_warnings
from pipeline.effects.estimators import (
    N_FOLDS,
    OUTCOME_MODEL_BINARY,
    PROPENSITY_MODEL,
    ComparisonFit,
    EffectsError,
    Estimand,
    Estimate,
    comparison_from_nuisances,
    design_matrix,
    fit_nuisances,
    standardise,
)

if TYPE_CHECKING:
    from pipeline.data.mapping import ExtractMapping

EXTRA_COVARIATES: Final = (
    "age",
    "foreign_language",
    "labour_market_status",
    "unemployment_benefit",
    "assessment_year",
)
REGISTER_COVARIATES: Final = (*NEED_FIELDS, *EXTRA_COVARIATES)
GROUPINGS: Final = ("age_band", "language_group", "long_term_unemployed")
# A service (or a group) needs this many episodes in each arm for an estimate.
MIN_TREATED: Final = 30
MIN_CONTROL: Final = 30
MIN_GROUP_UNITS: Final = 15


@dataclass(frozen=True)
class RegisterEpisodes:
    """Client episodes of a register, aligned row by row.

    Attributes
    ----------
    frame : typed profile columns (no henkilötunnus)
    service_id : the logged service or "none"
    outcomes : 0/1 outcomes, one column per target of `TARGETS` (NaN: not yet observed)
    covariates : the adjustment columns (`REGISTER_COVARIATES`)
    groups : group label arrays keyed by `GROUPINGS`
    clusters : client id of each episode
    allowed : bool (n_episodes, n_services), the catalog's limits
    n_all_episodes : episodes before the gate
    kept : bool per input episode, true for those kept (the clients')
    propensity : logged probability of the caseworker's choice, when the register has it
    """

    frame: pd.DataFrame
    service_id: np.ndarray
    outcomes: np.ndarray
    covariates: pd.DataFrame
    groups: dict[str, np.ndarray]
    clusters: np.ndarray
    allowed: np.ndarray
    n_all_episodes: int
    kept: np.ndarray = field(repr=False)
    propensity: np.ndarray | None = field(default=None, repr=False)
    episode_ids: np.ndarray | None = field(default=None, repr=False)


def adjustment_covariates(frame: pd.DataFrame) -> pd.DataFrame:
    """The register's covariates: need fields, age, foreign language, status, benefit, year."""
    birth = pd.to_datetime(frame["birth_date"]).to_numpy(dtype="datetime64[D]")
    on = pd.to_datetime(frame["assessment_date"])
    covariates = frame[list(NEED_FIELDS)].copy()
    covariates["age"] = age_in_years(birth, on.to_numpy(dtype="datetime64[D]")).astype(float)
    covariates["foreign_language"] = is_foreign_language(
        frame["mother_tongue"].astype(str).to_numpy(), frame["immigrant"].to_numpy(dtype=bool)
    )
    covariates["labour_market_status"] = frame["labour_market_status"].astype(str)
    covariates["unemployment_benefit"] = frame["unemployment_benefit"].astype(str)
    covariates["assessment_year"] = on.dt.year.astype(str)
    for column in NEED_FIELDS:
        if covariates[column].isna().any():
            rows = int(covariates[column].isna().sum())
            raise EffectsError(f"episodes: need field {column!r} is missing in {rows} row(s)")
    return covariates.reset_index(drop=True)


def register_episodes(
    episodes: pd.DataFrame, catalog: Catalog, *, clients_only: bool = True
) -> RegisterEpisodes:
    """Gate, align and describe the episodes of a register for the effect estimates.

    Parameters
    ----------
    episodes : one row per episode: the profile columns, `service_id` and the outcomes
    catalog : the services and their limits
    clients_only : keep only the episodes the gate admits (the experiment's clients)
    """
    missing = [c for c in ("service_id", "client_id") if c not in episodes.columns]
    if missing:
        raise EffectsError(f"episodes lack column(s) {', '.join(missing)}")
    episodes = episodes.reset_index(drop=True)
    profile = episodes[[c for c in PROFILE_COLUMNS if c in episodes.columns]]
    kept = np.ones(len(episodes), dtype=bool)
    if clients_only:
        kept = assess_eligibility_frame(profile)["eligible"].to_numpy(dtype=bool)
    if not kept.any():
        raise EffectsError("no episode belongs to a client of the experiment (the gate)")
    frame = profile.loc[kept].reset_index(drop=True)
    chosen = episodes.loc[kept, "service_id"].astype(str).to_numpy(dtype=object)
    unknown = sorted(set(chosen) - set(catalog.ids) - {NO_SERVICE})
    if unknown:
        raise EffectsError(f"episodes name service(s) not in the catalog: {', '.join(unknown)}")
    try:
        outcomes = outcomes_from_episodes(episodes.loc[kept].reset_index(drop=True))
    except ValueError as exc:
        raise EffectsError(f"episodes: {exc}") from None
    labels = group_labels(frame)
    return RegisterEpisodes(
        frame=frame,
        service_id=chosen,
        outcomes=outcomes,
        covariates=adjustment_covariates(frame),
        groups={g: labels[g] for g in GROUPINGS},
        clusters=frame["client_id"].astype(str).to_numpy(dtype=object),
        allowed=catalog.allowed_frame(frame),
        n_all_episodes=len(episodes),
        kept=kept,
        propensity=episodes.loc[kept, "propensity"].to_numpy(dtype=np.float64)
        if "propensity" in episodes.columns
        else None,
        episode_ids=episodes.loc[kept, "episode_id"].astype(str).to_numpy(dtype=object)
        if "episode_id" in episodes.columns
        else None,
    )


@dataclass(frozen=True)
class GroupEffect:
    """A service's effect within one group, from the comparison's nuisances."""

    n_treated: int
    n_control: int
    estimates: dict[str, Estimate]

    def to_dict(self) -> dict[str, object]:
        return {
            "n_treated": self.n_treated,
            "n_control": self.n_control,
            "estimates": {k: v.to_dict() for k, v in self.estimates.items()},
        }


@dataclass(frozen=True)
class ServiceEffect:
    """The effect of one service against none on one target, overall and by group."""

    service_id: str
    service_name: str
    target: str
    n_treated: int
    n_control: int
    estimates: dict[str, Estimate]
    groups: dict[str, dict[str, GroupEffect]]
    diagnostics: Diagnostics
    rows: np.ndarray = field(repr=False)
    fit: ComparisonFit = field(repr=False)
    n_unobserved: int = 0

    @property
    def warnings(self) -> list[str]:
        """The comparison's overlap and balance warnings, and any impossible estimate."""
        return [*self.diagnostics.warnings, *range_warnings(self.estimates, True)]

    def to_dict(self) -> dict[str, object]:
        return {
            "service_id": self.service_id,
            "service_name": self.service_name,
            "n_treated": self.n_treated,
            "n_control": self.n_control,
            "n_unobserved": self.n_unobserved,
            "estimates": {k: v.to_dict() for k, v in self.estimates.items()},
            "groups": {
                g: {level: e.to_dict() for level, e in levels.items()}
                for g, levels in self.groups.items()
            },
            "warnings": self.warnings,
        }


@dataclass(frozen=True)
class RegisterEffects:
    """Every service's effects on every target, and the services left out with the reason.

    Attributes
    ----------
    skipped : services not estimated at all (too few treated or control episodes)
    skipped_by_target : per target, the services whose estimate on it was left out because
        too few of their episodes have that outcome observed yet (a censored register)
    diagnostics : per service, overlap and balance over all the comparison's episodes
    n_unobserved : per target, the client episodes whose outcome is not yet observed
    """

    estimand: Estimand
    effects: tuple[ServiceEffect, ...]
    skipped: dict[str, str]
    diagnostics: dict[str, Diagnostics]
    n_episodes: int
    n_all_episodes: int
    n_bootstrap: int
    features: tuple[str, ...]
    skipped_by_target: dict[str, dict[str, str]] = field(
        default_factory=lambda: {t: {} for t in TARGETS}
    )
    n_unobserved: dict[str, int] = field(default_factory=lambda: dict.fromkeys(TARGETS, 0))

    @property
    def warnings(self) -> list[str]:
        """Each service's warnings once (overlap is shared by the targets), then per target.

        A target estimated on fewer episodes (outcomes not yet observed) has diagnostics of
        its own, and all of its warnings are listed under it.
        """
        out = [f"{sid}: {w}" for sid, d in self.diagnostics.items() for w in d.warnings]
        for e in self.effects:
            shared = self.diagnostics.get(e.service_id)
            own = e.warnings
            if e.diagnostics is shared:
                own = own[len(e.diagnostics.warnings) :]
            out += [f"{e.service_id}, {e.target}: {w}" for w in own]
        return out

    def by_target(self, target: str) -> list[ServiceEffect]:
        return [e for e in self.effects if e.target == target]

    def to_dict(self) -> dict[str, object]:
        return {
            "data": {
                "episodes": self.n_all_episodes,
                "client_episodes": self.n_episodes,
                "unobserved_client_episodes": dict(self.n_unobserved),
                "covariates": list(REGISTER_COVARIATES),
                "features": list(self.features),
                "groups": list(GROUPINGS),
            },
            "methods": {
                "estimand": ESTIMAND_WORDS[self.estimand],
                "comparison": "each service against none, among client episodes whose "
                "client met the service's limits; episodes clustered by client",
                "propensity_model": PROPENSITY_MODEL,
                "outcome_model": OUTCOME_MODEL_BINARY,
                "cross_fitting": f"{N_FOLDS} folds, stratified by arm",
                "intervals": "95 %; "
                + (
                    f"percentile bootstrap ({self.n_bootstrap} draws of clients, nuisance "
                    "predictions held fixed) for DiM, IPW and AIPW"
                    if self.n_bootstrap
                    else "cluster-robust influence function"
                ),
                "minimum_units": {
                    "treated": MIN_TREATED,
                    "control": MIN_CONTROL,
                    "per_group_arm": MIN_GROUP_UNITS,
                },
                "unobserved_outcomes": "each target on the episodes whose outcome for it is "
                "known (complete cases per target, nuisances fitted on them); the others "
                "are counted as not yet observed",
            },
            "targets": {t: [e.to_dict() for e in self.by_target(t)] for t in TARGETS},
            "diagnostics": {sid: d.to_dict() for sid, d in self.diagnostics.items()},
            "skipped": self.skipped,
            "skipped_by_target": self.skipped_by_target,
            "warnings": self.warnings,
        }


def _group_effects(
    fit: ComparisonFit,
    groups: Mapping[str, np.ndarray],
    rows: np.ndarray,
    n_bootstrap: int,
    seed: int,
) -> dict[str, dict[str, GroupEffect]]:
    out: dict[str, dict[str, GroupEffect]] = {}
    for grouping, labels in groups.items():
        levels: dict[str, GroupEffect] = {}
        sub = np.asarray(labels)[rows]
        for level in sorted({str(v) for v in sub}):
            mask = sub.astype(str) == level
            n_t = int((mask & fit.treated).sum())
            n_c = int((mask & ~fit.treated).sum())
            if min(n_t, n_c) < MIN_GROUP_UNITS:
                continue
            levels[level] = GroupEffect(
                n_t, n_c, fit.estimates(mask, n_bootstrap=n_bootstrap, seed=seed)
            )
        out[grouping] = levels
    return out


def service_effects(
    data: RegisterEpisodes,
    catalog: Catalog,
    *,
    estimand: Estimand = "att",
    n_bootstrap: int = 0,
    seed: int = 0,
    services: Sequence[str] | None = None,
) -> RegisterEffects:
    """The effect of each service against none on each target, overall and by group.

    Parameters
    ----------
    data : the register's client episodes (`register_episodes`)
    catalog : the services, in the order of `data.allowed`'s columns
    estimand : "att" (default: the effect on those who got the service) or "ate"
    n_bootstrap : bootstrap draws of clients (0: cluster-robust influence-function intervals)
    seed : seeds the folds and the bootstrap
    services : restrict to these service ids (default: the whole catalog)
    """
    design = design_matrix(data.covariates, list(data.covariates.columns))
    known = target_observed(data.outcomes)
    effects: list[ServiceEffect] = []
    skipped: dict[str, str] = {}
    skipped_by_target: dict[str, dict[str, str]] = {t: {} for t in TARGETS}
    diagnostics: dict[str, Diagnostics] = {}
    for service_id in services or catalog.ids:
        j = catalog.index(service_id)
        in_arms = (data.service_id == service_id) | (data.service_id == NO_SERVICE)
        rows = np.flatnonzero(in_arms & data.allowed[:, j])
        treated = data.service_id[rows] == service_id
        n_t, n_c = int(treated.sum()), int((~treated).sum())
        if n_t < MIN_TREATED or n_c < MIN_CONTROL:
            skipped[service_id] = (
                f"{n_t} treated and {n_c} control episodes; an estimate needs at least "
                f"{MIN_TREATED} and {MIN_CONTROL}"
            )
            continue
        fits = _fit_targets(data, design.raw, design.names, rows, treated, known, estimand, seed)
        diagnostics[service_id] = fits.overall
        for k, target in enumerate(TARGETS):
            keep = known[rows, k]
            n_t_k, n_c_k = int(treated[keep].sum()), int((~treated[keep]).sum())
            n_unobserved = len(rows) - int(keep.sum())
            if n_t_k < MIN_TREATED or n_c_k < MIN_CONTROL:
                skipped_by_target[target][service_id] = (
                    f"{n_t_k} treated and {n_c_k} control episodes with a known {target} "
                    f"outcome ({n_unobserved} not yet observed); an estimate needs at least "
                    f"{MIN_TREATED} and {MIN_CONTROL}"
                )
                continue
            fitted = fits.by_target[k]
            assert fitted is not None  # fitted for every target with enough known outcomes
            target_rows = rows[keep]
            fit = comparison_from_nuisances(
                treated[keep],
                data.outcomes[target_rows, k],
                fitted.propensity,
                fitted.n_clipped,
                fitted.mu,
                estimand,
                clusters=data.clusters[target_rows],
            )
            effects.append(
                ServiceEffect(
                    service_id=service_id,
                    service_name=catalog.name(service_id, "en"),
                    target=target,
                    n_treated=n_t_k,
                    n_control=n_c_k,
                    estimates=fit.estimates(n_bootstrap=n_bootstrap, seed=seed),
                    groups=_group_effects(fit, data.groups, target_rows, n_bootstrap, seed),
                    diagnostics=fitted.diagnostics,
                    rows=target_rows,
                    fit=fit,
                    n_unobserved=n_unobserved,
                )
            )
    return RegisterEffects(
        estimand=estimand,
        effects=tuple(effects),
        skipped=skipped,
        diagnostics=diagnostics,
        n_episodes=len(data.service_id),
        n_all_episodes=data.n_all_episodes,
        n_bootstrap=n_bootstrap,
        features=design.names,
        skipped_by_target=skipped_by_target,
        n_unobserved={t: int((~known[:, k]).sum()) for k, t in enumerate(TARGETS)},
    )


@dataclass(frozen=True)
class _TargetFit:
    """One target's cross-fitted nuisances on its known rows of a comparison."""

    propensity: np.ndarray
    n_clipped: int
    mu: tuple[np.ndarray, np.ndarray]
    diagnostics: Diagnostics


@dataclass(frozen=True)
class _ComparisonFits:
    """A comparison's diagnostics over all its rows, and each target's fit (None: too few
    known outcomes to estimate)."""

    overall: Diagnostics
    by_target: list[_TargetFit | None]


def _fit_targets(
    data: RegisterEpisodes,
    raw_all: np.ndarray,
    names: tuple[str, ...],
    rows: np.ndarray,
    treated: np.ndarray,
    known: np.ndarray,
    estimand: Estimand,
    seed: int,
) -> _ComparisonFits:
    """Cross-fit one comparison's nuisances, once per set of rows whose outcomes are known.

    The targets known on the same rows share one fit (the propensity and the fold split
    depend on the rows only); a target known everywhere is fitted on all the comparison's
    rows together with the others known everywhere, exactly as when nothing is censored.
    The comparison's own diagnostics are those of all its rows (its overlap): from the fit
    of the targets known everywhere, else from a propensity fitted on all rows.
    """
    shared: dict[bytes, list[int]] = {}
    for k in range(len(TARGETS)):
        keep = known[rows, k]
        n_t, n_c = int(treated[keep].sum()), int((~treated[keep]).sum())
        if n_t >= MIN_TREATED and n_c >= MIN_CONTROL:
            shared.setdefault(keep.tobytes(), []).append(k)
    everywhere = np.ones(len(rows), dtype=bool).tobytes()
    by_target: list[_TargetFit | None] = [None] * len(TARGETS)
    overall: Diagnostics | None = None
    for mask_bytes, ks in shared.items():
        keep = np.frombuffer(mask_bytes, dtype=bool)
        raw = raw_all[rows[keep]]
        t = treated[keep]
        outcomes = [data.outcomes[rows[keep], k] for k in ks]
        propensity, n_clipped, mus = fit_nuisances(standardise(raw), t, outcomes, seed=seed)
        diagnosed = diagnose(raw, names, t, propensity, estimand, n_clipped=n_clipped)
        for k, mu in zip(ks, mus, strict=True):
            by_target[k] = _TargetFit(propensity, n_clipped, mu, diagnosed)
        if mask_bytes == everywhere:
            overall = diagnosed
    if overall is None:
        raw = raw_all[rows]
        propensity, n_clipped, _ = fit_nuisances(standardise(raw), treated, [], seed=seed)
        overall = diagnose(raw, names, treated, propensity, estimand, n_clipped=n_clipped)
    return _ComparisonFits(overall, by_target)


def true_effect(
    effect: ServiceEffect,
    true_outcomes: np.ndarray,
    catalog: Catalog,
    within: np.ndarray | None = None,
) -> float:
    """The true effect a `ServiceEffect` estimates, from the world's truth.

    Parameters
    ----------
    effect : one service's estimate on one target
    true_outcomes : true probability of the target under each action, shape
        (n_client_episodes, n_services + 1), "none" last, aligned with the register's client
        episodes
    catalog : the services in the order of the truth's columns
    within : optional bool mask over the comparison's rows (`effect.rows`): a group

    Returns
    -------
    Mean over the treated (ATT) or over both arms (ATE) of p(service) - p(none).
    """
    j = catalog.index(effect.service_id)
    gain = true_outcomes[effect.rows, j] - true_outcomes[effect.rows, -1]
    keep = np.ones(len(gain), dtype=bool) if within is None else np.asarray(within, dtype=bool)
    if effect.fit.estimand == "att":
        keep = keep & effect.fit.treated
    return float(gain[keep].mean())


def load_register(
    directory: Path, catalog: Catalog, mapping: ExtractMapping | None = None
) -> pd.DataFrame:
    """The validated episodes of a register directory (`pipeline.data.register.load_episodes`),
    read through the extract's `mapping` (`pipeline.data.mapping`) when there is one."""
    from pipeline.data.register import RegisterValidationError, load_episodes

    try:
        episodes, _ = load_episodes(directory, catalog, mapping)
    except FileNotFoundError as exc:
        raise EffectsError(str(exc)) from None
    except RegisterValidationError as exc:
        raise EffectsError(f"the register does not validate: {exc}") from None
    return episodes
