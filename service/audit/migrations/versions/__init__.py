"""One module per schema revision of the audit store, oldest first by `down_revision`.

To change the tables: edit `service/audit/schema.py`, then add the next revision here by
hand (`0002_<what>.py` with `revision = "0002"`, `down_revision = "0001"`) whose `upgrade()`
makes the same change with `alembic.op` (`op.add_column`, `op.create_table`, ...; SQLite's
ALTER limits are handled by batch mode, `op.batch_alter_table`). Spell the tables out in the
revision, never import `schema.py`: a revision must keep meaning what it meant. A new table
the service writes also needs its grant in `migrate.grant_service_role`.
`tests/service/test_audit_migrations.py` fails until the migrated schema equals the tables.
"""
