"""Followed against overridden: the audit export joined to the register, for `polku effects`.

The audit store keeps, for each recommendation, the client's pseudonymous key (a keyed
HMAC of the personal identity code, or of the client id when no code was given) and what
the caseworker decided; it holds no outcomes and no needs. The register holds those. This
module joins the two: it recomputes each register client's possible keys with the same
secret (`models.henkilotunnus.pseudonymous_key` with the key `models.keys.derive_key` gives
for pseudonyms), matches each decided recommendation to the
client's latest assessment on or before the day of the suggestion (within
`MAX_DAYS_BEFORE`), and returns one row per matched recommendation with the need fields,
the outcomes and `followed_top`. Neither the code nor the client id leaves this module: the
joined table carries the pseudonymous key only.

A register is censored: the assessment a recommendation matches may not have its outcome
yet. The join keeps such a row with its outcome blank (NaN; it still matched the right
assessment, and an earlier one would be the wrong episode); the estimate leaves it out and
the output counts it (`AuditJoin.n_unobserved`). It is never read as 0.

The comparison it feeds (followed against overridden) is confounded by whatever made the
caseworker override, which the register may not record; `CAVEATS` says so in the output.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Final

import numpy as np
import pandas as pd

from models.henkilotunnus import pseudonymous_key
from models.keys import derive_key
from models.objectives import TARGETS, outcomes_from_episodes
from models.profile import NEED_FIELDS
from pipeline.effects.estimators import EffectsError

if TYPE_CHECKING:
    from pipeline.data.mapping import ExtractMapping

MAX_DAYS_BEFORE: Final = 31
HMAC_KEY_ENV: Final = "POLKU_HMAC_KEY"
CAVEATS: Final = (
    "Caveats: this compares clients whose caseworker followed Polku's top suggestion with "
    "those overridden. Caseworkers override for reasons the register may not record, so the "
    "comparison is confounded by exactly what the covariates miss; the followed arm got "
    "different services, so the contrast mixes many services' effects; and it values "
    "following when the caseworker chose to, not following always. For 'would following "
    "Polku do better', prefer `polku effects DIR --policy champion`."
)
_AUDIT_COLUMNS: Final = ("request_id", "created_at", "client_key", "followed_top")


@dataclass(frozen=True)
class AuditJoin:
    """The joined table and what could not be joined.

    Attributes
    ----------
    table : one row per matched, decided recommendation: `request_id`, `client_key`,
        `followed_top` ("followed" or "overridden"), the need fields, and the outcome targets
        of `TARGETS` (NaN where the register does not know it yet)
    n_decided : decided recommendations in the export
    n_unmatched : of those, how many found no assessment of the client in the window
    n_known_keys : of the decided, how many carry the key of a register client (under this
        HMAC secret): the rest cannot match whatever their dates
    suggested_span, assessed_span : first and last day of the decided suggestions and of
        the register's assessments (None when there are none)
    """

    table: pd.DataFrame
    n_decided: int
    n_unmatched: int
    n_known_keys: int = 0
    suggested_span: tuple[dt.date, dt.date] | None = None
    assessed_span: tuple[dt.date, dt.date] | None = None

    def n_unobserved(self, target: str) -> int:
        """Matched recommendations whose `target` outcome is not yet observed."""
        return int(self.table[target].isna().sum())

    def no_match_reason(self) -> str:
        """Why none of the decided recommendations matched: the keys, or the dates."""
        head = (
            f"none of the {self.n_decided} decided recommendations in the audit export "
            "matched an assessment of the register"
        )
        if self.n_decided == 0:
            return f"{head}: the export holds no decided recommendation"
        if self.n_known_keys == 0:
            return (
                f"{head}: none of their client keys is the key of a register client under "
                f"this HMAC secret (wrong HMAC key, or another register?)"
            )
        return (
            f"{head}: {self.n_known_keys} of {self.n_decided} carry the key of a register "
            f"client, but a suggestion matches only an assessment made up to "
            f"{MAX_DAYS_BEFORE} days before it, and the suggestions were made "
            f"{_span(self.suggested_span)} while the register's assessments run "
            f"{_span(self.assessed_span)}. Decisions recorded today cannot match a past "
            f"register; `polku replay DIR` records a simulated session at the assessments' "
            f"own dates"
        )


def _span(span: tuple[dt.date, dt.date] | None) -> str:
    return "(none)" if span is None else f"{span[0].isoformat()}..{span[1].isoformat()}"


def _span_of(days: pd.Series) -> tuple[dt.date, dt.date] | None:
    days = days.dropna()
    return None if days.empty else (days.min().date(), days.max().date())


def _day(values: pd.Series) -> pd.Series:
    """Dates as naive day-precision timestamps in one unit (merge_asof needs equal dtypes)."""
    moments = pd.to_datetime(values)
    if moments.dt.tz is not None:
        moments = moments.dt.tz_convert("UTC").dt.tz_localize(None)
    return moments.dt.normalize().astype("datetime64[ns]")


def _as_bool(values: pd.Series) -> np.ndarray:
    text = values.astype(str).str.strip().str.lower()
    return text.isin(("true", "1", "yes")).to_numpy()


def latest_decisions(audit: pd.DataFrame) -> pd.DataFrame:
    """The last decision of each decided recommendation (a correction supersedes)."""
    missing = [c for c in _AUDIT_COLUMNS if c not in audit.columns]
    if missing:
        raise EffectsError(f"the audit export lacks column(s) {', '.join(missing)}")
    decided = audit[audit["followed_top"].notna() & (audit["followed_top"].astype(str) != "")]
    if "kind" in decided.columns:
        decided = decided[decided["kind"].astype(str) == "recommendation"]
    if "degraded" in decided.columns:  # the model was switched off: nothing was suggested
        decided = decided[~_as_bool(decided["degraded"])]
    order = "decided_at" if "decided_at" in decided.columns else "created_at"
    decided = decided.assign(_order=pd.to_datetime(decided[order], errors="coerce"))
    last = decided.sort_values("_order").groupby("request_id", sort=False).tail(1)
    return last.drop(columns="_order").reset_index(drop=True)


def _keys_of_clients(
    episodes: pd.DataFrame, clients: pd.DataFrame | None, key: bytes
) -> pd.DataFrame:
    """Each register client's possible audit keys: of the client id, and of the code."""
    ids = episodes["client_id"].astype(str).drop_duplicates()
    frames = [
        pd.DataFrame({"client_id": ids, "client_key": [pseudonymous_key(i, key) for i in ids]})
    ]
    if clients is not None and "henkilotunnus" in clients.columns:
        with_code = clients.loc[clients["henkilotunnus"].notna(), ["client_id", "henkilotunnus"]]
        frames.append(
            pd.DataFrame(
                {
                    "client_id": with_code["client_id"].astype(str).to_numpy(),
                    "client_key": [
                        pseudonymous_key(str(code).strip().upper(), key)
                        for code in with_code["henkilotunnus"]
                    ],
                }
            )
        )
    return pd.concat(frames, ignore_index=True).drop_duplicates("client_key")


def join_audit(
    audit: pd.DataFrame,
    episodes: pd.DataFrame,
    key: bytes,
    *,
    clients: pd.DataFrame | None = None,
) -> AuditJoin:
    """Join decided recommendations of an audit export to the register's assessments.

    Parameters
    ----------
    audit : the export of `polku audit export` (suggestions joined with decisions)
    episodes : the register's episodes (profile columns, outcomes)
    key : the audit store's HMAC secret, with which the client keys were made
    clients : the register's clients file, for keys made from the identity code
    """
    decided = latest_decisions(audit)
    keys = _keys_of_clients(episodes, clients, key)
    outcomes = outcomes_from_episodes(episodes)
    register = episodes[["client_id", "assessment_date", *NEED_FIELDS]].copy()
    register["client_id"] = register["client_id"].astype(str)
    register["assessment_date"] = _day(register["assessment_date"])
    for j, target in enumerate(TARGETS):
        register[target] = outcomes[:, j]
    register = register.merge(keys, on="client_id")
    suggestions = decided[["request_id", "created_at", "client_key", "followed_top"]].copy()
    suggestions["suggested_on"] = _day(suggestions["created_at"])
    suggestions = suggestions.sort_values("suggested_on")
    register = register.sort_values("assessment_date")
    joined = pd.merge_asof(
        suggestions,
        register,
        left_on="suggested_on",
        right_on="assessment_date",
        by="client_key",
        direction="backward",
        tolerance=pd.Timedelta(days=MAX_DAYS_BEFORE),
    )
    matched = joined["assessment_date"].notna()
    table = joined.loc[matched, ["request_id", "client_key", *NEED_FIELDS, *TARGETS]].copy()
    # The as-of merge widens columns (bools to objects) to hold the unmatched rows' gaps.
    table = table.astype({c: register[c].dtype for c in (*NEED_FIELDS, *TARGETS)})
    table.insert(2, "followed_top", np.where(_as_bool(joined.loc[matched, "followed_top"]),
                                             "followed", "overridden"))  # fmt: skip
    return AuditJoin(
        table=table.reset_index(drop=True),
        n_decided=len(decided),
        n_unmatched=int((~matched).sum()),
        n_known_keys=int(suggestions["client_key"].isin(register["client_key"]).sum()),
        suggested_span=_span_of(suggestions["suggested_on"]),
        assessed_span=_span_of(register["assessment_date"]),
    )


def read_audit(path: Path) -> pd.DataFrame:
    """An audit export (.csv, .jsonl or .parquet), with a clear error when unreadable."""
    if not path.is_file():
        raise EffectsError(f"audit export {str(path)!r} does not exist")
    suffix = path.suffix.lower()
    try:
        if suffix == ".parquet":
            return pd.read_parquet(path)
        if suffix == ".jsonl":
            return pd.read_json(path, lines=True)
        return pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""])
    except (ValueError, OSError) as exc:
        raise EffectsError(f"cannot read the audit export {str(path)!r}: {exc}") from None


def audit_key(key_file: Path | None = None) -> bytes:
    """The audit store's HMAC secret: `key_file`, else `$POLKU_HMAC_KEY`, else the local key
    file the service keeps in the state directory (`audit-hmac.key`)."""
    import os

    from models.state import state_dir

    if key_file is not None:
        if not key_file.is_file():
            raise EffectsError(f"HMAC key file {str(key_file)!r} does not exist")
        return key_file.read_bytes().strip()
    configured = os.environ.get(HMAC_KEY_ENV)
    if configured:
        return configured.encode()
    local = state_dir() / "audit-hmac.key"
    if local.is_file():
        return local.read_bytes().strip()
    raise EffectsError(
        f"no HMAC key: the client keys of the audit export can only be matched with the "
        f"service's secret (set {HMAC_KEY_ENV} or give --hmac-key-file)"
    )


def run_audit_effects(
    directory: Path,
    audit_path: Path,
    *,
    target: str,
    estimand: str = "att",
    n_bootstrap: int = 0,
    seed: int = 0,
    key_file: Path | None = None,
    json_out: Path | None = None,
    report: Path | None = None,
    mapping: ExtractMapping | None = None,
) -> str:
    """`polku effects DIR --audit EXPORT`: followed against overridden, with the caveats.

    With a `mapping`, the register's episodes and clients are read through it.
    """
    from models.catalog import load_catalog
    from pipeline.data.layout import find_file
    from pipeline.data.register import read_table
    from pipeline.effects.analysis import analyse
    from pipeline.effects.register import load_register
    from pipeline.effects.report import text_report, write_html_report, write_json
    from pipeline.effects.table import check_table

    if target not in TARGETS:
        raise EffectsError(f"--objective for --audit must be one target of {', '.join(TARGETS)}")
    key = derive_key(audit_key(key_file), "pseudonym")  # as the service derives it
    episodes = load_register(directory, load_catalog(), mapping)
    try:
        clients = read_table(find_file(directory, "clients"), mapping)
    except FileNotFoundError:
        clients = None
    joined = join_audit(read_audit(audit_path), episodes, key, clients=clients)
    if joined.table.empty:
        raise EffectsError(joined.no_match_reason())
    n_matched = len(joined.table)
    n_unobserved = joined.n_unobserved(target)
    if n_unobserved == n_matched:
        raise EffectsError(
            f"all {n_matched} matched recommendations await their {target} outcome (not yet "
            "observed in the register): there is nothing to compare yet"
        )
    # Recommendations whose outcome is not yet observed are left out (and counted).
    known = joined.table.loc[joined.table[target].notna()].reset_index(drop=True)
    # A need nobody in the export has adjusts for nothing (and check_table would refuse it).
    covariates = [c for c in NEED_FIELDS if known[c].nunique() > 1]
    table = check_table(
        known,
        treatment="followed_top",
        outcome=target,
        covariates=covariates,
        treated_value="followed",
        control_value="overridden",
        cluster="client_key",
    )
    result = analyse(
        table,
        estimand="ate" if estimand == "ate" else "att",
        n_bootstrap=n_bootstrap,
        seed=seed,
        source=f"{audit_path} joined with {directory}",
    )
    text = (
        f"{joined.n_decided} decided recommendations in the audit export; "
        f"{joined.n_decided - joined.n_unmatched} matched to an assessment in the register "
        f"(within {MAX_DAYS_BEFORE} days before the suggestion), {joined.n_unmatched} not."
        + (
            f" Of the matched, {n_unobserved} await their {target} outcome (not yet observed "
            f"in the register) and are left out; the estimate uses {n_matched - n_unobserved}."
            if n_unobserved
            else ""
        )
        + "\n\n"
        + text_report(result)
        + "\n"
        + CAVEATS
        + "\n"
    )
    if json_out is not None:
        write_json(result, json_out)
        text += f"JSON written to {json_out}\n"
    if report is not None:
        text += f"HTML report written to {write_html_report(result, report)}\n"
    return text
