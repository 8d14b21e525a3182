"""The audit store's schema version: Alembic revisions (`service/audit/migrations/`).

A store is at the head revision before anything is written to it. `ensure_current` brings
it there when the connected role may (the embedded SQLite file; PostgreSQL as its owner),
one process at a time, and otherwise says which command to run. On PostgreSQL the service's
role may only read and append: `grant_service_role` gives it exactly that, and the owner
role runs migrations and retention (`polku audit migrate`, docs/DEPLOYMENT.md).

A store made before there were revisions (by `create_all`) has no version table; the
first revision adopts it, keeping its rows.
"""

from __future__ import annotations

import contextlib
import functools
import logging
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from typing import Final

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, inspect, text
from sqlalchemy.exc import DBAPIError

log = logging.getLogger(__name__)

# Alembic finds the revisions through importlib.resources: in a checkout and a wheel alike.
SCRIPT_LOCATION: Final = "service.audit:migrations"
# pg_advisory_lock key taken while migrating (any constant; the chain's is another).
_MIGRATION_LOCK: Final = 0x706F6C6B75_01
# The tables the service appends to (the kill switch's events and the served inputs included).
RECORD_TABLES: Final = (
    "suggestions",
    "decisions",
    "security_events",
    "model_switch_events",
    "served_inputs",
)


class SchemaVersionError(RuntimeError):
    """The store is not at this code's schema revision and cannot be brought there here."""


def _config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", SCRIPT_LOCATION)
    if connection is not None:
        config.attributes["connection"] = connection
    return config


@functools.cache
def head_revision() -> str:
    """The newest revision this code knows (the one it reads and writes)."""
    head = ScriptDirectory.from_config(_config()).get_current_head()
    assert head is not None, "the audit store has no migration"
    return head


def current_revision(conn: Connection) -> str | None:
    """The store's revision (None: a new store, or one from before the revisions)."""
    return MigrationContext.configure(conn).get_current_revision()


def upgrade(engine: Engine, *, lock: Callable[[], AbstractContextManager[None]]) -> None:
    """Bring the store to the head revision (holding `lock`, and on PostgreSQL an advisory
    lock, so that replicas starting at once migrate once)."""
    with lock(), engine.connect() as conn, _advisory_lock(conn):
        before = current_revision(conn)
        if before == head_revision():
            return
        conn.commit()  # end the read's transaction: Alembic begins its own
        command.upgrade(_config(conn), "head")
        conn.commit()
        log.info("audit store migrated from revision %s to %s", before, head_revision())


def ensure_current(engine: Engine, *, lock: Callable[[], AbstractContextManager[None]]) -> None:
    """Return once the store is at the head revision, migrating it if this role may.

    Raises
    ------
    SchemaVersionError
        If the store is at a revision this code does not know (a newer Polku migrated it),
        or behind and this role may not migrate it (PostgreSQL's service role).
    """
    with engine.connect() as conn:
        found = current_revision(conn)
    if found == head_revision():
        return
    known = {script.revision for script in ScriptDirectory.from_config(_config()).walk_revisions()}
    if found is not None and found not in known:
        raise SchemaVersionError(
            f"the audit store is at schema revision {found}, which this Polku does not know "
            f"(it knows up to {head_revision()}): a newer Polku migrated it"
        )
    try:
        upgrade(engine, lock=lock)
    except DBAPIError as error:
        if engine.dialect.name != "postgresql":
            raise
        raise SchemaVersionError(
            f"the audit store is at schema revision {found or 'none'}, this Polku needs "
            f"{head_revision()}, and this role may not migrate it: run `polku audit migrate` "
            f"with the owner role's URL ({type(error.orig).__name__})"
        ) from None


@contextlib.contextmanager
def _advisory_lock(conn: Connection) -> Iterator[None]:
    if conn.dialect.name != "postgresql":
        yield
        return
    conn.execute(text("SELECT pg_advisory_lock(:key)"), {"key": _MIGRATION_LOCK})
    conn.commit()
    try:
        yield
    finally:
        conn.rollback()
        conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": _MIGRATION_LOCK})
        conn.commit()


def grant_service_role(engine: Engine, role: str) -> None:
    """Let PostgreSQL role `role` read and append audit records and nothing more.

    No UPDATE, DELETE or TRUNCATE on any audit table, no access to retention's permits and
    no INSERT of tombstones; full use of the page's session records (`service.sessions`),
    which are created here when they live in this database, since the service's role may
    not create tables.
    """
    if engine.dialect.name != "postgresql":
        raise ValueError("roles exist only in PostgreSQL; an SQLite store is one file")
    from service.sessions import metadata as session_metadata

    session_metadata.create_all(engine, checkfirst=True)
    quoted = engine.dialect.identifier_preparer.quote(role)
    with engine.begin() as conn:
        for table in inspect(conn).get_table_names():
            conn.execute(text(f"REVOKE ALL ON {table} FROM {quoted}"))
        conn.execute(text(f"GRANT SELECT, INSERT ON {', '.join(RECORD_TABLES)} TO {quoted}"))
        conn.execute(text(f"GRANT SELECT ON audit_tombstones, alembic_version TO {quoted}"))
        for table in RECORD_TABLES:
            sequence = conn.execute(
                text("SELECT pg_get_serial_sequence(:table, 'id')"), {"table": table}
            ).scalar_one()
            conn.execute(text(f"GRANT USAGE ON SEQUENCE {sequence} TO {quoted}"))
        conn.execute(text(f"GRANT SELECT, INSERT, UPDATE, DELETE ON page_sessions TO {quoted}"))
