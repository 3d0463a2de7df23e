"""The report store: one interface, its SQL written once for SQLite and PostgreSQL.

Writes (reports, deletions, retention) go through one :class:`BatchWriter` thread per
process; reads run in worker threads on their own connections. A ``common.db`` database
supplies connections, transactions and placeholders; the backends here supply migrations and
the few expressions that differ (JSON paths, jsonb casts, monthly partitions).
Times are UTC epoch milliseconds.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import TypeVar

import anyio.to_thread

from telemetry_service.common.db.base import Cursor, Database, StoreError
from telemetry_service.common.db.migrations import apply_migrations

from .dashboard_reads import DashboardReads
from .migrations import MIGRATION_TABLE
from .records import AddResult, DeleteCounts, NewReport
from .writer import BatchWriter

__all__ = ["ReportStore"]

T = TypeVar("T")
_MIGRATION_LOCK = 0x7E1E_0001  # PostgreSQL advisory lock id, distinct from the host store's

_REPORT_COLUMNS = (
    "id, received_ms, report_ms, channel, kind, cluster_uuid, cluster_name, version, "
    "stack_version, kid, opt_in_status, payload"
)


class ReportStore(DashboardReads):
    """Stores reports and answers the query API. Open it before use; close it after."""

    #: SQL of a JSON value parameter for ``clusters.payload`` (PostgreSQL casts to jsonb).
    _json_param = "?"
    _migrations: tuple[str, ...]

    def __init__(self, db: Database, *, max_batch: int = 256, max_queue: int = 10_000) -> None:
        self._db = db
        self.backend = db.backend
        self._writer = BatchWriter(
            self.backend, self._write_reports, max_batch=max_batch, max_queue=max_queue
        )

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._db!r})"

    # -- backend hooks ----------------------------------------------------------------------
    def _sql(self, sql: str) -> str:
        return self._db.sql(sql)

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

    def _open(self) -> None:
        self._db.open()
        apply_migrations(self._db, MIGRATION_TABLE, self._migrations, lock_id=_MIGRATION_LOCK)

    async def close(self) -> None:
        """Finish queued writes, then close connections (waiting for running reads)."""
        await anyio.to_thread.run_sync(self._writer.stop)
        await anyio.to_thread.run_sync(self._db.close)

    @property
    def write_queue(self) -> int:
        """Writes waiting for the writer thread."""
        return self._writer.queued

    async def _read(self, fn: Callable[[Cursor], T]) -> T:
        return await self._db.run(False, fn)

    async def _write(self, fn: Callable[[Cursor], T]) -> T:
        future = self._writer.submit(lambda: self._db.transaction(True, fn))
        return await asyncio.wrap_future(future)

    async def ping(self) -> bool:
        """True when the database answers."""
        try:
            await self._read(lambda cur: cur.execute("SELECT 1").fetchone())
        except StoreError:
            return False
        return True

    # -- writes -----------------------------------------------------------------------------
    async def add(self, report: NewReport) -> AddResult:
        """Store a report; return once it is committed. A known digest is not stored again."""
        return await asyncio.wrap_future(self._writer.submit_report(report))

    def _write_reports(self, reports: list[NewReport]) -> list[AddResult]:
        self._before_write(reports)
        return self._db.transaction(True, lambda cur: [self._insert(cur, r) for r in reports])

    def _insert(self, cur: Cursor, r: NewReport) -> AddResult:
        cur.execute(
            self._sql(
                "INSERT INTO report_digests (digest, report_id, cluster_uuid, received_ms) "
                "VALUES (?, ?, ?, ?) ON CONFLICT (digest) DO NOTHING"
            ),
            (r.digest, r.id, r.cluster_uuid, r.received_ms),
        )
        if cur.rowcount == 0:
            cur.execute(
                self._sql("SELECT report_id FROM report_digests WHERE digest = ?"), (r.digest,)
            )
            return AddResult(str(cur.fetchone()[0]), duplicate=True)
        cur.execute(
            self._sql(
                f"INSERT INTO reports ({_REPORT_COLUMNS}) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
            ),
            (
                r.id, r.received_ms, r.report_ms, r.channel, r.kind, r.cluster_uuid,
                r.cluster_name, r.version, r.stack_version, r.kid, r.opt_in_status,
                r.payload_text,
            ),
        )  # fmt: skip
        cur.execute(
            self._sql(
                "INSERT INTO clusters (cluster_uuid, first_seen_ms, last_seen_ms) "
                "VALUES (?, ?, ?) ON CONFLICT (cluster_uuid) DO UPDATE SET "
                "first_seen_ms = CASE WHEN excluded.first_seen_ms < clusters.first_seen_ms "
                "THEN excluded.first_seen_ms ELSE clusters.first_seen_ms END, "
                "last_seen_ms = CASE WHEN excluded.last_seen_ms > clusters.last_seen_ms "
                "THEN excluded.last_seen_ms ELSE clusters.last_seen_ms END"
            ),
            (r.cluster_uuid, r.report_ms, r.report_ms),
        )
        if r.kind == "snapshot":
            cur.execute(
                self._sql(
                    "UPDATE clusters SET report_id = ?, report_ms = ?, received_ms = ?, "
                    f"version = ?, cluster_name = ?, payload = {self._json_param} "
                    "WHERE cluster_uuid = ? AND (report_ms IS NULL OR report_ms <= ?)"
                ),
                (
                    r.id, r.report_ms, r.received_ms, r.version, r.cluster_name,
                    r.query_text, r.cluster_uuid, r.report_ms,
                ),
            )  # fmt: skip
        else:
            cur.execute(
                self._sql(
                    "UPDATE clusters SET opt_in_status = ?, opt_in_ms = ? "
                    "WHERE cluster_uuid = ? AND (opt_in_ms IS NULL OR opt_in_ms <= ?)"
                ),
                (r.opt_in_status, r.report_ms, r.cluster_uuid, r.report_ms),
            )
        return AddResult(r.id, duplicate=False)

    async def delete_cluster(self, cluster_uuid: str) -> DeleteCounts:
        """Remove every record of a cluster (a deletion request)."""

        def op(cur: Cursor) -> DeleteCounts:
            cur.execute(self._sql("DELETE FROM reports WHERE cluster_uuid = ?"), (cluster_uuid,))
            reports = cur.rowcount
            cur.execute(
                self._sql("DELETE FROM report_digests WHERE cluster_uuid = ?"), (cluster_uuid,)
            )
            cur.execute(self._sql("DELETE FROM clusters WHERE cluster_uuid = ?"), (cluster_uuid,))
            return DeleteCounts(reports=reports, clusters=cur.rowcount)

        return await self._write(op)

    async def delete_older_than(self, cutoff_ms: int) -> int:
        """Delete reports received before `cutoff_ms`; clusters left without any report go
        too. Returns the number of reports deleted."""

        def op(cur: Cursor) -> int:
            dropped = self._drop_expired(cur, cutoff_ms)
            cur.execute(self._sql("DELETE FROM reports WHERE received_ms < ?"), (cutoff_ms,))
            deleted = dropped + cur.rowcount
            cur.execute(self._sql("DELETE FROM report_digests WHERE received_ms < ?"), (cutoff_ms,))
            cur.execute(
                self._sql(
                    "UPDATE clusters SET report_id = NULL, report_ms = NULL, received_ms = NULL, "
                    "version = NULL, payload = NULL WHERE received_ms < ?"
                ),
                (cutoff_ms,),
            )
            cur.execute(
                self._sql(
                    "DELETE FROM clusters WHERE NOT EXISTS "
                    "(SELECT 1 FROM reports r WHERE r.cluster_uuid = clusters.cluster_uuid)"
                )
            )
            return deleted

        return await self._write(op)
