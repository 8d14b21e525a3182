"""Run every comparison of a checked table: estimates, intervals, diagnostics, warnings."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Final

import numpy as np

from pipeline.effects.diagnostics import Diagnostics, diagnose, range_warnings
from pipeline.effects.estimators import (
    N_FOLDS,
    OUTCOME_MODEL_BINARY,
    OUTCOME_MODEL_CONTINUOUS,
    PROPENSITY_CLIP,
    PROPENSITY_MODEL,
    ComparisonFit,
    Estimand,
    Estimate,
    design_matrix,
    fit_comparison,
    standardise,
)
from pipeline.effects.table import EffectsTable

ESTIMAND_WORDS: Final = {
    "ate": "average effect over the units of both arms (ATE)",
    "att": "average effect on the treated arm (ATT)",
}


@dataclass(frozen=True, slots=True)
class ComparisonResult:
    """One treated arm against the control arm."""

    treated_value: str
    control_value: str
    n_treated: int
    n_control: int
    estimates: dict[str, Estimate]
    diagnostics: Diagnostics
    fit: ComparisonFit

    @property
    def label(self) -> str:
        return f"{self.treated_value} vs {self.control_value}"

    def to_dict(self) -> dict[str, object]:
        return {
            "treated_value": self.treated_value,
            "control_value": self.control_value,
            "n_treated": self.n_treated,
            "n_control": self.n_control,
            "estimates": {name: e.to_dict() for name, e in self.estimates.items()},
            "diagnostics": self.diagnostics.to_dict(),
            "warnings": list(self.diagnostics.warnings),
        }


@dataclass(frozen=True, slots=True)
class EffectsResult:
    """Every comparison of one run, with what was assumed to make them."""

    source: str
    n_rows: int
    treatment: str
    outcome: str
    covariates: tuple[str, ...]
    features: tuple[str, ...]
    estimand: Estimand
    binary_outcome: bool
    n_bootstrap: int
    cluster: str | None
    comparisons: tuple[ComparisonResult, ...]

    @property
    def warnings(self) -> list[str]:
        """Every comparison's warnings, prefixed by the comparison when there are several."""
        if len(self.comparisons) == 1:
            return list(self.comparisons[0].diagnostics.warnings)
        return [f"{c.label}: {w}" for c in self.comparisons for w in c.diagnostics.warnings]

    @property
    def methods(self) -> dict[str, object]:
        return {
            "estimand": ESTIMAND_WORDS[self.estimand],
            "propensity_model": PROPENSITY_MODEL,
            "outcome_model": OUTCOME_MODEL_BINARY
            if self.binary_outcome
            else OUTCOME_MODEL_CONTINUOUS,
            "cross_fitting": f"{N_FOLDS} folds, stratified by arm; every unit's nuisance "
            "predictions come from models fitted on the other folds",
            "propensity_clip": [PROPENSITY_CLIP, 1 - PROPENSITY_CLIP],
            "intervals": "95 %; "
            + (
                f"percentile bootstrap ({self.n_bootstrap} draws, units resampled with the "
                "cross-fitted nuisance predictions held fixed) for difference in means, IPW "
                "and AIPW; influence function for regression adjustment"
                if self.n_bootstrap
                else "influence function (normal approximation) for every estimator"
            )
            + (f"; clusters of {self.cluster!r} resampled / summed" if self.cluster else ""),
            "comparisons": "each treated value against the control value, on the units of "
            "those two arms only",
        }

    def to_dict(self) -> dict[str, object]:
        out: dict[str, object] = {
            "data": {
                "source": self.source,
                "rows": self.n_rows,
                "treatment": self.treatment,
                "outcome": self.outcome,
                "covariates": list(self.covariates),
                "features": list(self.features),
            },
            "methods": self.methods,
            "comparisons": [c.to_dict() for c in self.comparisons],
            "warnings": self.warnings,
        }
        if len(self.comparisons) == 1:  # the binary case: estimates at the top level too
            only = self.comparisons[0].to_dict()
            out["estimates"] = only["estimates"]
            out["diagnostics"] = only["diagnostics"]
        return out


def analyse(
    table: EffectsTable,
    *,
    estimand: Estimand = "ate",
    n_bootstrap: int = 0,
    seed: int = 0,
    source: str = "",
) -> EffectsResult:
    """Estimate every comparison of `table` with every estimator, and diagnose each.

    Parameters
    ----------
    table : a checked table (`pipeline.effects.table.check_table`)
    estimand : "ate" or "att"
    n_bootstrap : bootstrap draws (0: influence-function intervals only)
    seed : seeds the cross-fitting folds and the bootstrap
    source : where the data came from, for the record
    """
    frame = table.frame
    design = design_matrix(frame, table.covariates)
    labels = frame[table.treatment].to_numpy()
    outcome = frame[table.outcome].to_numpy(dtype=np.float64)
    binary = bool(np.isin(outcome, (0.0, 1.0)).all())
    clusters = None if table.cluster is None else frame[table.cluster].to_numpy()
    comparisons = []
    for treated_value in table.treated_values:
        rows = np.flatnonzero(np.isin(labels, (treated_value, table.control_value)))
        treated = labels[rows] == treated_value
        raw = design.raw[rows]
        fit = fit_comparison(
            standardise(raw),
            treated,
            outcome[rows],
            estimand,
            clusters=None if clusters is None else clusters[rows],
            seed=seed,
        )
        estimates = fit.estimates(n_bootstrap=n_bootstrap, seed=seed)
        diagnostics = diagnose(
            raw, design.names, treated, fit.propensity, estimand, n_clipped=fit.n_clipped
        )
        diagnostics = replace(
            diagnostics,
            warnings=diagnostics.warnings + tuple(range_warnings(estimates, binary)),
        )
        comparisons.append(
            ComparisonResult(
                treated_value=treated_value,
                control_value=table.control_value,
                n_treated=int(treated.sum()),
                n_control=int((~treated).sum()),
                estimates=estimates,
                diagnostics=diagnostics,
                fit=fit,
            )
        )
    return EffectsResult(
        source=source,
        n_rows=len(frame),
        treatment=table.treatment,
        outcome=table.outcome,
        covariates=table.covariates,
        features=design.names,
        estimand=estimand,
        binary_outcome=binary,
        n_bootstrap=n_bootstrap,
        cluster=table.cluster,
        comparisons=tuple(comparisons),
    )
