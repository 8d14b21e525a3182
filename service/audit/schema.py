"""The audit tables, the one definition every list of audit columns derives from.

Two tables: `suggestions` (one row per answered request) and `decisions` (what a caseworker
decided, a correction being a later row), and beside them `security_events` (refused
attempts, such as a decision on another caseworker's request). All are append-only: the
triggers the migrations create (`service/audit/migrations/`) refuse updates, deletes outside
retention and rows without a chain hash, in SQLite and PostgreSQL alike. The joined view
evaluators read (`EXPORT_COLUMNS`), the export's Parquet schema and the API's record schema
are all derived from these tables; a test holds the migrated schema equal to them.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
from dataclasses import dataclass
from typing import Final, Literal

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

Choice = Literal["suggested", "other", "none"]
CHOICES: Final[tuple[Choice, ...]] = ("suggested", "other", "none")

metadata = MetaData()

suggestions = Table(
    "suggestions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("request_id", String(36), nullable=False, unique=True),
    Column("created_at", DateTime(), nullable=False, index=True),
    Column("kind", String(16), nullable=False),
    Column("actor", String(64), nullable=True),
    Column("client_key", String(64), nullable=False, index=True),
    Column("input_hash", String(64), nullable=False),
    Column("rules_version", String(64), nullable=False),
    Column("model_version", String(64), nullable=True),
    Column("objective", String(200), nullable=True),
    Column("language", String(2), nullable=False),
    Column("top_k", Integer, nullable=True),
    Column("eligible", Boolean, nullable=False),
    Column("responsible_office", String(32), nullable=False),
    Column("ranking", Text, nullable=False),
    Column("chain_hash", String(64), nullable=True),
)

decisions = Table(
    "decisions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column(
        "request_id",
        String(36),
        ForeignKey("suggestions.request_id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    Column("created_at", DateTime(), nullable=False),
    Column("actor", String(64), nullable=True),
    Column("choice", String(16), nullable=False),
    Column("service_id", String(64), nullable=True),
    Column("followed_top", Boolean, nullable=False),
    Column("reason", Text, nullable=True),
    Column("chain_hash", String(64), nullable=True),
)

security_events = Table(
    "security_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("created_at", DateTime(), nullable=False, index=True),
    Column("event", String(32), nullable=False),
    Column("actor", String(64), nullable=True),
    Column("request_id", String(36), nullable=True),
    Column("chain_hash", String(64), nullable=True),
)

# Tamper evidence (`service.audit.chain`): what retention removed, sealed, so the chain
# still links across it; and the permit retention holds while it deletes.
audit_tombstones = Table(
    "audit_tombstones",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("table_name", String(32), nullable=False),
    Column("row_id", Integer, nullable=False),
    Column("chain_hash", String(64), nullable=False),
    Column("seal", String(64), nullable=False),
    UniqueConstraint("table_name", "row_id"),
)
audit_prune_permits = Table(
    "audit_prune_permits", metadata, Column("id", Integer, primary_key=True)
)

AUDIT_TABLES: Final = ("suggestions", "decisions", "security_events")
CHAINED_TABLES: Final = (suggestions, decisions, security_events)
# Columns the store keeps for itself: never part of a record, an export or the chain's content.
STORE_COLUMNS: Final = ("id", "chain_hash")


@functools.cache
def chained_columns(table: Table) -> tuple[str, ...]:
    """The columns of `table` a row's chain hash covers (all but the store's own)."""
    return tuple(c.name for c in table.c if c.name not in STORE_COLUMNS)


# What a record carries: every column but the store's own (row id, chain hash).
SUGGESTION_COLUMNS: Final = chained_columns(suggestions)
DECISION_COLUMNS: Final = chained_columns(decisions)
SECURITY_EVENT_COLUMNS: Final = chained_columns(security_events)

# The joined view: each suggestion's columns, then its decision's under these names (the
# decision's request id is the suggestion's, so it is not repeated).
_DECISION_LABELS: Final = {
    "id": "decision_id",
    "created_at": "decided_at",
    "actor": "decided_by",
    "service_id": "chosen_service_id",
}


# A suggestion's column, or a decision's (nullable: a suggestion may have no decision yet).
EXPORT_SOURCES: Final[tuple[tuple[str, Column[object], bool], ...]] = tuple(
    [(name, suggestions.c[name], bool(suggestions.c[name].nullable)) for name in SUGGESTION_COLUMNS]
    + [
        (_DECISION_LABELS.get(c.name, c.name), c, True)
        for c in decisions.c
        if c.name not in ("request_id", "chain_hash")
    ]
)
"""(name in the joined view, source column, nullable there), in view order."""

EXPORT_COLUMNS: Final = tuple(name for name, _, _ in EXPORT_SOURCES)
TIMESTAMP_COLUMNS: Final = tuple(
    name for name, column, _ in EXPORT_SOURCES if isinstance(column.type, DateTime)
)


def utc_now() -> dt.datetime:
    """The current time in UTC without tzinfo, as the store keeps it."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


@dataclass(frozen=True, slots=True)
class SuggestionRecord:
    """One answered eligibility or recommendation request, as the audit store keeps it.

    Its fields are `SUGGESTION_COLUMNS` (a test holds them equal). `ranking` is the JSON
    list of the services shown (id, rank, expected outcomes, uplift and interval), empty
    for a non-client and for an eligibility request.
    """

    request_id: str
    created_at: dt.datetime
    kind: Literal["eligibility", "recommendation"]
    actor: str | None
    client_key: str
    input_hash: str
    rules_version: str
    model_version: str | None
    objective: str | None
    language: str
    top_k: int | None
    eligible: bool
    responsible_office: str
    ranking: str

    def ranked_service_ids(self) -> list[str]:
        """The ids of the services shown, best first."""
        return [entry["service_id"] for entry in json.loads(self.ranking)]


@dataclass(frozen=True, slots=True)
class DecisionRecord:
    """What a caseworker decided for one suggestion (a correction is a later record).

    Its fields are `DECISION_COLUMNS` (a test holds them equal).
    """

    request_id: str
    created_at: dt.datetime
    actor: str | None
    choice: Choice
    service_id: str | None
    followed_top: bool
    reason: str | None


SecurityEvent = Literal["decision_refused"]


@dataclass(frozen=True, slots=True)
class SecurityEventRecord:
    """A refused attempt worth an auditor's eye (`decision_refused`: a caseworker tried to
    decide on a request they may not decide on). Its fields are `SECURITY_EVENT_COLUMNS`."""

    created_at: dt.datetime
    event: SecurityEvent
    actor: str | None
    request_id: str | None
