"""Report storage behind one interface: SQLite (default) or PostgreSQL (``postgresql://``).

>>> store = open_report_store("sqlite:///tmp/receiver.db")   # doctest: +SKIP
>>> await store.open(); await store.add(report); await store.close()  # doctest: +SKIP
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .base import Cursor, ReportStore
from .errors import StoreBusyError, StoreError, StoreUnavailableError
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

__all__ = [
    "AddResult",
    "ClusterPage",
    "ClusterSummary",
    "Cursor",
    "DeleteCounts",
    "FieldKind",
    "FieldValue",
    "NewReport",
    "OptInChange",
    "ReportStore",
    "StoreBusyError",
    "StoreError",
    "StoreUnavailableError",
    "StoredReport",
    "open_report_store",
]


def open_report_store(url: str, **kwargs: Any) -> ReportStore:
    """The store for `url`: ``sqlite:///ABSOLUTE/FILE``, ``sqlite:RELATIVE/FILE`` or
    ``postgresql://…`` (the host's ``store.url`` forms).

    The store is not opened yet: ``await store.open()`` connects and migrates.
    """
    if url.startswith("sqlite:"):
        from .sqlite import SqliteReportStore

        path = url[len("sqlite:") :]
        if path.startswith("//"):
            path = "/" + path.lstrip("/")
        return SqliteReportStore(Path(path), **kwargs)
    if url.startswith(("postgresql://", "postgres://")):
        from .postgres import PostgresReportStore

        return PostgresReportStore(url, **kwargs)
    raise ValueError("store.url must start with sqlite: or postgresql://")
