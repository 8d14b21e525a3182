"""The versions on every row and the model's kill switch (issue 13).

Columns (all nullable, so rows from before keep null there and their chain hashes hold:
the chain hashes these columns only when set): `model_hash`, `catalog_version` and
`degraded` on suggestions; `rules_version`, `model_version`, `model_hash`,
`catalog_version` on decisions and security events. A new append-only, chained table,
`model_switch_events`, whose newest row is the switch's state; never pruned.

Like 0001 it adopts a store that already has them (made by the code between the two, which
added them on open without a revision). Frozen here: never import `service.audit.schema`.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_VERSION_COLUMNS = ("rules_version", "model_version", "model_hash", "catalog_version")
_ADDED: dict[str, tuple[tuple[str, sa.types.TypeEngine[Any]], ...]] = {
    "suggestions": (
        ("model_hash", sa.String(64)),
        ("catalog_version", sa.String(64)),
        ("degraded", sa.Boolean()),
    ),
    "decisions": tuple((name, sa.String(64)) for name in _VERSION_COLUMNS),
    "security_events": tuple((name, sa.String(64)) for name in _VERSION_COLUMNS),
}

_frozen = sa.MetaData()
sa.Table(
    "model_switch_events",
    _frozen,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("created_at", sa.DateTime(), nullable=False),
    sa.Column("actor", sa.String(64), nullable=False),
    sa.Column("model_on", sa.Boolean, nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    *(sa.Column(name, sa.String(64), nullable=True) for name in _VERSION_COLUMNS),
    sa.Column("chain_hash", sa.String(64), nullable=True),
)

_TABLE = "model_switch_events"
_APPEND_ONLY = "audit records are append-only"
_WRITER_ONLY = "audit records are written only by the audit writer"
_EVENTS_STAY = "switch events stay"


def upgrade() -> None:
    bind = op.get_bind()
    for table, columns in _ADDED.items():
        present = {c["name"] for c in sa.inspect(bind).get_columns(table)}
        for name, kind in columns:
            if name not in present:
                op.add_column(table, sa.Column(name, kind, nullable=True))
    _frozen.create_all(bind, checkfirst=True)
    if bind.dialect.name == "postgresql":
        _postgresql_triggers()
    else:
        _sqlite_triggers()


def downgrade() -> None:
    raise NotImplementedError("the audit store is not migrated down: restore a backup instead")


def _sqlite_triggers() -> None:
    for name, when, condition, message in (
        ("append_only", "UPDATE", "", _APPEND_ONLY),
        ("no_delete", "DELETE", "", _EVENTS_STAY),
        ("chained_insert", "INSERT", "WHEN NEW.chain_hash IS NULL", _WRITER_ONLY),
    ):
        op.execute(
            f"CREATE TRIGGER IF NOT EXISTS {_TABLE}_{name} BEFORE {when} ON {_TABLE} "
            f"{condition} BEGIN SELECT RAISE(ABORT, '{message}'); END"
        )


def _postgresql_triggers() -> None:
    # The functions of 0001 (append-only, chained insert) and one refusing every delete.
    op.execute(
        "CREATE OR REPLACE FUNCTION polku_audit_switch_events_stay() RETURNS trigger AS $$ "
        f"BEGIN RAISE EXCEPTION '{_EVENTS_STAY}'; END $$ LANGUAGE plpgsql"
    )
    for name, when, function, each in (
        ("append_only", "UPDATE", "polku_audit_append_only", "ROW"),
        ("no_truncate", "TRUNCATE", "polku_audit_append_only", "STATEMENT"),
        ("no_delete", "DELETE", "polku_audit_switch_events_stay", "ROW"),
        ("chained_insert", "INSERT", "polku_audit_chained_insert", "ROW"),
    ):
        op.execute(f"DROP TRIGGER IF EXISTS {_TABLE}_{name} ON {_TABLE}")
        op.execute(
            f"CREATE TRIGGER {_TABLE}_{name} BEFORE {when} ON {_TABLE} FOR EACH {each} "
            f"EXECUTE FUNCTION {function}()"
        )
