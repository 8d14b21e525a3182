"""The eligibility gate: who is a client of Helsinki's employment services (RULES.md).

The gate is the only part of Polku that decides on its own, so it follows predefined rules
with no discretion, and every decision says why, in Finnish, Swedish and English.

Each condition (C1-C4) and each target group is one function on numpy arrays. The same
functions decide a whole frame at once (`assess_eligibility_frame`, for training and batch
scoring, with no Python loop over rows) and one profile (`assess_eligibility`, for the API,
as arrays of length one), so the two paths cannot disagree.

The parameters (experiment period, covered statuses, age limit, ...) are dated sets under
`data/rules/`, one TOML file each; the assessment date chooses the set (`rule_set_for`).
"""

from __future__ import annotations

import datetime as dt
import functools
import tomllib
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Literal, TypeVar

import numpy as np
import numpy.typing as npt
import pandas as pd

from models.demographics import age_in_years, is_foreign_language
from models.profile import LABOUR_MARKET_STATUSES, UNEMPLOYMENT_BENEFITS, ClientProfile

RULES_DIR: Final = Path(__file__).resolve().parent.parent / "data" / "rules"

# Condition codes in the order of RULES.md (C1-C5).
OUTSIDE_EXPERIMENT_PERIOD: Final = "outside_experiment_period"
NOT_HELSINKI_RESIDENT: Final = "not_helsinki_resident"
NOT_REGISTERED_JOBSEEKER: Final = "not_registered_jobseeker"
STATUS_NOT_COVERED: Final = "status_not_covered"
NO_TARGET_GROUP: Final = "no_target_group"
CONDITION_CODES: Final = (
    OUTSIDE_EXPERIMENT_PERIOD,
    NOT_HELSINKI_RESIDENT,
    NOT_REGISTERED_JOBSEEKER,
    STATUS_NOT_COVERED,
    NO_TARGET_GROUP,
)

# Target group codes in the order of RULES.md §2.
NO_EARNINGS_RELATED_ALLOWANCE: Final = "no_earnings_related_allowance"
UNDER_30: Final = "under_30"
FOREIGN_LANGUAGE: Final = "foreign_language"
CONTINUING_CLIENT: Final = "continuing_client"
GROUP_CODES: Final = (NO_EARNINGS_RELATED_ALLOWANCE, UNDER_30, FOREIGN_LANGUAGE, CONTINUING_CLIENT)

# Profile columns the gate reads; need fields and gender are deliberately absent.
GATE_INPUT_COLUMNS: Final = (
    "birth_date",
    "home_municipality",
    "mother_tongue",
    "immigrant",
    "registered_jobseeker",
    "labour_market_status",
    "unemployment_benefit",
    "experiment_client_since",
    "assessment_date",
)

REQUIRED_DATE_COLUMNS: Final = ("birth_date", "assessment_date")
REQUIRED_TEXT_COLUMNS: Final = (
    "home_municipality",
    "mother_tongue",
    "labour_market_status",
    "unemployment_benefit",
)

DECISION_COLUMNS: Final = (
    "eligible",
    "responsible_office",
    "target_groups",
    "failed_conditions",
    "reasons",
    "rules_version",
    "benefit_notice",
)

ResponsibleOffice = Literal["helsinki", "te_office"]


# --- parameter sets -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RuleSet:
    """One dated set of the gate's parameters (one file under `data/rules/`).

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
    def from_toml(cls, path: Path) -> RuleSet:
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
    """Every parameter set in `directory` (default `data/rules/`), oldest `in_force_from` first.

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
    return _read_rule_sets(RULES_DIR)


def _read_rule_sets(directory: Path) -> tuple[RuleSet, ...]:
    sets = sorted(
        (RuleSet.from_toml(p) for p in sorted(directory.glob("*.toml"))),
        key=lambda s: s.in_force_from,
    )
    if not sets:
        raise ValueError(f"no rule parameter sets (*.toml) in {directory}")
    for attr in ("version", "in_force_from"):
        values = [getattr(s, attr) for s in sets]
        if len(set(values)) != len(values):
            raise ValueError(f"rule parameter sets in {directory} share a {attr}")
    return tuple(sets)


def _rule_set_index(
    assessment_dates: np.ndarray, rule_sets: Sequence[RuleSet]
) -> npt.NDArray[np.intp]:
    """Per date, the set in force: the latest `in_force_from` not after it.

    Dates before every set fall to the first set (the nearest window); dates after the last
    period stay with the last set, which then reports them outside the period.
    """
    starts = np.array([s.in_force_from for s in rule_sets], dtype="datetime64[D]")
    index = np.searchsorted(starts, assessment_dates, side="right") - 1
    return np.asarray(np.clip(index, 0, len(rule_sets) - 1), dtype=np.intp)


def rule_set_for(date: dt.date, rule_sets: Sequence[RuleSet] | None = None) -> RuleSet:
    """The parameter set that decides an assessment on `date` (see `_rule_set_index`)."""
    sets = tuple(rule_sets) if rule_sets is not None else load_rule_sets()
    index = _rule_set_index(np.array([date], dtype="datetime64[D]"), sets)
    return sets[int(index[0])]


def current_rules_version(date: dt.date | None = None) -> str:
    """The `rules_version` of the set deciding assessments on `date` (default: today)."""
    return rule_set_for(date if date is not None else dt.date.today()).version


# --- the rules, one function each, on numpy arrays --------------------------------------------


def _is_one_of(values: np.ndarray, allowed: Sequence[str]) -> np.ndarray:
    # A few equality passes beat np.isin on object arrays of Python strings.
    result = np.zeros(values.shape, dtype=bool)
    for value in allowed:
        result |= values == value
    return result


def inside_experiment_period(
    assessment_date: np.ndarray, period_start: np.ndarray, period_end: np.ndarray
) -> np.ndarray:
    """C1: the assessment date lies inside the experiment period (both ends included)."""
    return np.asarray((assessment_date >= period_start) & (assessment_date <= period_end))


def lives_in_municipality(home_municipality: np.ndarray, municipality: str) -> np.ndarray:
    """C2: the home municipality (kotikunta) is the experiment area's."""
    return np.asarray(home_municipality == municipality, dtype=bool)


def is_registered_jobseeker(registered_jobseeker: np.ndarray) -> np.ndarray:
    """C3: registered as a job seeker at the TE office."""
    return np.asarray(registered_jobseeker, dtype=bool)


def has_covered_status(labour_market_status: np.ndarray, covered: Sequence[str]) -> np.ndarray:
    """C4: the labour-market status is one the experiment covers."""
    return _is_one_of(labour_market_status, covered)


def has_no_earnings_related_allowance(
    unemployment_benefit: np.ndarray, earnings_related_benefit: str
) -> np.ndarray:
    """Group: not entitled to earnings-related allowance (any other benefit, or none)."""
    return np.asarray(unemployment_benefit != earnings_related_benefit, dtype=bool)


def is_under_age_limit(
    birth_date: np.ndarray, assessment_date: np.ndarray, age_limit: np.ndarray
) -> np.ndarray:
    """Group: younger than the age limit on the assessment date."""
    return np.asarray(age_in_years(birth_date, assessment_date) < age_limit)


def is_foreign_language_speaker(mother_tongue: np.ndarray, immigrant: np.ndarray) -> np.ndarray:
    """Group: mother tongue not a national language, or an immigrant (models.demographics)."""
    return is_foreign_language(mother_tongue, immigrant)


def is_continuing_client(
    experiment_client_since: np.ndarray, assessment_date: np.ndarray
) -> np.ndarray:
    """Group: already a client of the experiment on the assessment date."""
    since = np.asarray(experiment_client_since, dtype="datetime64[D]")
    return np.asarray(~np.isnat(since) & (since <= assessment_date))


# --- evaluation shared by both paths ----------------------------------------------------------

_H = TypeVar("_H", bound=Hashable)


def _per_rule_set(
    set_index: np.ndarray,
    rule_sets: Sequence[RuleSet],
    parameter: Callable[[RuleSet], _H],
    rule: Callable[[_H], np.ndarray],
) -> np.ndarray:
    """Apply `rule` with each row's own parameter value, once per distinct value."""
    values = [parameter(s) for s in rule_sets]
    distinct = list(dict.fromkeys(values))
    if len(distinct) == 1:
        return rule(distinct[0])
    result = np.zeros(set_index.shape, dtype=bool)
    for value in distinct:
        rows = np.isin(set_index, [k for k, v in enumerate(values) if v == value])
        result[rows] = rule(value)[rows]
    return result


def _evaluate(
    columns: dict[str, np.ndarray], rule_sets: Sequence[RuleSet]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Failed-condition bits, group bits and rule-set index for every row.

    Bit k of the first array is set when `CONDITION_CODES[k]` fails; bit k of the second
    when `GROUP_CODES[k]` holds.
    """
    date = columns["assessment_date"]
    index = _rule_set_index(date, rule_sets)
    start = np.array([s.period_start for s in rule_sets], dtype="datetime64[D]")[index]
    end = np.array([s.period_end for s in rule_sets], dtype="datetime64[D]")[index]
    age_limit = np.array([s.youth_age_limit for s in rule_sets], dtype=np.int64)[index]

    def by_set(parameter: Callable[[RuleSet], _H], rule: Callable[[_H], np.ndarray]) -> np.ndarray:
        return _per_rule_set(index, rule_sets, parameter, rule)

    groups = (
        by_set(
            lambda s: s.earnings_related_benefit,
            lambda b: has_no_earnings_related_allowance(columns["unemployment_benefit"], b),
        ),
        is_under_age_limit(columns["birth_date"], date, age_limit),
        is_foreign_language_speaker(columns["mother_tongue"], columns["immigrant"]),
        is_continuing_client(columns["experiment_client_since"], date),
    )
    holds = (
        inside_experiment_period(date, start, end),
        by_set(
            lambda s: s.home_municipality,
            lambda m: lives_in_municipality(columns["home_municipality"], m),
        ),
        is_registered_jobseeker(columns["registered_jobseeker"]),
        by_set(
            lambda s: s.covered_statuses,
            lambda c: has_covered_status(columns["labour_market_status"], c),
        ),
        groups[0] | groups[1] | groups[2] | groups[3],
    )
    failed_bits = np.zeros(date.shape, dtype=np.int64)
    for bit, condition in enumerate(holds):
        failed_bits |= (~condition).astype(np.int64) << bit
    group_bits = np.zeros(date.shape, dtype=np.int64)
    for bit, group in enumerate(groups):
        group_bits |= group.astype(np.int64) << bit
    return failed_bits, group_bits, index


# --- the decision -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LocalizedText:
    """One message in Finnish, Swedish and English."""

    fi: str
    sv: str
    en: str


@dataclass(frozen=True, slots=True)
class Reason:
    """Why a condition failed or a target group holds, in the three languages.

    Attributes
    ----------
    code : str
        A condition code (`CONDITION_CODES`) or a group code (`GROUP_CODES`).
    fi, sv, en : str
        The plain-language reason.
    """

    code: str
    fi: str
    sv: str
    en: str


BENEFIT_NOTICE: Final = LocalizedText(
    fi="Tämä päätös koskee vain sitä, kuka järjestää työllisyyspalvelusi. "
    "Työttömyysetuuksia koskevat päätökset tekee edelleen TE-toimisto.",
    sv="Detta beslut gäller endast vem som ordnar dina sysselsättningstjänster. "
    "Besluten om arbetslöshetsförmåner fattas fortfarande av TE-byrån.",
    en="This decision only concerns who provides your employment services. "
    "Decisions on unemployment benefits stay with the TE office.",
)


def _reason(code: str, rules: RuleSet) -> Reason:
    start, end = rules.period_start.isoformat(), rules.period_end.isoformat()
    limit = rules.youth_age_limit
    texts = {
        OUTSIDE_EXPERIMENT_PERIOD: (
            f"Arviointipäivä on kuntakokeilun kokeiluajan {start}–{end} ulkopuolella.",
            f"Bedömningsdagen ligger utanför kommunförsökets försöksperiod {start}–{end}.",
            f"The assessment date is outside the experiment period {start} to {end}.",
        ),
        NOT_HELSINKI_RESIDENT: (
            f"Kotikunta ei ole Helsinki (kuntanumero {rules.home_municipality}).",
            f"Hemkommunen är inte Helsingfors (kommunkod {rules.home_municipality}).",
            f"The home municipality is not Helsinki (municipality code {rules.home_municipality}).",
        ),
        NOT_REGISTERED_JOBSEEKER: (
            "Ei ole ilmoittautunut työnhakijaksi TE-toimistoon.",
            "Är inte anmäld som arbetssökande vid TE-byrån.",
            "Not registered as a job seeker at the TE office.",
        ),
        STATUS_NOT_COVERED: (
            "Työmarkkinatilanne ei kuulu kokeiluun. Kokeiluun kuuluvat työttömät, "
            "kokoaikaisesti lomautetut, palkkatuetussa työssä olevat ja työllistymistä "
            "edistävissä palveluissa olevat.",
            "Ställningen på arbetsmarknaden omfattas inte av försöket. Försöket omfattar "
            "arbetslösa, helt permitterade, personer i lönesubventionerat arbete och "
            "personer i sysselsättningsfrämjande service.",
            "The labour-market status is not covered by the experiment. It covers the "
            "unemployed, the fully laid off, people in pay-subsidised work and people in "
            "employment-promoting services.",
        ),
        NO_TARGET_GROUP: (
            "Ei kuulu mihinkään kokeilun kohderyhmään eikä ole jo kokeilun asiakas.",
            "Hör inte till någon av försökets målgrupper och är inte redan kund i försöket.",
            "Belongs to none of the experiment's target groups and is not already a client.",
        ),
        NO_EARNINGS_RELATED_ALLOWANCE: (
            "Kohderyhmä: ei oikeutta ansiosidonnaiseen työttömyyspäivärahaan.",
            "Målgrupp: ingen rätt till inkomstrelaterad arbetslöshetsdagpenning.",
            "Target group: not entitled to earnings-related unemployment allowance.",
        ),
        UNDER_30: (
            f"Kohderyhmä: alle {limit}-vuotias arviointipäivänä.",
            f"Målgrupp: under {limit} år på bedömningsdagen.",
            f"Target group: under {limit} years old on the assessment date.",
        ),
        FOREIGN_LANGUAGE: (
            "Kohderyhmä: vieraskielinen tai maahanmuuttaja.",
            "Målgrupp: främmandespråkig eller invandrare.",
            "Target group: foreign-language speaker or immigrant.",
        ),
        CONTINUING_CLIENT: (
            "On jo kokeilun asiakas; asiakkuus jatkuu koko kokeilun ajan.",
            "Är redan kund i försöket; kundrelationen gäller under hela försöket.",
            "Already a client of the experiment; client status lasts the whole experiment.",
        ),
    }
    fi, sv, en = texts[code]
    return Reason(code=code, fi=fi, sv=sv, en=en)


@dataclass(frozen=True, slots=True)
class EligibilityDecision:
    """The gate's decision for one profile.

    Attributes
    ----------
    eligible : bool
        True when every condition C1-C5 holds.
    responsible_office : {"helsinki", "te_office"}
        Helsinki's employment services when eligible, else the TE office.
    target_groups : tuple of str
        Every target group that holds (`GROUP_CODES` order), whether or not a condition fails.
    failed_conditions : tuple of str
        Every condition that fails (`CONDITION_CODES` order); empty when eligible.
    reasons : tuple of Reason
        One per failed condition, then one per target group that holds.
    rules_version : str
        The parameter set that decided.
    benefit_notice : LocalizedText
        That benefit decisions stay with the TE office: the gate never decides benefits.
    """

    eligible: bool
    responsible_office: ResponsibleOffice
    target_groups: tuple[str, ...]
    failed_conditions: tuple[str, ...]
    reasons: tuple[Reason, ...]
    rules_version: str
    benefit_notice: LocalizedText = BENEFIT_NOTICE


_GROUP_BITS: Final = len(GROUP_CODES)
_CONDITION_BITS: Final = len(CONDITION_CODES)


@functools.lru_cache(maxsize=4096)
def _decision_for(failed_bits: int, group_bits: int, rules: RuleSet) -> EligibilityDecision:
    """The decision for one combination of bits; few combinations exist, so it is cached."""
    failed = tuple(c for k, c in enumerate(CONDITION_CODES) if failed_bits >> k & 1)
    groups = tuple(g for k, g in enumerate(GROUP_CODES) if group_bits >> k & 1)
    return EligibilityDecision(
        eligible=not failed,
        responsible_office="te_office" if failed else "helsinki",
        target_groups=groups,
        failed_conditions=failed,
        reasons=tuple(_reason(code, rules) for code in failed + groups),
        rules_version=rules.version,
    )


def _gate_columns(frame: pd.DataFrame) -> dict[str, np.ndarray]:
    """The gate's columns as numpy arrays, refusing what would silently decide wrongly."""
    missing = [c for c in GATE_INPUT_COLUMNS if c not in frame.columns]
    if missing:
        raise ValueError(f"profile frame lacks the gate's columns: {', '.join(missing)}")
    columns: dict[str, np.ndarray] = {}
    for name in ("birth_date", "experiment_client_since", "assessment_date"):
        values = frame[name]
        if not pd.api.types.is_datetime64_any_dtype(values.dtype):
            values = pd.to_datetime(values)
        columns[name] = values.to_numpy().astype("datetime64[D]")
    for name in ("immigrant", "registered_jobseeker"):
        if not pd.api.types.is_bool_dtype(frame[name].dtype):
            raise ValueError(f"{name} must be a bool column, not {frame[name].dtype}")
        columns[name] = frame[name].to_numpy(dtype=bool)
    for name in REQUIRED_TEXT_COLUMNS:
        columns[name] = frame[name].to_numpy(dtype=object)
    # A missing value would pass for "not Helsinki" or "a foreign language": refuse it.
    missing_counts = {name: int(np.isnat(columns[name]).sum()) for name in REQUIRED_DATE_COLUMNS}
    missing_counts |= {name: int(frame[name].isna().sum()) for name in REQUIRED_TEXT_COLUMNS}
    for name, count in missing_counts.items():
        if count:
            raise ValueError(f"{name} is missing in {count} row(s) of the profile frame")
    return columns


def _rule_sets(rules: RuleSet | None) -> tuple[RuleSet, ...]:
    return (rules,) if rules is not None else load_rule_sets()


def assess_eligibility(
    profile: ClientProfile, *, rules: RuleSet | None = None
) -> EligibilityDecision:
    """Decide whether one client belongs to Helsinki's employment services.

    Parameters
    ----------
    profile : ClientProfile
        A validated profile (see `models.profile_validation.parse_profile`).
    rules : RuleSet, optional
        Decide under this parameter set; by default the set in force on the assessment date.

    Returns
    -------
    EligibilityDecision

    Examples
    --------
    >>> import datetime as dt
    >>> p = ClientProfile(client_id="c1", birth_date=dt.date(2000, 1, 1),
    ...     home_municipality="091", mother_tongue="fi", immigrant=False,
    ...     registered_jobseeker=True, labour_market_status="unemployed",
    ...     unemployment_benefit="earnings_related_allowance",
    ...     assessment_date=dt.date(2023, 1, 2))
    >>> d = assess_eligibility(p)
    >>> d.eligible, d.target_groups, d.rules_version
    (True, ('under_30',), 'kuntakokeilu-amendment-2022')
    """
    columns = {
        "birth_date": np.array([profile.birth_date], dtype="datetime64[D]"),
        "home_municipality": np.array([profile.home_municipality], dtype=object),
        "mother_tongue": np.array([profile.mother_tongue], dtype=object),
        "immigrant": np.array([profile.immigrant], dtype=bool),
        "registered_jobseeker": np.array([profile.registered_jobseeker], dtype=bool),
        "labour_market_status": np.array([profile.labour_market_status], dtype=object),
        "unemployment_benefit": np.array([profile.unemployment_benefit], dtype=object),
        "experiment_client_since": np.array(
            [profile.experiment_client_since or "NaT"], dtype="datetime64[D]"
        ),
        "assessment_date": np.array([profile.assessment_date], dtype="datetime64[D]"),
    }
    sets = _rule_sets(rules)
    failed_bits, group_bits, index = _evaluate(columns, sets)
    return _decision_for(int(failed_bits[0]), int(group_bits[0]), sets[int(index[0])])


def assess_eligibility_frame(frame: pd.DataFrame, *, rules: RuleSet | None = None) -> pd.DataFrame:
    """Decide for every profile of a typed profile frame at once.

    Parameters
    ----------
    frame : pandas.DataFrame
        A typed profile frame (`models.profile_validation.parse_profile_frame(...).frame`, or
        any frame with the gate's columns: dates as datetime64, booleans as bool).
    rules : RuleSet, optional
        Decide every row under this set; by default each row's assessment date chooses.

    Returns
    -------
    pandas.DataFrame
        Index-aligned with `frame`; columns `DECISION_COLUMNS`, with the same values as
        `assess_eligibility` gives row by row (`target_groups`, `failed_conditions` and
        `reasons` as tuples, `benefit_notice` a `LocalizedText`).
    """
    columns = _gate_columns(frame)
    sets = _rule_sets(rules)
    failed_bits, group_bits, index = _evaluate(columns, sets)
    # Rows share few distinct outcomes: decide each distinct one once, then spread it out.
    keys = (index << (_CONDITION_BITS + _GROUP_BITS)) | (failed_bits << _GROUP_BITS) | group_bits
    distinct, inverse = np.unique(keys, return_inverse=True)
    decisions = [
        _decision_for(
            int(key >> _GROUP_BITS) & ((1 << _CONDITION_BITS) - 1),
            int(key) & ((1 << _GROUP_BITS) - 1),
            sets[int(key >> (_CONDITION_BITS + _GROUP_BITS))],
        )
        for key in distinct
    ]

    def spread(attribute: str) -> np.ndarray:
        table = np.empty(len(decisions), dtype=object)
        for position, decision in enumerate(decisions):  # one pass per distinct outcome
            table[position] = getattr(decision, attribute)
        return table[inverse.ravel()]

    return pd.DataFrame(
        {
            "eligible": failed_bits == 0,
            "responsible_office": np.where(failed_bits == 0, "helsinki", "te_office"),
            "target_groups": spread("target_groups"),
            "failed_conditions": spread("failed_conditions"),
            "reasons": spread("reasons"),
            "rules_version": spread("rules_version"),
            "benefit_notice": spread("benefit_notice"),
        },
        index=frame.index,
    )
