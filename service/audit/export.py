"""The evaluators' export (CSV, JSON lines, Parquet) and retention of the audit store."""

from __future__ import annotations

import csv
import datetime as dt
import json
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Boolean, DateTime, Engine, Integer, delete, insert, select

from models.output_files import write_atomically
from service.audit.chain import lock_heads, tombstone_seal
from service.audit.reads import iter_records, naive_utc
from service.audit.schema import (
    EXPORT_COLUMNS,
    EXPORT_SOURCES,
    TIMESTAMP_COLUMNS,
    audit_prune_permits,
    audit_tombstones,
    decisions,
    security_events,
    suggestions,
)

if TYPE_CHECKING:
    import pyarrow as pa

FORMATS = (".csv", ".jsonl", ".parquet")
_PARQUET_CHUNK = 10_000


@dataclass(frozen=True, slots=True)
class PruneResult:
    """How many records `AuditStore.prune` removed."""

    suggestions: int
    decisions: int
    security_events: int = 0

    def __add__(self, other: PruneResult) -> PruneResult:
        return PruneResult(
            self.suggestions + other.suggestions,
            self.decisions + other.decisions,
            self.security_events + other.security_events,
        )


def export(engine: Engine, out: Path | str) -> int:
    """Write suggestions joined with decisions to `out` (.csv, .jsonl or .parquet).

    The file is written to a temporary name beside `out` and renamed when complete
    (`models.output_files.write_atomically`: an `OutputPathError` when it cannot be).
    Returns the number of rows written.
    """
    out = Path(out)
    suffix = out.suffix.lower()
    if suffix not in FORMATS:
        raise ValueError(f"cannot export to {out.name!r}: use a .csv, .jsonl or .parquet file")
    writers = {".csv": _write_csv, ".jsonl": _write_jsonl, ".parquet": _write_parquet}
    return write_atomically(out, lambda temporary: writers[suffix](temporary, iter_records(engine)))


def prune(
    engine: Engine,
    older_than_days: int,
    chain_key: bytes,
    *,
    now: dt.datetime | None = None,
    limit: int | None = None,
) -> PruneResult:
    """Remove suggestions older than `older_than_days` days, with their decisions, and
    security events as old; each removed row leaves a sealed tombstone in the hash chain.

    `limit` bounds one call to the oldest `limit` suggestions and `limit` security events
    (one short transaction; call again while a table removed `limit`).
    """
    if older_than_days < 1:
        raise ValueError("older_than_days must be at least 1")
    cutoff = naive_utc(now or dt.datetime.now(dt.UTC)) - dt.timedelta(days=older_than_days)
    s, e = suggestions.c, security_events.c
    old = select(s.id).where(s.created_at < cutoff).order_by(s.id)
    old_events = select(e.id).where(e.created_at < cutoff).order_by(e.id)
    if limit is not None:
        old, old_events = old.limit(limit), old_events.limit(limit)
    removed: dict[str, int] = {}
    with engine.begin() as conn:
        lock_heads(conn)  # a tombstone may become a table's head
        doomed_ids = [int(i) for i in conn.execute(old).scalars()]
        doomed_requests = select(s.request_id).where(s.id.in_(doomed_ids))
        doomed = (
            (decisions, decisions.c.request_id.in_(doomed_requests)),
            (suggestions, s.id.in_(doomed_ids)),
            (security_events, e.id.in_([int(i) for i in conn.execute(old_events).scalars()])),
        )
        conn.execute(delete(audit_prune_permits))
        conn.execute(insert(audit_prune_permits).values(id=1))  # the delete triggers let it be
        for table, condition in doomed:
            rows = conn.execute(select(table.c.id, table.c.chain_hash).where(condition)).all()
            tombs = [
                {
                    "table_name": table.name,
                    "row_id": int(row_id),
                    "chain_hash": str(chain_hash),
                    "seal": tombstone_seal(chain_key, table.name, int(row_id), str(chain_hash)),
                }
                for row_id, chain_hash in rows
                if chain_hash is not None
            ]
            if tombs:
                conn.execute(insert(audit_tombstones), tombs)
            removed[table.name] = conn.execute(delete(table).where(condition)).rowcount
        conn.execute(delete(audit_prune_permits))
    return PruneResult(
        suggestions=removed["suggestions"],
        decisions=removed["decisions"],
        security_events=removed["security_events"],
    )


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


def parquet_schema() -> pa.Schema:
    """The export's Arrow schema, from the tables' column types (times in UTC)."""
    import pyarrow as pa

    def arrow_type(column_type: object) -> pa.DataType:
        if isinstance(column_type, DateTime):
            return pa.timestamp("us", tz="UTC")
        if isinstance(column_type, Boolean):
            return pa.bool_()
        if isinstance(column_type, Integer):
            return pa.int64()
        return pa.string()

    return pa.schema([(name, arrow_type(column.type)) for name, column, _ in EXPORT_SOURCES])


def _write_parquet(path: Path, rows: Iterator[Mapping[str, Any]]) -> int:
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = parquet_schema()
    count = 0
    with pq.ParquetWriter(path, schema) as writer:
        chunk: list[Mapping[str, Any]] = []
        for row in rows:
            chunk.append(row)
            if len(chunk) >= _PARQUET_CHUNK:
                writer.write_table(pa.Table.from_pylist(_utc_rows(chunk), schema=schema))
                count += len(chunk)
                chunk = []
        if chunk or count == 0:
            writer.write_table(pa.Table.from_pylist(_utc_rows(chunk), schema=schema))
            count += len(chunk)
    return count


def _utc_rows(rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    return [
        {
            k: (v.replace(tzinfo=dt.UTC) if k in TIMESTAMP_COLUMNS and v is not None else v)
            for k, v in row.items()
        }
        for row in rows
    ]
