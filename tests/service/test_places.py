"""Places left this month: shown with suggestions, taken by decisions, never taken twice."""

from __future__ import annotations

import datetime as dt
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from models.catalog import load_catalog
from service.audit import AuditStore
from service.audit.schema import decisions
from service.places import PlacesExhaustedError, PlacesLedger, month_of, used_places
from tests.service.audit_db import AuditDatabase
from tests.service.helpers import auth, client_profile, decision, suggestion

CASEWORKER = auth("caseworker")


def _suggest(api: TestClient, **changes: Any) -> dict[str, Any]:
    response = api.post(
        "/v1/recommendations",
        json={"profile": client_profile(**changes), "top_k": 3},
        headers=CASEWORKER,
    )
    assert response.status_code == 200
    return response.json()


def _one_place_of(api: TestClient, service_id: str) -> None:
    """Give the app's ledger a share of the capacity that leaves `service_id` one place."""
    suggestions = api.app.state.suggestions  # type: ignore[attr-defined]
    capacity = suggestions.catalog().get(service_id).monthly_capacity
    suggestions.places = PlacesLedger(lambda: api.app.state.audit.engine, share=1 / capacity)  # type: ignore[attr-defined]


def test_suggestions_carry_the_places_left(api: TestClient) -> None:
    answer = _suggest(api)
    catalog = load_catalog()
    for service in answer["services"]:
        assert service["places_left"] == catalog.get(service["service_id"]).monthly_capacity
        assert service["full"] is False
        assert service["next_with_places"] is None


def test_the_last_place_taken_marks_the_service_full_with_the_next_best(
    api: TestClient,
) -> None:
    answer = _suggest(api)
    top, second = (s["service_id"] for s in answer["services"][:2])
    _one_place_of(api, top)
    assert _suggest(api)["services"][0]["places_left"] == 1
    taken = api.post(
        "/v1/decisions",
        json={"request_id": answer["request_id"], "choice": "suggested", "service_id": top},
        headers=CASEWORKER,
    )
    assert taken.status_code == 201
    again = _suggest(api, client_id="client-0002", henkilotunnus=None, birth_date="2000-05-17")
    first = again["services"][0]
    assert first["service_id"] == top
    assert first["places_left"] == 0 and first["full"] is True
    assert first["next_with_places"] == second
    refused = api.post(
        "/v1/decisions",
        json={"request_id": again["request_id"], "choice": "suggested", "service_id": top},
        headers=CASEWORKER,
    )
    assert refused.status_code == 409
    assert "place" in refused.json()["detail"]
    # A correction of the first decision to none frees the place.
    freed = api.post(
        "/v1/decisions",
        json={
            "request_id": answer["request_id"],
            "choice": "none",
            "reason": "moved away",
            "corrects": True,
        },
        headers=CASEWORKER,
    )
    assert freed.status_code == 201
    assert _suggest(api)["services"][0]["places_left"] == 1


def test_two_caseworkers_at_once_cannot_both_take_the_last_place(api: TestClient) -> None:
    asked = [_suggest(api, client_id=f"client-{i:04d}", henkilotunnus=None,
                      birth_date="2000-05-17") for i in range(2)]  # fmt: skip
    top = asked[0]["services"][0]["service_id"]
    assert asked[1]["services"][0]["service_id"] == top
    _one_place_of(api, top)

    def take(answer: dict[str, Any]) -> int:
        body = {"request_id": answer["request_id"], "choice": "suggested", "service_id": top}
        return api.post("/v1/decisions", json=body, headers=CASEWORKER).status_code

    with ThreadPoolExecutor(2) as pool:
        codes = sorted(pool.map(take, asked))
    assert codes == [201, 409]
    with api.app.state.audit.engine.connect() as conn:  # type: ignore[attr-defined]
        rows = conn.execute(select(decisions.c.service_id)).all()
    assert [r[0] for r in rows] == [top]


def test_checked_decisions_in_one_batch_see_each_other(tmp_path: Path) -> None:
    """The writer's group commit puts both in one transaction: the second is refused."""
    store = AuditStore(f"sqlite:///{tmp_path / 'audit.sqlite3'}").open()
    try:
        now = dt.datetime(2026, 3, 1, 12, 0, 0)
        for rid in ("a" * 32, "b" * 32):
            store.write_suggestion(suggestion(rid, created_at=now))
        catalog = load_catalog()
        share = 1 / catalog.get("debt_advice").monthly_capacity
        ledger = PlacesLedger(lambda: store.engine, share=share, clock=lambda: now)
        first = store.submit_decision(
            decision("a" * 32), ledger.guard(catalog, "debt_advice", "a" * 32)
        )
        second = store.submit_decision(
            decision("b" * 32), ledger.guard(catalog, "debt_advice", "b" * 32)
        )
        first.result(timeout=10)
        with pytest.raises(PlacesExhaustedError):
            second.result(timeout=10)
        start, end = month_of(now)
        with store.engine.connect() as conn:
            assert used_places(conn, start, end) == {"debt_advice": 1}
        # The same request naming the service again (a correction) keeps its own place.
        store.submit_decision(
            decision("a" * 32), ledger.guard(catalog, "debt_advice", "a" * 32)
        ).result(timeout=10)
        assert ledger.left(catalog)["debt_advice"] == 0
        assert store.count("decisions") == 2
        assert store.verify().ok
    finally:
        store.close()


def test_two_replicas_racing_for_the_last_place_take_it_once(audit_db: AuditDatabase) -> None:
    """Two stores on one database (two replicas: each its own writer thread and
    connections) write a decision for the last place at once. Each check lingers after
    counting, holding its transaction open, so without the writers' lock both would count
    the place free and both decisions would be written; under it (PostgreSQL: the chain's
    advisory lock; SQLite: the file lock) the second counts the first's and is refused."""
    now = dt.datetime(2026, 3, 1, 12, 0, 0)
    catalog = load_catalog()
    share = 1 / catalog.get("debt_advice").monthly_capacity
    stores = [audit_db.store().open(), audit_db.store().open()]
    counted: list[str] = []
    lock = threading.Lock()
    try:
        requests = ("a" * 32, "b" * 32)
        for store, rid in zip(stores, requests, strict=True):
            store.write_suggestion(suggestion(rid, created_at=now))
        futures = []
        for store, rid in zip(stores, requests, strict=True):
            check = PlacesLedger(lambda s=store: s.engine, share=share, clock=lambda: now).guard(
                catalog, "debt_advice", rid
            )

            def lingering(conn: Any, check: Any = check, rid: str = rid) -> None:
                try:
                    check(conn)
                finally:
                    with lock:
                        counted.append(rid)
                time.sleep(0.5)  # the other writer's check runs now, unless it must wait

            futures.append(store.submit_decision(decision(rid), lingering))
        outcomes = []
        for future in futures:
            try:
                future.result(timeout=30)
                outcomes.append("written")
            except PlacesExhaustedError:
                outcomes.append("refused")
        assert sorted(outcomes) == ["refused", "written"]
        assert sorted(counted) == sorted(requests)  # both checks ran, one after the other
        assert audit_db.scalars("SELECT count(*) FROM decisions") == [1]
        assert stores[0].verify().ok
    finally:
        for store in stores:
            store.close()


def test_a_month_ends_where_the_next_begins() -> None:
    assert month_of(dt.datetime(2026, 12, 31, 23, 59)) == (
        dt.datetime(2026, 12, 1),
        dt.datetime(2027, 1, 1),
    )
    assert month_of(dt.datetime(2026, 2, 1))[1] == dt.datetime(2026, 3, 1)


def test_the_page_says_when_the_last_place_was_taken(api: TestClient) -> None:
    from tests.service.test_page import _answer, _decide, _sign_in, _top_service

    assert _sign_in(api).status_code == 303
    held_id, page = _answer(api)
    top = _top_service(page)
    _one_place_of(api, top)
    # Another caseworker (through the API) takes the last place meanwhile.
    other = _suggest(api, client_id="client-0002")
    assert other["services"][0]["service_id"] == top
    body = {"request_id": other["request_id"], "choice": "suggested", "service_id": top}
    assert api.post("/v1/decisions", json=body, headers=CASEWORKER).status_code == 201
    refused = _decide(api, held_id, choice=f"suggested:{top}")
    assert refused.status_code == 409
    assert "Every place of this service is taken this month" in refused.text or (
        "Palvelun kaikki tämän kuun paikat on varattu" in refused.text
    )
