"""The event store on PostgreSQL: monthly partitions of ``events`` and ``COPY`` inserts.

``events`` is partitioned by month of ``timestamp_ms``: a partition ``events_pYYYYMM`` is
created before the first event of its month is written (under an advisory lock, so that
receivers sharing the database do not race), and retention drops whole expired partitions
before deleting the remaining rows.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from typing import Any, cast

import psycopg

from telemetry_service.common.clock import DAY_MS, from_ms, to_ms
from telemetry_service.common.db.base import Cursor

from .event_records import EventBatch
from .events import EventStore
from .postgres import month_bounds
from .queries.event_writes import EVENT_COLUMNS, EventRow

__all__ = ["PostgresEventStore"]

_PARTITION_LOCK = 0x7E1E_0003  # advisory lock of event partitions (reports: 0x7E1E_0002)
_PARTITION = re.compile(r"^events_p(\d{4})(\d{2})$")


def _partition(ms: int) -> str:
    day = from_ms(ms)
    return f"events_p{day.year:04d}{day.month:02d}"


class PostgresEventStore(EventStore):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._partitions: set[str] = set()

    def _before_write(self, batches: list[EventBatch]) -> None:
        months = {month_bounds(e.timestamp_ms)[0] for b in batches for e in b.events}
        for start in sorted(months):
            if _partition(start) not in self._partitions:
                self._db.transaction(True, functools.partial(self._create_partition, ms=start))

    def _create_partition(self, cur: Cursor, ms: int) -> None:
        name = _partition(ms)
        start, end = month_bounds(ms)
        cur.execute("SELECT pg_advisory_xact_lock(%s)", (_PARTITION_LOCK,))
        cur.execute(
            f"CREATE TABLE IF NOT EXISTS {name} PARTITION OF events "
            f"FOR VALUES FROM ({int(start)}) TO ({int(end)})"
        )
        self._partitions.add(name)

    def _insert(self, cur: Cursor, rows: list[EventRow]) -> None:
        pg = cast("psycopg.Cursor[Any]", cur)
        with pg.copy(f"COPY events ({EVENT_COLUMNS}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)

    def drop_expired(self, cur: Cursor, cutoff_ms: int) -> int:
        start = cutoff_ms // DAY_MS * DAY_MS
        cur.execute("SELECT pg_advisory_xact_lock(%s)", (_PARTITION_LOCK,))
        cur.execute(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = 'events'::regclass"
        )
        dropped = 0
        for (name,) in cur.fetchall():
            match = _PARTITION.match(name)
            if match is None:
                continue
            first = to_ms(dt.datetime(int(match[1]), int(match[2]), 1, tzinfo=dt.UTC))
            if month_bounds(first)[1] > start:
                continue
            cur.execute(f"SELECT COUNT(*) FROM {name}")
            dropped += int(cur.fetchone()[0])
            cur.execute(f"DROP TABLE {name}")
            self._partitions.discard(name)
        return dropped
