"""The read side of the report store: the query API's SQL, shared by both backends."""

from __future__ import annotations

import abc
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any, TypeVar

from telemetry_service.common.db.base import Cursor

from .records import (
    ClusterPage,
    ClusterSummary,
    FieldKind,
    FieldValue,
    OptInChange,
    StoredReport,
)

__all__ = ["ReportReads"]

T = TypeVar("T")

_STORED_COLUMNS = (
    "id, channel, kind, cluster_uuid, cluster_name, version, stack_version, received_ms, "
    "report_ms, opt_in_status, payload"
)
#: A report's UTC day number; the ``reports_kind_day`` index is on this exact expression.
_DAY = "report_ms / 86400000"
_DAY_MS = 86_400_000
_CLUSTER_COLUMNS = (
    "cluster_uuid, cluster_name, first_seen_ms, last_seen_ms, report_id, report_ms, version, "
    "opt_in_status, opt_in_ms"
)


def _days(from_ms: int, to_ms: int) -> tuple[int, int]:
    """The day numbers ``[first, end)`` of the UTC days that ``[from_ms, to_ms)`` touches."""
    return from_ms // _DAY_MS, -(-to_ms // _DAY_MS)


def _bool(value: object) -> bool | None:
    return None if value is None else bool(value)


def _stored(row: Sequence[Any]) -> StoredReport:
    rid, channel, kind, uuid, name, version, stack, received, report, opt_in, payload = row
    return StoredReport(
        rid, channel, kind, uuid, name, version, stack, int(received), int(report),
        _bool(opt_in), payload,
    )  # fmt: skip


def _cluster(row: Sequence[Any]) -> ClusterSummary:
    uuid, name, first, last, report_id, report_ms, version, opt_in, opt_in_ms = row
    return ClusterSummary(
        uuid, name, int(first), int(last), report_id,
        None if report_ms is None else int(report_ms), version, _bool(opt_in),
        None if opt_in_ms is None else int(opt_in_ms),
    )  # fmt: skip


class ReportReads(abc.ABC):
    """Read operations; the store supplies `_read`, `_sql` and `_field_select`."""

    @abc.abstractmethod
    async def _read(self, fn: Callable[[Cursor], T]) -> T:
        """Run `fn` in a read transaction in a worker thread."""

    @abc.abstractmethod
    def _sql(self, sql: str) -> str:
        """The SQL with the backend's placeholders."""

    @abc.abstractmethod
    def _field_select(self, path: Sequence[str]) -> tuple[str, list[Any]]:
        """SQL of ``(kind, scalar value)`` of a payload path in ``clusters.payload``."""

    async def count_reports(self, cluster_uuid: str | None = None) -> int:
        """The number of stored reports (of one cluster)."""
        where, params = ("WHERE cluster_uuid = ?", [cluster_uuid]) if cluster_uuid else ("", [])

        def op(cur: Cursor) -> int:
            cur.execute(self._sql(f"SELECT COUNT(*) FROM reports {where}"), params)
            return int(cur.fetchone()[0])

        return await self._read(op)

    async def list_clusters(self, *, limit: int, offset: int) -> ClusterPage:
        """Clusters, the most recently seen first."""

        def op(cur: Cursor) -> ClusterPage:
            cur.execute(self._sql("SELECT COUNT(*) FROM clusters"))
            total = int(cur.fetchone()[0])
            cur.execute(
                self._sql(
                    f"SELECT {_CLUSTER_COLUMNS} FROM clusters "
                    "ORDER BY last_seen_ms DESC, cluster_uuid LIMIT ? OFFSET ?"
                ),
                (limit, offset),
            )
            return ClusterPage(total, [_cluster(row) for row in cur.fetchall()])

        return await self._read(op)

    async def get_cluster(self, cluster_uuid: str) -> ClusterSummary | None:
        def op(cur: Cursor) -> ClusterSummary | None:
            cur.execute(
                self._sql(f"SELECT {_CLUSTER_COLUMNS} FROM clusters WHERE cluster_uuid = ?"),
                (cluster_uuid,),
            )
            row = cur.fetchone()
            return None if row is None else _cluster(row)

        return await self._read(op)

    async def latest_reports(
        self, *, since_ms: int, limit: int, offset: int
    ) -> tuple[int, list[StoredReport]]:
        """The latest snapshot of each cluster whose latest snapshot is from `since_ms` on."""
        columns = ", ".join(f"r.{c.strip()}" for c in _STORED_COLUMNS.split(","))

        def op(cur: Cursor) -> tuple[int, list[StoredReport]]:
            cur.execute(
                self._sql("SELECT COUNT(*) FROM clusters WHERE report_ms >= ?"), (since_ms,)
            )
            total = int(cur.fetchone()[0])
            cur.execute(
                self._sql(
                    f"SELECT {columns} FROM clusters c JOIN reports r ON r.id = c.report_id "
                    "AND r.received_ms = c.received_ms WHERE c.report_ms >= ? "
                    "ORDER BY c.report_ms DESC, c.cluster_uuid LIMIT ? OFFSET ?"
                ),
                (since_ms, limit, offset),
            )
            return total, [_stored(row) for row in cur.fetchall()]

        return await self._read(op)

    async def active_per_day(self, from_ms: int, to_ms: int) -> dict[int, int]:
        """Distinct clusters that sent a snapshot, by UTC day number, in ``[from, to)``
        (whole UTC days: a partial first or last day counts whole)."""

        def op(cur: Cursor) -> dict[int, int]:
            cur.execute(
                self._sql(
                    f"SELECT {_DAY} AS day, COUNT(DISTINCT cluster_uuid) FROM reports "
                    f"WHERE kind = 'snapshot' AND {_DAY} >= ? AND {_DAY} < ? GROUP BY {_DAY}"
                ),
                _days(from_ms, to_ms),
            )
            return {int(day): int(count) for day, count in cur.fetchall()}

        return await self._read(op)

    async def field_values(self, path: Sequence[str], *, since_ms: int) -> list[FieldValue]:
        """A payload field's value in the latest snapshot of each cluster active since
        `since_ms` (kind ``missing`` where the payload lacks the field)."""
        select, params = self._field_select(path)

        def op(cur: Cursor) -> list[FieldValue]:
            cur.execute(
                self._sql(
                    f"SELECT {select} FROM clusters WHERE report_ms >= ? AND payload IS NOT NULL"
                ),
                [*params, since_ms],
            )
            return [_field_value(kind, value) for kind, value in cur.fetchall()]

        return await self._read(op)

    async def opt_in_changes(
        self, from_ms: int, to_ms: int, *, limit: int, cluster_uuid: str | None = None
    ) -> list[OptInChange]:
        """Opt-in reports in ``[from, to)`` whose status differs from the cluster's previous."""
        where, params = self._opt_in_where(cluster_uuid, to_ms)

        def op(cur: Cursor) -> list[OptInChange]:
            cur.execute(
                self._sql(
                    "SELECT cluster_uuid, report_ms, opt_in_status, prev FROM ("
                    "SELECT cluster_uuid, report_ms, opt_in_status, LAG(opt_in_status) OVER "
                    "(PARTITION BY cluster_uuid ORDER BY report_ms, id) AS prev "
                    f"FROM reports WHERE {where}) t WHERE report_ms >= ? "
                    "AND (prev IS NULL OR prev <> opt_in_status) "
                    "ORDER BY report_ms, cluster_uuid LIMIT ?"
                ),
                [*params, from_ms, limit],
            )
            return [
                OptInChange(uuid, int(ms), bool(status), _bool(prev))
                for uuid, ms, status, prev in cur.fetchall()
            ]

        return await self._read(op)

    async def opt_in_changes_per_day(
        self, from_ms: int, to_ms: int, *, cluster_uuid: str | None = None
    ) -> dict[int, tuple[int, int]]:
        """Per UTC day: (changes to opted-in, changes to opted-out)."""
        where, params = self._opt_in_where(cluster_uuid, to_ms)

        def op(cur: Cursor) -> dict[int, tuple[int, int]]:
            cur.execute(
                self._sql(
                    "SELECT report_ms / 86400000, opt_in_status, COUNT(*) FROM ("
                    "SELECT report_ms, opt_in_status, LAG(opt_in_status) OVER "
                    "(PARTITION BY cluster_uuid ORDER BY report_ms, id) AS prev "
                    f"FROM reports WHERE {where}) t WHERE report_ms >= ? "
                    "AND (prev IS NULL OR prev <> opt_in_status) "
                    "GROUP BY report_ms / 86400000, opt_in_status"
                ),
                [*params, from_ms],
            )
            days: dict[int, tuple[int, int]] = {}
            for day, status, count in cur.fetchall():
                opted_in, opted_out = days.get(int(day), (0, 0))
                if status:
                    opted_in += int(count)
                else:
                    opted_out += int(count)
                days[int(day)] = (opted_in, opted_out)
            return days

        return await self._read(op)

    @staticmethod
    def _opt_in_where(cluster_uuid: str | None, to_ms: int) -> tuple[str, list[Any]]:
        where = "kind = 'opt-in' AND report_ms < ?"
        params: list[Any] = [to_ms]
        if cluster_uuid is not None:
            where += " AND cluster_uuid = ?"
            params.append(cluster_uuid)
        return where, params

    async def cluster_history(
        self, cluster_uuid: str, *, from_ms: int, to_ms: int, limit: int
    ) -> list[StoredReport]:
        """One cluster's reports in ``[from, to)``, the newest first."""

        def op(cur: Cursor) -> list[StoredReport]:
            cur.execute(
                self._sql(
                    f"SELECT {_STORED_COLUMNS} FROM reports WHERE cluster_uuid = ? "
                    "AND report_ms >= ? AND report_ms < ? ORDER BY report_ms DESC, id LIMIT ?"
                ),
                (cluster_uuid, from_ms, to_ms, limit),
            )
            return [_stored(row) for row in cur.fetchall()]

        return await self._read(op)

    async def iter_reports(
        self, from_ms: int, to_ms: int, *, kind: str | None = None, page: int = 500
    ) -> AsyncIterator[StoredReport]:
        """Every report in ``[from, to)`` by report time, read page by page."""
        after: tuple[int, str] = (from_ms - 1, "")
        kind_sql = "" if kind is None else " AND kind = ?"
        while True:
            params: list[Any] = [from_ms, to_ms, after[0], after[0], after[1]]
            if kind is not None:
                params.append(kind)

            def op(cur: Cursor, params: list[Any] = params) -> list[StoredReport]:
                cur.execute(
                    self._sql(
                        f"SELECT {_STORED_COLUMNS} FROM reports WHERE report_ms >= ? "
                        "AND report_ms < ? AND (report_ms > ? OR (report_ms = ? AND id > ?))"
                        f"{kind_sql} ORDER BY report_ms, id LIMIT ?"
                    ),
                    [*params, page],
                )
                return [_stored(row) for row in cur.fetchall()]

            rows = await self._read(op)
            for row in rows:
                yield row
            if len(rows) < page:
                return
            after = (rows[-1].report_ms, rows[-1].id)


_KINDS: dict[str, FieldKind] = {
    "null": "null",
    "true": "boolean",
    "false": "boolean",
    "boolean": "boolean",
    "integer": "number",
    "real": "number",
    "number": "number",
    "text": "string",
    "string": "string",
    "array": "array",
    "object": "object",
}


def _field_value(kind: str | None, value: Any) -> FieldValue:
    """Normalize SQLite's ``json_type`` and PostgreSQL's ``jsonb_typeof`` results."""
    if kind is None:
        return FieldValue("missing", None)
    normalized = _KINDS.get(kind, "null")
    if normalized == "boolean":
        return FieldValue("boolean", kind == "true" or value in (1, True, "true"))
    if normalized == "number":
        try:
            return FieldValue("number", float(value))
        except (TypeError, ValueError, OverflowError):
            return FieldValue("null", None)
    if normalized == "string":
        return FieldValue("string", str(value))
    return FieldValue(normalized, None)
