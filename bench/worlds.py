"""The worlds a bench judges on: a scenario of the generator's family, or the alien world."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Final

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from alien_world import alien_world

from pipeline.synth.scenarios import SCENARIOS
from pipeline.synth.world import SynthConfig, generate_world

# A world outside the generator's family (`bench/alien_world.py`): its own effects and
# caseworkers drawn at random from the seed; no one tuned the ranker to it. Run on request,
# and kept apart from the family's medians.
ALIEN: Final = "alien"


def scenario_names() -> tuple[str, ...]:
    """The generator's structural scenarios (`pipeline.synth.scenarios`), baseline first."""
    return tuple(SCENARIOS)


def draw_world(scenario: str, n_clients: int, seed: int) -> Any:
    """The generated world of a cell: a scenario of the family, or the alien world."""
    if scenario == ALIEN:
        return alien_world(n_clients, seed)
    return generate_world(SynthConfig(n_clients=n_clients, seed=seed, scenario=scenario))
