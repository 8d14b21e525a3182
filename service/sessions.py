"""Server-side records of the caseworker page's sessions, so a session can end at once.

The page's cookie holds a random session id; this store holds, under the id's SHA-256, who
signed in, a keyed fingerprint of the key they signed in with, and when the session began
and was last used. A session is valid only while its record says so: sign-out ends it,
so does rotating or removing the caseworker's key (the fingerprint no longer matches the
configured key), `idle_seconds` without use, and `max_seconds` after sign-in, whatever
the cookie says. Several workers share the store (a SQLite file beside the audit database
by default), so sign-out in one ends the session in all.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from sqlalchemy import (
    Column,
    Engine,
    Float,
    MetaData,
    String,
    Table,
    create_engine,
    delete,
    event,
    insert,
    select,
    update,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DatabaseError
from sqlalchemy.pool import StaticPool

from service.statefiles import private_sqlite_file

metadata = MetaData()

page_sessions = Table(
    "page_sessions",
    metadata,
    Column("sid_hash", String(64), primary_key=True),
    Column("label", String(64), nullable=False),
    Column("role", String(32), nullable=False),
    Column("key_fingerprint", String(64), nullable=False),
    Column("created_at", Float, nullable=False),
    Column("last_seen_at", Float, nullable=False),
    Column("ended_at", Float, nullable=True),
)

# Use is written back at most this often (and always well within the idle timeout), so a
# page view rarely writes.
_TOUCH_EVERY_SECONDS: Final = 60.0


@dataclass(frozen=True, slots=True)
class SessionRecord:
    """Who holds a live session."""

    label: str
    role: str
    key_fingerprint: str


class SessionStore:
    """The page's session records behind one SQLAlchemy URL.

    Parameters
    ----------
    url : SQLAlchemy URL (SQLite by default, beside the audit database).
    idle_seconds : a session unused this long has ended.
    max_seconds : a session this old has ended, used or not.
    clock : seconds since the epoch (injected by tests).
    """

    def __init__(
        self,
        url: str,
        *,
        idle_seconds: float,
        max_seconds: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.url = url
        self.idle_seconds = idle_seconds
        self.max_seconds = max_seconds
        self._clock = clock
        self._engine: Engine | None = None
        self._lock = threading.Lock()

    @property
    def engine(self) -> Engine:
        """The engine, created (with the table) on first use."""
        with self._lock:
            if self._engine is None:
                engine = _make_engine(self.url)
                _create_table(engine)
                self._engine = engine
            return self._engine

    def close(self) -> None:
        """Release the database."""
        with self._lock:
            if self._engine is not None:
                self._engine.dispose()
                self._engine = None

    def begin(self, label: str, role: str, key_fingerprint: str) -> str:
        """A new session for a signed-in caller: its id (for the cookie only)."""
        sid = secrets.token_urlsafe(32)
        now = self._clock()
        with self.engine.begin() as conn:
            conn.execute(
                insert(page_sessions).values(
                    sid_hash=_sid_hash(sid),
                    label=label,
                    role=role,
                    key_fingerprint=key_fingerprint,
                    created_at=now,
                    last_seen_at=now,
                    ended_at=None,
                )
            )
            # Old records serve nobody: remove those past the absolute timeout.
            conn.execute(
                delete(page_sessions).where(page_sessions.c.created_at < now - self.max_seconds)
            )
        return sid

    def lookup(self, sid: str) -> SessionRecord | None:
        """The live session with id `sid`, or None (unknown, ended, idle or too old)."""
        now = self._clock()
        key = _sid_hash(sid)
        with self.engine.connect() as conn:
            row = conn.execute(select(page_sessions).where(page_sessions.c.sid_hash == key)).first()
        if row is None or row.ended_at is not None:
            return None
        if now - row.created_at >= self.max_seconds or now - row.last_seen_at >= self.idle_seconds:
            self._end(key, now)
            return None
        if now - row.last_seen_at >= min(_TOUCH_EVERY_SECONDS, self.idle_seconds / 10):
            with self.engine.begin() as conn:
                conn.execute(
                    update(page_sessions)
                    .where(page_sessions.c.sid_hash == key)
                    .values(last_seen_at=now)
                )
        return SessionRecord(row.label, row.role, row.key_fingerprint)

    def end(self, sid: str) -> None:
        """End the session (sign-out): its cookie is worthless from now on."""
        self._end(_sid_hash(sid), self._clock())

    def _end(self, key: str, now: float) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                update(page_sessions)
                .where(page_sessions.c.sid_hash == key, page_sessions.c.ended_at.is_(None))
                .values(ended_at=now)
            )


def _create_table(engine: Engine, attempts: int = 3) -> None:
    """Create the table unless it exists; two workers starting at once may race to it."""
    for attempt in range(1, attempts + 1):
        try:
            metadata.create_all(engine)
            return
        except DatabaseError as error:
            if "already exists" not in str(error).lower() or attempt == attempts:
                raise


def _sid_hash(sid: str) -> str:
    # Stored hashed: a copy of the store gives no cookie that works.
    return hashlib.sha256(sid.encode()).hexdigest()


def _make_engine(url: str) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return create_engine(url, pool_pre_ping=True)
    database = parsed.database
    if not database or database == ":memory:":  # one shared in-memory database (tests)
        return create_engine(url, connect_args={"check_same_thread": False}, poolclass=StaticPool)
    private_sqlite_file(database)
    engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

    @event.listens_for(engine, "connect")
    def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    return engine
