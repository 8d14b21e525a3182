"""Who may act on a recorded request: object-level rules beside the role checks of `auth`.

The rule for decisions: only the caseworker who asked for the suggestion may record what was
decided, unless both belong to the same team (`Settings.caseworker_teams`, label -> team),
when anyone of that team may (a colleague finishing a case). Without teams configured the
asker alone may decide. A refused attempt is answered 403 and written to the audit store as
a `decision_refused` security event.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class DecisionRule:
    """May `deciding` record a decision on a request `asked_by` asked for?

    Parameters
    ----------
    teams : caseworker label -> team name; labels without a team form a team of one.
    """

    teams: Mapping[str, str] = field(default_factory=dict)

    def allows(self, asked_by: str | None, deciding: str | None) -> bool:
        """True for the asker, or a member of the asker's team; never for an unknown actor."""
        if asked_by is None or deciding is None:
            return False
        if asked_by == deciding:
            return True
        team = self.teams.get(deciding)
        return team is not None and self.teams.get(asked_by) == team
