"""The audit store's database in the tests, SQLite or PostgreSQL behind one interface, so
the store's tests run against both (`audit_db` in tests/service/conftest.py)."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from sqlalchemy import create_engine, text

from service.audit import AuditStore
from service.audit import migrate as audit_migrate
from tests.postgres import SERVICE_ROLE, PostgresDatabase


@dataclass
class AuditDatabase:
    """Where a test's audit store lives: the service's URL and the owner's.

    In SQLite both are the one file. In PostgreSQL the owner migrated the database (as
    `polku audit migrate --grant-to polku_service` does) and the service's role may only
    read and append; tampering and retention go through the owner.
    """

    kind: Literal["sqlite", "postgresql"]
    url: str
    owner_url: str

    @classmethod
    def sqlite(cls, path: Path) -> AuditDatabase:
        url = f"sqlite:///{path}"
        return cls("sqlite", url, url)

    @classmethod
    def postgresql(cls, database: PostgresDatabase) -> AuditDatabase:
        db = cls("postgresql", database.service_url, database.owner_url)
        db.migrate()
        return db

    def migrate(self) -> None:
        """What the owner runs before the service starts (a no-op need in SQLite)."""
        if self.kind != "postgresql":
            return
        engine = create_engine(self.owner_url)
        try:
            audit_migrate.upgrade(engine, lock=contextlib.nullcontext)
            audit_migrate.grant_service_role(engine, SERVICE_ROLE)
        finally:
            engine.dispose()

    def store(self, **kwargs: Any) -> AuditStore:
        """A store as the service opens it (not opened yet)."""
        return AuditStore(self.url, **kwargs)

    def owner_store(self, **kwargs: Any) -> AuditStore:
        """A store as retention opens it (the owner's role)."""
        return AuditStore(self.owner_url, **kwargs)

    def sql(self, *statements: str, url: str | None = None) -> None:
        """Run statements in one transaction, as the owner unless `url` says otherwise."""
        engine = create_engine(url or self.owner_url)
        try:
            with engine.begin() as conn:
                for statement in statements:
                    conn.execute(text(statement))
        finally:
            engine.dispose()

    def scalars(self, query: str) -> list[Any]:
        """The first column of `query`'s rows, read as the owner."""
        engine = create_engine(self.owner_url)
        try:
            with engine.connect() as conn:
                return list(conn.execute(text(query)).scalars())
        finally:
            engine.dispose()

    def drop_trigger(self, name: str, table: str) -> str:
        """The statement dropping trigger `name` of `table`, in this database's dialect."""
        if self.kind == "postgresql":
            return f"DROP TRIGGER {name} ON {table}"
        return f"DROP TRIGGER {name}"
