"""Why the gate decided as it did: one plain-language reason per code, in fi, sv and en.

Every failed condition and every target group that holds gives its reason; a reason quotes
the parameters of the set that decided (period, municipality code, age limit).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from models.eligibility.rule_sets import RuleSet
from models.eligibility.rules import (
    CONTINUING_CLIENT,
    FOREIGN_LANGUAGE,
    NO_EARNINGS_RELATED_ALLOWANCE,
    NO_TARGET_GROUP,
    NOT_HELSINKI_RESIDENT,
    NOT_REGISTERED_JOBSEEKER,
    OUTSIDE_EXPERIMENT_PERIOD,
    STATUS_NOT_COVERED,
    UNDER_30,
)
from models.languages import LocalizedText


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


def reason(code: str, rules: RuleSet) -> Reason:
    """The reason for `code` (a condition or group code) under the parameter set `rules`."""
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
