"""Queries of the audit store: one suggestion, counts, and the joined view evaluators read."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any, Literal

from sqlalchemy import Engine, func, select

from service.audit.schema import (
    EXPORT_SOURCES,
    SUGGESTION_COLUMNS,
    SWITCH_EVENT_COLUMNS,
    SuggestionRecord,
    SwitchEventRecord,
    decisions,
    model_switch_events,
    security_events,
    suggestions,
)


def suggestion(engine: Engine, request_id: str) -> SuggestionRecord | None:
    """The suggestion answered under `request_id`, or None."""
    with engine.connect() as conn:
        row = conn.execute(
            select(*(suggestions.c[n] for n in SUGGESTION_COLUMNS)).where(
                suggestions.c.request_id == request_id
            )
        ).first()
    if row is None:
        return None
    return SuggestionRecord(**dict(zip(SUGGESTION_COLUMNS, row, strict=True)))


def latest_switch_event(engine: Engine) -> SwitchEventRecord | None:
    """The newest switch of the model, or None (one indexed read: the switch polls it)."""
    e = model_switch_events.c
    with engine.connect() as conn:
        row = conn.execute(
            select(*(e[n] for n in SWITCH_EVENT_COLUMNS)).order_by(e.id.desc()).limit(1)
        ).first()
    if row is None:
        return None
    return SwitchEventRecord(**dict(zip(SWITCH_EVENT_COLUMNS, row, strict=True)))


def count(
    engine: Engine,
    table: Literal["suggestions", "decisions", "security_events", "model_switch_events"],
) -> int:
    """How many records the table holds."""
    target = {
        "suggestions": suggestions,
        "decisions": decisions,
        "model_switch_events": model_switch_events,
    }.get(table, security_events)
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(target)).scalar_one())


def iter_records(
    engine: Engine,
    *,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    limit: int | None = None,
    offset: int = 0,
) -> Iterator[dict[str, Any]]:
    """Suggestions joined with their decisions (one row per decision, or one without).

    Rows (keys `EXPORT_COLUMNS`) come oldest first, ordered by suggestion and then
    decision; `since` and `until` bound the suggestion's time (inclusive, exclusive).
    Streamed, so an export of any size holds only a chunk in memory.
    """
    s, d = suggestions.c, decisions.c
    query = (
        select(*(column.label(name) for name, column, _ in EXPORT_SOURCES))
        .select_from(suggestions.outerjoin(decisions, s.request_id == d.request_id))
        .order_by(s.id, d.id)
    )
    if since is not None:
        query = query.where(s.created_at >= naive_utc(since))
    if until is not None:
        query = query.where(s.created_at < naive_utc(until))
    if limit is not None:
        query = query.limit(limit)
    if offset:
        query = query.offset(offset)
    with engine.connect() as conn:
        result = conn.execution_options(stream_results=True, yield_per=2000).execute(query)
        for row in result:
            yield dict(row._mapping)


def naive_utc(moment: dt.datetime) -> dt.datetime:
    """`moment` in UTC without tzinfo, as the store keeps times (naive input: already UTC)."""
    if moment.tzinfo is None:
        return moment
    return moment.astimezone(dt.UTC).replace(tzinfo=None)
