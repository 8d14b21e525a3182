"""The audit store: durable group commits, append-only, export, retention, its schema's
revisions; each test that is not about SQLite's file runs against SQLite and PostgreSQL
(`audit_db`)."""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import fcntl
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import sqlalchemy.exc
import sqlalchemy.pool

from service.audit import (
    AuditStore,
    AuditUnavailableError,
)
from tests.service.audit_db import AuditDatabase
from tests.service.helpers import decision, suggestion


@pytest.fixture
def store(audit_db: AuditDatabase) -> Iterator[AuditStore]:
    with audit_db.store() as opened:
        yield opened


def test_store_uses_wal_and_full_synchronous(tmp_path: Path) -> None:
    with (
        AuditStore(f"sqlite:///{tmp_path / 'audit.sqlite3'}") as store,
        store.engine.connect() as conn,
    ):
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL


def test_written_suggestion_reads_back_equal(store: AuditStore) -> None:
    record = suggestion("a" * 32)
    store.write_suggestion(record)
    assert store.suggestion("a" * 32) == record
    assert store.suggestion("b" * 32) is None
    assert record.ranked_service_ids() == ["debt_advice", "work_trial"]


def test_concurrent_writers_all_commit(store: AuditStore) -> None:
    def write(start: int) -> None:
        futures = [store.submit_suggestion(suggestion(f"{start + i:032x}")) for i in range(50)]
        for future in futures:
            future.result(timeout=30)

    threads = [threading.Thread(target=write, args=(k * 1000,)) for k in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert store.count("suggestions") == 400


def test_one_bad_row_does_not_fail_its_batch(store: AuditStore) -> None:
    store.write_suggestion(suggestion("a" * 32))
    good = store.submit_decision(decision("a" * 32))
    orphan = store.submit_decision(decision("c" * 32))  # no such suggestion: FK fails
    duplicate = store.submit_suggestion(suggestion("a" * 32))  # unique request id
    good.result(timeout=10)
    with pytest.raises(AuditUnavailableError, match="failed"):
        orphan.result(timeout=10)
    with pytest.raises(AuditUnavailableError):
        duplicate.result(timeout=10)
    assert store.count("decisions") == 1


def test_records_cannot_be_updated(store: AuditStore, audit_db: AuditDatabase) -> None:
    store.write_suggestion(suggestion("a" * 32))
    store.write_decision(decision("a" * 32))
    for table in ("suggestions", "decisions"):
        # The triggers hold for every role, the owner of the tables included.
        with pytest.raises(sqlalchemy.exc.DatabaseError, match="append-only"):
            audit_db.sql(f"UPDATE {table} SET actor = 'someone else'")
    assert store.records()[0]["actor"] == "desk-1"


SERVICE_ROLE_REFUSED = [
    "UPDATE suggestions SET actor = 'x'",
    "DELETE FROM decisions",
    "TRUNCATE security_events",
    "DELETE FROM audit_tombstones",
    "INSERT INTO audit_tombstones (table_name, row_id, chain_hash, seal) "
    "VALUES ('suggestions', 1, 'h', 's')",
    "INSERT INTO audit_prune_permits (id) VALUES (1)",
    "DROP TRIGGER suggestions_no_delete ON suggestions",
    "ALTER TABLE suggestions DISABLE TRIGGER ALL",
    "DROP TABLE decisions",
    "CREATE TABLE shadow (id integer)",
    "UPDATE alembic_version SET version_num = 'x'",
]


@pytest.mark.parametrize("statement", SERVICE_ROLE_REFUSED)
def test_the_service_role_may_only_read_and_append(
    postgres_audit_db: AuditDatabase, statement: str
) -> None:
    # Roles are PostgreSQL's; an SQLite file is one role, guarded by its triggers alone.
    db = postgres_audit_db
    with db.store() as store:
        store.write_suggestion(suggestion("a" * 32))
        store.write_decision(decision("a" * 32))
        with pytest.raises(sqlalchemy.exc.ProgrammingError, match=r"permission denied|must be"):
            db.sql(statement, url=db.url)
        assert store.verify().ok
        assert store.count("decisions") == 1


def test_writes_after_close_are_refused(audit_db: AuditDatabase) -> None:
    store = audit_db.store().open()
    store.close()
    with pytest.raises(AuditUnavailableError, match="not open"):
        store.write_suggestion(suggestion("a" * 32))


def test_close_writes_what_was_queued(audit_db: AuditDatabase) -> None:
    store = audit_db.store().open()
    futures = [store.submit_suggestion(suggestion(f"{i:032x}")) for i in range(100)]
    store.close()
    assert all(f.done() and f.exception() is None for f in futures)
    assert audit_db.scalars("SELECT COUNT(*) FROM suggestions") == [100]


def test_records_join_decisions_and_keep_undecided_suggestions(store: AuditStore) -> None:
    store.write_suggestion(suggestion("a" * 32))
    store.write_suggestion(suggestion("b" * 32))
    store.write_decision(decision("a" * 32))
    store.write_decision(decision("a" * 32, "other", "work_trial"))
    rows = store.records()
    assert [(r["request_id"][0], r["choice"]) for r in rows] == [
        ("a", "suggested"),
        ("a", "other"),
        ("b", None),
    ]
    assert rows[1]["reason"] == "client's wish"
    assert store.records(limit=1, offset=2)[0]["request_id"] == "b" * 32


def test_records_filter_by_time(store: AuditStore) -> None:
    store.write_suggestion(suggestion("a" * 32, created_at=dt.datetime(2026, 1, 1)))
    store.write_suggestion(suggestion("b" * 32, created_at=dt.datetime(2026, 2, 1)))
    since = dt.datetime(2026, 1, 15, tzinfo=dt.UTC)
    assert [r["request_id"][0] for r in store.records(since=since)] == ["b"]
    assert [r["request_id"][0] for r in store.records(until=since)] == ["a"]


@pytest.mark.parametrize("suffix", [".csv", ".jsonl", ".parquet"])
def test_export_writes_the_joined_records(store: AuditStore, tmp_path: Path, suffix: str) -> None:
    store.write_suggestion(suggestion("a" * 32))
    store.write_suggestion(suggestion("b" * 32))
    store.write_decision(decision("a" * 32))
    out = tmp_path / "export" / f"audit{suffix}"
    assert store.export(out) == 2
    if suffix == ".csv":
        with out.open() as handle:
            rows = list(csv.DictReader(handle))
        assert rows[0]["chosen_service_id"] == "debt_advice"
        assert rows[1]["choice"] == ""
        assert rows[0]["created_at"] == "2026-03-01T12:00:00Z"
    elif suffix == ".jsonl":
        records = [json.loads(line) for line in out.read_text().splitlines()]
        assert records[0]["ranking"][0]["service_id"] == "debt_advice"
        assert records[1]["decision_id"] is None
    else:
        frame = pd.read_parquet(out)
        assert list(frame["request_id"]) == ["a" * 32, "b" * 32]
        assert str(frame["created_at"].dt.tz) == "UTC"
    assert [p.name for p in out.parent.iterdir()] == [out.name]


def test_export_refuses_an_unknown_format_and_writes_nothing(
    store: AuditStore, tmp_path: Path
) -> None:
    with pytest.raises(ValueError, match=r"\.csv, \.jsonl or \.parquet"):
        store.export(tmp_path / "audit.xlsx")
    assert not (tmp_path / "audit.xlsx").exists()


def test_export_of_an_empty_store_has_a_header(store: AuditStore, tmp_path: Path) -> None:
    assert store.export(tmp_path / "empty.csv") == 0
    assert (tmp_path / "empty.csv").read_text().startswith("request_id,created_at,")
    assert store.export(tmp_path / "empty.parquet") == 0
    assert len(pd.read_parquet(tmp_path / "empty.parquet")) == 0


def test_prune_removes_old_records_with_their_decisions(
    store: AuditStore, audit_db: AuditDatabase
) -> None:
    now = dt.datetime(2026, 6, 1)
    store.write_suggestion(suggestion("a" * 32, created_at=now - dt.timedelta(days=400)))
    store.write_suggestion(suggestion("b" * 32, created_at=now - dt.timedelta(days=10)))
    store.write_decision(decision("a" * 32))
    store.write_decision(decision("b" * 32))
    with audit_db.owner_store() as owner:  # retention runs as the owner role
        result = owner.prune(365, now=now)
    assert (result.suggestions, result.decisions) == (1, 1)
    assert [r["request_id"][0] for r in store.records()] == ["b"]
    assert store.verify().ok


def test_prune_by_the_service_role_is_refused(postgres_audit_db: AuditDatabase) -> None:
    with postgres_audit_db.store() as store:
        store.write_suggestion(suggestion("a" * 32, created_at=dt.datetime(2020, 1, 1)))
        with pytest.raises(sqlalchemy.exc.ProgrammingError, match="permission denied"):
            store.prune(30)
        assert store.count("suggestions") == 1


def test_prune_refuses_a_non_positive_age(store: AuditStore) -> None:
    with pytest.raises(ValueError, match="at least 1"):
        store.prune(0)


def test_writer_survives_a_failing_batch_and_keeps_writing(
    store: AuditStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = {"n": 0}
    real = AuditStore._commit

    def flaky(self: AuditStore, batch: Any) -> None:
        calls["n"] += 1
        if calls["n"] == 1:
            raise MemoryError("simulated")
        real(self, batch)

    monkeypatch.setattr(AuditStore, "_commit", flaky)
    with pytest.raises(AuditUnavailableError, match="failed"):
        store.write_suggestion(suggestion("a" * 32))
    store.write_suggestion(suggestion("b" * 32))
    assert store.count("suggestions") == 1


def test_stores_opened_at_once_on_a_new_database_migrate_it_once(
    fresh_audit_url: str,
) -> None:
    # Replicas starting together on an empty database: one migrates, the others wait for it.
    errors: list[BaseException] = []
    stores = [AuditStore(fresh_audit_url) for _ in range(4)]

    def open_and_write(k: int) -> None:
        try:
            stores[k].open().write_suggestion(suggestion(f"{k:032d}"))
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=open_and_write, args=(k,)) for k in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for opened in stores:
        opened.close()
    assert not errors, errors
    with AuditStore(fresh_audit_url) as store:
        assert store.count("suggestions") == 4
        assert store.verify().ok


@contextlib.contextmanager
def _another_writer_mid_commit(audit_db: AuditDatabase) -> Iterator[None]:
    """Hold the lock a writer of another process holds while it commits."""
    if audit_db.kind == "sqlite":
        lock_path = Path(f"{audit_db.url.removeprefix('sqlite:///')}.write-lock")
        with lock_path.open("a+b") as other:
            fcntl.flock(other.fileno(), fcntl.LOCK_EX)
            yield
            fcntl.flock(other.fileno(), fcntl.LOCK_UN)
        return
    from sqlalchemy import create_engine

    from service.audit.chain import lock_heads

    engine = create_engine(audit_db.url)
    try:
        with engine.begin() as conn:
            lock_heads(conn)
            yield
    finally:
        engine.dispose()


def test_commits_wait_for_another_process_holding_the_write_lock(
    store: AuditStore, audit_db: AuditDatabase
) -> None:
    store.write_suggestion(suggestion("a" * 32))  # creates SQLite's lock file
    with _another_writer_mid_commit(audit_db):
        pending = store.submit_suggestion(suggestion("b" * 32))
        with pytest.raises(TimeoutError):
            pending.result(timeout=0.3)
    pending.result(timeout=10)
    assert store.suggestion("b" * 32) is not None


def test_two_writer_processes_keep_one_valid_chain(audit_db: AuditDatabase) -> None:
    # Two replicas on one database: each store has its own writer and connections.
    with audit_db.store() as first, audit_db.store() as second:

        def write(target: AuditStore, start: int) -> None:
            futures = [target.submit_suggestion(suggestion(f"{start + i:032d}")) for i in range(60)]
            for future in futures:
                future.result(timeout=30)
            for i in range(0, 60, 3):
                target.write_decision(decision(f"{start + i:032d}"))

        threads = [
            threading.Thread(target=write, args=(target, k * 1000))
            for k, target in enumerate((first, second, first, second))
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        verified = first.verify()
    assert verified.ok, verified.broken
    assert (verified.checked["suggestions"], verified.checked["decisions"]) == (240, 80)


def test_records_and_the_joined_view_derive_from_the_table_definition() -> None:
    from dataclasses import fields

    from service.audit.export import parquet_schema
    from service.audit.schema import (
        DECISION_COLUMNS,
        EXPORT_COLUMNS,
        SUGGESTION_COLUMNS,
        DecisionRecord,
        SuggestionRecord,
    )
    from service.schemas import AuditRecordOut

    assert tuple(f.name for f in fields(SuggestionRecord)) == SUGGESTION_COLUMNS
    assert tuple(f.name for f in fields(DecisionRecord)) == DECISION_COLUMNS
    assert EXPORT_COLUMNS[: len(SUGGESTION_COLUMNS)] == SUGGESTION_COLUMNS
    assert EXPORT_COLUMNS[len(SUGGESTION_COLUMNS) :] == (
        "decision_id",
        "decided_at",
        "decided_by",
        "choice",
        "chosen_service_id",
        "followed_top",
        "reason",
    )
    assert tuple(parquet_schema().names) == EXPORT_COLUMNS
    assert tuple(AuditRecordOut.model_fields) == EXPORT_COLUMNS


def test_a_server_databases_pool_is_sized_by_the_settings(
    postgres_audit_db: AuditDatabase,
) -> None:
    postgres_audit_db.migrate()
    with postgres_audit_db.store(pool=(2, 1)) as sized:
        pool = sized.engine.pool
        assert isinstance(pool, sqlalchemy.pool.QueuePool)
        assert (pool.size(), pool._max_overflow) == (2, 1)
    with postgres_audit_db.store() as default:  # SQLAlchemy's own
        pool = default.engine.pool
        assert isinstance(pool, sqlalchemy.pool.QueuePool)
        assert (pool.size(), pool._max_overflow) == (5, 10)
