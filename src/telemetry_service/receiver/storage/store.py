"""The report store: one interface, its SQL written once for SQLite and PostgreSQL.

Writes (reports, deletions, retention) go through one :class:`BatchWriter` thread per
process, events through their own (``store.events``, see ``events.py``); reads run in worker
threads on their own connections. A ``common.db`` database supplies connections, transactions
and placeholders; the backends here supply migrations and the few expressions that differ
(JSON paths, jsonb casts, monthly partitions). Times are UTC epoch milliseconds.
"""

from __future__ import annotations

import abc
import asyncio
import dataclasses
import functools
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any, Concatenate, ParamSpec, TypeVar

import anyio.to_thread

from telemetry_service.common.db.base import Cursor, Database
from telemetry_service.common.db.migrations import apply_migrations

from .events import EventStore
from .migrations import MIGRATION_TABLE
from .queries import clusters, field_fold, field_trend, public, reports, stats, writes
from .records import (
    AddResult,
    DeleteCounts,
    NewReport,
    StoredReport,
)
from .sql import Dialect
from .writer import BatchWriter

__all__ = ["ReportStore"]

T = TypeVar("T")
P = ParamSpec("P")
#: The longest the writer waits for the reports announced by ``more_coming`` (see writer.py).
GATHER_S = 0.02
_MIGRATION_LOCK = 0x7E1E_0001  # PostgreSQL advisory lock id, distinct from the host store's


def _read(
    fn: Callable[Concatenate[Cursor, Dialect, P], T],
) -> Callable[Concatenate[ReportStore, P], Awaitable[T]]:
    """A store method that runs the query `fn` in a read transaction in a worker thread."""

    async def read(store: ReportStore, /, *args: P.args, **kwargs: P.kwargs) -> T:
        return await store._db.run(False, lambda cur: fn(cur, store.dialect, *args, **kwargs))

    return functools.wraps(fn)(read)


class ReportStore(abc.ABC):
    """Stores reports and answers the query API. Open it before use; close it after.

    The reads are the functions of ``queries/``, run in a worker thread on a read connection.
    """

    _json_param = "?"  # see Dialect.json_param
    _migrations: tuple[str, ...]

    def __init__(
        self,
        db: Database,
        *,
        max_batch: int = 256,
        max_queue: int = 10_000,
        gather_s: float = GATHER_S,
        event_store: type[EventStore] = EventStore,
    ) -> None:
        self._db = db
        self.backend = db.backend
        self.dialect = Dialect(db.backend, db.sql, self._field_select, self._json_param)
        self._writer = BatchWriter(
            self.backend,
            self._write_reports,
            max_batch=max_batch,
            max_queue=max_queue,
            gather_s=gather_s,
        )
        #: Event batches, their aggregates and the events API's reads.
        self.events = event_store(db, self.dialect)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._db!r})"

    # -- backend hooks ----------------------------------------------------------------------
    @abc.abstractmethod
    def _field_select(self, path: Sequence[str]) -> tuple[str, list[Any]]:
        """SQL of ``(kind, scalar value)`` of a payload path in ``payload``."""

    def _before_write(self, reports: Sequence[NewReport]) -> None:
        """Prepare for `reports` outside their transaction (PostgreSQL creates partitions)."""
        return

    def _drop_expired(self, cur: Cursor, cutoff_ms: int) -> int:
        """Drop whole expired partitions; return their row count (PostgreSQL only)."""
        return 0

    # -- lifecycle --------------------------------------------------------------------------
    async def open(self) -> None:
        """Connect, migrate and start the writer thread."""
        await anyio.to_thread.run_sync(self._open)
        self._writer.start()
        self.events.start()

    def _open(self) -> None:
        self._db.open()
        apply_migrations(self._db, MIGRATION_TABLE, self._migrations, lock_id=_MIGRATION_LOCK)

    async def close(self) -> None:
        """Finish queued writes, then close connections (waiting for running reads)."""
        await anyio.to_thread.run_sync(self.events.stop)
        await anyio.to_thread.run_sync(self._writer.stop)
        await anyio.to_thread.run_sync(self._db.close)

    @property
    def write_queue(self) -> int:
        """Writes waiting for the writer thread."""
        return self._writer.queued

    async def _write(self, fn: Callable[[Cursor], T]) -> T:
        future = self._writer.submit(lambda: self._db.transaction(True, fn))
        return await asyncio.wrap_future(future)

    async def ping(self) -> bool:
        """True when the database answers."""
        return await self._db.ping()

    # -- writes -----------------------------------------------------------------------------
    async def add(self, report: NewReport, *, more_coming: bool = False) -> AddResult:
        """Store a report; return once it is committed. A known digest is not stored again.
        `more_coming`: other reports will follow within :data:`GATHER_S` (the ingest is still
        decrypting them); the writer then waits for them to commit them together."""
        return await asyncio.wrap_future(
            self._writer.submit_report(report, more_coming=more_coming)
        )

    def _write_reports(self, reports: list[NewReport]) -> list[AddResult]:
        self._before_write(reports)
        return self._db.transaction(
            True, lambda cur: writes.insert_reports(cur, self.dialect, reports)
        )

    async def delete_cluster(self, cluster_uuid: str) -> DeleteCounts:
        """Remove every record of a cluster (a deletion request), its events too."""

        def op(cur: Cursor) -> DeleteCounts:
            events = self.events.delete_cluster(cur, cluster_uuid)
            counts = writes.delete_cluster(cur, self.dialect, cluster_uuid)
            return dataclasses.replace(counts, events=events)

        return await self._write(op)

    async def delete_older_than(self, cutoff_ms: int) -> int:
        """Delete reports received before `cutoff_ms`; clusters left without any report go
        too. Returns the number of reports deleted."""

        def op(cur: Cursor) -> int:
            writes.forget_older_than(cur, self.dialect, cutoff_ms)
            dropped = self._drop_expired(cur, cutoff_ms)
            return dropped + writes.delete_older_than(cur, self.dialect, cutoff_ms)

        return await self._write(op)

    async def fold_field_days(self, budget: field_fold.Budget | int) -> int | None:
        """Count pending snapshots within `budget` (or up to that many) into the
        ``field_days`` aggregate: counted in a read transaction, written in one write
        transaction. Answers how many, 0 when none is pending, or None when another receiver
        sharing the database is folding (or deletions took three batches in a row before
        they were written) (``queries/field_fold.py``)."""
        if isinstance(budget, int):
            budget = field_fold.Budget(snapshots=budget)
        limits = budget
        for _ in range(3):  # a batch that a deletion took meanwhile: count the next one
            counted = await self._db.run(
                False, lambda cur: field_fold.count_pending(cur, self.dialect, limits)
            )
            if not counted.keys:
                return 0
            write = functools.partial(field_fold.fold, d=self.dialect, counted=counted)
            done = await self._fold_write(write)
            if done != 0:
                return done
        return None

    async def _fold_write(self, fn: Callable[[Cursor], T]) -> T:
        """The fold's write transaction: on the writer thread, in turn with the reports (SQLite
        has one writer)."""
        return await self._write(fn)

    pending_field_days = _read(field_fold.pending_count)

    async def delete_events_before(self, cutoff_ms: int) -> int:
        """Delete the events of the UTC days before `cutoff_ms`'s day, with their aggregates
        and the batch keys received before `cutoff_ms`. Returns the number of events."""
        return await self._write(lambda cur: self.events.delete_before(cur, cutoff_ms))

    # -- reads: the query functions, run in a worker thread on a read connection ----------
    count_reports = _read(reports.count_reports)
    latest_reports = _read(reports.latest_reports)
    search_clusters = _read(clusters.search_clusters)
    list_clusters = search_clusters  # a search without filters
    get_cluster = _read(clusters.get_cluster)
    latest_snapshot = _read(clusters.latest_snapshot)
    cluster_history = _read(clusters.cluster_history)
    active_per_day = _read(stats.active_per_day)
    reports_per_day = _read(stats.reports_per_day)
    version_counts = _read(stats.version_counts)
    field_values = _read(stats.field_values)
    latest_payloads = _read(stats.latest_payloads)
    visit_latest_payloads = _read(stats.visit_latest_payloads)
    field_trend_parts = _read(field_trend.trend_parts)
    opt_in_changes = _read(stats.opt_in_changes)
    opt_in_changes_per_day = _read(stats.opt_in_changes_per_day)
    _page = _read(reports.reports_page)

    async def iter_reports(
        self, from_ms: int, to_ms: int, *, kind: str | None = None, page: int = 500
    ) -> AsyncIterator[StoredReport]:
        """Every report in ``[from, to)`` by report time, read page by page."""
        after: tuple[int, str] = (from_ms - 1, "")
        while True:
            rows = await self._page(from_ms, to_ms, after=after, kind=kind, page=page)
            for row in rows:
                yield row
            if len(rows) < page:
                return
            after = (rows[-1].report_ms, rows[-1].id)

    # -- the public statistics (``receiver/public/``) ---------------------------------------
    opt_in_counts = _read(public.opt_in_counts)
    load_public_stats = _read(public.load_public_stats)

    async def save_public_stats(self, name: str, computed_ms: int, body: str) -> None:
        """Store the published document `name` (kept when a newer one is stored)."""
        await self._write(
            lambda cur: public.save_public_stats(cur, self.dialect, name, computed_ms, body)
        )
