"""The served model inputs, for `polku monitor` (issue 16): `served_inputs`.

One row per recommendation beside its audit row (`service.audit.served_inputs`): the
model-input profile, whether the gate let the client in, and which services the catalog
closed. Not chained (it is not the record); append-only like the records, and deleted
only with its suggestion by retention (`ON DELETE CASCADE` under retention's permit).

Frozen here: never import `service.audit.served_inputs`.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_TABLE = "served_inputs"
_APPEND_ONLY = "served inputs are append-only"
_RETENTION_ONLY = "served inputs are deleted only by retention"

_frozen = sa.MetaData()
sa.Table("suggestions", _frozen, sa.Column("request_id", sa.String(36), unique=True))
sa.Table(
    _TABLE,
    _frozen,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column(
        "request_id",
        sa.String(36),
        sa.ForeignKey("suggestions.request_id", ondelete="CASCADE"),
        nullable=False,
        unique=True,
    ),
    sa.Column("created_at", sa.DateTime(), nullable=False, index=True),
    sa.Column("eligible", sa.Boolean, nullable=False),
    sa.Column("inputs", sa.Text, nullable=False),
    sa.Column("closed_by_catalog", sa.Text, nullable=False),
)


def upgrade() -> None:
    bind = op.get_bind()
    _frozen.tables[_TABLE].create(bind, checkfirst=True)
    if bind.dialect.name == "postgresql":
        _postgresql_triggers()
    else:
        _sqlite_triggers()


def downgrade() -> None:
    raise NotImplementedError("the audit store is not migrated down: restore a backup instead")


def _sqlite_triggers() -> None:
    for name, when, condition, message in (
        ("append_only", "UPDATE", "", _APPEND_ONLY),
        (
            "no_delete",
            "DELETE",
            "WHEN NOT EXISTS (SELECT 1 FROM audit_prune_permits)",
            _RETENTION_ONLY,
        ),
    ):
        op.execute(
            f"CREATE TRIGGER IF NOT EXISTS {_TABLE}_{name} BEFORE {when} ON {_TABLE} "
            f"{condition} BEGIN SELECT RAISE(ABORT, '{message}'); END"
        )


def _postgresql_triggers() -> None:
    # 0001's functions: refuse any update; delete only while retention holds its permit.
    for name, when, function, each in (
        ("append_only", "UPDATE", "polku_audit_append_only", "ROW"),
        ("no_truncate", "TRUNCATE", "polku_audit_append_only", "STATEMENT"),
        ("no_delete", "DELETE", "polku_audit_retention_only", "ROW"),
    ):
        op.execute(f"DROP TRIGGER IF EXISTS {_TABLE}_{name} ON {_TABLE}")
        op.execute(
            f"CREATE TRIGGER {_TABLE}_{name} BEFORE {when} ON {_TABLE} FOR EACH {each} "
            f"EXECUTE FUNCTION {function}()"
        )
