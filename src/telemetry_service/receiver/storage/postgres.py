"""The PostgreSQL backend: jsonb paths and monthly partitions, over ``common.db``'s pool.

``reports`` is partitioned by month of ``received_ms``: a partition ``reports_pYYYYMM`` is
created before the first report of its month (under an advisory lock, so that receivers do
not race), and retention drops whole expired partitions before deleting the remaining rows.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from collections.abc import Sequence
from typing import Any

from telemetry_service.common.clock import from_ms, to_ms
from telemetry_service.common.db.base import Cursor, Database

from .migrations import POSTGRES
from .records import NewReport
from .store import ReportStore

__all__ = ["PostgresReportStore", "month_bounds", "partition_name"]

_PARTITION_LOCK = 0x7E1E_0002  # advisory lock id of partition changes (migrations: 0x7E1E_0001)
_PARTITION = re.compile(r"^reports_p(\d{4})(\d{2})$")


def month_bounds(ms: int) -> tuple[int, int]:
    """The epoch-ms range ``[start, end)`` of the UTC month holding `ms`."""
    day = from_ms(ms)
    start = dt.datetime(day.year, day.month, 1, tzinfo=dt.UTC)
    end = dt.datetime(day.year + day.month // 12, day.month % 12 + 1, 1, tzinfo=dt.UTC)
    return to_ms(start), to_ms(end)


def partition_name(ms: int) -> str:
    """The partition of the month holding `ms`: ``reports_pYYYYMM``."""
    day = from_ms(ms)
    return f"reports_p{day.year:04d}{day.month:02d}"


class PostgresReportStore(ReportStore):
    _json_param = "CAST(? AS jsonb)"
    _migrations = POSTGRES

    def __init__(self, db: Database, **kwargs: Any) -> None:
        super().__init__(db, **kwargs)
        self._partitions: set[str] = set()

    def _before_write(self, reports: Sequence[NewReport]) -> None:
        for ms in {month_bounds(r.received_ms)[0] for r in reports}:
            if partition_name(ms) not in self._partitions:
                self._db.transaction(True, functools.partial(self._create_partition, ms=ms))

    def _create_partition(self, cur: Cursor, ms: int) -> None:
        name = partition_name(ms)
        start, end = month_bounds(ms)
        cur.execute("SELECT pg_advisory_xact_lock(%s)", (_PARTITION_LOCK,))
        cur.execute(
            f"CREATE TABLE IF NOT EXISTS {name} PARTITION OF reports "
            f"FOR VALUES FROM ({int(start)}) TO ({int(end)})"
        )
        self._partitions.add(name)

    def _drop_expired(self, cur: Cursor, cutoff_ms: int) -> int:
        cur.execute("SELECT pg_advisory_xact_lock(%s)", (_PARTITION_LOCK,))
        cur.execute(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = 'reports'::regclass"
        )
        dropped = 0
        for (name,) in cur.fetchall():
            match = _PARTITION.match(name)
            if match is None:
                continue
            start = to_ms(dt.datetime(int(match[1]), int(match[2]), 1, tzinfo=dt.UTC))
            if month_bounds(start)[1] > cutoff_ms:
                continue
            cur.execute(f"SELECT COUNT(*) FROM {name}")
            dropped += int(cur.fetchone()[0])
            cur.execute(f"DROP TABLE {name}")
            self._partitions.discard(name)
        return dropped

    def _field_select(self, path: Sequence[str]) -> tuple[str, list[Any]]:
        segments = list(path)
        return (
            "jsonb_typeof(payload #> CAST(? AS text[])), "
            "CASE WHEN jsonb_typeof(payload #> CAST(? AS text[])) IN ('object', 'array') "
            "THEN NULL ELSE payload #>> CAST(? AS text[]) END",
            [segments, segments, segments],
        )
