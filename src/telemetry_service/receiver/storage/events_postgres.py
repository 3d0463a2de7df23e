"""The event store on PostgreSQL: monthly partitions of ``events`` and ``COPY`` inserts.

``events`` is partitioned by month of ``timestamp_ms`` (``partitions.py``): a partition
``events_pYYYYMM`` is created before the first event of its month is written, and retention
drops whole expired partitions before deleting the remaining rows.
"""

from __future__ import annotations

from typing import Any, cast

import psycopg

from telemetry_service.common.clock import DAY_MS
from telemetry_service.common.db.base import Cursor

from .event_records import EventBatch
from .events import EventStore
from .partitions import MonthlyPartitions
from .queries.event_writes import EVENT_COLUMNS, EventRow

__all__ = ["PostgresEventStore"]

_PARTITION_LOCK = 0x7E1E_0003  # advisory lock of event partitions (reports: 0x7E1E_0002)


class PostgresEventStore(EventStore):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._partitions = MonthlyPartitions("events", _PARTITION_LOCK)

    def _before_write(self, batches: list[EventBatch]) -> None:
        days = {e.timestamp_ms // DAY_MS for b in batches for e in b.events}
        self._partitions.ensure(self._db, (day * DAY_MS for day in days))

    def _insert(self, cur: Cursor, rows: list[EventRow]) -> None:
        pg = cast("psycopg.Cursor[Any]", cur)
        with pg.copy(f"COPY events ({EVENT_COLUMNS}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)

    def drop_expired(self, cur: Cursor, cutoff_ms: int) -> int:
        return self._partitions.drop_before(cur, cutoff_ms // DAY_MS * DAY_MS)
