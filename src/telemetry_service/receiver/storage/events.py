"""The event store: batches of events written by their own group-commit writer thread, the
aggregates kept with them, and the reads of the events API.

Each :class:`EventBatch` is committed with its ``event_batches`` row and its aggregate rows
in one transaction; batches waiting together share that transaction (group commit), and a
batch whose key is already stored stores nothing. The report store owns one (``store.events``)
and runs its deletions inside the report store's deletion transactions.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator, Callable
from typing import TypeVar

from telemetry_service.common.db.base import Cursor, Database

from .event_records import EventAddResult, EventBatch, EventTypeSummary, StoredEvent
from .queries import event_writes, events
from .sql import Dialect
from .writer import BatchWriter

__all__ = ["EventStore"]

T = TypeVar("T")


class EventStore:
    """Stores event batches and answers the events API (SQLite; PostgreSQL subclasses it)."""

    def __init__(
        self, db: Database, dialect: Dialect, *, max_batch: int = 64, max_queue: int = 10_000
    ) -> None:
        self._db = db
        self.dialect = dialect
        self._writer: BatchWriter[EventBatch, EventAddResult] = BatchWriter(
            f"{db.backend}-events", self._write_batches, max_batch=max_batch, max_queue=max_queue
        )

    # -- backend hooks ----------------------------------------------------------------------
    def _before_write(self, batches: list[EventBatch]) -> None:
        """Prepare for `batches` outside their transaction (PostgreSQL creates partitions)."""
        return

    def _insert(self, cur: Cursor, rows: list[event_writes.EventRow]) -> None:
        event_writes.insert_rows(cur, self.dialect, rows)

    def drop_expired(self, cur: Cursor, cutoff_ms: int) -> int:
        """Drop whole partitions before `cutoff_ms`'s day; their event count (PostgreSQL)."""
        return 0

    # -- lifecycle and writes ---------------------------------------------------------------
    def start(self) -> None:
        self._writer.start()

    def stop(self) -> None:
        """Finish the queued batches, then stop the writer thread (blocks)."""
        self._writer.stop()

    @property
    def write_queue(self) -> int:
        """Batches waiting for the writer thread."""
        return self._writer.queued

    async def add(self, batch: EventBatch) -> EventAddResult:
        """Store a batch; return once it is committed (or known: ``duplicate``)."""
        return await asyncio.wrap_future(self._writer.submit_report(batch))

    def _write_batches(self, batches: list[EventBatch]) -> list[EventAddResult]:
        self._before_write(batches)
        return self._db.transaction(
            True,
            lambda cur: event_writes.insert_event_batches(cur, self.dialect, batches, self._insert),
        )

    def delete_cluster(self, cur: Cursor, cluster_uuid: str) -> int:
        """Inside a write transaction: remove a cluster's events; their number."""
        return event_writes.delete_cluster_events(cur, self.dialect, cluster_uuid)

    def delete_before(self, cur: Cursor, cutoff_ms: int) -> int:
        """Inside a write transaction: remove the events of the days before `cutoff_ms`'s."""
        dropped = self.drop_expired(cur, cutoff_ms)
        return event_writes.delete_events_before(cur, self.dialect, cutoff_ms, dropped)

    # -- reads ------------------------------------------------------------------------------
    async def _read(self, fn: Callable[[Cursor], T]) -> T:
        return await self._db.run(False, fn)

    async def types(self, first_day: int, end_day: int) -> list[EventTypeSummary]:
        return await self._read(
            functools.partial(events.event_types, d=self.dialect, first_day=first_day,
                              end_day=end_day)
        )  # fmt: skip

    async def known(self, event_type: str) -> bool:
        return await self._read(lambda cur: events.event_type_known(cur, self.dialect, event_type))

    async def days(
        self, event_type: str, first_day: int, end_day: int
    ) -> dict[int, tuple[int, int]]:
        return await self._read(
            lambda cur: events.event_type_days(cur, self.dialect, event_type, first_day, end_day)
        )

    async def recent_properties(
        self, event_type: str, from_ms: int, to_ms: int, limit: int
    ) -> list[str]:
        return await self._read(
            lambda cur: events.recent_properties(
                cur, self.dialect, event_type, from_ms, to_ms, limit
            )
        )

    async def recent(
        self, *, event_type: str | None, cluster_uuid: str | None, limit: int
    ) -> list[StoredEvent]:
        return await self._read(
            lambda cur: events.recent_events(
                cur, self.dialect, event_type=event_type, cluster_uuid=cluster_uuid, limit=limit
            )
        )

    async def iter_events(
        self, from_ms: int, to_ms: int, *, page: int = 1000
    ) -> AsyncIterator[StoredEvent]:
        """Every event in ``[from, to)`` by time, read page by page."""
        after = (from_ms - 1, 0)
        while True:
            rows = await self._read(
                functools.partial(
                    events.events_page, d=self.dialect, from_ms=from_ms, to_ms=to_ms,
                    after=after, page=page,
                )
            )  # fmt: skip
            for row in rows:
                yield row
            if len(rows) < page:
                return
            after = (rows[-1].timestamp_ms, rows[-1].id)
