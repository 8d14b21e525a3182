"""Read and check an evaluator's table before any estimate: columns, treatment arms, gaps.

Every problem is an `EffectsError` whose message names the column (and, for missing values,
how many rows and the first few row numbers, counted from 1 over the data rows). The
personal identity code never feeds an estimate: a column named `henkilotunnus`, or any text
column with a value shaped like a code (`models.henkilotunnus`), is refused when named
and left out of the default covariates, before any message could quote its values.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import numpy as np
import pandas as pd

from models.henkilotunnus import is_henkilotunnus_shaped
from pipeline.effects.estimators import EffectsError

MIN_UNITS_PER_ARM: Final = 10
# The personal identity code never feeds an estimate, and its values never reach a message.
IDENTITY_COLUMN: Final = "henkilotunnus"
_IDENTITY_USE: Final = (
    "cannot be a treatment, outcome, covariate or cluster; use a pseudonymous key to cluster"
)
_TRUE_LABELS: Final = ("1", "true", "yes", "treated")
_FALSE_LABELS: Final = ("0", "false", "no", "control", "untreated")


@dataclass(frozen=True, slots=True)
class EffectsTable:
    """A checked table and the comparisons to make on it.

    Attributes
    ----------
    frame : the rows, with the treatment column as text and the outcome as float
    treatment, outcome : column names
    covariates : covariate column names (possibly none)
    control_value : the control arm's label
    treated_values : one label per comparison (each against the control)
    cluster : optional column whose equal values form one cluster (e.g. a person)
    """

    frame: pd.DataFrame
    treatment: str
    outcome: str
    covariates: tuple[str, ...]
    control_value: str
    treated_values: tuple[str, ...]
    cluster: str | None = None


def read_table(path: Path) -> pd.DataFrame:
    """Read a CSV (or Parquet, by suffix) file, with a clear error when it cannot be read."""
    if not path.exists():
        raise EffectsError(f"data file {str(path)!r} does not exist")
    try:
        if path.suffix.lower() in (".parquet", ".pq"):
            return pd.read_parquet(path)
        return pd.read_csv(path)
    except (ValueError, OSError, pd.errors.ParserError) as exc:
        raise EffectsError(f"cannot read {str(path)!r} as a table: {exc}") from None


def holds_identity_codes(values: pd.Series) -> bool:
    """Whether any value of a text column is a personal identity code (by its shape).

    A value that merely holds a code-shaped run inside a longer token (a pseudonymous hex
    key, often) does not count. Numbers, booleans and dates are not text (a float such as
    123456.7891 has the code's shape once written out, yet is no code).
    """
    if (
        pd.api.types.is_numeric_dtype(values)
        or pd.api.types.is_bool_dtype(values)
        or pd.api.types.is_datetime64_any_dtype(values)
    ):
        return False
    return any(is_henkilotunnus_shaped(str(v)) for v in values.dropna().unique())


def _missing_rows_message(column: str, missing: np.ndarray) -> str:
    rows = np.flatnonzero(missing) + 1
    shown = ", ".join(str(r) for r in rows[:5]) + (", ..." if len(rows) > 5 else "")
    return f"column {column!r} has {len(rows)} missing value(s) (data rows {shown})"


def _label_text(values: pd.Series) -> pd.Series:
    """Treatment labels as text; whole floats (1.0) read as integers (1)."""
    if pd.api.types.is_float_dtype(values) and bool(
        np.all(np.mod(values.dropna().to_numpy(), 1) == 0)
    ):
        return values.astype("Int64").astype(str)
    return values.astype(str)


def _find_label(labels: Sequence[str], wanted: str, option: str, column: str) -> str:
    if wanted in labels:
        return wanted
    for label in labels:  # "1" names the arm written "1.0", and so on
        try:
            if float(label) == float(wanted):
                return label
        except ValueError:
            continue
    shown = ", ".join(repr(v) for v in labels[:10]) + (", ..." if len(labels) > 10 else "")
    raise EffectsError(
        f"{option} {wanted!r} does not occur in treatment column {column!r} (values: {shown})"
    )


def resolve_arms(
    labels: pd.Series,
    column: str,
    treated_value: str | None,
    control_value: str | None,
) -> tuple[str, tuple[str, ...]]:
    """The control label and the treated labels to compare with it.

    Two values with no labels given: 1/true/yes is treated and 0/false/no the control.
    More than two values need `control_value`; each other value is then compared with it
    (or only `treated_value`, if given).
    """
    values = sorted(labels.unique())
    if len(values) < 2:
        raise EffectsError(
            f"treatment column {column!r} is constant ({values[0]!r} in every row): "
            "there is nothing to compare"
        )
    treated = (
        None
        if treated_value is None
        else _find_label(values, treated_value, "--treated-value", column)
    )
    control = (
        None
        if control_value is None
        else _find_label(values, control_value, "--control-value", column)
    )
    if treated is not None and treated == control:
        raise EffectsError(f"--treated-value and --control-value are both {treated!r}")
    if control is not None:
        others = tuple(v for v in values if v != control)
        return control, (treated,) if treated is not None else others
    if len(values) > 2:
        shown = ", ".join(repr(v) for v in values[:8]) + (", ..." if len(values) > 8 else "")
        raise EffectsError(
            f"treatment column {column!r} has {len(values)} distinct values ({shown}), not "
            "two; name the control arm with --control-value to compare each other value "
            "with it"
        )
    if treated is not None:
        return next(v for v in values if v != treated), (treated,)
    lowered = [v.lower() for v in values]
    for i, label in enumerate(lowered):
        other = lowered[1 - i]
        if label in _TRUE_LABELS and other in _FALSE_LABELS:
            return values[1 - i], (values[i],)
    raise EffectsError(
        f"treatment column {column!r} has values {values[0]!r} and {values[1]!r}; say which "
        "is treated with --treated-value (or --control-value)"
    )


def check_table(
    frame: pd.DataFrame,
    *,
    treatment: str,
    outcome: str,
    covariates: Sequence[str] | None = None,
    treated_value: str | None = None,
    control_value: str | None = None,
    cluster: str | None = None,
) -> EffectsTable:
    """Check `frame` for an effect estimate and decide the comparisons.

    Parameters
    ----------
    frame : the evaluator's table, one row per unit
    treatment, outcome : column names
    covariates : columns to adjust for; None means every other column (except `cluster`)
    treated_value, control_value : arm labels (see `resolve_arms`)
    cluster : optional column grouping rows that are not independent (one person's episodes)

    Raises
    ------
    EffectsError
        For a missing column, missing values, a constant column, a non-numeric outcome, a
        treatment column that does not hold the stated arms, or an arm with fewer than
        `MIN_UNITS_PER_ARM` units.
    """
    named_columns = [treatment, outcome, *(covariates or ()), *([cluster] if cluster else [])]
    if IDENTITY_COLUMN in named_columns:
        raise EffectsError(
            f"column {IDENTITY_COLUMN!r} (the personal identity code) {_IDENTITY_USE}"
        )
    if covariates is None:
        covariates = [
            c
            for c in frame.columns
            if c not in (treatment, outcome, cluster, IDENTITY_COLUMN)
            and not holds_identity_codes(frame[c])
        ]
    named = {"treatment": [treatment], "outcome": [outcome], "covariate": list(covariates)}
    if cluster is not None:
        named["cluster"] = [cluster]
    for role, columns in named.items():
        for column in columns:
            if column not in frame.columns:
                shown = ", ".join(repr(str(c)) for c in list(frame.columns)[:20])
                raise EffectsError(
                    f"{role} column {column!r} is not in the data (columns: {shown})"
                )
            if column in named_columns and holds_identity_codes(frame[column]):
                raise EffectsError(
                    f"{role} column {column!r} holds personal identity codes (henkilötunnus), "
                    f"and such a column {_IDENTITY_USE}"
                )
    if treatment in covariates or outcome in covariates:
        raise EffectsError("the treatment and outcome columns cannot also be covariates")
    if treatment == outcome:
        raise EffectsError(f"column {treatment!r} is named as both treatment and outcome")
    if len(frame) == 0:
        raise EffectsError("the data has no rows")
    used = [treatment, outcome, *covariates] + ([cluster] if cluster else [])
    for column in used:
        missing = frame[column].isna().to_numpy()
        if missing.any():
            raise EffectsError(_missing_rows_message(column, missing))
    y = frame[outcome]
    if pd.api.types.is_bool_dtype(y):
        y = y.astype(np.float64)
    if not pd.api.types.is_numeric_dtype(y):
        example = next(v for v in y if not _is_number(v))
        raise EffectsError(f"outcome column {outcome!r} is not numeric (found {example!r})")
    for column in [outcome, *covariates]:
        if frame[column].nunique() < 2:
            raise EffectsError(
                f"column {column!r} is constant ({frame[column].iloc[0]!r} in every row); "
                "a constant outcome has no effect to estimate and a constant covariate "
                "adjusts for nothing: leave it out"
            )
    labels = _label_text(frame[treatment])
    control, treated_values = resolve_arms(labels, treatment, treated_value, control_value)
    counts = labels.value_counts()
    for arm in (control, *treated_values):
        if counts.get(arm, 0) < MIN_UNITS_PER_ARM:
            raise EffectsError(
                f"treatment column {treatment!r}: arm {arm!r} has {counts.get(arm, 0)} "
                f"unit(s), fewer than the {MIN_UNITS_PER_ARM} an estimate needs"
            )
    checked = frame[used].copy()
    checked[treatment] = labels
    checked[outcome] = y.astype(np.float64)
    return EffectsTable(
        frame=checked.reset_index(drop=True),
        treatment=treatment,
        outcome=outcome,
        covariates=tuple(covariates),
        control_value=control,
        treated_values=treated_values,
        cluster=cluster,
    )


def _is_number(value: object) -> bool:
    try:
        float(str(value))
    except ValueError:
        return False
    return True
