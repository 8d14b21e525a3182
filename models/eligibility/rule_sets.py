"""The gate's dated parameter sets: one TOML file each under `models/data/rules/`.

The parameters (experiment period, covered statuses, age limit, ...) change by law on given
dates; the assessment date chooses the set in force (`rule_set_for`), and every decision
names the set that decided it (`rules_version`).
"""

from __future__ import annotations

import datetime as dt
import functools
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from models.profile import LABOUR_MARKET_STATUSES, UNEMPLOYMENT_BENEFITS
from models.resources import package_file, rule_files

# Package data (`models.resources`): found alike in a checkout and an installed wheel.
RULES_DIR: Final = package_file("models", "data", "rules")


@dataclass(frozen=True, slots=True)
class RuleSet:
    """One dated set of the gate's parameters (one file under `models/data/rules/`).

    Attributes
    ----------
    version : str
        The name decisions carry as `rules_version`.
    title : str
        What the set is, in plain words.
    sources : tuple of str
        The legal sources it follows.
    in_force_from : datetime.date
        The first assessment date this set decides.
    period_start, period_end : datetime.date
        The experiment period under this set, both days included (condition C1).
    home_municipality : str
        Statistics Finland code of the experiment area (C2).
    covered_statuses : tuple of str
        Labour-market statuses the experiment covers (C4).
    earnings_related_benefit : str
        The benefit whose receivers are outside the no-earnings-related-allowance group.
    youth_age_limit : int
        The youth group is everyone younger than this on the assessment date.
    """

    version: str
    title: str
    sources: tuple[str, ...]
    in_force_from: dt.date
    period_start: dt.date
    period_end: dt.date
    home_municipality: str
    covered_statuses: tuple[str, ...]
    earnings_related_benefit: str
    youth_age_limit: int

    @classmethod
    def from_toml(cls, path: Path | Traversable) -> RuleSet:
        """Read and check one parameter file; errors name the file and the key."""
        name = path.name
        try:
            with path.open("rb") as handle:
                raw = tomllib.load(handle)
        except tomllib.TOMLDecodeError as error:
            raise ValueError(f"{name}: not valid TOML ({error})") from error

        def need(key: str, kind: type) -> Any:
            if key not in raw:
                raise ValueError(f"{name}: missing key {key!r}")
            value = raw[key]
            # TOML dates load as datetime.date; a datetime is a date too, so reject it apart.
            if not isinstance(value, kind) or (kind is dt.date and isinstance(value, dt.datetime)):
                raise ValueError(f"{name}: {key!r} has the wrong type ({type(value).__name__})")
            return value

        statuses: tuple[str, ...] = tuple(need("covered_statuses", list))
        unknown = sorted(set(statuses) - set(LABOUR_MARKET_STATUSES))
        if unknown:
            raise ValueError(f"{name}: unknown covered statuses {unknown}")
        benefit = need("earnings_related_benefit", str)
        if benefit not in UNEMPLOYMENT_BENEFITS:
            raise ValueError(f"{name}: unknown benefit {benefit!r}")
        rule_set = cls(
            version=str(need("version", str)),
            title=str(need("title", str)),
            sources=tuple(str(s) for s in need("sources", list)),
            in_force_from=need("in_force_from", dt.date),
            period_start=need("period_start", dt.date),
            period_end=need("period_end", dt.date),
            home_municipality=str(need("home_municipality", str)),
            covered_statuses=statuses,
            earnings_related_benefit=str(benefit),
            youth_age_limit=int(need("youth_age_limit", int)),
        )
        if rule_set.period_start > rule_set.period_end:
            raise ValueError(f"{name}: period_start is after period_end")
        return rule_set


def load_rule_sets(directory: Path | None = None) -> tuple[RuleSet, ...]:
    """Every parameter set in `directory` (default the shipped `models/data/rules/`), oldest
    `in_force_from` first.

    Raises
    ------
    ValueError
        If there is no set, a file is invalid, or two sets share a version or start date.
    """
    if directory is None:
        return _default_rule_sets()
    return _read_rule_sets(directory)


@functools.cache
def _default_rule_sets() -> tuple[RuleSet, ...]:
    return _checked_rule_sets(rule_files(), "models/data/rules")


def _read_rule_sets(directory: Path) -> tuple[RuleSet, ...]:
    return _checked_rule_sets(sorted(directory.glob("*.toml")), directory)


def _checked_rule_sets(
    files: Sequence[Path | Traversable], directory: Path | str
) -> tuple[RuleSet, ...]:
    sets = sorted((RuleSet.from_toml(p) for p in files), key=lambda s: s.in_force_from)
    if not sets:
        raise ValueError(f"no rule parameter sets (*.toml) in {directory}")
    for attr in ("version", "in_force_from"):
        values = [getattr(s, attr) for s in sets]
        if len(set(values)) != len(values):
            raise ValueError(f"rule parameter sets in {directory} share a {attr}")
    return tuple(sets)


def rule_set_index(
    assessment_dates: np.ndarray, rule_sets: Sequence[RuleSet]
) -> npt.NDArray[np.intp]:
    """Per date, the position in `rule_sets` of the set in force: the latest `in_force_from`
    not after it.

    Dates before every set fall to the first set (the nearest window); dates after the last
    period stay with the last set, which then reports them outside the period.
    """
    starts = np.array([s.in_force_from for s in rule_sets], dtype="datetime64[D]")
    index = np.searchsorted(starts, assessment_dates, side="right") - 1
    return np.asarray(np.clip(index, 0, len(rule_sets) - 1), dtype=np.intp)


def rule_set_for(date: dt.date, rule_sets: Sequence[RuleSet] | None = None) -> RuleSet:
    """The parameter set that decides an assessment on `date` (see `rule_set_index`)."""
    sets = tuple(rule_sets) if rule_sets is not None else load_rule_sets()
    index = rule_set_index(np.array([date], dtype="datetime64[D]"), sets)
    return sets[int(index[0])]


def current_rules_version(date: dt.date | None = None) -> str:
    """The `rules_version` of the set deciding assessments on `date` (default: today)."""
    return rule_set_for(date if date is not None else dt.date.today()).version
