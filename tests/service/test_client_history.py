"""service.client_history: a request's decisions and a client's earlier answers, read-only."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest

from service.audit import AuditStore
from service.client_history import client_history, decisions_of
from tests.service.helpers import decision, suggestion


@pytest.fixture
def store(tmp_path: Path) -> Iterator[AuditStore]:
    with AuditStore(f"sqlite:///{tmp_path / 'audit.sqlite3'}") as opened:
        yield opened


def _ask(store: AuditStore, request_id: str, minute: int, client_key: str = "k" * 64) -> None:
    record = dataclasses.replace(
        suggestion(request_id, created_at=dt.datetime(2026, 3, 1, 12, minute)),
        client_key=client_key,
    )
    store.write_suggestion(record)


def test_decisions_of_a_request_come_oldest_first(store: AuditStore) -> None:
    _ask(store, "a" * 32, 0)
    assert decisions_of(store.engine, "a" * 32) == []
    store.write_decision(decision("a" * 32))
    store.write_decision(decision("a" * 32, choice="none", service=None))
    assert [d.choice for d in decisions_of(store.engine, "a" * 32)] == ["suggested", "none"]


def test_history_is_the_clients_own_earlier_answers_newest_first(store: AuditStore) -> None:
    _ask(store, "a" * 32, 0)
    _ask(store, "b" * 32, 1, client_key="o" * 64)  # another client
    _ask(store, "c" * 32, 2)
    _ask(store, "d" * 32, 3)  # the answer being shown
    _ask(store, "e" * 32, 4)  # answered after it
    store.write_decision(decision("a" * 32, choice="none", service=None))
    history = client_history(store.engine, "k" * 64, before="d" * 32)
    assert [h.request_id for h in history] == ["c" * 32, "a" * 32]
    assert history[1].suggested == ("debt_advice", "work_trial")
    assert [(choice, service) for _, choice, service in history[1].decisions] == [("none", None)]
    assert history[0].decisions == ()
    assert len(client_history(store.engine, "k" * 64, limit=2)) == 2
    assert client_history(store.engine, "x" * 64) == []
