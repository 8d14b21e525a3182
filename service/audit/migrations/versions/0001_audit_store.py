"""The audit store as it was when it got a schema version: the three append-only tables with
their hash chain, the tombstones and permits of retention, and the triggers.

It also adopts a store made before there were migrations (by `create_all`, with or without
the chain's columns): what exists is kept, what is missing is added. Its tables are frozen
here, not imported from `service.audit.schema`: a revision must keep meaning what it meant
when written, whatever the tables become later.

Revision ID: 0001
Revises:
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

_frozen = sa.MetaData()
sa.Table(
    "suggestions",
    _frozen,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("request_id", sa.String(36), nullable=False, unique=True),
    sa.Column("created_at", sa.DateTime(), nullable=False, index=True),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("actor", sa.String(64), nullable=True),
    sa.Column("client_key", sa.String(64), nullable=False, index=True),
    sa.Column("input_hash", sa.String(64), nullable=False),
    sa.Column("rules_version", sa.String(64), nullable=False),
    sa.Column("model_version", sa.String(64), nullable=True),
    sa.Column("objective", sa.String(200), nullable=True),
    sa.Column("language", sa.String(2), nullable=False),
    sa.Column("top_k", sa.Integer, nullable=True),
    sa.Column("eligible", sa.Boolean, nullable=False),
    sa.Column("responsible_office", sa.String(32), nullable=False),
    sa.Column("ranking", sa.Text, nullable=False),
    sa.Column("chain_hash", sa.String(64), nullable=True),
)
sa.Table(
    "decisions",
    _frozen,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column(
        "request_id",
        sa.String(36),
        sa.ForeignKey("suggestions.request_id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    sa.Column("created_at", sa.DateTime(), nullable=False),
    sa.Column("actor", sa.String(64), nullable=True),
    sa.Column("choice", sa.String(16), nullable=False),
    sa.Column("service_id", sa.String(64), nullable=True),
    sa.Column("followed_top", sa.Boolean, nullable=False),
    sa.Column("reason", sa.Text, nullable=True),
    sa.Column("chain_hash", sa.String(64), nullable=True),
)
sa.Table(
    "security_events",
    _frozen,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("created_at", sa.DateTime(), nullable=False, index=True),
    sa.Column("event", sa.String(32), nullable=False),
    sa.Column("actor", sa.String(64), nullable=True),
    sa.Column("request_id", sa.String(36), nullable=True),
    sa.Column("chain_hash", sa.String(64), nullable=True),
)
sa.Table(
    "audit_tombstones",
    _frozen,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("table_name", sa.String(32), nullable=False),
    sa.Column("row_id", sa.Integer, nullable=False),
    sa.Column("chain_hash", sa.String(64), nullable=False),
    sa.Column("seal", sa.String(64), nullable=False),
    sa.UniqueConstraint("table_name", "row_id"),
)
sa.Table("audit_prune_permits", _frozen, sa.Column("id", sa.Integer, primary_key=True))

_RECORDS = ("suggestions", "decisions", "security_events")
_APPEND_ONLY = "audit records are append-only"
_RETENTION_ONLY = "audit records are deleted only by retention"
_WRITER_ONLY = "audit records are written only by the audit writer"
_TOMBSTONES_STAY = "tombstones stay"


def upgrade() -> None:
    bind = op.get_bind()
    _frozen.create_all(bind, checkfirst=True)
    # Stores from before the hash chain: their rows stay unchained (`verify` reports them).
    for table in _RECORDS:
        columns = {c["name"] for c in sa.inspect(bind).get_columns(table)}
        if "chain_hash" not in columns:
            op.add_column(table, sa.Column("chain_hash", sa.String(64), nullable=True))
    if bind.dialect.name == "postgresql":
        _postgresql_triggers()
    else:
        _sqlite_triggers()


def downgrade() -> None:
    raise NotImplementedError("the audit store is not migrated down: restore a backup instead")


def _sqlite_trigger(name: str, table: str, when: str, condition: str, message: str) -> None:
    op.execute(
        f"CREATE TRIGGER IF NOT EXISTS {name} BEFORE {when} ON {table} {condition} "
        f"BEGIN SELECT RAISE(ABORT, '{message}'); END"
    )


def _sqlite_triggers() -> None:
    # Records are never changed in place; only retention deletes (whole old records, holding
    # a permit, leaving tombstones); a row without its chain hash was not written by the
    # writer.
    for table in (*_RECORDS, "audit_tombstones"):
        _sqlite_trigger(f"{table}_append_only", table, "UPDATE", "", _APPEND_ONLY)
    for table in _RECORDS:
        _sqlite_trigger(
            f"{table}_no_delete",
            table,
            "DELETE",
            "WHEN NOT EXISTS (SELECT 1 FROM audit_prune_permits)",
            _RETENTION_ONLY,
        )
        _sqlite_trigger(
            f"{table}_chained_insert", table, "INSERT", "WHEN NEW.chain_hash IS NULL", _WRITER_ONLY
        )
    _sqlite_trigger(
        "audit_tombstones_no_delete", "audit_tombstones", "DELETE", "", _TOMBSTONES_STAY
    )


def _plpgsql(name: str, body: str) -> None:
    op.execute(
        f"CREATE OR REPLACE FUNCTION {name}() RETURNS trigger AS $$ BEGIN {body} END $$ "
        "LANGUAGE plpgsql"
    )


def _pg_trigger(name: str, table: str, when: str, function: str, each: str = "ROW") -> None:
    op.execute(f"DROP TRIGGER IF EXISTS {name} ON {table}")
    op.execute(
        f"CREATE TRIGGER {name} BEFORE {when} ON {table} FOR EACH {each} "
        f"EXECUTE FUNCTION {function}()"
    )


def _postgresql_triggers() -> None:
    # The same rules as in SQLite, for every role, the owner included (the service's role
    # has no UPDATE, DELETE or TRUNCATE right at all: `migrate.grant_service_role`).
    _plpgsql("polku_audit_append_only", f"RAISE EXCEPTION '{_APPEND_ONLY}';")
    _plpgsql(
        "polku_audit_retention_only",
        "IF NOT EXISTS (SELECT 1 FROM audit_prune_permits) THEN "
        f"RAISE EXCEPTION '{_RETENTION_ONLY}'; END IF; RETURN OLD;",
    )
    _plpgsql(
        "polku_audit_chained_insert",
        f"IF NEW.chain_hash IS NULL THEN RAISE EXCEPTION '{_WRITER_ONLY}'; END IF; RETURN NEW;",
    )
    _plpgsql("polku_audit_tombstones_stay", f"RAISE EXCEPTION '{_TOMBSTONES_STAY}';")
    for table in (*_RECORDS, "audit_tombstones"):
        _pg_trigger(f"{table}_append_only", table, "UPDATE", "polku_audit_append_only")
        # TRUNCATE fires no DELETE trigger: refused outright, retention never truncates.
        _pg_trigger(
            f"{table}_no_truncate", table, "TRUNCATE", "polku_audit_append_only", "STATEMENT"
        )
    for table in _RECORDS:
        _pg_trigger(f"{table}_no_delete", table, "DELETE", "polku_audit_retention_only")
        _pg_trigger(f"{table}_chained_insert", table, "INSERT", "polku_audit_chained_insert")
    _pg_trigger(
        "audit_tombstones_no_delete", "audit_tombstones", "DELETE", "polku_audit_tombstones_stay"
    )
