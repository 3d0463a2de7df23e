"""Report storage behind one interface: SQLite (default) or PostgreSQL (``postgresql://``).

>>> store = open_report_store("sqlite:///tmp/receiver.db")   # doctest: +SKIP
>>> await store.open(); await store.add(report); await store.close()  # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any

from telemetry_service.common.db import open_database
from telemetry_service.common.db.base import Cursor, StoreError, StoreUnavailableError

from .event_records import EventAddResult, EventBatch, EventTypeSummary, NewEvent, StoredEvent
from .events import EventStore
from .postgres import PostgresReportStore
from .records import (
    AddResult,
    ClusterPage,
    ClusterSummary,
    DeleteCounts,
    FieldKind,
    FieldValue,
    NewReport,
    OptInChange,
    StoredReport,
)
from .sqlite import SqliteReportStore
from .store import ReportStore
from .writer import StoreBusyError

__all__ = [
    "AddResult",
    "ClusterPage",
    "ClusterSummary",
    "Cursor",
    "DeleteCounts",
    "EventAddResult",
    "EventBatch",
    "EventStore",
    "EventTypeSummary",
    "FieldKind",
    "FieldValue",
    "NewEvent",
    "NewReport",
    "OptInChange",
    "ReportStore",
    "StoreBusyError",
    "StoreError",
    "StoreUnavailableError",
    "StoredEvent",
    "StoredReport",
    "open_report_store",
]


def open_report_store(
    url: str, *, pool_size: int = 8, pool_timeout_s: float = 2.0, **kwargs: Any
) -> ReportStore:
    """The store of ``store.url`` (the forms of ``common.db``, :class:`StoreError` for others):
    SQLite with one writer connection and four readers, or a PostgreSQL pool of `pool_size`
    whose callers wait at most `pool_timeout_s` for a connection (``store.poolTimeoutSeconds``:
    during an outage, a 503 comes that soon).

    The store is not opened yet: ``await store.open()`` connects and migrates.
    """
    db = open_database(
        url, dedicated_writer=True, pool_size=pool_size, pool_timeout_s=pool_timeout_s
    )
    if db.backend == "sqlite":
        return SqliteReportStore(db, **kwargs)
    from .events_postgres import PostgresEventStore  # imports psycopg

    return PostgresReportStore(db, event_store=PostgresEventStore, **kwargs)
