"""What `polku train` may change, as MLflow parameters and back."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from models.objectives import DEFAULT_OBJECTIVE, Objective
from models.ranker.service_ranker import STACK_CHOICES
from pipeline.data.split import SplitSettings


@dataclass(frozen=True)
class TrainSettings:
    """What `polku train` may change.

    Attributes
    ----------
    objective : str
        The objective the evaluation ranks by (the model predicts every target).
    seed : int
        Seeds the ranker's folds and bootstrap, and the random baseline.
    split : SplitSettings
    n_bootstrap : int
        Bootstrap refits of the ranker's final stage (its uplift intervals).
    stack : str
        The ranker's stacking of its uplift with practice (`ServiceRanker(stack=...)`):
        "auto" (the cross-validated DR loss chooses), "dr", "scaled_dr_and_practice" or
        "dr_plug_in_and_practice".
    """

    objective: str = DEFAULT_OBJECTIVE
    seed: int = 0
    split: SplitSettings = field(default_factory=SplitSettings)
    n_bootstrap: int = 40
    stack: str = "auto"

    def __post_init__(self) -> None:
        Objective.parse(self.objective)  # fail early on a bad objective
        if self.stack not in STACK_CHOICES:
            raise ValueError(f"stack must be one of {', '.join(STACK_CHOICES)}, got {self.stack!r}")

    def to_params(self) -> dict[str, str]:
        """The settings as MLflow parameters."""
        return {
            "objective": Objective.parse(self.objective).name,
            "seed": str(self.seed),
            "n_bootstrap": str(self.n_bootstrap),
            "stack": self.stack,
            **self.split.to_params(),
        }


def settings_from_run_params(params: dict[str, Any]) -> TrainSettings:
    """Rebuild the training settings a run logged (for evaluating its version the same way)."""
    return TrainSettings(
        objective=str(params.get("objective") or DEFAULT_OBJECTIVE),
        seed=int(params.get("seed") or 0),
        split=SplitSettings.from_params({k: str(v) for k, v in params.items()}),
        n_bootstrap=int(params.get("n_bootstrap") or 40),
        # Runs logged before the stacking existed served the final stage as it was.
        stack=str(params.get("stack") or "dr"),
    )
