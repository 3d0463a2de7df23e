"""Monthly range partitions of a PostgreSQL table on an epoch-ms column (``reports`` by
``received_ms``, ``events`` by ``timestamp_ms``): ``{table}_pYYYYMM``, created before the
first row of their month is written and dropped whole once their month has expired.

Both changes take the table's advisory lock first, so that receivers sharing a database do not
race; each process remembers the partitions it has seen.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from collections.abc import Iterable

from telemetry_service.common.clock import from_ms, to_ms
from telemetry_service.common.db.base import Cursor, Database

__all__ = ["MonthlyPartitions", "month_bounds"]


def month_bounds(ms: int) -> tuple[int, int]:
    """The epoch-ms range ``[start, end)`` of the UTC month holding `ms`."""
    day = from_ms(ms)
    start = dt.datetime(day.year, day.month, 1, tzinfo=dt.UTC)
    end = dt.datetime(day.year + day.month // 12, day.month % 12 + 1, 1, tzinfo=dt.UTC)
    return to_ms(start), to_ms(end)


class MonthlyPartitions:
    """The monthly partitions of `table`, changed under the advisory lock `lock`."""

    def __init__(self, table: str, lock: int) -> None:
        self.table = table
        self.lock = lock
        self._known: set[str] = set()
        self._pattern = re.compile(rf"^{table}_p(\d{{4}})(\d{{2}})$")

    def name(self, ms: int) -> str:
        """The partition of the month holding `ms`: ``{table}_pYYYYMM``."""
        day = from_ms(ms)
        return f"{self.table}_p{day.year:04d}{day.month:02d}"

    def ensure(self, db: Database, times_ms: Iterable[int]) -> None:
        """Create the partitions of the months of `times_ms` that are missing (each in its
        own transaction, before the rows' transaction)."""
        for start in sorted({month_bounds(ms)[0] for ms in times_ms}):
            if self.name(start) not in self._known:
                db.transaction(True, functools.partial(self._create, ms=start))

    def _create(self, cur: Cursor, ms: int) -> None:
        name = self.name(ms)
        start, end = month_bounds(ms)
        cur.execute("SELECT pg_advisory_xact_lock(%s)", (self.lock,))
        cur.execute(
            f"CREATE TABLE IF NOT EXISTS {name} PARTITION OF {self.table} "
            f"FOR VALUES FROM ({int(start)}) TO ({int(end)})"
        )
        self._known.add(name)

    def drop_before(self, cur: Cursor, cutoff_ms: int) -> int:
        """Drop the partitions whose month ends by `cutoff_ms`; return their row count."""
        cur.execute("SELECT pg_advisory_xact_lock(%s)", (self.lock,))
        cur.execute(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = CAST(%s AS regclass)",
            (self.table,),
        )
        dropped = 0
        for (name,) in cur.fetchall():
            match = self._pattern.match(name)
            if match is None:
                continue
            first = to_ms(dt.datetime(int(match[1]), int(match[2]), 1, tzinfo=dt.UTC))
            if month_bounds(first)[1] > cutoff_ms:
                continue
            cur.execute(f"SELECT COUNT(*) FROM {name}")
            dropped += int(cur.fetchone()[0])
            cur.execute(f"DROP TABLE {name}")
            self._known.discard(name)
        return dropped
