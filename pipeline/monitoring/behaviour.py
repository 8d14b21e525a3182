"""What happened to the served requests: closed services, overrides, outcomes against predictions.

- closures: the share of recommendation requests the gate refused, and of the admitted
  the share with at least one service closed by the catalog's limits (beside the same
  shares in the training data);
- overrides: among decided recommendations, the share where the caseworker did not take
  the first place shown, by that service and by group (of the model inputs: age band,
  long-term unemployment, a low Finnish/Swedish level, partial work ability; never a
  protected attribute), with the reasons given most often;
- calibration: for decided recommendations whose outcomes have arrived (`polku feedback`
  episodes), the outcome the audit row predicted for what was taken (`expected_with` of the
  chosen service, `expected_without` for none) against the realised one, overall and by
  the service taken. A service chosen outside the list has no prediction and is left out.
"""

from __future__ import annotations

import json
from typing import Any, Final

import numpy as np
import pandas as pd

from models.features import LOW_LANGUAGE_RANK
from models.objectives import EPISODE_OUTCOMES, TARGETS, Objective, outcomes_from_episodes
from models.profile import LANGUAGE_LEVELS

TOP_REASONS: Final = 3
_LOW_LANGUAGE: Final = LANGUAGE_LEVELS[: LOW_LANGUAGE_RANK + 1]


def groups_of(inputs: pd.DataFrame) -> dict[str, pd.Series]:
    """Group name -> mask over rows of model inputs (`models.input_profile` columns)."""
    age = pd.to_numeric(inputs["age"], errors="coerce")
    months = pd.to_numeric(inputs["unemployment_months"], errors="coerce")
    return {
        "age_under_30": age < 30,
        "age_30_54": (age >= 30) & (age < 55),
        "age_55_plus": age >= 55,
        "long_term_unemployed": months >= 12,
        "low_language_level": inputs["language_level"].astype(str).isin(_LOW_LANGUAGE),
        "partial_work_ability": inputs["work_ability"].astype(str) != "full",
    }


def closures(served: pd.DataFrame) -> dict[str, float]:
    """Gate-refused share of requests, catalog-closed share of the admitted, mean closed."""
    if served.empty:
        return {"gate_closed_share": float("nan"), "catalog_closed_share": float("nan")}
    eligible = served["eligible"].astype(bool)
    closed = served["closed_by_catalog"].map(_ids).map(len)
    admitted = closed[eligible]
    return {
        "gate_closed_share": float((~eligible).mean()),
        "catalog_closed_share": float((admitted > 0).mean()) if len(admitted) else float("nan"),
        "catalog_closed_mean": float(admitted.mean()) if len(admitted) else float("nan"),
    }


def _ids(value: object) -> list[str]:
    if isinstance(value, list | tuple | np.ndarray):
        return [str(v) for v in value]
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return []
    return str(value).split()


def _entries(ranking: object) -> list[dict[str, Any]]:
    """A ranking as the export holds it (JSON text, or a list read back from JSON lines)."""
    entries = json.loads(ranking) if isinstance(ranking, str) else ranking
    if isinstance(entries, np.ndarray):
        entries = entries.tolist()
    return list(entries) if isinstance(entries, list) else []


def _first_shown(ranking: object) -> str | None:
    entries = _entries(ranking)
    return str(entries[0]["service_id"]) if entries else None


def decided(audit: pd.DataFrame) -> pd.DataFrame:
    """Each decided recommendation once (its latest decision), with the first place shown."""
    rows = audit[(audit["kind"].astype(str) == "recommendation") & audit["choice"].notna()]
    rows = rows[rows["choice"].astype(str) != ""]
    rows = rows.assign(_at=pd.to_datetime(rows["decided_at"], utc=True, format="mixed"))
    last = rows.sort_values("_at", kind="stable").groupby("request_id").tail(1)
    last = last.drop(columns="_at").reset_index(drop=True)
    last["first_shown"] = last["ranking"].map(_first_shown)
    text = last["followed_top"].astype(str).str.strip().str.lower()
    last["overridden"] = ~text.isin(("true", "1", "yes"))
    return last[last["first_shown"].notna()].reset_index(drop=True)


def overrides(decisions: pd.DataFrame, inputs: pd.DataFrame) -> tuple[pd.DataFrame, float]:
    """Override rates by service and by group, and the overall rate.

    Returns a frame with `by` ("service" or "group"), `name`, `n`, `override_rate`,
    `top_reasons` (the most frequent stated reasons, with counts).
    """
    if decisions.empty:
        return pd.DataFrame(columns=["by", "name", "n", "override_rate", "top_reasons"]), float(
            "nan"
        )
    rows = [
        _rate("service", str(service), part)
        for service, part in decisions.groupby("first_shown", sort=True)
    ]
    joined = decisions.merge(inputs, on="request_id", how="inner")
    if not joined.empty:
        for name, mask in groups_of(joined).items():
            part = joined[mask.fillna(False).to_numpy(dtype=bool)]
            if len(part):
                rows.append(_rate("group", name, part))
    return pd.DataFrame(rows), float(decisions["overridden"].mean())


def _rate(by: str, name: str, part: pd.DataFrame) -> dict[str, object]:
    reasons = part.loc[part["overridden"], "reason"].dropna().astype(str).str.strip().str.lower()
    reasons = reasons[reasons != ""]
    top = reasons.value_counts().head(TOP_REASONS)
    return {
        "by": by,
        "name": name,
        "n": len(part),
        "override_rate": float(part["overridden"].mean()),
        "top_reasons": "; ".join(f"{reason} ({count})" for reason, count in top.items()),
    }


def calibration(decisions: pd.DataFrame, episodes: pd.DataFrame) -> pd.DataFrame:
    """Predicted against realised outcome of what was taken, overall and by service taken.

    Rows: `service_id` ("all" first), `n`, `predicted`, `realised`, `difference`.
    """
    columns = ["service_id", "n", "predicted", "realised", "difference"]
    if decisions.empty or episodes.empty:
        return pd.DataFrame(columns=columns)
    merged = decisions.merge(episodes, on="request_id", how="inner", suffixes=("", "_episode"))
    rows = []
    for _, row in merged.iterrows():
        entries = _entries(row["ranking"])
        taken = row["service_id"]
        if not entries or pd.isna(taken):
            continue
        if taken == "none":
            predicted = float(entries[0]["expected_without"])
        else:
            match = [e for e in entries if e["service_id"] == taken]
            if not match:
                continue
            predicted = float(match[0]["expected_with"])
        realised = _realised(row, str(row["objective"]))
        if realised is not None:
            rows.append({"service_id": taken, "predicted": predicted, "realised": realised})
    if not rows:
        return pd.DataFrame(columns=columns)
    frame = pd.DataFrame(rows)
    out = [_calibrated("all", frame)]
    out += [_calibrated(str(s), part) for s, part in frame.groupby("service_id", sort=True)]
    return pd.DataFrame(out, columns=columns)


def _realised(row: pd.Series, objective: str) -> float | None:
    """The objective's realised outcome of one episode; None while a needed one is unknown."""
    weights = Objective.parse(objective).target_weights
    known = {c: row.get(c) for c in EPISODE_OUTCOMES}
    if any(v is None or pd.isna(v) for v in known.values()):
        # The targets that can be made from what is known; unweighted ones may stay unknown.
        needed = [t for t, w in zip(TARGETS, weights, strict=True) if w > 0]
        sources = {"employment_or_education_6m": ("employed_6m", "education_6m"),
                   "employment_12m": ("employed_12m",)}  # fmt: skip
        if any(pd.isna(known[c]) for t in needed for c in sources[t]):
            return None
        known = {c: 0 if pd.isna(v) else v for c, v in known.items()}
    outcomes = outcomes_from_episodes(pd.DataFrame([known]))[0]
    return float(outcomes @ weights)


def _calibrated(name: str, part: pd.DataFrame) -> dict[str, object]:
    predicted, realised = float(part["predicted"].mean()), float(part["realised"].mean())
    return {
        "service_id": name,
        "n": len(part),
        "predicted": predicted,
        "realised": realised,
        "difference": realised - predicted,
    }
