"""The audit store's schema revisions (Alembic): a new store and one made before there were
revisions both end at the head, the migrated schema is the tables' definition, and a store
this code cannot bring to its revision is refused with what to do."""

from __future__ import annotations

import contextlib
import datetime as dt
import sqlite3
from pathlib import Path

import pytest
import sqlalchemy.exc
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine

from service.audit import AuditStore, metadata, migrate
from service.audit.schema import SwitchEventRecord
from tests.postgres import PostgresCluster
from tests.service.audit_db import AuditDatabase
from tests.service.helpers import decision, suggestion

# Stores made by main before the revisions, as `sqlite3 .dump`s: at 6f3292d (the hash chain),
# and at ede59d8 (also the versions on every row and the kill switch's events), each with
# three suggestions and a decision chained under this key.
BEFORE_ALEMBIC = Path(__file__).parent / "data" / "audit_store_before_alembic.sql"
BEFORE_0002 = Path(__file__).parent / "data" / "audit_store_before_revision_0002.sql"
KEY = b"k" * 32


def test_the_migrated_schema_is_the_tables_definition(audit_db: AuditDatabase) -> None:
    # When this fails after a change to service/audit/schema.py, add a revision under
    # service/audit/migrations/versions/ that makes the change (the diff says what).
    with audit_db.store() as store, store.engine.connect() as conn:
        assert migrate.current_revision(conn) == migrate.head_revision()
        # The page's session records may share the database; they are not the audit's.
        audit_only = {
            "include_name": lambda name, kind, _: kind != "table" or name in metadata.tables
        }
        diff = compare_metadata(MigrationContext.configure(conn, opts=audit_only), metadata)
    assert diff == []


@pytest.mark.parametrize("dump", [BEFORE_ALEMBIC, BEFORE_0002], ids=["6f3292d", "ede59d8"])
def test_a_store_made_before_the_revisions_is_upgraded_keeping_its_rows(
    tmp_path: Path, dump: Path
) -> None:
    path = tmp_path / "audit.sqlite3"
    with sqlite3.connect(path) as conn:
        conn.executescript(dump.read_text())
        assert "alembic_version" not in {
            name for (name,) in conn.execute("SELECT name FROM sqlite_master")
        }
    with AuditStore(f"sqlite:///{path}", chain_key=KEY) as store:
        with store.engine.connect() as conn:
            assert migrate.current_revision(conn) == migrate.head_revision()
            # Adopted, the store is what a new one is: the tables' definition.
            assert compare_metadata(MigrationContext.configure(conn), metadata) == []
        assert (store.count("suggestions"), store.count("decisions")) == (3, 1)
        store.write_suggestion(suggestion("n" * 32))
        store.write_decision(decision("n" * 32))
        switched = SwitchEventRecord(dt.datetime(2026, 3, 2), "ds-1", model_on=True, reason="x")
        store.submit_switch_event(switched).result(timeout=10)
        verified = store.verify()
        for table in ("suggestions", "model_switch_events"):
            with (
                pytest.raises(sqlalchemy.exc.DatabaseError, match="append-only"),
                store.engine.begin() as conn,
            ):
                conn.exec_driver_sql(f"UPDATE {table} SET actor = 'x'")
    assert verified.ok, verified.broken
    assert verified.checked["suggestions"] == 4 and verified.checked["decisions"] == 2
    assert not any(verified.unchained.values())


def test_a_store_at_a_revision_this_code_does_not_know_is_refused(audit_db: AuditDatabase) -> None:
    audit_db.store().open().close()
    audit_db.sql("UPDATE alembic_version SET version_num = '9999'")
    with pytest.raises(migrate.SchemaVersionError, match=r"9999.*newer Polku"):
        audit_db.store().open()


def test_the_service_role_cannot_migrate_and_names_the_command(
    postgres_cluster: PostgresCluster,
) -> None:
    database = postgres_cluster.new_database()  # nobody migrated it
    with pytest.raises(migrate.SchemaVersionError, match="polku audit migrate"):
        AuditStore(database.service_url).open()


def test_migrating_twice_changes_nothing(fresh_audit_url: str) -> None:
    with AuditStore(fresh_audit_url) as store:
        store.write_suggestion(suggestion("a" * 32))
    engine = create_engine(fresh_audit_url)
    try:
        migrate.upgrade(engine, lock=contextlib.nullcontext)
    finally:
        engine.dispose()
    with AuditStore(fresh_audit_url) as store:
        assert store.count("suggestions") == 1
        assert store.verify().ok
