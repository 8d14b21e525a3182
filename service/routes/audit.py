"""`GET /v1/audit/records`: suggestions joined with decisions, for evaluators."""

from __future__ import annotations

import datetime as dt
import json

from fastapi import APIRouter, Query
from fastapi.concurrency import run_in_threadpool

from service.deps import AuditDep, Evaluator
from service.routes.common import AUTH, QUERY
from service.schemas import AuditRecordOut, AuditRecordsResponse

router = APIRouter(prefix="/v1/audit", tags=["evaluator"])

MAX_OFFSET = 2**53  # also the largest integer every JSON client reads exactly


@router.get("/records", response_model=AuditRecordsResponse, responses={**AUTH, **QUERY})
async def audit_records(
    _principal: Evaluator,
    audit: AuditDep,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    limit: int = Query(default=500, ge=1, le=5000),
    # Bounded so that the store's 64-bit OFFSET cannot overflow (a 422, not a 500).
    offset: int = Query(default=0, ge=0, le=MAX_OFFSET),
) -> AuditRecordsResponse:
    """A page of audit records (no personal identity codes), oldest first."""
    rows = await run_in_threadpool(
        audit.records, since=since, until=until, limit=limit + 1, offset=offset
    )
    more = len(rows) > limit
    records = [
        AuditRecordOut(**{**row, "ranking": json.loads(row["ranking"])}) for row in rows[:limit]
    ]
    return AuditRecordsResponse(records=records, next_offset=offset + limit if more else None)
