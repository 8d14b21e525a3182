"""The durable append path of the audit store, and the store itself.

Append-only, written before the answer leaves the server, and free of personal identity
codes: clients appear only as a keyed HMAC, inputs only as a keyed hash. SQLite by default
(WAL, synchronous=FULL, so an answered request survives `kill -9` and power loss),
PostgreSQL by URL.

Writes go through one writer thread that commits whatever has queued up in one transaction
(group commit): a commit costs an fsync of a few milliseconds, and concurrent requests share
it instead of queueing for one each. Several server processes on one SQLite file take turns
through a file lock; several on one PostgreSQL database through an advisory lock
(`chain.lock_heads`). Reading, export and retention are in `reads` and `export`; the
schema's revisions in `migrate`.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import logging
import os
import queue
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Final, Literal

from sqlalchemy import Connection, Engine, Table, create_engine, event, insert
from sqlalchemy.engine import make_url

from service.audit import chain, migrate, reads
from service.audit import export as _export
from service.audit.export import PruneResult
from service.audit.schema import (
    CHAINED_TABLES,
    DecisionRecord,
    SecurityEventRecord,
    SuggestionRecord,
    SwitchEventRecord,
    decisions,
    model_switch_events,
    security_events,
    suggestions,
)
from service.audit.served_inputs import ServedInputsRecord, served_inputs
from service.statefiles import open_private, private_sqlite_file

log = logging.getLogger(__name__)

_BATCH_LIMIT: Final = 512


class AuditUnavailableError(RuntimeError):
    """The audit store is closed or failed to write: no suggestion may be answered."""


class WriteRefusedError(RuntimeError):
    """A record's check refused it inside the writing transaction (it was not written)."""


# A check run in the transaction that writes its record, just before the record: it sees
# every row committed and every row written before it in the same batch, and raises
# `WriteRefusedError` to keep the record out (`service.places`: the last place of a service).
WriteCheck = Callable[[Connection], None]


@dataclass(slots=True)
class _Pending:
    table: Table
    row: dict[str, Any]
    done: Future[None]
    check: WriteCheck | None = None


_STOP: Final = object()


def _claim(done: Future[None]) -> bool:
    """Mark a queued write as being written; False if its caller cancelled it (skip it).

    Idempotent: a batch that failed is retried one write at a time, already claimed."""
    return done.running() or done.set_running_or_notify_cancel()


class AuditStore:
    """The append-only audit store behind one SQLAlchemy URL.

    Parameters
    ----------
    url : SQLAlchemy database URL (`sqlite:///path` or `postgresql+psycopg://...`).
    chain_key : key of the rows' hash chain (`ServiceKeys.audit_chain`; without it the
        chain is keyed with a constant and shows only edits made by those unaware of it).

    Examples
    --------
    >>> store = AuditStore("sqlite://")  # doctest: +SKIP
    >>> store.open(); store.write_suggestion(record); store.close()  # doctest: +SKIP
    """

    def __init__(
        self,
        url: str,
        *,
        chain_key: bytes | None = None,
        pool: tuple[int, int] | None = None,
    ) -> None:
        """`pool`: (size, overflow) of a server database's connection pool (SQLAlchemy's
        default 5 and 10 when None; an SQLite file ignores it)."""
        self.url = url
        self._pool = pool
        self.chain_key = chain_key or chain.UNKEYED
        self._engine: Engine | None = None
        self._queue: queue.SimpleQueue[_Pending | object] = queue.SimpleQueue()
        self._writer: threading.Thread | None = None
        self._accepting = False
        self._state_lock = threading.Lock()
        self._lock_path = _write_lock_path(url)
        self._lock_file: BinaryIO | None = None
        self._write_mutex = threading.Lock()

    # -- lifecycle ---------------------------------------------------------------------------

    @property
    def engine(self) -> Engine:
        """The engine, created on first use once the store is at this code's schema revision
        (migrated if this role may: `service.audit.migrate.ensure_current`)."""
        if self._engine is None:
            engine = _make_engine(self.url, self._pool)
            try:
                migrate.ensure_current(engine, lock=self._exclusive_write)
            except BaseException:
                engine.dispose()
                raise
            self._engine = engine
        return self._engine

    def open(self) -> AuditStore:
        """Migrate the store if needed and start the writer thread."""
        with self._state_lock:
            _ = self.engine
            if self._writer is None:
                self._writer = threading.Thread(
                    target=self._write_loop, name="polku-audit-writer", daemon=True
                )
                self._writer.start()
            self._accepting = True
        return self

    def close(self) -> None:
        """Write what is queued, stop the writer and release the database."""
        with self._state_lock:
            self._accepting = False
            writer, self._writer = self._writer, None
        if writer is not None:
            self._queue.put(_STOP)
            writer.join()
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None
        if self._lock_file is not None:
            self._lock_file.close()
            self._lock_file = None

    def __enter__(self) -> AuditStore:
        return self.open()

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- writing -----------------------------------------------------------------------------

    def submit_suggestion(self, record: SuggestionRecord) -> Future[None]:
        """Queue a suggestion; the future completes once it is committed (or failed)."""
        return self._submit(suggestions, _row(record))

    def submit_decision(
        self, record: DecisionRecord, check: WriteCheck | None = None
    ) -> Future[None]:
        """Queue a decision; the future completes once it is committed (or failed).

        With a `check`, the decision is written only if the check passes inside the writing
        transaction; otherwise the future fails with the check's `WriteRefusedError`.
        """
        return self._submit(decisions, _row(record), check)

    def submit_security_event(self, record: SecurityEventRecord) -> Future[None]:
        """Queue a security event; the future completes once it is committed (or failed)."""
        return self._submit(security_events, _row(record))

    def submit_switch_event(self, record: SwitchEventRecord) -> Future[None]:
        """Queue a switch of the model; the future completes once it is committed (or failed)."""
        return self._submit(model_switch_events, _row(record))

    def submit_served_inputs(self, record: ServedInputsRecord) -> Future[None]:
        """Queue a recommendation's model inputs (`service.audit.served_inputs`)."""
        return self._submit(served_inputs, record.row())

    def write_suggestion(self, record: SuggestionRecord) -> None:
        """Write a suggestion and wait until it is durable."""
        self.submit_suggestion(record).result()

    def write_decision(self, record: DecisionRecord) -> None:
        """Write a decision and wait until it is durable."""
        self.submit_decision(record).result()

    def _submit(
        self, table: Table, row: dict[str, Any], check: WriteCheck | None = None
    ) -> Future[None]:
        done: Future[None] = Future()
        if not self._accepting:
            done.set_exception(AuditUnavailableError("the audit store is not open"))
            return done
        self._queue.put(_Pending(table, row, done, check))
        return done

    def _write_loop(self) -> None:
        stopping = False
        while not stopping:
            first = self._queue.get()
            if first is _STOP:
                break
            batch: list[_Pending] = [first]  # type: ignore[list-item]
            while len(batch) < _BATCH_LIMIT:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is _STOP:
                    stopping = True
                    break
                batch.append(item)  # type: ignore[arg-type]
            try:
                self._commit(batch)
            except BaseException:  # the writer must outlive any failure, or requests hang
                log.exception("audit writer failed on a batch of %d", len(batch))
                for pending in batch:
                    if not pending.done.done():
                        pending.done.set_exception(AuditUnavailableError("the audit write failed"))
        # Anything queued after the stop marker is refused, never silently dropped.
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if isinstance(item, _Pending) and not item.done.cancelled():
                item.done.set_exception(AuditUnavailableError("the audit store closed"))

    def _commit(self, batch: Sequence[_Pending]) -> None:
        refused: dict[int, WriteRefusedError] = {}
        try:
            with self._exclusive_write(), self.engine.begin() as conn:
                # Under the lock: a write its caller gave up on (and was answered 503 for)
                # is skipped; one claimed here can no longer be cancelled.
                batch = [p for p in batch if _claim(p.done)]
                if not batch:
                    return
                chain.lock_heads(conn)  # no other writer moves a head until this commits
                for table in CHAINED_TABLES:  # parents first
                    queued = [p for p in batch if p.table is table]
                    if any(p.check is not None for p in queued):
                        # Checked rows go one at a time, so each check sees those before it.
                        for p in queued:
                            if p.check is not None:
                                try:
                                    p.check(conn)
                                except WriteRefusedError as exc:
                                    refused[id(p)] = exc
                                    continue
                            self._insert(conn, table, [p.row])
                    elif queued:
                        self._insert(conn, table, [p.row for p in queued])
                inputs = [p.row for p in batch if p.table is served_inputs]
                if inputs:  # after their suggestions; not chained (not the record)
                    conn.execute(insert(served_inputs), inputs)
        except Exception:
            if len(batch) > 1:
                # One bad row must not fail its neighbours: retry each on its own.
                for pending in batch:
                    self._commit([pending])
                return
            log.exception("audit write failed (table %s)", batch[0].table.name)
            batch[0].done.set_exception(AuditUnavailableError("the audit write failed"))
            return
        for pending in batch:
            if id(pending) in refused:
                pending.done.set_exception(refused[id(pending)])
            else:
                pending.done.set_result(None)

    def _insert(self, conn: Connection, table: Table, rows: list[dict[str, Any]]) -> None:
        # Under the heads lock (`chain.lock_heads`): no other writer moves a head meanwhile.
        chain.chain_rows(self.chain_key, chain.head(conn, table), table, rows)
        conn.execute(insert(table), rows)

    @contextlib.contextmanager
    def _exclusive_write(self) -> Iterator[None]:
        # Several server processes may share one SQLite file. Its busy handler polls with
        # sleeps of 1, 2, 5, 10, ... ms while another process commits, which showed up as
        # 50-100 ms tails with two workers; a blocking file lock wakes the next writer as
        # soon as the lock is free.
        # The file lock orders processes; within one, threads (the writer, retention) hold
        # the same open file, which flock does not tell apart, so a mutex orders them.
        with self._write_mutex:
            if self._lock_path is None:
                yield
                return
            if self._lock_file is None:
                fd = open_private(self._lock_path, os.O_RDWR | os.O_APPEND)
                self._lock_file = os.fdopen(fd, "a+b")  # kept open
            fcntl.flock(self._lock_file.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(self._lock_file.fileno(), fcntl.LOCK_UN)

    # -- reading, export and retention (see `reads` and `export`) ----------------------------

    def suggestion(self, request_id: str) -> SuggestionRecord | None:
        """The suggestion answered under `request_id`, or None."""
        return reads.suggestion(self.engine, request_id)

    def count(
        self,
        table: Literal["suggestions", "decisions", "security_events", "model_switch_events"],
    ) -> int:
        """How many records the table holds."""
        return reads.count(self.engine, table)

    def latest_switch_event(self) -> SwitchEventRecord | None:
        """The newest switch of the model (its state), or None if it was never switched."""
        return reads.latest_switch_event(self.engine)

    def records(
        self,
        *,
        since: dt.datetime | None = None,
        until: dt.datetime | None = None,
        limit: int | None = None,
        offset: int = 0,
    ) -> list[dict[str, Any]]:
        """Suggestions joined with their decisions (`reads.iter_records`), as a list."""
        return list(
            reads.iter_records(self.engine, since=since, until=until, limit=limit, offset=offset)
        )

    def export(self, out: Path | str) -> int:
        """Write the joined records to `out` (.csv, .jsonl or .parquet); the rows written."""
        return _export.export(self.engine, out)

    def prune(
        self, older_than_days: int, *, now: dt.datetime | None = None, batch: int = 5000
    ) -> PruneResult:
        """Remove suggestions older than `older_than_days` days, with their decisions, and
        security events as old.

        In transactions of at most `batch` records a table, taking the write lock for each:
        answers keep being audited while a large backlog is removed.
        """
        now = now or dt.datetime.now(dt.UTC)
        total = PruneResult(0, 0, 0)
        while True:
            with self._exclusive_write():
                done = _export.prune(
                    self.engine, older_than_days, self.chain_key, now=now, limit=batch
                )
            total += done
            if done.suggestions < batch and done.security_events < batch:
                return total

    def verify(self, heads: Mapping[str, tuple[int, str]] | None = None) -> chain.Verification:
        """Check the hash chain of every table (`service.audit.chain.verify`)."""
        return chain.verify(self.engine, self.chain_key, heads)


def _write_lock_path(url: str) -> Path | None:
    """The lock file that orders commits to a SQLite file across processes (else None)."""
    parsed = make_url(url)
    database = parsed.database
    if parsed.get_backend_name() != "sqlite" or not database or database == ":memory:":
        return None
    return Path(database + ".write-lock")


def _make_engine(url: str, pool: tuple[int, int] | None = None) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        sizes = {} if pool is None else {"pool_size": pool[0], "max_overflow": pool[1]}
        try:
            return create_engine(url, pool_pre_ping=True, **sizes)
        except ModuleNotFoundError as error:
            raise AuditUnavailableError(
                f"the audit store's URL needs the {error.name} driver: "
                "pip install 'polku[postgres]'"
            ) from None
    database = parsed.database
    if database and database != ":memory:":
        private_sqlite_file(database)  # 0600, and so are its -wal and -shm files
    engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

    @event.listens_for(engine, "connect")
    def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA busy_timeout=30000")
        _switch_to_wal(cursor)
        # FULL: a commit is on disk before the answer leaves, even across a power cut.
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    return engine


def _row(
    record: SuggestionRecord | DecisionRecord | SecurityEventRecord | SwitchEventRecord,
) -> dict[str, Any]:
    # Shallow: every field is immutable (`dataclasses.asdict` deep-copies each value).
    return {name: getattr(record, name) for name in record.__slots__}


def _switch_to_wal(cursor: Any, attempts: int = 50) -> None:
    """`PRAGMA journal_mode=WAL`, retried: on a new file opened by several replicas at once
    SQLite may refuse the switch with "database is locked" at once, without waiting on the
    busy timeout (seen in CI), while another connection makes the same switch."""
    for attempt in range(attempts):
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or attempt == attempts - 1:
                raise
            time.sleep(0.02 * (attempt + 1))
