"""The audit store: every suggestion Polku made and every decision a caseworker recorded.

Append-only (updates are refused by triggers; a correction is a new decision row), written
before the answer leaves the server, and free of personal identity codes: clients appear
only as a keyed HMAC, inputs only as a keyed hash. SQLite by default (WAL, synchronous=FULL,
so an answered request survives `kill -9` and power loss), PostgreSQL by URL.

Writes go through one writer thread that commits whatever has queued up in one transaction
(group commit): a commit costs an fsync of a few milliseconds, and concurrent requests share
it instead of queueing for one each.
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import fcntl
import json
import logging
import os
import queue
import threading
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, BinaryIO, Final, Literal

from sqlalchemy import (
    DDL,
    Boolean,
    Column,
    DateTime,
    Engine,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    delete,
    event,
    func,
    insert,
    select,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DatabaseError

log = logging.getLogger(__name__)

Choice = Literal["suggested", "other", "none"]
CHOICES: Final[tuple[Choice, ...]] = ("suggested", "other", "none")
_BATCH_LIMIT: Final = 512

metadata = MetaData()

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
)

# Records are never changed in place; retention may delete whole old records.
for _table in ("suggestions", "decisions"):
    event.listen(
        metadata,
        "after_create",
        DDL(
            f"CREATE TRIGGER IF NOT EXISTS {_table}_append_only BEFORE UPDATE ON {_table} "
            "BEGIN SELECT RAISE(ABORT, 'audit records are append-only'); END"
        ).execute_if(dialect="sqlite"),
    )
event.listen(
    metadata,
    "after_create",
    DDL(
        "CREATE OR REPLACE FUNCTION polku_audit_append_only() RETURNS trigger AS $$ "
        "BEGIN RAISE EXCEPTION 'audit records are append-only'; END $$ LANGUAGE plpgsql"
    ).execute_if(dialect="postgresql"),
)
for _table in ("suggestions", "decisions"):
    event.listen(
        metadata,
        "after_create",
        DDL(
            f"DROP TRIGGER IF EXISTS {_table}_append_only ON {_table}; "
            f"CREATE TRIGGER {_table}_append_only BEFORE UPDATE ON {_table} "
            "FOR EACH ROW EXECUTE FUNCTION polku_audit_append_only()"
        ).execute_if(dialect="postgresql"),
    )


def utc_now() -> dt.datetime:
    """The current time in UTC without tzinfo, as the store keeps it."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


@dataclass(frozen=True, slots=True)
class SuggestionRecord:
    """One answered eligibility or recommendation request, as the audit store keeps it.

    `ranking` is the JSON list of the services shown (id, rank, expected outcomes, uplift
    and interval), empty for a non-client and for an eligibility request.
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

    def ranked_service_ids(self) -> list[str]:
        """The ids of the services shown, best first."""
        return [entry["service_id"] for entry in json.loads(self.ranking)]


@dataclass(frozen=True, slots=True)
class DecisionRecord:
    """What a caseworker decided for one suggestion (a correction is a later record)."""

    request_id: str
    created_at: dt.datetime
    actor: str | None
    choice: Choice
    service_id: str | None
    followed_top: bool
    reason: str | None


@dataclass(frozen=True, slots=True)
class PruneResult:
    """How many records `AuditStore.prune` removed."""

    suggestions: int
    decisions: int


class AuditUnavailableError(RuntimeError):
    """The audit store is closed or failed to write: no suggestion may be answered."""


EXPORT_COLUMNS: Final = (
    "request_id",
    "created_at",
    "kind",
    "actor",
    "client_key",
    "input_hash",
    "rules_version",
    "model_version",
    "objective",
    "language",
    "top_k",
    "eligible",
    "responsible_office",
    "ranking",
    "decision_id",
    "decided_at",
    "decided_by",
    "choice",
    "chosen_service_id",
    "followed_top",
    "reason",
)


@dataclass(slots=True)
class _Pending:
    table: Table
    row: dict[str, Any]
    done: Future[None]


_STOP: Final = object()


class AuditStore:
    """The append-only audit store behind one SQLAlchemy URL.

    Parameters
    ----------
    url : SQLAlchemy database URL (`sqlite:///path` or `postgresql+psycopg://...`).

    Examples
    --------
    >>> store = AuditStore("sqlite://")  # doctest: +SKIP
    >>> store.open(); store.write_suggestion(record); store.close()  # doctest: +SKIP
    """

    def __init__(self, url: str) -> None:
        self.url = url
        self._engine: Engine | None = None
        self._queue: queue.SimpleQueue[_Pending | object] = queue.SimpleQueue()
        self._writer: threading.Thread | None = None
        self._accepting = False
        self._state_lock = threading.Lock()
        self._lock_path = _write_lock_path(url)
        self._lock_file: BinaryIO | None = None

    # -- lifecycle ---------------------------------------------------------------------------

    @property
    def engine(self) -> Engine:
        """The engine, created (with the tables) on first use."""
        if self._engine is None:
            self._engine = _make_engine(self.url)
            _create_tables(self._engine)
        return self._engine

    def open(self) -> AuditStore:
        """Create the tables if needed and start the writer thread."""
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

    def submit_decision(self, record: DecisionRecord) -> Future[None]:
        """Queue a decision; the future completes once it is committed (or failed)."""
        return self._submit(decisions, _row(record))

    def write_suggestion(self, record: SuggestionRecord) -> None:
        """Write a suggestion and wait until it is durable."""
        self.submit_suggestion(record).result()

    def write_decision(self, record: DecisionRecord) -> None:
        """Write a decision and wait until it is durable."""
        self.submit_decision(record).result()

    def _submit(self, table: Table, row: dict[str, Any]) -> Future[None]:
        done: Future[None] = Future()
        if not self._accepting:
            done.set_exception(AuditUnavailableError("the audit store is not open"))
            return done
        self._queue.put(_Pending(table, row, done))
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
            if isinstance(item, _Pending):
                item.done.set_exception(AuditUnavailableError("the audit store closed"))

    def _commit(self, batch: Sequence[_Pending]) -> None:
        try:
            with self._exclusive_write(), self.engine.begin() as conn:
                for table in (suggestions, decisions):  # parents before children
                    rows = [p.row for p in batch if p.table is table]
                    if rows:
                        conn.execute(insert(table), rows)
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
            pending.done.set_result(None)

    @contextlib.contextmanager
    def _exclusive_write(self) -> Iterator[None]:
        # Several server processes may share one SQLite file. Its busy handler polls with
        # sleeps of 1, 2, 5, 10, ... ms while another process commits, which showed up as
        # 50-100 ms tails with two workers; a blocking file lock wakes the next writer as
        # soon as the lock is free.
        if self._lock_path is None:
            yield
            return
        if self._lock_file is None:
            self._lock_file = open(self._lock_path, "a+b")  # noqa: SIM115 (kept open)
        fcntl.flock(self._lock_file.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(self._lock_file.fileno(), fcntl.LOCK_UN)

    # -- reading -----------------------------------------------------------------------------

    def suggestion(self, request_id: str) -> SuggestionRecord | None:
        """The suggestion answered under `request_id`, or None."""
        names = [f.name for f in fields(SuggestionRecord)]
        with self.engine.connect() as conn:
            row = conn.execute(
                select(*(suggestions.c[n] for n in names)).where(
                    suggestions.c.request_id == request_id
                )
            ).first()
        if row is None:
            return None
        return SuggestionRecord(**dict(zip(names, row, strict=True)))

    def count(self, table: Literal["suggestions", "decisions"]) -> int:
        """How many records the table holds."""
        target = suggestions if table == "suggestions" else decisions
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(target)).scalar_one())

    def records(
        self,
        *,
        since: dt.datetime | None = None,
        until: dt.datetime | None = None,
        limit: int | None = None,
        offset: int = 0,
    ) -> list[dict[str, Any]]:
        """Suggestions joined with their decisions (one row per decision, or one without).

        Rows come oldest first, ordered by suggestion and then decision; `since` and `until`
        bound the suggestion's time (inclusive, exclusive).
        """
        return list(self._iter_records(since=since, until=until, limit=limit, offset=offset))

    def _iter_records(
        self,
        *,
        since: dt.datetime | None = None,
        until: dt.datetime | None = None,
        limit: int | None = None,
        offset: int = 0,
    ) -> Iterator[dict[str, Any]]:
        s, d = suggestions.c, decisions.c
        query = (
            select(
                s.request_id,
                s.created_at,
                s.kind,
                s.actor,
                s.client_key,
                s.input_hash,
                s.rules_version,
                s.model_version,
                s.objective,
                s.language,
                s.top_k,
                s.eligible,
                s.responsible_office,
                s.ranking,
                d.id.label("decision_id"),
                d.created_at.label("decided_at"),
                d.actor.label("decided_by"),
                d.choice,
                d.service_id.label("chosen_service_id"),
                d.followed_top,
                d.reason,
            )
            .select_from(suggestions.outerjoin(decisions, s.request_id == d.request_id))
            .order_by(s.id, d.id)
        )
        if since is not None:
            query = query.where(s.created_at >= _naive_utc(since))
        if until is not None:
            query = query.where(s.created_at < _naive_utc(until))
        if limit is not None:
            query = query.limit(limit)
        if offset:
            query = query.offset(offset)
        with self.engine.connect() as conn:
            result = conn.execution_options(stream_results=True, yield_per=2000).execute(query)
            for row in result:
                yield dict(row._mapping)

    # -- evaluators' export and retention ----------------------------------------------------

    def export(self, out: Path | str) -> int:
        """Write suggestions joined with decisions to `out` (.csv, .jsonl or .parquet).

        The file is written to a temporary name beside `out` and renamed when complete.
        Returns the number of rows written.
        """
        out = Path(out)
        suffix = out.suffix.lower()
        if suffix not in (".csv", ".jsonl", ".parquet"):
            raise ValueError(f"cannot export to {out.name!r}: use a .csv, .jsonl or .parquet file")
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
        try:
            if suffix == ".csv":
                count = _write_csv(tmp, self._iter_records())
            elif suffix == ".jsonl":
                count = _write_jsonl(tmp, self._iter_records())
            else:
                count = _write_parquet(tmp, self._iter_records())
            os.replace(tmp, out)
        finally:
            tmp.unlink(missing_ok=True)
        return count

    def prune(self, older_than_days: int, *, now: dt.datetime | None = None) -> PruneResult:
        """Remove suggestions older than `older_than_days` days, with their decisions."""
        if older_than_days < 1:
            raise ValueError("older_than_days must be at least 1")
        cutoff = _naive_utc(now or dt.datetime.now(dt.UTC)) - dt.timedelta(days=older_than_days)
        old = select(suggestions.c.request_id).where(suggestions.c.created_at < cutoff)
        with self.engine.begin() as conn:
            removed_decisions = conn.execute(
                delete(decisions).where(decisions.c.request_id.in_(old))
            ).rowcount
            removed_suggestions = conn.execute(
                delete(suggestions).where(suggestions.c.created_at < cutoff)
            ).rowcount
        return PruneResult(suggestions=removed_suggestions, decisions=removed_decisions)


def _create_tables(engine: Engine, attempts: int = 3) -> None:
    """Create the tables unless they exist, tolerating another process doing the same.

    `create_all` checks, then creates: two workers starting on a new database can both see
    no table, and the slower one fails with "already exists". Checking again settles it.
    """
    for attempt in range(1, attempts + 1):
        try:
            metadata.create_all(engine)
            return
        except DatabaseError as error:
            if "already exists" not in str(error).lower() or attempt == attempts:
                raise
            log.info("audit tables were created by another process; checking again")


def _write_lock_path(url: str) -> Path | None:
    """The lock file that orders commits to a SQLite file across processes (else None)."""
    parsed = make_url(url)
    database = parsed.database
    if parsed.get_backend_name() != "sqlite" or not database or database == ":memory:":
        return None
    return Path(database + ".write-lock")


def _make_engine(url: str) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return create_engine(url, pool_pre_ping=True)
    database = parsed.database
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

    @event.listens_for(engine, "connect")
    def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        # FULL: a commit is on disk before the answer leaves, even across a power cut.
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    return engine


def _row(record: SuggestionRecord | DecisionRecord) -> dict[str, Any]:
    # Shallow: every field is immutable (`dataclasses.asdict` deep-copies each value).
    return {name: getattr(record, name) for name in record.__slots__}


def _naive_utc(moment: dt.datetime) -> dt.datetime:
    if moment.tzinfo is None:
        return moment
    return moment.astimezone(dt.UTC).replace(tzinfo=None)


def _plain(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.isoformat() + "Z"
    return value


def _write_csv(path: Path, rows: Iterator[Mapping[str, Any]]) -> int:
    count = 0
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=EXPORT_COLUMNS)
        writer.writeheader()
        for row in rows:
            writer.writerow({k: _plain(v) for k, v in row.items()})
            count += 1
        handle.flush()
        os.fsync(handle.fileno())
    return count


def _write_jsonl(path: Path, rows: Iterator[Mapping[str, Any]]) -> int:
    count = 0
    with path.open("w", encoding="utf-8") as handle:
        for row in rows:
            record = {k: _plain(v) for k, v in row.items()}
            record["ranking"] = json.loads(record["ranking"])
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
            count += 1
        handle.flush()
        os.fsync(handle.fileno())
    return count


def _write_parquet(path: Path, rows: Iterator[Mapping[str, Any]]) -> int:
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = pa.schema(
        [
            ("request_id", pa.string()),
            ("created_at", pa.timestamp("us", tz="UTC")),
            ("kind", pa.string()),
            ("actor", pa.string()),
            ("client_key", pa.string()),
            ("input_hash", pa.string()),
            ("rules_version", pa.string()),
            ("model_version", pa.string()),
            ("objective", pa.string()),
            ("language", pa.string()),
            ("top_k", pa.int64()),
            ("eligible", pa.bool_()),
            ("responsible_office", pa.string()),
            ("ranking", pa.string()),
            ("decision_id", pa.int64()),
            ("decided_at", pa.timestamp("us", tz="UTC")),
            ("decided_by", pa.string()),
            ("choice", pa.string()),
            ("chosen_service_id", pa.string()),
            ("followed_top", pa.bool_()),
            ("reason", pa.string()),
        ]
    )
    count = 0
    with pq.ParquetWriter(path, schema) as writer:
        chunk: list[Mapping[str, Any]] = []
        for row in rows:
            chunk.append(row)
            if len(chunk) >= 10_000:
                writer.write_table(pa.Table.from_pylist(_utc_rows(chunk), schema=schema))
                count += len(chunk)
                chunk = []
        if chunk or count == 0:
            writer.write_table(pa.Table.from_pylist(_utc_rows(chunk), schema=schema))
            count += len(chunk)
    return count


def _utc_rows(rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    stamped = ("created_at", "decided_at")
    return [
        {
            k: (v.replace(tzinfo=dt.UTC) if k in stamped and v is not None else v)
            for k, v in row.items()
        }
        for row in rows
    ]
