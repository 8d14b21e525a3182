"""Tamper evidence of the audit store (issue 13 item 5): triggers refuse DELETE, UPDATE and
INSERT outside the writer, and the keyed hash chain names the first row of every edit that
gets past them (DELETE, a forged INSERT, UPDATE after DROP TRIGGER, a cut-off tail)."""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import insert

from service.audit import AuditStore, chain
from service.audit.schema import audit_tombstones
from tests.service.helpers import decision, suggestion

KEY = b"k" * 32


@pytest.fixture
def store(tmp_path: Path) -> Iterator[AuditStore]:
    store = AuditStore(f"sqlite:///{tmp_path / 'audit.sqlite3'}", chain_key=KEY).open()
    for i in range(5):
        store.write_suggestion(suggestion(f"{i:032d}"))
    for i in range(3):
        store.write_decision(decision(f"{i:032d}"))
    yield store
    store.close()


def _sql(store: AuditStore, *statements: str) -> None:
    with sqlite3.connect(store.url.removeprefix("sqlite:///")) as conn:
        for statement in statements:
            conn.execute(statement)


def test_an_untouched_store_verifies_and_names_its_heads(store: AuditStore) -> None:
    result = store.verify()
    assert result.ok, result.broken
    assert result.checked == {
        "suggestions": 5,
        "decisions": 3,
        "security_events": 0,
        "model_switch_events": 0,
    }
    assert result.heads["suggestions"][0] == 5
    assert store.verify({"suggestions": result.heads["suggestions"]}).ok


@pytest.mark.parametrize(
    "statement",
    [
        "DELETE FROM suggestions WHERE id = 3",
        "UPDATE decisions SET reason = 'x' WHERE id = 1",
        "INSERT INTO suggestions (request_id, created_at, kind, client_key, input_hash, "
        "rules_version, language, eligible, responsible_office, ranking) VALUES "
        "('f', '2026-01-01', 'eligibility', 'k', 'h', 'r', 'fi', 1, 'helsinki', '[]')",
    ],
)
def test_triggers_refuse_edits_outside_the_writer(store: AuditStore, statement: str) -> None:
    with pytest.raises(sqlite3.IntegrityError):
        _sql(store, statement)
    assert store.verify().ok


def test_a_deleted_row_is_named_by_the_row_after_it(store: AuditStore) -> None:
    _sql(store, "DROP TRIGGER suggestions_no_delete", "DELETE FROM suggestions WHERE id = 3")
    broken = store.verify().broken
    assert broken is not None and (broken.table, broken.row_id) == ("suggestions", 4)
    assert "removed" in broken.why


def test_a_forged_insert_is_named(store: AuditStore) -> None:
    # A row with a plausible chain hash, made without the key.
    _sql(
        store,
        "INSERT INTO decisions (request_id, created_at, actor, choice, service_id, "
        "followed_top, reason, chain_hash) VALUES ('00000000000000000000000000000004', "
        f"'2026-03-01 12:06:00.000000', 'desk-1', 'none', NULL, 0, 'x', '{'a' * 64}')",
    )
    broken = store.verify().broken
    assert broken is not None and (broken.table, broken.row_id) == ("decisions", 4)


def test_an_update_after_drop_trigger_is_named(store: AuditStore) -> None:
    _sql(
        store,
        "DROP TRIGGER decisions_append_only",
        "UPDATE decisions SET choice = 'none', service_id = NULL WHERE id = 2",
    )
    broken = store.verify().broken
    assert broken is not None and (broken.table, broken.row_id) == ("decisions", 2)


def test_a_cut_off_tail_is_named_against_a_recorded_head(store: AuditStore) -> None:
    recorded = store.verify().heads
    _sql(store, "DROP TRIGGER suggestions_no_delete", "DELETE FROM suggestions WHERE id = 5")
    assert store.verify().ok  # a chain alone cannot see its end cut off...
    broken = store.verify(recorded).broken  # ...the head kept elsewhere can
    assert broken is not None and (broken.table, broken.row_id) == ("suggestions", 5)


def test_the_chain_needs_the_key(store: AuditStore) -> None:
    assert not chain.verify(store.engine, b"another key of enough length....").ok


def test_retention_keeps_the_chain_linked_and_new_rows_follow(store: AuditStore) -> None:
    now = dt.datetime(2026, 3, 1, 12, 0, 0)
    store.write_suggestion(suggestion("n" * 32, created_at=now + dt.timedelta(days=30)))
    result = store.prune(10, now=now + dt.timedelta(days=20))
    assert (result.suggestions, result.decisions) == (5, 3)
    assert store.count("suggestions") == 1
    with pytest.raises(sqlite3.IntegrityError):  # what retention left stays
        _sql(store, "DELETE FROM audit_tombstones")
    store.write_suggestion(suggestion("m" * 32, created_at=now + dt.timedelta(days=31)))
    verified = store.verify()
    assert verified.ok, verified.broken
    assert verified.checked["suggestions"] == 2


def test_a_forged_tombstone_is_named(store: AuditStore) -> None:
    _sql(store, "DROP TRIGGER suggestions_no_delete", "DELETE FROM suggestions WHERE id = 2")
    with store.engine.begin() as conn:  # disguise the deletion as retention, without the key
        conn.execute(
            insert(audit_tombstones).values(
                table_name="suggestions", row_id=2, chain_hash="0" * 64, seal="1" * 64
            )
        )
    broken = store.verify().broken
    assert broken is not None and (broken.table, broken.row_id) == ("suggestions", 2)


def test_a_store_from_before_the_chain_is_extended(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    with sqlite3.connect(path) as conn:
        conn.execute(
            "CREATE TABLE suggestions (id INTEGER PRIMARY KEY, request_id VARCHAR(36) NOT NULL "
            "UNIQUE, created_at DATETIME NOT NULL, kind VARCHAR(16) NOT NULL, actor VARCHAR(64), "
            "client_key VARCHAR(64) NOT NULL, input_hash VARCHAR(64) NOT NULL, rules_version "
            "VARCHAR(64) NOT NULL, model_version VARCHAR(64), objective VARCHAR(200), language "
            "VARCHAR(2) NOT NULL, top_k INTEGER, eligible BOOLEAN NOT NULL, responsible_office "
            "VARCHAR(32) NOT NULL, ranking TEXT NOT NULL)"
        )
        conn.execute(
            "INSERT INTO suggestions (request_id, created_at, kind, client_key, input_hash, "
            "rules_version, language, eligible, responsible_office, ranking) VALUES "
            "('old', '2026-01-01 00:00:00.000000', 'eligibility', 'k', 'h', 'r', 'fi', 1, "
            "'helsinki', '[]')"
        )
    with AuditStore(f"sqlite:///{path}", chain_key=KEY) as store:
        store.write_suggestion(suggestion("1" * 32))
        result = store.verify()
    assert result.ok, result.broken
    assert (result.unchained["suggestions"], result.checked["suggestions"]) == (1, 1)
