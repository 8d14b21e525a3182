"""Structural scenarios of the synthetic world: a family of worlds to judge a ranker on.

A scenario is a frozen set of knobs read by the outcome model (`pipeline.synth.outcomes`:
which shapes the true effects take, whether the catalog is split into variants) and by the
caseworkers' policy (`pipeline.synth.caseworkers`: how much they know of what works, how much
they explore, which services they withhold from those who would gain). `baseline` is the
world as it always was; the others each change one structure and keep the rest, so a ranker
that only fits the baseline's own shapes is caught out. `docs/DATA_CARD.md` says what each
changes and why it is a fair test.

Examples
--------
>>> scenario_named("blind_caseworkers").knowledge_weight
0.0
>>> sorted(SCENARIOS)[:2]
['baseline', 'blind_caseworkers']
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:  # the catalog (numpy, pandas) is imported only when a catalog is derived
    from models.catalog import Catalog
    from models.catalog.services import Service
    from models.languages import LocalizedText

# The baseline caseworkers' knobs (one source: `pipeline.synth.caseworkers` reads them here).
BASELINE_KNOWLEDGE_WEIGHT: Final = 12.0  # score per unit of true uplift (probability scale)
BASELINE_EXPLORATION: Final = 0.2  # share of every choice that is uniform over the options

EFFECT_SHAPES: Final = ("baseline", "thresholds")


@dataclass(frozen=True, slots=True)
class Scenario:
    """The knobs of one scenario; every default is the baseline world.

    Attributes
    ----------
    name : str
    description : str
        One line: what this world changes.
    effect_shapes : str
        Which table of true service effects (`EFFECT_SHAPES`): the baseline's steps at
        6/12/24 months, age 30 without a vocational qualification and A0-A2, or `thresholds`:
        kinks at 3/9/18 months and 35 years, curves in age and language, and interactions
        between needs.
    knowledge_weight : float
        How strongly caseworkers steer each client to what truly helps them (choice score per
        unit of true uplift).
    exploration : float
        Share of each choice spread uniformly over the client's options (the overlap floor:
        every option has probability at least `exploration / n_options`).
    withheld_services : tuple of str
        Services caseworkers give least to those who would gain most from them.
    withholding_weight : float
        Choice score per unit of true six-month uplift on `withheld_services`, taking the
        place of `knowledge_weight` there (negative: the more a client would gain, the rarer).
    service_variants : bool
        Split each catalog service into 2-4 smaller variants with partly different effects
        (`scenario_catalog`, `VARIANT_EFFECTS`).
    """

    name: str
    description: str
    effect_shapes: str = "baseline"
    knowledge_weight: float = BASELINE_KNOWLEDGE_WEIGHT
    exploration: float = BASELINE_EXPLORATION
    withheld_services: tuple[str, ...] = ()
    withholding_weight: float = 0.0
    service_variants: bool = False

    def __post_init__(self) -> None:
        if self.effect_shapes not in EFFECT_SHAPES:
            raise ValueError(
                f"scenario {self.name!r}: effect_shapes must be one of {list(EFFECT_SHAPES)}"
            )
        if not 0.0 < self.exploration <= 1.0:
            raise ValueError(f"scenario {self.name!r}: exploration must be in (0, 1]")


@dataclass(frozen=True, slots=True)
class VariantEffect:
    """How variant k of a split service differs from the service it came from.

    The variant's index shifts are the parent's times `scale_6m` (employment and education at
    six months) and `scale_12m` (employment at twelve), plus `older_bonus` on every
    employment index for clients from 35 (rising linearly to the full bonus at 55).
    """

    scale_6m: float
    scale_12m: float
    older_bonus: float = 0.0


# Variant 1 is the original programme; 2 a longer, slower one; 3 a lighter one that suits
# older clients; 4 a short intensive one whose effect fades by twelve months.
VARIANT_EFFECTS: Final = (
    VariantEffect(1.0, 1.0),
    VariantEffect(0.4, 1.3),
    VariantEffect(0.5, 0.6, older_bonus=0.12),
    VariantEffect(1.3, 0.3),
)
_VARIANT_MARK: Final = "_v"
_VARIANT_WORD: Final = {"fi": "versio", "sv": "variant", "en": "variant"}


def variant_count(service_id: str) -> int:
    """How many variants a service splits into under `service_variants` (2-4, fixed per id)."""
    return 2 + zlib.crc32(service_id.encode("utf-8")) % 3


def variant_id(service_id: str, k: int) -> str:
    """The id of variant k (1-based) of a service."""
    return f"{service_id}{_VARIANT_MARK}{k}"


def variant_parent(service_id: str) -> tuple[str, VariantEffect] | None:
    """The service a variant id was split from and how it differs; None for other ids."""
    parent, mark, number = service_id.rpartition(_VARIANT_MARK)
    if not mark or not number.isdigit() or not 1 <= int(number) <= len(VARIANT_EFFECTS):
        return None
    return parent, VARIANT_EFFECTS[int(number) - 1]


def _variant(service: Service, k: int, n: int) -> Service:
    from models.languages import LocalizedText

    def label(text: LocalizedText) -> LocalizedText:
        return LocalizedText(
            **{
                lang: f"{value} ({_VARIANT_WORD[lang]} {k}/{n})" if value else value
                for lang, value in (("fi", text.fi), ("sv", text.sv), ("en", text.en))
            }
        )

    return replace(
        service,
        id=variant_id(service.id, k),
        name=label(service.name),
        description=label(service.description),
        monthly_capacity=max(1, round(service.monthly_capacity / n)),
    )


def scenario_catalog(scenario: Scenario, catalog: Catalog) -> Catalog:
    """The catalog a scenario's world is drawn with, derived from `catalog`.

    Unchanged unless the scenario splits services: then each service becomes
    `variant_count` variants in its place, with its limits and family, its capacity shared
    between them and names marked "(variant k/n)".
    """
    if not scenario.service_variants:
        return catalog
    from models.catalog import Catalog

    services: list[Service] = []
    for service in catalog.services:
        n = variant_count(service.id)
        services.extend(_variant(service, k, n) for k in range(1, n + 1))
    return Catalog(tuple(services))


# The services that most often help most the clients who would gain most (the best service
# of the top decile by best uplift, baseline world): vocational education, the start-up
# grant and job search coaching; self-motivated study is vocational education's twin.
WEAK_OVERLAP_SERVICES: Final = (
    "vocational_education",
    "self_motivated_study",
    "startup_grant",
    "job_search_coaching",
)

SCENARIOS: Final[dict[str, Scenario]] = {
    s.name: s
    for s in (
        Scenario("baseline", "The world as it always was: the generator's own shapes and habits."),
        Scenario(
            "thresholds",
            "Effects change at other thresholds (3/9/18 months, age 35, curves in age and "
            "language) and through interactions between needs.",
            effect_shapes="thresholds",
        ),
        Scenario(
            "blind_caseworkers",
            "Caseworkers know nothing of what works for whom (no weight on the true uplift).",
            knowledge_weight=0.0,
        ),
        Scenario(
            "expert_caseworkers",
            "Caseworkers know well what works for whom (three times the baseline's weight).",
            knowledge_weight=3.0 * BASELINE_KNOWLEDGE_WEIGHT,
        ),
        Scenario(
            "weak_overlap",
            "A few strong services are rarely given to those who would gain most from them, "
            "and caseworkers explore little.",
            exploration=0.05,
            withheld_services=WEAK_OVERLAP_SERVICES,
            withholding_weight=-60.0,
        ),
        Scenario(
            "many_small",
            "Each service is split into 2-4 smaller variants with partly different effects.",
            service_variants=True,
        ),
    )
}
DEFAULT_SCENARIO: Final = "baseline"


def scenario_named(name: str) -> Scenario:
    """The registered scenario of this name.

    Raises
    ------
    ValueError
        Naming the known scenarios, for an unknown name.
    """
    try:
        return SCENARIOS[name]
    except (KeyError, TypeError):
        raise ValueError(
            f"unknown scenario {name!r}; expected one of: {', '.join(SCENARIOS)}"
        ) from None


__all__ = [
    "DEFAULT_SCENARIO",
    "SCENARIOS",
    "Scenario",
    "VariantEffect",
    "scenario_catalog",
    "scenario_named",
    "variant_parent",
]
