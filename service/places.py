"""Places left this period: each service's capacity minus the decisions that took a place.

A decision takes a place of its service when it names one (`suggested` or `other`); the
period is the calendar month (UTC) of the decision, and the capacity the catalog's
`monthly_capacity` (times `share`, an office's part of Helsinki's places). Only a request's
latest decision counts: a correction to another service, or to none, frees the place.

Two paths:

- `left` (shown with every suggestion): the counts of the audit store, cached for
  `ttl_seconds` and dropped whenever this process records a decision, so the answer path
  pays one aggregate query every few seconds at most;
- `guard` (when a decision is written): a check run by the audit writer inside the very
  transaction that inserts the decision (`AuditStore.submit_decision(record, check)`),
  under the writer's lock, counting what is committed and what was written before it in
  the same batch. Two caseworkers asking for the last place at once are written one after
  the other, and the second is refused (`PlacesExhaustedError`, answered 409). Several
  processes on one SQLite file share that lock; on PostgreSQL the check is as ordered as
  the audit chain's own head.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any, Final

from sqlalchemy import Connection, Engine, and_, func, select

from models.catalog import Catalog
from service.audit.schema import decisions, utc_now
from service.audit.writer import WriteCheck, WriteRefusedError

DEFAULT_TTL_SECONDS: Final = 5.0


class PlacesExhaustedError(WriteRefusedError):
    """Every place of the service is taken this period; the decision was not written."""

    def __init__(self, service_id: str) -> None:
        super().__init__(f"every place of {service_id} is taken this month")
        self.service_id = service_id


def month_of(moment: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    """The calendar month holding `moment` (naive UTC): its first instant and the next's."""
    start = moment.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    following = (start + dt.timedelta(days=32)).replace(day=1)
    return start, following


def _taking(start: dt.datetime, end: dt.datetime) -> Any:
    """Decisions of the period that are their request's latest and name a service."""
    latest = (
        select(func.max(decisions.c.id))
        .where(and_(decisions.c.created_at >= start, decisions.c.created_at < end))
        .group_by(decisions.c.request_id)
    )
    return and_(
        decisions.c.id.in_(latest),
        decisions.c.service_id.is_not(None),
        decisions.c.choice != "none",
    )


def used_places(conn: Connection, start: dt.datetime, end: dt.datetime) -> dict[str, int]:
    """Places taken per service in [start, end) (each request's latest decision only)."""
    query = (
        select(decisions.c.service_id, func.count())
        .where(_taking(start, end))
        .group_by(decisions.c.service_id)
    )
    return {str(service): int(n) for service, n in conn.execute(query)}


class PlacesLedger:
    """Places left per service this month, from the catalog and the audit store's decisions.

    Parameters
    ----------
    engine : the audit store's engine (`AuditStore.engine`).
    share : the office's part of the catalog's capacity (1: all of Helsinki's places).
    ttl_seconds : how long the counts shown with suggestions are reused.
    clock : the time now, naive UTC (tests move it).
    """

    def __init__(
        self,
        engine: Callable[[], Engine],
        *,
        share: float = 1.0,
        ttl_seconds: float = DEFAULT_TTL_SECONDS,
        clock: Callable[[], dt.datetime] = utc_now,
    ) -> None:
        if share <= 0:
            raise ValueError("the share of the capacity must be positive")
        self._engine = engine
        self._share = share
        self._ttl = ttl_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._cached: tuple[float, dt.datetime, dict[str, int]] | None = None

    def capacity(self, catalog: Catalog) -> dict[str, int]:
        """Each service's places a month."""
        return {s.id: round(s.monthly_capacity * self._share) for s in catalog.services}

    def used(self) -> dict[str, int]:
        """Places taken this month per service (cached for `ttl_seconds`)."""
        start, end = month_of(self._clock())
        with self._lock:
            cached = self._cached
            if (
                cached is not None
                and cached[1] == start
                and time.monotonic() - cached[0] < self._ttl
            ):
                return cached[2]
        with self._engine().connect() as conn:
            counts = used_places(conn, start, end)
        with self._lock:
            self._cached = (time.monotonic(), start, counts)
        return counts

    def left(self, catalog: Catalog) -> dict[str, int]:
        """Places left this month per service of `catalog` (never below 0)."""
        used = self.used()
        return {
            service: max(places - used.get(service, 0), 0)
            for service, places in self.capacity(catalog).items()
        }

    def forget(self) -> None:
        """Drop the cached counts (this process has just recorded a decision)."""
        with self._lock:
            self._cached = None

    def guard(self, catalog: Catalog, service_id: str, request_id: str) -> WriteCheck:
        """The check the writer runs before inserting a decision taking `service_id`.

        It counts the places taken this month by other requests; the request's own earlier
        decision for the service (a correction naming it again) does not count twice.
        """
        places = self.capacity(catalog).get(service_id)
        start, end = month_of(self._clock())

        def check(conn: Connection) -> None:
            if places is None:
                return
            taken = conn.execute(
                select(func.count()).where(
                    and_(
                        _taking(start, end),
                        decisions.c.service_id == service_id,
                        decisions.c.request_id != request_id,
                    )
                )
            ).scalar_one()
            if int(taken) >= places:
                raise PlacesExhaustedError(service_id)

        return check


def next_with_places(ranked_ids: list[str], left: Mapping[str, int], position: int) -> str | None:
    """The first service after `position` in a ranked list that still has places."""
    for service_id in ranked_ids[position + 1 :]:
        if left.get(service_id, 1) > 0:
            return service_id
    return None
