"""Read-only queries for the caseworker's answer: a request's decisions and a client's history.

Both read the audit store through its engine and never write. A client's history is found by
the pseudonymous client key the audit store already holds (a keyed HMAC of the identity code
or client id): no identity code is ever needed, read or shown. Who may see it is the page's
role check (a signed-in caseworker), as for everything else on the page.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Final

from sqlalchemy import Engine, select

from service.audit import DecisionRecord
from service.audit.schema import DECISION_COLUMNS, decisions, suggestions

# Earlier answers shown on the page, newest first (all of them are in the audit store).
HISTORY_LIMIT: Final = 10


def decisions_of(engine: Engine, request_id: str) -> list[DecisionRecord]:
    """The decisions recorded for one request, oldest first."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(*(decisions.c[n] for n in DECISION_COLUMNS))
            .where(decisions.c.request_id == request_id)
            .order_by(decisions.c.id)
        ).all()
    return [DecisionRecord(**dict(zip(DECISION_COLUMNS, row, strict=True))) for row in rows]


@dataclass(frozen=True, slots=True)
class EarlierAnswer:
    """One earlier answer for the same client, with the decisions recorded for it.

    `suggested` are the service ids shown, best first (empty for an eligibility check or a
    non-client); `decisions` hold (when, choice, chosen service id), oldest first.
    """

    request_id: str
    created_at: dt.datetime
    kind: str
    eligible: bool
    objective: str | None
    actor: str | None
    suggested: tuple[str, ...]
    decisions: tuple[tuple[dt.datetime, str, str | None], ...]


def client_history(
    engine: Engine, client_key: str, *, before: str | None = None, limit: int = HISTORY_LIMIT
) -> list[EarlierAnswer]:
    """The latest `limit` answers for `client_key`, newest first, leaving out `before` (the
    answer being shown) and anything answered after it."""
    s = suggestions.c
    query = select(
        s.id, s.request_id, s.created_at, s.kind, s.eligible, s.objective, s.actor, s.ranking
    ).where(s.client_key == client_key)
    with engine.connect() as conn:
        if before is not None:
            current = conn.execute(select(s.id).where(s.request_id == before)).scalar()
            if current is not None:
                query = query.where(s.id < current)
        rows = conn.execute(query.order_by(s.id.desc()).limit(limit)).all()
        ids = [row.request_id for row in rows]
        decided: dict[str, list[tuple[dt.datetime, str, str | None]]] = {}
        if ids:
            d = decisions.c
            for row in conn.execute(
                select(d.request_id, d.created_at, d.choice, d.service_id)
                .where(d.request_id.in_(ids))
                .order_by(d.id)
            ):
                decided.setdefault(row.request_id, []).append(
                    (row.created_at, row.choice, row.service_id)
                )
    return [
        EarlierAnswer(
            request_id=row.request_id,
            created_at=row.created_at,
            kind=row.kind,
            eligible=bool(row.eligible),
            objective=row.objective,
            actor=row.actor,
            suggested=tuple(entry["service_id"] for entry in json.loads(row.ranking)),
            decisions=tuple(decided.get(row.request_id, ())),
        )
        for row in rows
    ]
