"""The audit tables, the one definition every list of audit columns derives from.

Two tables: `suggestions` (one row per answered request) and `decisions` (what a caseworker
decided, a correction being a later row), and beside them `security_events` (refused
attempts, such as a decision on another caseworker's request) and `model_switch_events`
(a data scientist turning the model off or on; the newest row is the switch's state). All
are append-only: triggers refuse updates in SQLite and PostgreSQL. Every row carries the
versions it was made under (`service.versions`). The joined view evaluators read (`EXPORT_COLUMNS`),
the export's Parquet schema and the API's record schema are all derived from these tables.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
from dataclasses import dataclass
from typing import Final, Literal

from sqlalchemy import (
    DDL,
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
    event,
)

Choice = Literal["suggested", "other", "none"]
CHOICES: Final[tuple[Choice, ...]] = ("suggested", "other", "none")

metadata = MetaData()

# Marks a column added to a table that already existed in stores in use: the one place each
# schema change is listed (`service.audit.upgrade` adds the columns to an older store as it
# opens; a migration tool takes them from here), and the chain hashes such a column only
# when it is set, so rows written before it keep their hashes (`chain.row_content`).
ADDED_IN_2: Final = {"added_in": 2}  # versions on every row, degraded answers


def _versions(*, rules_added: bool) -> list[Column[object]]:
    """The version columns of a row (`service.versions.Versions`)."""
    names = ("rules_version", "model_version") if rules_added else ()
    return [
        Column(name, String(64), nullable=True, info=ADDED_IN_2)
        for name in (*names, "model_hash", "catalog_version")
    ]


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
    *_versions(rules_added=False),
    # The model was switched off: the answer was the gate's only (null: rows from before).
    Column("degraded", Boolean, nullable=True, info=ADDED_IN_2),
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
    *_versions(rules_added=True),  # the suggestion's, copied
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
    *_versions(rules_added=True),
    Column("chain_hash", String(64), nullable=True),
)

# The model's kill switch (`service.model_switch`): who turned it off or on, when and why.
# Never pruned: it holds no client data, and its newest row is the switch's state.
model_switch_events = Table(
    "model_switch_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("created_at", DateTime(), nullable=False),
    Column("actor", String(64), nullable=False),
    Column("model_on", Boolean, nullable=False),
    Column("reason", Text, nullable=False),
    Column("rules_version", String(64), nullable=True),
    Column("model_version", String(64), nullable=True),
    Column("model_hash", String(64), nullable=True),
    Column("catalog_version", String(64), nullable=True),
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
"""The tables retention prunes."""
CHAINED_TABLES: Final = (suggestions, decisions, security_events, model_switch_events)
"""Every table of rows the writer appends, in the order a batch inserts them (parents first)."""
# Columns the store keeps for itself: never part of a record, an export or the chain's content.
STORE_COLUMNS: Final = ("id", "chain_hash")


@functools.cache
def chained_columns(table: Table) -> tuple[str, ...]:
    """The columns of `table` a row's chain hash covers (all but the store's own)."""
    return tuple(c.name for c in table.c if c.name not in STORE_COLUMNS)


@functools.cache
def added_columns(table: Table) -> tuple[str, ...]:
    """The columns of `table` added to stores already in use (`ADDED_IN_2`)."""
    return tuple(c.name for c in table.c if c.info.get("added_in"))


def _sqlite_trigger(name: str, table: str, when: str, condition: str, message: str) -> None:
    event.listen(
        metadata,
        "after_create",
        DDL(
            f"CREATE TRIGGER IF NOT EXISTS {name} BEFORE {when} ON {table} {condition} "
            f"BEGIN SELECT RAISE(ABORT, '{message}'); END"
        ).execute_if(dialect="sqlite"),
    )


# Records are never changed in place; only retention deletes (whole old records, holding a
# permit, leaving tombstones); a row without its chain hash was not written by the writer.
for _table in (*AUDIT_TABLES, "model_switch_events", "audit_tombstones"):
    _sqlite_trigger(f"{_table}_append_only", _table, "UPDATE", "", "audit records are append-only")
_sqlite_trigger(
    "model_switch_events_no_delete", "model_switch_events", "DELETE", "", "switch events stay"
)
_sqlite_trigger(
    "model_switch_events_chained_insert",
    "model_switch_events",
    "INSERT",
    "WHEN NEW.chain_hash IS NULL",
    "audit records are written only by the audit writer",
)
for _table in AUDIT_TABLES:
    _sqlite_trigger(
        f"{_table}_no_delete",
        _table,
        "DELETE",
        "WHEN NOT EXISTS (SELECT 1 FROM audit_prune_permits)",
        "audit records are deleted only by retention",
    )
    _sqlite_trigger(
        f"{_table}_chained_insert",
        _table,
        "INSERT",
        "WHEN NEW.chain_hash IS NULL",
        "audit records are written only by the audit writer",
    )
_sqlite_trigger("audit_tombstones_no_delete", "audit_tombstones", "DELETE", "", "tombstones stay")
event.listen(
    metadata,
    "after_create",
    DDL(
        "CREATE OR REPLACE FUNCTION polku_audit_append_only() RETURNS trigger AS $$ "
        "BEGIN RAISE EXCEPTION 'audit records are append-only'; END $$ LANGUAGE plpgsql"
    ).execute_if(dialect="postgresql"),
)
for _table in (*AUDIT_TABLES, "model_switch_events"):
    event.listen(
        metadata,
        "after_create",
        DDL(
            f"DROP TRIGGER IF EXISTS {_table}_append_only ON {_table}; "
            f"CREATE TRIGGER {_table}_append_only BEFORE UPDATE ON {_table} "
            "FOR EACH ROW EXECUTE FUNCTION polku_audit_append_only()"
        ).execute_if(dialect="postgresql"),
    )

# What a record carries: every column but the store's own (row id, chain hash).
SUGGESTION_COLUMNS: Final = chained_columns(suggestions)
DECISION_COLUMNS: Final = chained_columns(decisions)
SECURITY_EVENT_COLUMNS: Final = chained_columns(security_events)
SWITCH_EVENT_COLUMNS: Final = chained_columns(model_switch_events)

# The joined view: each suggestion's columns, then its decision's under these names (the
# decision's request id and versions are the suggestion's, so they are not repeated).
_VERSION_COLUMNS: Final = ("rules_version", "model_version", "model_hash", "catalog_version")
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
        if c.name not in ("request_id", "chain_hash", *_VERSION_COLUMNS)
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
    for a non-client, for an eligibility request and for a `degraded` (gate-only) answer.
    The versions are `service.versions.Versions`' (None in rows from before they were kept).
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
    model_hash: str | None = None
    catalog_version: str | None = None
    degraded: bool | None = False

    def ranked_service_ids(self) -> list[str]:
        """The ids of the services shown, best first."""
        return [entry["service_id"] for entry in json.loads(self.ranking)]


@dataclass(frozen=True, slots=True)
class DecisionRecord:
    """What a caseworker decided for one suggestion (a correction is a later record).

    Its fields are `DECISION_COLUMNS` (a test holds them equal); its versions are the
    suggestion's it decides on.
    """

    request_id: str
    created_at: dt.datetime
    actor: str | None
    choice: Choice
    service_id: str | None
    followed_top: bool
    reason: str | None
    rules_version: str | None = None
    model_version: str | None = None
    model_hash: str | None = None
    catalog_version: str | None = None


SecurityEvent = Literal["decision_refused", "decision_corrected", "allocation_run"]


@dataclass(frozen=True, slots=True)
class SecurityEventRecord:
    """An event worth an auditor's eye: `decision_refused` (a caseworker tried to decide on a
    request they may not decide on), `decision_corrected` (a decision recorded as an explicit
    correction of an earlier one) or `allocation_run` (a data scientist allocated a cohort,
    `request_id` holding the run's id). Its fields are `SECURITY_EVENT_COLUMNS`."""

    created_at: dt.datetime
    event: SecurityEvent
    actor: str | None
    request_id: str | None
    rules_version: str | None = None
    model_version: str | None = None
    model_hash: str | None = None
    catalog_version: str | None = None


@dataclass(frozen=True, slots=True)
class SwitchEventRecord:
    """A data scientist turned the model off (`model_on` False: answers are the gate's only)
    or on again, and why; with the versions served at the time. Its fields are
    `SWITCH_EVENT_COLUMNS`."""

    created_at: dt.datetime
    actor: str
    model_on: bool
    reason: str
    rules_version: str | None = None
    model_version: str | None = None
    model_hash: str | None = None
    catalog_version: str | None = None
