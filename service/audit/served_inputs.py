"""The served model inputs: one row per recommendation, beside its audit row, for monitoring.

`polku monitor` compares the profiles Polku served with its champion's training data. The
audit row keeps only a keyed hash of the input, so this table keeps, per recommendation,
the model-input profile (`models.input_profile`: the ranker's inputs, the age in whole
years instead of the birth date; never the identity code, the client id, gender or mother
tongue), whether the gate let the client in, and which services the catalog's limits
closed for them. A table of its own (not new columns of `suggestions`): the audit
columns stay as they are, and a store can drop this one without touching the chained
records. Append-only like the audit tables; retention removes a row with its suggestion
(`ON DELETE CASCADE`). Written through the audit writer, after its suggestion; a failed
write here never refuses an answer (monitoring is not the record).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Engine,
    ForeignKey,
    Integer,
    String,
    Table,
    Text,
    select,
)

from models.output_files import write_atomically
from service.audit.schema import metadata

served_inputs = Table(
    "served_inputs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column(
        "request_id",
        String(36),
        ForeignKey("suggestions.request_id", ondelete="CASCADE"),
        nullable=False,
        unique=True,
    ),
    Column("created_at", DateTime(), nullable=False, index=True),
    Column("eligible", Boolean, nullable=False),
    Column("inputs", Text, nullable=False),
    Column("closed_by_catalog", Text, nullable=False),
)

EXPORT_FORMATS: Final = (".csv", ".jsonl", ".parquet")

# Its triggers (append-only, deleted only by retention) are made by Alembic revision 0003.


@dataclass(frozen=True, slots=True)
class ServedInputsRecord:
    """The model inputs of one recommendation (`inputs`: `models.input_profile` record)."""

    request_id: str
    created_at: dt.datetime
    eligible: bool
    inputs: str
    closed_by_catalog: str

    @classmethod
    def of(
        cls,
        request_id: str,
        created_at: dt.datetime,
        eligible: bool,
        inputs: dict[str, Any],
        closed_by_catalog: list[str],
    ) -> ServedInputsRecord:
        return cls(
            request_id,
            created_at,
            eligible,
            json.dumps(inputs, sort_keys=True, separators=(",", ":")),
            json.dumps(sorted(closed_by_catalog), separators=(",", ":")),
        )

    def row(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__slots__}


def iter_served_inputs(engine: Engine) -> Iterator[dict[str, Any]]:
    """Every stored row, oldest first: request id, time, eligible, and the inputs flattened
    (`closed_by_catalog` a list of service ids)."""
    t = served_inputs.c
    query = select(t.request_id, t.created_at, t.eligible, t.inputs, t.closed_by_catalog)
    with engine.connect() as conn:
        result = conn.execution_options(stream_results=True, yield_per=2000).execute(
            query.order_by(t.id)
        )
        for request_id, created_at, eligible, inputs, closed in result:
            yield {
                "request_id": request_id,
                "created_at": created_at,
                "eligible": bool(eligible),
                **json.loads(inputs),
                "closed_by_catalog": json.loads(closed),
            }


def export_served_inputs(engine: Engine, out: Path | str) -> int:
    """Write the served inputs to `out` (.jsonl, .csv or .parquet) atomically; the rows."""
    import pandas as pd

    out = Path(out)
    if out.suffix.lower() not in EXPORT_FORMATS:
        raise ValueError(f"cannot export to {out.name!r}: use a .csv, .jsonl or .parquet file")
    rows = list(iter_served_inputs(engine))
    frame = pd.DataFrame(rows)
    if frame.empty:
        frame = pd.DataFrame(columns=["request_id", "created_at", "eligible", "closed_by_catalog"])
    frame["closed_by_catalog"] = frame["closed_by_catalog"].map(
        lambda ids: " ".join(ids) if isinstance(ids, list) else ids
    )
    suffix = out.suffix.lower()

    def fill(temporary: Path) -> None:
        if suffix == ".parquet":
            frame.to_parquet(temporary, index=False)
        elif suffix == ".csv":
            frame.to_csv(temporary, index=False)
        else:
            frame.to_json(temporary, orient="records", lines=True, date_format="iso")

    write_atomically(out, fill)
    return len(frame)
