"""The audit store: every suggestion Polku made and every decision a caseworker recorded.

`schema` defines the two append-only tables (and the record types), `writer` the durable
append path and the store, `reads` the queries, `export` the evaluators' export and
retention.
"""

from service.audit.export import PruneResult
from service.audit.schema import (
    CHOICES,
    EXPORT_COLUMNS,
    Choice,
    DecisionRecord,
    SecurityEventRecord,
    SuggestionRecord,
    metadata,
    utc_now,
)
from service.audit.writer import AuditStore, AuditUnavailableError

__all__ = [
    "CHOICES",
    "EXPORT_COLUMNS",
    "AuditStore",
    "AuditUnavailableError",
    "Choice",
    "DecisionRecord",
    "PruneResult",
    "SecurityEventRecord",
    "SuggestionRecord",
    "metadata",
    "utc_now",
]
