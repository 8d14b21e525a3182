"""Reading and checking `polku feedback`'s two inputs, naming each bad row and field.

The audit export is what `polku audit export` writes (CSV, JSON lines or Parquet; the
columns of `service.audit.schema.EXPORT_COLUMNS`). The outcome extract is a later register
extract: one row per client and assessment date, with the outcomes known so far. Its
contract (`OUTCOME_KEYS`, `OUTCOME_DATE`, `EPISODE_OUTCOMES`):

- the client, as the audit keys them: `client_key` (the keyed pseudonym itself), or
  `henkilotunnus` or `client_id`, from which the key is made with the service's secret;
- `assessment_date`: the day the outcomes are counted from (the assessment the
  suggestion was made at);
- `employed_6m`, `education_6m`, `employed_12m`: 0 or 1, or empty while not yet known.

Every problem is collected (up to `MAX_PROBLEMS`) with its file, row (1 = the first data
row) and field, and reported together, so one run fixes them all.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import pandas as pd

from models.objectives import EPISODE_OUTCOMES
from pipeline.data.table_file import TableReadError, read_table_file

AUDIT_REQUIRED: Final = ("request_id", "created_at", "kind", "client_key", "ranking")
AUDIT_DECISION: Final = ("decided_at", "choice", "chosen_service_id", "followed_top", "reason")
OUTCOME_KEYS: Final = ("client_key", "henkilotunnus", "client_id")
OUTCOME_DATE: Final = "assessment_date"
MAX_PROBLEMS: Final = 20
# Episodes an off-policy estimate needs at the least (a mean and its standard error).
MIN_EPISODES: Final = 2
_TRUE: Final = ("true", "1", "yes")
_FALSE: Final = ("false", "0", "no")


class FeedbackError(ValueError):
    """An input of `polku feedback` cannot be used; the message names what and where."""


@dataclass(frozen=True, slots=True)
class Problem:
    """One bad field of one row (`row` 1 is the first data row; 0: the file itself)."""

    source: str
    row: int
    field: str
    message: str

    def __str__(self) -> str:
        where = f"{self.source}" if self.row == 0 else f"{self.source} row {self.row}"
        return f"{where}, {self.field}: {self.message}"


def describe_problems(problems: list[Problem]) -> str:
    """The problems as one message (the first `MAX_PROBLEMS` listed)."""
    shown = "\n".join(f"  {p}" for p in problems[:MAX_PROBLEMS])
    more = len(problems) - MAX_PROBLEMS
    tail = f"\n  ... and {more} more" if more > 0 else ""
    return f"{len(problems)} problem(s) in the input:\n{shown}{tail}"


def raise_problems(problems: list[Problem]) -> None:
    """Raise one `FeedbackError` listing the problems (none: return)."""
    if problems:
        raise FeedbackError(describe_problems(problems))


def read_table(path: Path, what: str) -> pd.DataFrame:
    """A CSV (all text), JSON lines or Parquet file, or a `FeedbackError` saying why not."""
    if not path.is_file():
        raise FeedbackError(f"{what} {str(path)!r} does not exist")
    suffix = path.suffix.lower()
    if suffix in (".csv", ".parquet"):  # the one reader of extracts: ',' or ';', no cell quoted
        try:
            return read_table_file(path)
        except TableReadError as exc:
            raise FeedbackError(f"cannot read the {what} {str(path)!r}: {exc.reason}") from None
    if suffix == ".jsonl":
        try:
            return pd.read_json(path, lines=True, dtype=False)
        except (ValueError, OSError) as exc:
            raise FeedbackError(f"cannot read the {what} {str(path)!r}: {exc}") from None
    raise FeedbackError(f"{what} {str(path)!r}: use a .csv, .jsonl or .parquet file")


def is_blank(value: object) -> bool:
    """None, NaN, pandas' NA or NaT, or the empty string: a field left empty."""
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    return (isinstance(value, float) and pd.isna(value)) or str(value) == ""


def parse_bool(value: object) -> bool | None:
    """True/False from what an export writes (bool, "true", "1", ...); None for blank or
    anything else (the caller reports it)."""
    if isinstance(value, bool):
        return value
    if is_blank(value):
        return None
    text = str(value).strip().lower()
    return True if text in _TRUE else False if text in _FALSE else None


def parse_outcome(value: object) -> float | None:
    """A 0/1 outcome as a file holds it (number or text): 0.0 or 1.0, NaN while blank (not
    yet known); None for anything else (the caller reports it)."""
    if is_blank(value):
        return float("nan")
    text = str(value).strip()
    return float(text) if text in ("0", "1", "0.0", "1.0") else None


def check_audit(audit: pd.DataFrame, source: str = "audit export") -> pd.DataFrame:
    """The export's recommendations with `ranking` parsed into lists and times parsed."""
    problems = [
        Problem(source, 0, column, "column is missing")
        for column in (*AUDIT_REQUIRED, *AUDIT_DECISION)
        if column not in audit.columns
    ]
    raise_problems(problems)
    audit = audit.reset_index(drop=True)
    rankings: list[list[dict[str, object]]] = []
    created = pd.to_datetime(audit["created_at"], errors="coerce", utc=True, format="mixed")
    decided = pd.to_datetime(audit["decided_at"], errors="coerce", utc=True, format="mixed")
    followed: list[bool | None] = []
    for i, row in enumerate(audit.to_dict("records")):
        n = i + 1
        if is_blank(row["request_id"]):
            problems.append(Problem(source, n, "request_id", "is empty"))
        if is_blank(row["client_key"]):
            problems.append(Problem(source, n, "client_key", "is empty"))
        if pd.isna(created.iloc[i]):
            problems.append(Problem(source, n, "created_at", "is not a date and time"))
        decided_here = not is_blank(row["choice"])
        if decided_here and pd.isna(decided.iloc[i]):
            problems.append(Problem(source, n, "decided_at", "is not a date and time"))
        flag = parse_bool(row["followed_top"])
        if decided_here and flag is None:
            problems.append(Problem(source, n, "followed_top", "is not true or false"))
        followed.append(flag)
        rankings.append(_ranking(row["ranking"], source, n, problems))
    raise_problems(problems)
    out = audit.assign(
        created_at=created,
        decided_at=decided,
        ranking=pd.Series(rankings, index=audit.index, dtype=object),
        followed_top=pd.Series(followed, index=audit.index, dtype=object),
    )
    return out[out["kind"].astype(str) == "recommendation"].reset_index(drop=True)


def _ranking(
    value: object, source: str, row: int, problems: list[Problem]
) -> list[dict[str, object]]:
    parsed = value
    if isinstance(value, str):
        try:
            parsed = json.loads(value)
        except json.JSONDecodeError:
            problems.append(Problem(source, row, "ranking", "is not JSON"))
            return []
    if hasattr(parsed, "tolist"):  # a Parquet list column
        parsed = parsed.tolist()
    if not isinstance(parsed, list) or not all(
        isinstance(e, dict) and isinstance(e.get("service_id"), str) for e in parsed
    ):
        problems.append(Problem(source, row, "ranking", "is not a list of ranked services"))
        return []
    return parsed


def check_outcomes(outcomes: pd.DataFrame, source: str = "outcome extract") -> pd.DataFrame:
    """The extract with its date parsed and outcomes as floats (NaN: not yet known)."""
    problems: list[Problem] = []
    if not any(k in outcomes.columns for k in OUTCOME_KEYS):
        problems.append(Problem(source, 0, "/".join(OUTCOME_KEYS), "no client column"))
    for column in (OUTCOME_DATE, *EPISODE_OUTCOMES):
        if column not in outcomes.columns:
            problems.append(Problem(source, 0, column, "column is missing"))
    raise_problems(problems)
    outcomes = outcomes.reset_index(drop=True)
    dates = pd.to_datetime(outcomes[OUTCOME_DATE], errors="coerce", format="mixed")
    values: dict[str, list[float]] = {c: [] for c in EPISODE_OUTCOMES}
    keys = [k for k in OUTCOME_KEYS if k in outcomes.columns]
    for i, row in enumerate(outcomes.to_dict("records")):
        n = i + 1
        if all(is_blank(row[k]) for k in keys):
            problems.append(Problem(source, n, "/".join(keys), "no client key, code or id"))
        if pd.isna(dates.iloc[i]):
            problems.append(Problem(source, n, OUTCOME_DATE, "is not a date"))
        for column in EPISODE_OUTCOMES:
            outcome = parse_outcome(row[column])
            if outcome is None:
                problems.append(Problem(source, n, column, "is not 0, 1 or empty"))
            values[column].append(float("nan") if outcome is None else outcome)
    raise_problems(problems)
    return outcomes.assign(**{OUTCOME_DATE: dates}, **values)
