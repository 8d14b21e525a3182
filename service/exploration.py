"""Which requests randomise the first place shown (`models.exploration`), by office.

Off by default. `Settings.exploration_offices` names the offices (teams, as
`Settings.caseworker_teams` assigns caseworkers to them) where it is on; a caseworker with
no team is in no office. Each draw is seeded from the request id, so an auditor holding
the audit row can re-draw it; the probabilities go into the row's `ranking` entries
(`p_first`, with the model's own `model_rank`). The caseworker still decides.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from models.exploration import ExplorationRule, ExploredRanking, explore_ranking
from models.suggestions import RankedService

# The ranker's default nominal coverage, for a model that does not say its own.
DEFAULT_INTERVAL = 0.9


@dataclass(frozen=True)
class OfficeExploration:
    """Exploration for the caseworkers of `offices` (office = team of `teams`)."""

    offices: frozenset[str]
    teams: Mapping[str, str] = field(default_factory=dict)
    rule: ExplorationRule = field(default_factory=ExplorationRule)

    @classmethod
    def of_design(
        cls, offices: frozenset[str], teams: Mapping[str, str], design: str
    ) -> OfficeExploration:
        """Exploration in `offices` with a design of `models.exploration.DESIGNS`."""
        return cls(offices, teams, ExplorationRule.of_design(design))

    def applies(self, actor: str | None) -> bool:
        """Whether a request asked by `actor` explores."""
        return actor is not None and self.teams.get(actor) in self.offices

    def explore(
        self, ranking: list[RankedService], model: object, request_id: str
    ) -> ExploredRanking:
        """Draw the first place of one ranking, seeded by the (random, hex) request id."""
        ranker = getattr(model, "ranker", None)
        interval = float(getattr(ranker, "interval", DEFAULT_INTERVAL))
        rng = np.random.default_rng(int(request_id, 16))
        return explore_ranking(ranking, interval, rng, self.rule)
