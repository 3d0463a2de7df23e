"""The dashboard's reads: reports per day, versions, latest payloads, a field's per-day
samples, a cluster search and a cluster's latest snapshot (SQL shared by both backends)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import orjson

from telemetry_service.common.db.base import Cursor

from .reads import (
    _CLUSTER_COLUMNS,
    _DAY,
    _STORED_COLUMNS,
    ReportReads,
    _cluster,
    _days,
    _field_value,
    _stored,
)
from .records import ClusterPage, FieldValue, StoredReport

__all__ = ["DashboardReads"]

#: Backends whose JSON functions extract a field from ``reports.payload`` (text) faster than
#: decoding the text in Python; PostgreSQL would have to cast every payload to jsonb.
_SQL_SAMPLES = frozenset({"sqlite"})


class DashboardReads(ReportReads):
    """The reads behind the dashboard's routes; the store supplies the same hooks."""

    backend: str

    async def reports_per_day(self, from_ms: int, to_ms: int) -> dict[int, tuple[int, int]]:
        """Per UTC day number of ``[from, to)`` (whole days): (snapshots, opt-in reports)."""

        def op(cur: Cursor) -> dict[int, tuple[int, int]]:
            cur.execute(
                self._sql(
                    f"SELECT kind, {_DAY}, COUNT(*) FROM reports WHERE kind IN "
                    f"('snapshot', 'opt-in') AND {_DAY} >= ? AND {_DAY} < ? GROUP BY kind, {_DAY}"
                ),
                _days(from_ms, to_ms),
            )
            days: dict[int, tuple[int, int]] = {}
            for kind, day, count in cur.fetchall():
                snapshots, opt_ins = days.get(int(day), (0, 0))
                if kind == "snapshot":
                    snapshots = int(count)
                else:
                    opt_ins = int(count)
                days[int(day)] = (snapshots, opt_ins)
            return days

        return await self._read(op)

    async def version_counts(self, *, since_ms: int) -> list[tuple[str | None, int]]:
        """Clusters whose latest snapshot is from `since_ms` on, by version, most first."""

        def op(cur: Cursor) -> list[tuple[str | None, int]]:
            cur.execute(
                self._sql(
                    "SELECT version, COUNT(*) FROM clusters WHERE report_ms >= ? GROUP BY version"
                ),
                (since_ms,),
            )
            rows = [(version, int(count)) for version, count in cur.fetchall()]
            return sorted(rows, key=lambda row: (-row[1], row[0] or ""))

        return await self._read(op)

    async def latest_payloads(self, *, since_ms: int, limit: int) -> list[dict[str, Any]]:
        """The latest snapshot payloads of the `limit` most recently reporting clusters among
        those active since `since_ms` (decoded in the worker thread)."""

        def op(cur: Cursor) -> list[dict[str, Any]]:
            cur.execute(
                self._sql(
                    "SELECT payload FROM clusters WHERE report_ms >= ? AND payload IS NOT NULL "
                    "ORDER BY report_ms DESC, cluster_uuid LIMIT ?"
                ),
                (since_ms, limit),
            )
            payloads = []
            for (value,) in cur.fetchall():  # text on SQLite, decoded jsonb on PostgreSQL
                payload = _loads(value) if isinstance(value, str | bytes) else value
                if isinstance(payload, dict):
                    payloads.append(payload)
            return payloads

        return await self._read(op)

    async def field_samples(
        self, path: Sequence[str], *, from_ms: int, to_ms: int, per_day: int
    ) -> dict[int, tuple[int, list[FieldValue]]]:
        """Per UTC day of ``[from, to)`` (whole days) with snapshots: (the day's snapshot
        count, the field's value in up to `per_day` of them). The sample of a day is its
        snapshots of the lowest cluster ids: a fixed cohort of clusters across days, read
        through the ``reports_kind_day`` index without touching the rest of the day.

        SQLite extracts the field with its JSON functions; PostgreSQL sends the payloads'
        text, decoded here (``reports.payload`` is text there, and casting it to jsonb costs
        more than orjson does).
        """
        first, end = _days(from_ms, to_ms)
        in_sql = self.backend in _SQL_SAMPLES
        select, params = self._field_select(path) if in_sql else ("payload", [])

        def op(cur: Cursor) -> dict[int, tuple[int, list[FieldValue]]]:
            cur.execute(
                self._sql(
                    f"SELECT {_DAY}, COUNT(*) FROM reports WHERE kind = 'snapshot' "
                    f"AND {_DAY} >= ? AND {_DAY} < ? GROUP BY {_DAY}"
                ),
                (first, end),
            )
            counts = {int(day): int(count) for day, count in cur.fetchall()}
            samples: dict[int, tuple[int, list[FieldValue]]] = {}
            for day in sorted(counts):
                cur.execute(
                    self._sql(
                        f"SELECT {select} FROM (SELECT payload FROM reports WHERE kind = "
                        f"'snapshot' AND {_DAY} = ? ORDER BY cluster_uuid LIMIT ?) sample"
                    ),
                    [*params, day, per_day],
                )
                if in_sql:
                    values = [_field_value(kind, value) for kind, value in cur.fetchall()]
                else:
                    values = [_extract(text, path) for (text,) in cur.fetchall()]
                samples[day] = (counts[day], values)
            return samples

        return await self._read(op)

    async def search_clusters(
        self,
        *,
        text: str | None,
        version: str | None,
        since_ms: int | None,
        limit: int,
        offset: int,
    ) -> ClusterPage:
        """Clusters whose id or name holds `text` (case-insensitive), of `version`, whose
        latest snapshot is from `since_ms` on; the most recently seen first."""
        where: list[str] = []
        params: list[Any] = []
        if text:
            pattern = "%" + _like_escape(text.lower()) + "%"
            where.append(
                "(lower(cluster_uuid) LIKE ? ESCAPE '!' OR lower(cluster_name) LIKE ? ESCAPE '!')"
            )
            params += [pattern, pattern]
        if version is not None:
            where.append("version = ?")
            params.append(version)
        if since_ms is not None:
            where.append("report_ms >= ?")
            params.append(since_ms)
        clause = ("WHERE " + " AND ".join(where)) if where else ""

        def op(cur: Cursor) -> ClusterPage:
            cur.execute(self._sql(f"SELECT COUNT(*) FROM clusters {clause}"), params)
            total = int(cur.fetchone()[0])
            cur.execute(
                self._sql(
                    f"SELECT {_CLUSTER_COLUMNS} FROM clusters {clause} "
                    "ORDER BY last_seen_ms DESC, cluster_uuid LIMIT ? OFFSET ?"
                ),
                [*params, limit, offset],
            )
            return ClusterPage(total, [_cluster(row) for row in cur.fetchall()])

        return await self._read(op)

    async def latest_snapshot(self, cluster_uuid: str) -> StoredReport | None:
        """A cluster's latest snapshot, or None."""
        columns = ", ".join(f"r.{c.strip()}" for c in _STORED_COLUMNS.split(","))

        def op(cur: Cursor) -> StoredReport | None:
            cur.execute(
                self._sql(
                    f"SELECT {columns} FROM clusters c JOIN reports r ON r.id = c.report_id "
                    "AND r.received_ms = c.received_ms WHERE c.cluster_uuid = ?"
                ),
                (cluster_uuid,),
            )
            row = cur.fetchone()
            return None if row is None else _stored(row)

        return await self._read(op)


def _like_escape(text: str) -> str:
    """`text` as a literal LIKE pattern with ``!`` as the escape character."""
    return text.replace("!", "!!").replace("%", "!%").replace("_", "!_")


def _loads(text: str | bytes) -> Any:
    """JSON text as Python values; None when it is not JSON."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:  # integers past 64 bits, lone surrogates: JSON.parse's JSON
        try:
            return json.loads(text)
        except ValueError:
            return None


def _extract(text: str | bytes, path: Sequence[str]) -> FieldValue:
    """A payload path's value, as :func:`_field_value` makes the databases' answers."""
    node = _loads(text)
    for key in path:
        if not isinstance(node, dict) or key not in node:
            return FieldValue("missing", None)
        node = node[key]
    if node is None:
        return FieldValue("null", None)
    if isinstance(node, bool):
        return FieldValue("boolean", node)
    if isinstance(node, int | float):
        try:
            return FieldValue("number", float(node))
        except OverflowError:
            return FieldValue("null", None)
    if isinstance(node, str):
        return FieldValue("string", node)
    return FieldValue("array" if isinstance(node, list) else "object", None)
