"""The audit store: durable group commits, append-only, export, retention."""

from __future__ import annotations

import csv
import datetime as dt
import json
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import sqlalchemy.exc

from service.audit import (
    AuditStore,
    AuditUnavailableError,
)
from tests.service.helpers import decision, suggestion


@pytest.fixture
def store(tmp_path: Path) -> Iterator[AuditStore]:
    with AuditStore(f"sqlite:///{tmp_path / 'audit.sqlite3'}") as opened:
        yield opened


def test_store_uses_wal_and_full_synchronous(store: AuditStore) -> None:
    with store.engine.connect() as conn:
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


def test_records_cannot_be_updated(store: AuditStore) -> None:
    store.write_suggestion(suggestion("a" * 32))
    store.write_decision(decision("a" * 32))
    for table in ("suggestions", "decisions"):
        with (
            pytest.raises(sqlalchemy.exc.DatabaseError, match="append-only"),
            store.engine.begin() as conn,
        ):
            conn.exec_driver_sql(f"UPDATE {table} SET actor = 'someone else'")
    assert store.records()[0]["actor"] == "desk-1"


def test_writes_after_close_are_refused(tmp_path: Path) -> None:
    store = AuditStore(f"sqlite:///{tmp_path / 'audit.sqlite3'}").open()
    store.close()
    with pytest.raises(AuditUnavailableError, match="not open"):
        store.write_suggestion(suggestion("a" * 32))


def test_close_writes_what_was_queued(tmp_path: Path) -> None:
    path = tmp_path / "audit.sqlite3"
    store = AuditStore(f"sqlite:///{path}").open()
    futures = [store.submit_suggestion(suggestion(f"{i:032x}")) for i in range(100)]
    store.close()
    assert all(f.done() and f.exception() is None for f in futures)
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT COUNT(*) FROM suggestions").fetchone()[0] == 100


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


def test_prune_removes_old_records_with_their_decisions(store: AuditStore) -> None:
    now = dt.datetime(2026, 6, 1)
    store.write_suggestion(suggestion("a" * 32, created_at=now - dt.timedelta(days=400)))
    store.write_suggestion(suggestion("b" * 32, created_at=now - dt.timedelta(days=10)))
    store.write_decision(decision("a" * 32))
    store.write_decision(decision("b" * 32))
    result = store.prune(365, now=now)
    assert (result.suggestions, result.decisions) == (1, 1)
    assert [r["request_id"][0] for r in store.records()] == ["b"]


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


def test_opening_tolerates_another_process_creating_the_tables(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import service.audit as audit

    url = f"sqlite:///{tmp_path / 'audit.db'}"
    AuditStore(url).open().close()  # the other worker won the race
    calls: list[bool] = []
    create_all = audit.metadata.create_all

    def racing_create_all(engine: Any, **kwargs: Any) -> None:
        # The first call saw no table (as when both workers checked at once) and creates.
        calls.append(True)
        create_all(engine, checkfirst=len(calls) > 1)

    monkeypatch.setattr(audit.metadata, "create_all", racing_create_all)
    store = AuditStore(url).open()
    store.write_suggestion(suggestion("after-race"))
    store.close()
    assert len(calls) == 2
    reopened = AuditStore(url).open()
    assert reopened.suggestion("after-race") is not None
    reopened.close()


def test_commits_wait_for_another_process_holding_the_write_lock(tmp_path: Path) -> None:
    import fcntl

    database = tmp_path / "audit.sqlite3"
    with AuditStore(f"sqlite:///{database}") as store:
        store.write_suggestion(suggestion("a" * 32))  # creates the lock file
        lock_path = Path(f"{database}.write-lock")
        assert lock_path.exists()
        with lock_path.open("a+b") as other:  # another server process, mid-commit
            fcntl.flock(other.fileno(), fcntl.LOCK_EX)
            pending = store.submit_suggestion(suggestion("b" * 32))
            with pytest.raises(TimeoutError):
                pending.result(timeout=0.3)
            fcntl.flock(other.fileno(), fcntl.LOCK_UN)
        pending.result(timeout=10)
        assert store.suggestion("b" * 32) is not None


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
