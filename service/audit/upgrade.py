"""Bring an older audit store up to the current tables as it opens: the schema's changes.

Every change to a table that stores already in use hold is listed here (and the columns
marked in `schema`), so each one becomes one migration once a migration tool takes over:

1. `chain_hash` on the audit tables (the hash chain; rows before it stay unchained, which
   `verify` reports).
2. `ADDED_IN_2`: the versions on every row (`model_hash`, `catalog_version` on suggestions;
   all four on decisions and security events) and `degraded` on suggestions. Rows before it
   keep null there, and the chain hashes these columns only when set, so their hashes hold.

New tables (`model_switch_events`) are created by `metadata.create_all` as ever.
Columns are only ever added, nullable: an older server reading the upgraded store is not
disturbed by them.
"""

from __future__ import annotations

import logging

from sqlalchemy import Column, Engine, inspect, text

from service.audit.schema import CHAINED_TABLES, added_columns

log = logging.getLogger(__name__)


def upgrade(engine: Engine) -> None:
    """Add the columns a store made by an older Polku lacks (idempotent)."""
    present = set(inspect(engine).get_table_names())
    with engine.begin() as conn:
        for table in CHAINED_TABLES:
            if table.name not in present:
                continue  # created whole by create_all
            have = {c["name"] for c in inspect(conn).get_columns(table.name)}
            for name in ("chain_hash", *added_columns(table)):
                if name in have:
                    continue
                conn.execute(text(_add_column(engine, table.name, table.c[name])))
                log.warning("audit table %s: column %s added", table.name, name)


def _add_column(engine: Engine, table_name: str, column: Column[object]) -> str:
    kind = column.type.compile(dialect=engine.dialect)
    return f"ALTER TABLE {table_name} ADD COLUMN {column.name} {kind}"
