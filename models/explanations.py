"""Drivers worded for a caseworker, in Finnish, Swedish and English.

A driver says how much one of the client's needs moves a service's expected effect: the
model's uplift for this client minus its uplift for the same client without that need
(`models.suggestions.Driver`). This module turns it into a sentence such as
"Low Finnish/Swedish level (A1) raises the expected effect by 3.1 percentage points".
It words what the model computed and nothing more: a driver is an association the model
learned, not a proof that the need causes the difference.

Examples
--------
>>> describe_driver(Driver("health_limitations", 0.02), 0.051, profile, "en")  # doctest: +SKIP
'Health limitations raise the expected effect by 3.1 percentage points.'
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from models.features import DRIVER_REFERENCE
from models.languages import LANGUAGES
from models.profile import ClientProfile
from models.suggestions import Driver, RankedService

# Below this many percentage points a driver "hardly changes" the effect.
NEGLIGIBLE_POINTS: Final = 0.05
_LOW_LANGUAGE: Final = ("A0", "A1", "A2")


@dataclass(frozen=True, slots=True)
class _Label:
    """A factor's name in one language, and whether it takes a plural verb."""

    text: str
    plural: bool = False


_FLAG_LABELS: Final[dict[str, dict[str, _Label]]] = {
    "health_limitations": {
        "fi": _Label("Terveydelliset rajoitteet", plural=True),
        "sv": _Label("Hälsobegränsningar"),
        "en": _Label("Health limitations", plural=True),
    },
    "mental_health_needs": {
        "fi": _Label("Mielenterveyden tuen tarve"),
        "sv": _Label("Behov av stöd för psykisk hälsa"),
        "en": _Label("Mental-health needs", plural=True),
    },
    "substance_use": {
        "fi": _Label("Päihteiden käyttö"),
        "sv": _Label("Missbruk av rusmedel"),
        "en": _Label("Substance use"),
    },
    "debt_problems": {
        "fi": _Label("Velkaongelmat", plural=True),
        "sv": _Label("Skuldproblem"),
        "en": _Label("Debt problems", plural=True),
    },
    "housing_insecurity": {
        "fi": _Label("Epävarma asumistilanne"),
        "sv": _Label("Osäkert boende"),
        "en": _Label("Insecure housing"),
    },
    "caregiving_duties": {
        "fi": _Label("Hoivavastuu"),
        "sv": _Label("Omsorgsansvar"),
        "en": _Label("Caregiving duties", plural=True),
    },
    "low_digital_skills": {
        "fi": _Label("Heikot digitaidot", plural=True),
        "sv": _Label("Svaga digitala färdigheter"),
        "en": _Label("Low digital skills", plural=True),
    },
    "outdated_skills": {
        "fi": _Label("Vanhentunut osaaminen"),
        "sv": _Label("Föråldrad kompetens"),
        "en": _Label("Outdated skills", plural=True),
    },
}


def factor_label(factor: str, profile: ClientProfile, lang: str = "en") -> str:
    """The need `factor` of this client named for a caseworker (with its value where useful).

    Raises
    ------
    ValueError
        Unknown language or factor.
    """
    return _label(factor, profile, _check_lang(lang)).text


def _check_lang(lang: str) -> str:
    if lang not in LANGUAGES:
        raise ValueError(f"unknown language {lang!r}; expected one of {', '.join(LANGUAGES)}")
    return lang


def _label(factor: str, profile: ClientProfile, lang: str) -> _Label:
    if factor in _FLAG_LABELS:
        return _FLAG_LABELS[factor][lang]
    if factor not in DRIVER_REFERENCE:
        raise ValueError(f"no wording for factor {factor!r}")
    value = getattr(profile, factor)
    if factor == "language_level":
        if value in _LOW_LANGUAGE:
            return {
                "fi": _Label(f"Heikko suomen tai ruotsin kielen taito ({value})"),
                "sv": _Label(f"Svaga kunskaper i finska eller svenska ({value})"),
                "en": _Label(f"Low Finnish/Swedish level ({value})"),
            }[lang]
        return {
            "fi": _Label(f"Suomen tai ruotsin kielen taitotaso {value}"),
            "sv": _Label(f"Nivå {value} i finska eller svenska"),
            "en": _Label(f"Finnish/Swedish level {value}"),
        }[lang]
    if factor == "work_ability":
        return {
            "fi": _Label("Osittainen työkyky"),
            "sv": _Label("Partiell arbetsförmåga"),
            "en": _Label("Partial work ability"),
        }[lang]
    if factor == "education_level":
        if value == "none":
            return {
                "fi": _Label("Koulutuksen puuttuminen"),
                "sv": _Label("Avsaknad av utbildning"),
                "en": _Label("No completed education"),
            }[lang]
        return {
            "fi": _Label("Pelkkä perusasteen koulutus"),
            "sv": _Label("Endast grundläggande utbildning"),
            "en": _Label("Basic education only"),
        }[lang]
    if factor == "unemployment_months":
        months = int(value)
        return {
            "fi": _Label(f"{months} kuukauden työttömyys"),
            "sv": _Label(f"Arbetslöshet i {months} månader"),
            "en": _Label(f"Unemployment of {months} months"),
        }[lang]
    # entrepreneurship_interest
    if value == "business_plan":
        return {
            "fi": _Label("Valmis liiketoimintasuunnitelma"),
            "sv": _Label("En färdig affärsplan"),
            "en": _Label("A ready business plan"),
        }[lang]
    return {
        "fi": _Label("Kiinnostus yrittäjyyteen"),
        "sv": _Label("Intresse för företagande"),
        "en": _Label("Interest in entrepreneurship"),
    }[lang]


def _points(value: float, lang: str) -> str:
    text = f"{abs(value) * 100:.1f}"
    return text if lang == "en" else text.replace(".", ",")


def describe_driver(driver: Driver, uplift: float, profile: ClientProfile, lang: str = "en") -> str:
    """One sentence: how much this need moves the service's expected effect for this client.

    Parameters
    ----------
    driver : Driver
        From a `RankedService`.
    uplift : float
        The service's uplift for this client (probability scale).
    profile : ClientProfile
        The client (the wording names the value, e.g. the language level).
    lang : {"fi", "sv", "en"}

    Returns
    -------
    str
    """
    lang = _check_lang(lang)
    label = _label(driver.factor, profile, lang)
    share = uplift - driver.uplift_without
    if abs(share) * 100 < NEGLIGIBLE_POINTS:
        return {
            "fi": f"{label.text} {'eivät' if label.plural else 'ei'} juuri muuta odotettua "
            "vaikutusta.",
            "sv": f"{label.text} påverkar knappast den förväntade effekten.",
            "en": f"{label.text} {'hardly change' if label.plural else 'hardly changes'} the "
            "expected effect.",
        }[lang]
    points = _points(share, lang)
    up = share > 0
    if lang == "fi":
        verb = (
            ("nostavat" if up else "laskevat") if label.plural else ("nostaa" if up else "laskee")
        )
        return f"{label.text} {verb} odotettua vaikutusta {points} prosenttiyksikköä."
    if lang == "sv":
        verb = "höjer" if up else "sänker"
        return f"{label.text} {verb} den förväntade effekten med {points} procentenheter."
    verb = ("raise" if up else "lower") if label.plural else ("raises" if up else "lowers")
    return f"{label.text} {verb} the expected effect by {points} percentage points."


@dataclass(frozen=True, slots=True)
class ExplainedDriver:
    """A driver `explain` chose, with its sentence and its share of the uplift.

    Attributes
    ----------
    driver : Driver
    text : str
        `describe_driver`'s sentence in the asked language.
    share : float
        `uplift - driver.uplift_without` (probability scale): what the need adds.
    small : bool
        Below the naming threshold: named only because no need of this client reaches it.
    """

    driver: Driver
    text: str
    share: float
    small: bool = False

    @property
    def factor(self) -> str:
        return self.driver.factor

    @property
    def raises(self) -> bool:
        """The need raises the expected effect (else it limits it)."""
        return self.share > 0

    @property
    def negligible(self) -> bool:
        """It hardly changes the effect (under `NEGLIGIBLE_POINTS`): neither raises nor limits."""
        return abs(self.share) * 100 < NEGLIGIBLE_POINTS


# Needs moving the effect by less than this many percentage points are named only when no
# need of the client reaches it (then the largest are named, marked small).
MIN_POINTS: Final = 0.5


def explain(
    ranked: RankedService,
    profile: ClientProfile,
    lang: str = "en",
    *,
    raising: int = 3,
    limiting: int = 2,
    min_points: float = MIN_POINTS,
) -> tuple[ExplainedDriver, ...]:
    """What makes a service suggested for this client, then what limits it, each with its size.

    The needs raising the shown uplift come first (largest first, at most `raising`), then
    those lowering it (largest first, at most `limiting`). Needs below `min_points`
    percentage points are left out, unless none reaches it: then the largest are named
    anyway, marked `small` (those that hardly change it, `negligible`, only when nothing
    larger is left), so a client with needs never gets an empty explanation. Empty only when
    the client has none of the needs the model weighs (`features.DRIVER_REFERENCE`).
    """
    lang = _check_lang(lang)
    if raising < 0 or limiting < 0:
        raise ValueError("raising and limiting must be non-negative")
    shares = [(d, ranked.uplift - d.uplift_without) for d in ranked.drivers]
    named = [(d, share) for d, share in shares if abs(share) * 100 >= min_points]
    small = not named
    noticeable = [p for p in shares if abs(p[1]) * 100 >= NEGLIGIBLE_POINTS]
    pool = (noticeable or shares) if small else named
    ups = sorted((p for p in pool if p[1] > 0), key=lambda p: -p[1])[:raising]
    downs = sorted((p for p in pool if p[1] <= 0), key=lambda p: p[1])[:limiting]
    return tuple(
        ExplainedDriver(d, describe_driver(d, ranked.uplift, profile, lang), share, small)
        for d, share in (*ups, *downs)
    )
