"""The eligibility gate: who is a client of Helsinki's employment services (docs/domain/RULES.md).

One job per module:

- `rule_sets`: the dated parameter sets under `models/data/rules/` and which one decides a date;
- `rules`: conditions C1-C5 and the target groups, one numpy function each;
- `reasons`: why, in Finnish, Swedish and English;
- `decisions`: `assess_eligibility` for one profile, `assess_eligibility_frame` for many.

The names callers use are importable from here.
"""

from models.eligibility.decisions import (
    DECISION_COLUMNS,
    EligibilityDecision,
    ResponsibleOffice,
    assess_eligibility,
    assess_eligibility_frame,
)
from models.eligibility.reasons import BENEFIT_NOTICE, Reason
from models.eligibility.rule_sets import (
    RULES_DIR,
    RuleSet,
    current_rules_version,
    load_rule_sets,
    rule_set_for,
)
from models.eligibility.rules import CONDITION_CODES, GATE_INPUT_COLUMNS, GROUP_CODES
from models.languages import LocalizedText

__all__ = [
    "BENEFIT_NOTICE",
    "CONDITION_CODES",
    "DECISION_COLUMNS",
    "GATE_INPUT_COLUMNS",
    "GROUP_CODES",
    "RULES_DIR",
    "EligibilityDecision",
    "LocalizedText",
    "Reason",
    "ResponsibleOffice",
    "RuleSet",
    "assess_eligibility",
    "assess_eligibility_frame",
    "current_rules_version",
    "load_rule_sets",
    "rule_set_for",
]
