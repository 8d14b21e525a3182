"""Audit export + later outcome extract -> training episodes that remember what Polku did.

Each decided recommendation of the audit export (its latest decision: a correction
supersedes) is matched to the outcome extract's row of the same client (by pseudonymous
key) whose assessment date is on or before the day of the suggestion, within
`pipeline.effects.audit.MAX_DAYS_BEFORE` days (the join rule `polku effects --audit` uses).
The episode records what was suggested (the order shown, the first place, the model's own
best), what the caseworker chose, and the probability with which the first place was shown:
`p_first` of the audit row's ranking where Polku randomised (`models.exploration`), else 1
(the model's order is a function of the profile); `first_place_probabilities` keeps every
service's chance of the first place (a JSON object), which `polku evaluate-feedback` needs
for the support of another policy. Identity codes and client ids never leave
this module: an episode's client is its pseudonymous key (also as `client_id`, which
training groups folds by).
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import numpy as np
import pandas as pd

from models.henkilotunnus import pseudonymous_key
from models.objectives import EPISODE_OUTCOMES
from models.output_files import atomic_write_bytes
from models.profile import PROFILE_COLUMNS
from pipeline.effects.audit import MAX_DAYS_BEFORE
from pipeline.feedback.inputs import OUTCOME_DATE, FeedbackError

EPISODE_COLUMNS: Final = (
    "request_id",
    "client_key",
    "suggested_on",
    "model_version",
    "objective",
    "shown_service_ids",
    "suggested_service_id",
    "model_top_service_id",
    "randomised",
    "suggestion_probability",
    "first_place_probabilities",
    "decided_at",
    "choice",
    "service_id",
    "followed_top",
    "reason",
    OUTCOME_DATE,
    *EPISODE_OUTCOMES,
)
# Identity never leaves; the join date is an episode column already.
_NOT_PASSED_ON: Final = ("henkilotunnus", "client_id", OUTCOME_DATE)
OUTPUT_FORMATS: Final = (".parquet", ".csv")


@dataclass(frozen=True)
class Feedback:
    """The joined episodes and what could not be joined."""

    episodes: pd.DataFrame
    n_recommendations: int
    n_decided: int
    n_unmatched: int

    def summary(self) -> str:
        e = self.episodes
        known = ", ".join(f"{c} {int(e[c].notna().sum())}" for c in EPISODE_OUTCOMES)
        return (
            f"{self.n_recommendations} recommendations in the audit export, {self.n_decided} "
            f"decided; {len(e)} joined to an outcome row (assessed up to {MAX_DAYS_BEFORE} days "
            f"before the suggestion), {self.n_unmatched} not. Of the joined: "
            f"{int(e['randomised'].sum())} with the first place randomised, "
            f"{int(e['followed_top'].sum())} following the first place; outcomes known: {known}."
        )


def _suggested(ranking: list[dict[str, object]]) -> dict[str, object]:
    """What a ranking says was shown, and with what probability the first place."""
    if not ranking:
        return {
            "shown_service_ids": "",
            "suggested_service_id": None,
            "model_top_service_id": None,
            "randomised": False,
            "suggestion_probability": np.nan,
            "first_place_probabilities": "",
        }
    first = ranking[0]
    model_top = next((e for e in ranking if e.get("model_rank") == 1), first)
    p = first.get("p_first")
    candidates = sum(1 for e in ranking if _probability(e) > 0.0)
    # Every service's chance of the first place (off-policy support of other policies);
    # without exploration the first place was the only one possible.
    chances = (
        {str(e["service_id"]): _probability(e) for e in ranking if _probability(e) > 0.0}
        if p is not None
        else {str(first["service_id"]): 1.0}
    )
    return {
        "shown_service_ids": " ".join(str(e["service_id"]) for e in ranking),
        "suggested_service_id": first["service_id"],
        "model_top_service_id": model_top["service_id"],
        "randomised": p is not None and candidates > 1,
        "suggestion_probability": 1.0 if p is None else float(p),  # type: ignore[arg-type]
        "first_place_probabilities": json.dumps(chances),
    }


def _probability(entry: dict[str, object]) -> float:
    value = entry.get("p_first")
    return float(value) if isinstance(value, int | float) else 0.0


def latest_decided(audit: pd.DataFrame) -> pd.DataFrame:
    """Each decided recommendation once, with its latest decision."""
    decided = audit[audit["choice"].notna() & (audit["choice"].astype(str) != "")]
    decided = decided.sort_values(["decided_at"], kind="stable")
    return decided.groupby("request_id", sort=False).tail(1).reset_index(drop=True)


def outcome_keys(outcomes: pd.DataFrame, key: bytes | None) -> pd.DataFrame:
    """The extract with one row per possible audit key of each row (`client_key`)."""
    if "client_key" in outcomes.columns and outcomes["client_key"].notna().all():
        return outcomes.assign(client_key=outcomes["client_key"].astype(str))
    if key is None:
        raise FeedbackError(
            "the outcome extract has no client_key column: its henkilotunnus or client_id can "
            "be keyed only with the service's HMAC secret (set POLKU_HMAC_KEY or give "
            "--hmac-key-file)"
        )
    frames = []
    for column, normal in (("henkilotunnus", str.upper), ("client_id", str)):
        if column not in outcomes.columns:
            continue
        rows = outcomes[outcomes[column].notna() & (outcomes[column].astype(str) != "")]
        keys = [pseudonymous_key(normal(str(v).strip()), key) for v in rows[column]]
        frames.append(rows.assign(client_key=keys))
    if "client_key" in outcomes.columns:
        frames.append(outcomes[outcomes["client_key"].notna()])
    return pd.concat(frames).drop_duplicates(["client_key", OUTCOME_DATE])


def join_feedback(audit: pd.DataFrame, outcomes: pd.DataFrame, key: bytes | None) -> Feedback:
    """Join checked inputs (`pipeline.feedback.inputs`) into training episodes."""
    decided = latest_decided(audit)
    described = pd.DataFrame([_suggested(r) for r in decided["ranking"]], index=decided.index)
    suggestions = pd.concat([decided, described], axis=1)
    suggestions["suggested_on"] = _day(suggestions["created_at"])
    suggestions["service_id"] = np.where(
        suggestions["choice"].astype(str) == "none",
        "none",
        suggestions["chosen_service_id"].astype(object),
    )
    register = outcome_keys(outcomes, key)
    profile = [c for c in PROFILE_COLUMNS if c in register.columns and c not in _NOT_PASSED_ON]
    register = register[["client_key", OUTCOME_DATE, *EPISODE_OUTCOMES, *profile]].copy()
    register[OUTCOME_DATE] = _day(register[OUTCOME_DATE])
    joined = pd.merge_asof(
        suggestions.sort_values("suggested_on"),
        register.sort_values(OUTCOME_DATE),
        left_on="suggested_on",
        right_on=OUTCOME_DATE,
        by="client_key",
        direction="backward",
        tolerance=pd.Timedelta(days=MAX_DAYS_BEFORE),
    )
    matched = joined[joined[OUTCOME_DATE].notna()]
    episodes = matched[[*EPISODE_COLUMNS, *profile]].copy()
    episodes["followed_top"] = episodes["followed_top"].astype(bool)
    episodes["randomised"] = episodes["randomised"].astype(bool)
    if profile:
        episodes.insert(len(EPISODE_COLUMNS), "client_id", episodes["client_key"])
    return Feedback(
        episodes=episodes.sort_values(["suggested_on", "request_id"]).reset_index(drop=True),
        n_recommendations=int(audit["request_id"].nunique()),
        n_decided=len(decided),
        n_unmatched=len(joined) - len(matched),
    )


def write_episodes(episodes: pd.DataFrame, out: Path) -> Path:
    """Write the episodes whole or not at all (.parquet or .csv)."""
    suffix = out.suffix.lower()
    if suffix not in OUTPUT_FORMATS:
        raise FeedbackError(f"cannot write {out.name!r}: use a .parquet or .csv file")
    buffer = io.BytesIO()
    if suffix == ".parquet":
        episodes.to_parquet(buffer, index=False)
    else:
        buffer.write(episodes.to_csv(index=False).encode())
    atomic_write_bytes(out, buffer.getvalue())
    return out


def _day(values: pd.Series) -> pd.Series:
    moments = pd.to_datetime(values, utc=True, format="mixed")
    return moments.dt.tz_localize(None).dt.normalize().astype("datetime64[ns]")
