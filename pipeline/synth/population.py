"""The synthetic population: Helsinki's job seekers and their assessments, 2021-03 to 2023-06.

`draw_population` draws persons (fixed traits); `first_assessments` their first assessment and
`next_assessments` each later one from what happened at the one before (up to
`MAX_ASSESSMENTS`, one vectorised round per rank): the employed come back less, a returning
person's unemployment carries on from the earlier spell, and their service history is kept.
Which figure of docs/domain/CALIBRATION.md set which parameter is said beside each constant and in
`docs/DATA_CARD.md`; constants without a figure are labelled assumptions.

Correlations built in: one latent disadvantage (older people have more of it) drives long
unemployment, health and mental-health barriers, debt, partial work ability and outdated
skills; debt raises housing insecurity; Finnish/Swedish level grows with years in Finland
and education; the young more often lack a vocational qualification.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import numpy as np
import pandas as pd
from scipy.special import ndtr, ndtri

from models.profile import (
    EDUCATION_LEVELS,
    HELSINKI_MUNICIPALITY,
    LABOUR_MARKET_STATUSES,
    LANGUAGE_LEVELS,
)

PERIOD_START: Final = np.datetime64("2021-03-01", "D")
PERIOD_END: Final = np.datetime64("2023-06-30", "D")

# Foreign-language share of the register: docs/domain/CALIBRATION.md "foreign-language
# unemployed ≈ 30 % (Nov 2021)"; slightly above it because the register also holds people in
# services.
FOREIGN_SHARE: Final = 0.32
FOREIGN_TONGUES: Final = {  # assumed mix, largest groups of Helsinki's foreign-language residents
    "ru": 0.18,
    "so": 0.12,
    "ar": 0.12,
    "et": 0.10,
    "en": 0.08,
    "fa": 0.06,
    "ku": 0.05,
    "zh": 0.04,
    "vi": 0.04,
    "tr": 0.03,
    "th": 0.03,
    "es": 0.03,
    "uk": 0.03,
    "fr": 0.03,
    "pl": 0.03,
    "sq": 0.03,
}
NATIONAL_TONGUES: Final = {"fi": 0.930, "sv": 0.065, "se": 0.003, "smn": 0.001, "sms": 0.001}
# Age bands at the first assessment (assumed), set so under-30s are ≈ 16 % of the unemployed
# (docs/domain/CALIBRATION.md, Oct 2022) and 20-30 % of the clients (assumed figure).
AGE_BANDS: Final = (
    (17, 20, 0.03),
    (20, 25, 0.075),
    (25, 30, 0.095),
    (30, 35, 0.12),
    (35, 40, 0.12),
    (40, 45, 0.12),
    (45, 50, 0.12),
    (50, 55, 0.12),
    (55, 60, 0.115),
    (60, 65, 0.085),
)
# Home municipality (assumed): a few in Espoo (049), Vantaa (092), Kauniainen, Kerava.
MUNICIPALITIES: Final = {
    HELSINKI_MUNICIPALITY: 0.96,
    "049": 0.018,
    "092": 0.018,
    "235": 0.003,
    "245": 0.004,
}
REGISTERED_SHARE: Final = 0.985  # assumed
# Long-term (12+ months) share of the unemployed by date: docs/domain/CALIBRATION.md (Nov 2021 52 %,
# Oct 2022 45 %, Dec 2023 40 %), interpolated linearly and held flat outside.
LONG_TERM_TARGETS: Final = (("2021-11-15", 0.52), ("2022-10-15", 0.45), ("2023-12-15", 0.40))
# Fully laid off share of job seekers: docs/domain/CALIBRATION.md "19-22 % (Feb-Mar 2021, COVID)",
# decaying to an assumed 5 % with a 4-month half-life.
LAID_OFF_START: Final = 0.215
LAID_OFF_FLOOR: Final = 0.05
# In services + pay-subsidised: docs/domain/CALIBRATION.md "activation rate 18.8 % -> 21.9 %
# (2021)".
IN_SERVICES_SHARE: Final = 0.14
PAY_SUBSIDISED_SHARE: Final = 0.06
# Statuses the gate does not cover (assumed shares of the register).
EMPLOYED_SHARE: Final = 0.03
SHORT_TIME_SHARE: Final = 0.015
STUDENT_SHARE: Final = 0.012
OUTSIDE_SHARE: Final = 0.008
PENSION_SHARE_60_PLUS: Final = 0.04
# Membership of an unemployment fund (assumed): decides earnings-related vs basic allowance.
FUND_MEMBERSHIP: Final = {"national": 0.70, "foreign": 0.42, "under_25": 0.30}
EARNINGS_RELATED_MAX_MONTHS: Final = 18  # 400 benefit days (assumed typical maximum)
# Persons who had been experiment clients before their first assessment here (assumed; about
# 50,000 were transferred in March 2021, docs/domain/CALIBRATION.md). Sets the gate's
# continuing clients.
CONTINUING_CLIENT_SHARE: Final = 0.6
# Repeated assessments (assumed): at most three per person, the next 4-9 months after the
# last; whether a person comes back depends on the earlier episode's outcomes: the employed
# at 12 months rarely do. P(return) = BASE x the factor of each outcome that happened.
MAX_ASSESSMENTS: Final = 3
RETURN_GAP_DAYS: Final = (120, 270)
RETURN_BASE: Final = 0.72
RETURN_FACTOR: Final = {"employed_12m": 0.3, "employed_6m": 0.65, "education_6m": 0.65}
# Share of services that interrupt the unemployment spell (assumed: the longer ones, such as
# training, pay-subsidised work and work trials, do; short coaching does not).
SPELL_BREAK_SHARE: Final = 0.5
# Statuses whose unemployment length is not a continuing spell (drawn fresh, as at a first one).
_FRESH_SPELL_STATUSES: Final = ("laid_off", "employed", "short_time_work")

# Years of schooling beyond basic and the mixes below are in `EDUCATION_LEVELS` order.
_EDUCATION_YEARS: Final = np.array([0, 0, 1, 2, 4, 6], dtype=np.float64)
# Education mix (assumed): the young lack vocational qualifications more often;
# foreign-language job seekers are more often at both ends.
_EDUCATION_MIX: Final = {
    "young": (0.05, 0.38, 0.30, 0.19, 0.07, 0.01),
    "national": (0.02, 0.20, 0.11, 0.37, 0.18, 0.12),
    "foreign": (0.12, 0.25, 0.12, 0.18, 0.16, 0.17),
}
# Finnish/Swedish level thresholds of the latent language score (A0 ... C2, then native).
_LANGUAGE_CUTS: Final = np.array([-1.0, -0.4, 0.2, 0.9, 1.6, 2.3, 3.0])


@dataclass(frozen=True)
class Population:
    """Persons, and what their assessments are drawn from.

    Attributes
    ----------
    persons : DataFrame
        One row per person: fixed traits (`birth_date`, `gender`, `mother_tongue`,
        `immigrant`, `home_municipality`, `education_level`, `work_experience_years`,
        `language_level`, `work_ability`, person-level barriers, `entrepreneurship_interest`,
        `experiment_client_since`, `registered_jobseeker`).
    motivation : ndarray
        Hidden motivation of each person (standard normal; used only when the world has a
        hidden confounder).
    first_date : datetime64[D] ndarray
        Day of each person's first assessment.
    traits : dict of str -> ndarray
        Hidden per-person draws the episode states depend on (`disadvantage`,
        `person_noise`, `fund_member`, ...).
    """

    persons: pd.DataFrame
    motivation: np.ndarray
    first_date: np.ndarray
    traits: dict[str, np.ndarray]


# Columns of a round of assessments (`first_assessments`, `next_assessments`).
ASSESSMENT_COLUMNS: Final = (
    "person",
    "rank",
    "assessment_date",
    "labour_market_status",
    "unemployment_benefit",
    "unemployment_months",
    "outdated_skills",
    "previous_services",
    "last_service_date",
)


def _categorical(rng: np.random.Generator, probabilities: np.ndarray) -> np.ndarray:
    """One draw per row from rows of category probabilities (inverse CDF, vectorised)."""
    cumulative = np.cumsum(probabilities, axis=1)
    u = rng.random(len(probabilities))[:, None] * cumulative[:, -1:]
    return np.minimum((u >= cumulative).sum(axis=1), probabilities.shape[1] - 1)


def _choice(rng: np.random.Generator, table: dict[str, float], n: int) -> np.ndarray:
    keys = np.array(list(table), dtype=object)
    weights = np.array(list(table.values()))
    return keys[rng.choice(len(keys), size=n, p=weights / weights.sum())]


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def long_term_target(dates: np.ndarray) -> np.ndarray:
    """docs/domain/CALIBRATION.md's long-term-unemployed share on each date (linear between)."""
    days = np.asarray(dates, dtype="datetime64[D]").astype(np.int64)
    xs = np.array([np.datetime64(d, "D").astype(np.int64) for d, _ in LONG_TERM_TARGETS])
    ys = np.array([share for _, share in LONG_TERM_TARGETS])
    return np.interp(days, xs, ys)


def laid_off_share(dates: np.ndarray) -> np.ndarray:
    """Share of the fully laid off on each date: COVID peak in spring 2021, then decay."""
    months = (np.asarray(dates, dtype="datetime64[D]") - PERIOD_START).astype(np.int64) / 30.44
    return LAID_OFF_FLOOR + (LAID_OFF_START - LAID_OFF_FLOOR) * np.exp(-months * np.log(2) / 4.0)


def draw_population(n_clients: int, rng: np.random.Generator) -> Population:
    """Draw `n_clients` persons (their assessments: `first_assessments`, `next_assessments`)."""
    n = n_clients
    foreign = rng.random(n) < FOREIGN_SHARE
    mother_tongue = np.where(
        foreign, _choice(rng, FOREIGN_TONGUES, n), _choice(rng, NATIONAL_TONGUES, n)
    ).astype(object)
    # Most foreign-language speakers immigrated; a few Finnish/Swedish speakers are returnees.
    immigrant = np.where(foreign, rng.random(n) < 0.93, rng.random(n) < 0.015)
    band = rng.choice(len(AGE_BANDS), size=n, p=[b[2] for b in AGE_BANDS])
    low = np.array([b[0] for b in AGE_BANDS])[band]
    high = np.array([b[1] for b in AGE_BANDS])[band]
    age = low + rng.random(n) * (high - low)
    period_days = int((PERIOD_END - PERIOD_START).astype(np.int64))
    first_date = PERIOD_START + rng.integers(0, period_days + 1, size=n).astype("timedelta64[D]")
    birth_date = first_date - np.floor(age * 365.25).astype("timedelta64[D]")
    gender = _choice(rng, {"male": 0.52, "female": 0.465, "other": 0.005, "": 0.01}, n)
    gender = np.where(gender == "", np.array(None, dtype=object), gender)

    young = age < 25
    mix = np.where(
        young[:, None],
        np.array(_EDUCATION_MIX["young"]),
        np.where(
            foreign[:, None],
            np.array(_EDUCATION_MIX["foreign"]),
            np.array(_EDUCATION_MIX["national"]),
        ),
    )
    education_idx = _categorical(rng, mix)
    education = np.array(EDUCATION_LEVELS, dtype=object)[education_idx]

    # Latent disadvantage: older people carry more of it (standard normal overall).
    age_z = (age - 42.0) / 13.0
    disadvantage = 0.35 * age_z + np.sqrt(1 - 0.35**2) * rng.standard_normal(n)
    motivation = rng.standard_normal(n)
    years_in_finland = np.where(
        immigrant & foreign,
        np.minimum(rng.gamma(1.6, 5.0, n), age - 1),
        np.where(foreign, age, 0.0),
    )
    language_score = (
        -0.9
        + 0.15 * np.minimum(years_in_finland, 20)
        + 0.35 * (education_idx >= 4)
        - 0.2 * (education_idx <= 1)
        + 0.8 * rng.standard_normal(n)
    )
    language_idx = np.searchsorted(_LANGUAGE_CUTS, language_score)
    # Foreign-language speakers raised in Finland are mostly native in Finnish or Swedish.
    born_here = foreign & ~immigrant
    language_idx = np.where(
        born_here & (rng.random(n) < 0.7), len(LANGUAGE_LEVELS) - 1, language_idx
    )
    language = np.where(
        foreign, np.array(LANGUAGE_LEVELS, dtype=object)[language_idx], "native"
    ).astype(object)
    low_language = foreign & (language_idx <= 2)

    experience = np.maximum(age - 18.0 - _EDUCATION_YEARS[education_idx], 0.0) * rng.beta(4, 2, n)
    experience *= np.where(immigrant, 0.7, 1.0) * np.exp(-0.15 * np.maximum(disadvantage, 0))
    experience = np.round(np.clip(experience, 0.0, np.maximum(age - 15.0, 0.0)) * 2) / 2

    male = gender == "male"
    female = gender == "female"
    partial = rng.random(n) < _sigmoid(-2.8 + 0.9 * disadvantage + 0.03 * (age - 45))
    barriers = {
        "health_limitations": _sigmoid(
            -1.9 + 0.8 * disadvantage + 0.035 * (age - 45) + 0.8 * partial
        ),
        "mental_health_needs": _sigmoid(
            -2.1 + 0.8 * disadvantage - 0.01 * (age - 45) + 0.4 * partial
        ),
        "substance_use": _sigmoid(-3.4 + 0.7 * disadvantage + 0.4 * male),
        "debt_problems": _sigmoid(-2.3 + 0.6 * disadvantage),
        "caregiving_duties": _sigmoid(
            -2.4 + 0.8 * female + 0.4 * foreign - 0.04 * np.abs(age - 38)
        ),
        "low_digital_skills": _sigmoid(
            -2.8 + 0.05 * (age - 45) + 0.8 * (education_idx <= 1) + 0.5 * low_language
        ),
    }
    flags = {name: rng.random(n) < p for name, p in barriers.items()}
    # Debt problems raise housing insecurity.
    flags["housing_insecurity"] = rng.random(n) < _sigmoid(
        -3.1 + 0.4 * disadvantage + 1.4 * flags["debt_problems"]
    )

    interest_score = (
        0.25 * (education_idx >= 3)
        + 0.03 * np.minimum(experience, 15)
        - 0.3 * disadvantage
        + 0.9 * rng.standard_normal(n)
    )
    interest = np.where(
        interest_score > 2.0, "business_plan", np.where(interest_score > 1.1, "some", "none")
    )

    fund_member = rng.random(n) < np.where(
        age < 25,
        FUND_MEMBERSHIP["under_25"],
        np.where(foreign, FUND_MEMBERSHIP["foreign"], FUND_MEMBERSHIP["national"]),
    )
    municipality = _choice(rng, MUNICIPALITIES, n)
    registered = rng.random(n) < REGISTERED_SHARE

    # Persons who were experiment clients before their first assessment here (continuing
    # clients, whatever their benefit now): many were transferred when the experiment began.
    was_client = rng.random(n) < CONTINUING_CLIENT_SHARE
    since_offset = rng.integers(0, np.maximum((first_date - PERIOD_START).astype(np.int64), 0) + 1)
    since = np.where(
        rng.random(n) < 0.6, PERIOD_START, PERIOD_START + since_offset.astype("timedelta64[D]")
    )
    client_since = np.where(was_client, since, np.datetime64("NaT"))

    persons = pd.DataFrame(
        {
            "birth_date": birth_date.astype("datetime64[s]"),
            "gender": gender,
            "mother_tongue": mother_tongue,
            "immigrant": immigrant,
            "home_municipality": municipality,
            "registered_jobseeker": registered,
            "experiment_client_since": client_since.astype("datetime64[s]"),
            "education_level": education,
            "work_experience_years": experience.astype(np.float64),
            "language_level": language,
            "work_ability": np.where(partial, "partial", "full").astype(object),
            **{name: flags[name] for name in barriers},
            "housing_insecurity": flags["housing_insecurity"],
            "entrepreneurship_interest": interest.astype(object),
        }
    )
    traits = {
        "age": age,
        "disadvantage": disadvantage,
        "person_noise": rng.standard_normal(n),
        "experience": experience,
        "fund_member": fund_member,
        "partial": partial,
        "health": flags["health_limitations"],
    }
    return Population(persons=persons, motivation=motivation, first_date=first_date, traits=traits)


def first_assessments(population: Population, rng: np.random.Generator) -> pd.DataFrame:
    """Every person's first assessment (`ASSESSMENT_COLUMNS`; no service history yet)."""
    n = len(population.persons)
    person = np.arange(n)
    dates = population.first_date
    status, benefit, months, outdated = _episode_states(
        rng, population, person, dates, carried_months=np.full(n, np.nan)
    )
    return _assessments(
        person,
        np.zeros(n, dtype=np.int64),
        dates,
        (status, benefit, months, outdated),
        np.zeros(n, dtype=np.int64),
        np.full(n, np.datetime64("NaT"), dtype="datetime64[D]"),
    )


def next_assessments(
    population: Population,
    previous: pd.DataFrame,
    served: np.ndarray,
    outcomes: dict[str, np.ndarray],
    rng: np.random.Generator,
) -> pd.DataFrame:
    """The next assessment of the persons of `previous` who come back inside the period.

    Parameters
    ----------
    population : Population
    previous : DataFrame
        A round of assessments (`ASSESSMENT_COLUMNS`).
    served : bool ndarray
        Whether each of them was placed in a service.
    outcomes : dict of outcome -> 0/1 ndarray
        Their logged outcomes (`employed_6m`, `education_6m`, `employed_12m`).
    rng : numpy Generator

    Returns
    -------
    DataFrame (`ASSESSMENT_COLUMNS`), one row per returning person, `rank` one higher. The
    employed come back less (`RETURN_FACTOR`); unemployment carries on from the earlier
    spell plus the months between unless the person found work at six months or took a
    service that broke the spell (a new, short one) or the status starts a fresh one;
    outdated skills stay outdated; the service history adds the earlier episode's service.
    """
    m = len(previous)
    p_return = np.full(m, RETURN_BASE)
    for outcome, factor in RETURN_FACTOR.items():
        p_return *= np.where(np.asarray(outcomes[outcome]) == 1, factor, 1.0)
    low, high = RETURN_GAP_DAYS
    gap = rng.integers(low, high + 1, size=m)
    dates = previous["assessment_date"].to_numpy(dtype="datetime64[D]") + gap.astype(
        "timedelta64[D]"
    )
    back = (rng.random(m) < p_return) & (dates <= PERIOD_END)
    before = previous.loc[back]
    person = before["person"].to_numpy()
    gap_months = gap[back] / 30.44
    # Work at six months starts a new spell, and so does a service that interrupted the
    # spell (`SPELL_BREAK_SHARE` of them); otherwise the earlier one carries on.
    worked = np.asarray(outcomes["employed_6m"])[back] == 1
    was_served = np.asarray(served, dtype=bool)[back]
    broke = was_served & (rng.random(len(person)) < SPELL_BREAK_SHARE)
    carried = np.where(
        worked | broke,
        np.floor(rng.random(len(person)) * gap_months / 2.0),
        before["unemployment_months"].to_numpy(dtype=np.float64) + np.floor(gap_months),
    )
    status, benefit, months, outdated = _episode_states(
        rng, population, person, dates[back], carried_months=carried
    )
    outdated |= before["outdated_skills"].to_numpy(dtype=bool)
    last_date = np.where(
        was_served,
        before["assessment_date"].to_numpy(dtype="datetime64[D]"),
        before["last_service_date"].to_numpy(dtype="datetime64[D]"),
    )
    return _assessments(
        person,
        before["rank"].to_numpy() + 1,
        dates[back],
        (status, benefit, months, outdated),
        before["previous_services"].to_numpy() + was_served,
        last_date,
    )


def _assessments(
    person: np.ndarray,
    rank: np.ndarray,
    dates: np.ndarray,
    states: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
    previous_services: np.ndarray,
    last_service_date: np.ndarray,
) -> pd.DataFrame:
    status, benefit, months, outdated = states
    return pd.DataFrame(
        {
            "person": person,
            "rank": rank,
            "assessment_date": dates.astype("datetime64[s]"),
            "labour_market_status": status,
            "unemployment_benefit": benefit,
            "unemployment_months": months,
            "outdated_skills": outdated,
            "previous_services": previous_services.astype(np.int64),
            "last_service_date": last_service_date.astype("datetime64[s]"),
        },
        columns=list(ASSESSMENT_COLUMNS),
    )


def _episode_states(
    rng: np.random.Generator,
    population: Population,
    person_idx: np.ndarray,
    assessment_date: np.ndarray,
    *,
    carried_months: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Status, benefit, unemployment months and outdated skills of assessments.

    `carried_months` is the length a continuing spell has reached (NaN: none, a first
    assessment); it replaces the fresh draw unless the status starts a fresh spell.
    """
    traits = population.traits
    first_date = population.first_date[person_idx]
    age = traits["age"][person_idx] + (assessment_date - first_date).astype(np.int64) / 365.25
    disadvantage = traits["disadvantage"]
    experience = traits["experience"]
    fund_member = traits["fund_member"]
    partial = traits["partial"]
    health = traits["health"]
    m = len(person_idx)
    young = age < 30
    laid_off = laid_off_share(assessment_date)
    covid = np.exp(-((assessment_date - PERIOD_START).astype(np.int64) / 30.44) * np.log(2) / 4.0)
    shares = np.column_stack(
        [
            np.zeros(m),  # unemployed: the rest, filled below
            laid_off,
            PAY_SUBSIDISED_SHARE * np.ones(m),
            IN_SERVICES_SHARE + 0.05 * young,
            EMPLOYED_SHARE * np.ones(m),
            SHORT_TIME_SHARE + 0.03 * covid,
            STUDENT_SHARE + 0.03 * young,
            OUTSIDE_SHARE * np.ones(m),
            PENSION_SHARE_60_PLUS * (age >= 60),
        ]
    )
    shares[:, 0] = 1.0 - shares[:, 1:].sum(axis=1)
    # The shares above follow the order of LABOUR_MARKET_STATUSES.
    statuses = np.array(LABOUR_MARKET_STATUSES, dtype=object)
    status = statuses[_categorical(rng, shares)]

    # Unemployment length: a latent score (disadvantage + a person effect + noise, standard
    # normal) cut so the 12+ month share matches the date's target.
    person_noise = traits["person_noise"][person_idx]
    z = (
        0.6 * disadvantage[person_idx]
        + 0.45 * person_noise
        + np.sqrt(1 - 0.36 - 0.2025) * rng.standard_normal(m)
    )
    cut = ndtri(1.0 - long_term_target(assessment_date))
    below = ndtr(np.minimum(z, cut)) / ndtr(cut)  # uniform in (0, 1) below the cut
    above = (ndtr(z) - ndtr(cut)) / (1.0 - ndtr(cut))  # uniform in (0, 1) above it
    months = np.where(
        z < cut,
        np.floor(12.0 * below),
        12.0 + np.floor(-18.0 * np.log1p(-np.minimum(above, 0.999))),
    )
    carried = np.isfinite(carried_months) & ~np.isin(status, _FRESH_SPELL_STATUSES)
    months = np.where(carried, np.nan_to_num(carried_months), months)
    months = np.where(status == "laid_off", np.floor(rng.random(m) * 9), months)
    months = np.where(np.isin(status, ("employed", "short_time_work")), 0.0, months)
    months = np.minimum(months, 240).astype(np.int64)

    member = fund_member[person_idx]
    has_history = experience[person_idx] >= 0.5
    benefit = np.full(m, "labour_market_subsidy", dtype=object)
    insured = has_history & (months < EARNINGS_RELATED_MAX_MONTHS)
    u = rng.random(m)
    benefit[insured & member] = "earnings_related_allowance"
    benefit[insured & ~member] = np.where(
        u[insured & ~member] < 0.85, "basic_daily_allowance", "labour_market_subsidy"
    )
    uninsured = ~insured
    benefit[uninsured & (u < 0.12)] = "social_assistance"
    benefit[uninsured & (u >= 0.12) & (u < 0.20)] = "none"
    sick = (partial[person_idx] | health[person_idx]) & (rng.random(m) < 0.06)
    benefit[sick] = "sickness_allowance"
    benefit[status == "laid_off"] = np.where(
        member[status == "laid_off"], "earnings_related_allowance", "basic_daily_allowance"
    )
    benefit[status == "short_time_work"] = np.where(
        member[status == "short_time_work"], "earnings_related_allowance", "basic_daily_allowance"
    )
    paid = (
        (status == "employed")
        | (status == "unemployment_pension")
        | (status == "full_time_student")
    )
    benefit[paid] = "none"
    benefit[(status == "pay_subsidised") & (rng.random(m) < 0.7)] = "none"
    outside = status == "outside_labour_force"
    benefit[outside] = np.where(
        rng.random(int(outside.sum())) < 0.5, "social_assistance", "sickness_allowance"
    )

    outdated = rng.random(m) < _sigmoid(
        -2.8 + 0.05 * np.minimum(months, 48) + 0.03 * (age - 45) + 0.4 * disadvantage[person_idx]
    )
    return status, benefit, months, outdated
