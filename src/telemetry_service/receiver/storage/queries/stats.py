"""Reads behind the statistics: per-day counts, versions, payload fields of the latest
snapshots, opt-in changes. Each is one indexed aggregation or a bounded read; the field trend
and the daily snapshot counts read the ``field_days`` aggregate (``field_days.py``)."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

import orjson

from telemetry_service.common.db.base import Cursor

from .. import jsonb
from ..records import FieldValue, OptInChange
from ..sql import (
    DAY,
    LATEST,
    PENDING_STORED,
    Dialect,
    consistent_reads,
    day_bounds,
    field_value,
)

#: Payloads not yet in ``clusters.payload`` read at once by :func:`field_values`.
_PAGE = 200

__all__ = [
    "active_per_day",
    "field_values",
    "latest_payloads",
    "loads",
    "opt_in_changes",
    "opt_in_changes_per_day",
    "reports_per_day",
    "version_counts",
    "visit_latest_payloads",
]


def active_per_day(cur: Cursor, d: Dialect, from_ms: int, to_ms: int) -> dict[int, int]:
    """Distinct clusters that sent a snapshot, by UTC day number, in ``[from, to)``
    (whole UTC days: a partial first or last day counts whole)."""
    cur.execute(
        d.sql(
            f"SELECT {DAY} AS day, COUNT(DISTINCT cluster_uuid) FROM reports "
            f"WHERE kind = 'snapshot' AND {DAY} >= ? AND {DAY} < ? GROUP BY {DAY}"
        ),
        day_bounds(from_ms, to_ms),
    )
    return {int(day): int(count) for day, count in cur.fetchall()}


def reports_per_day(
    cur: Cursor, d: Dialect, from_ms: int, to_ms: int
) -> dict[int, tuple[int, int]]:
    """Per UTC day number of ``[from, to)`` (whole days): (snapshots, opt-in reports). The
    snapshots are counted by the ``field_days`` aggregate (its rows of the whole payload) and
    its pending rows (those whose report is still stored)."""
    consistent_reads(cur, d)
    cur.execute(
        d.sql(
            "SELECT day, 'snapshot', SUM(count) FROM field_days WHERE path = '' "
            "AND day >= ? AND day < ? GROUP BY day UNION ALL "
            "SELECT day, 'snapshot', COUNT(*) FROM field_days_pending p "
            f"WHERE day >= ? AND day < ? AND {PENDING_STORED} GROUP BY day UNION ALL "
            f"SELECT {DAY}, kind, COUNT(*) FROM reports WHERE kind = 'opt-in' "
            f"AND {DAY} >= ? AND {DAY} < ? GROUP BY kind, {DAY}"
        ),
        day_bounds(from_ms, to_ms) * 3,
    )
    return _day_pairs(cur.fetchall(), lambda kind: kind == "snapshot")


def _day_pairs(rows: Sequence[Any], first: Callable[[Any], bool]) -> dict[int, tuple[int, int]]:
    """Rows ``(day, key, count)`` summed per day into (count of the keys that are `first`,
    count of the others)."""
    days: dict[int, tuple[int, int]] = {}
    for day, key, count in rows:
        yes, no = days.get(int(day), (0, 0))
        days[int(day)] = (yes + int(count), no) if first(key) else (yes, no + int(count))
    return days


def version_counts(cur: Cursor, d: Dialect, *, since_ms: int) -> list[tuple[str | None, int]]:
    """Clusters whose latest snapshot is from `since_ms` on, by version, most first."""
    cur.execute(
        d.sql("SELECT version, COUNT(*) FROM clusters WHERE report_ms >= ? GROUP BY version"),
        (since_ms,),
    )
    rows = [(version, int(count)) for version, count in cur.fetchall()]
    return sorted(rows, key=lambda row: (-row[1], row[0] or ""))


def field_values(
    cur: Cursor, d: Dialect, path: Sequence[str], *, since_ms: int
) -> list[FieldValue]:
    """A payload field's value in the latest snapshot of each cluster active since
    `since_ms` (kind ``missing`` where the payload lacks the field). SQLite reads it from
    the report unless ``clusters.payload`` holds it. On PostgreSQL, a latest snapshot that
    the fold has not copied into ``clusters.payload`` yet is read from its report, a page at
    a time, in the same snapshot of the database."""
    consistent_reads(cur, d)
    select, params = d.field_select(path)
    if d.name == "sqlite":
        cur.execute(
            d.sql(f"SELECT {select} FROM {LATEST} WHERE c.report_ms >= ?"), [*params, since_ms]
        )
        return [field_value(kind, value) for kind, value in cur.fetchall()]
    cur.execute(
        d.sql(f"SELECT {select} FROM clusters WHERE report_ms >= ? AND payload IS NOT NULL"),
        [*params, since_ms],
    )
    values = [field_value(kind, value) for kind, value in cur.fetchall()]
    cur.execute(
        d.sql(
            "SELECT report_id FROM clusters WHERE report_ms >= ? AND payload IS NULL "
            "AND report_id IS NOT NULL"
        ),
        (since_ms,),
    )
    pending = [str(report_id) for (report_id,) in cur.fetchall()]
    for start in range(0, len(pending), _PAGE):
        page = pending[start : start + _PAGE]
        marks = ", ".join("?" * len(page))
        cur.execute(d.sql(f"SELECT payload FROM reports WHERE id IN ({marks})"), page)
        for (text,) in cur.fetchall():
            values.append(jsonb.path_value(loads(jsonb.safe_text(text)), path))
    return values


def latest_payloads(cur: Cursor, d: Dialect, *, since_ms: int, limit: int) -> list[dict[str, Any]]:
    """The latest snapshot payloads of the `limit` most recently reporting clusters among
    those active since `since_ms` (decoded in the worker thread)."""
    payloads: list[dict[str, Any]] = []
    visit_latest_payloads(cur, d, since_ms=since_ms, limit=limit, visit=payloads.append)
    return payloads


def visit_latest_payloads(
    cur: Cursor,
    d: Dialect,
    *,
    since_ms: int,
    limit: int,
    visit: Callable[[dict[str, Any]], None],
    max_bytes: int | None = None,
) -> tuple[int, int]:
    """Decode the payloads of :func:`latest_payloads` one at a time and `visit` each, skipping
    those over `max_bytes` of JSON text: memory holds one payload, whatever was stored.
    Returns (payloads visited, payloads skipped)."""
    size = "length(CAST(r.payload AS BLOB))" if d.name == "sqlite" else "octet_length(r.payload)"
    cur.execute(
        d.sql(
            f"SELECT c.cluster_uuid, {size} FROM {LATEST} WHERE c.report_ms >= ? "
            "ORDER BY c.report_ms DESC, c.cluster_uuid LIMIT ?"
        ),
        (since_ms, limit),
    )
    rows = cur.fetchall()
    wanted = [uuid for uuid, length in rows if max_bytes is None or int(length) <= max_bytes]
    visited = 0
    for uuid in wanted:
        cur.execute(d.sql(f"SELECT r.payload FROM {LATEST} WHERE c.cluster_uuid = ?"), [uuid])
        row = cur.fetchone()
        payload = None if row is None else _loads_lean(jsonb.safe_text(row[0]))
        if isinstance(payload, dict):
            visited += 1
            visit(payload)
        del payload, row
    return visited, len(rows) - len(wanted)


def loads(text: str | bytes) -> Any:
    """JSON text as Python values; None when it is not JSON."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:  # integers past 64 bits, lone surrogates: JSON.parse's JSON
        try:
            return json.loads(text)
        except ValueError:
            return None


def _loads_lean(text: str | bytes) -> Any:
    """JSON text as Python values, None when it is not JSON; at a peak of about 8 times the
    text's size (orjson's is about 20 times, for payloads of many small fields)."""
    try:
        return json.loads(text)
    except ValueError:
        return None


def _changes(cluster_uuid: str | None, from_ms: int, to_ms: int) -> tuple[str, list[Any]]:
    """A subquery ``t`` of the opt-in reports in ``[from, to)`` whose status differs from
    the cluster's previous one (``prev``, NULL for the first), and its parameters."""
    where = "kind = 'opt-in' AND report_ms < ?"
    params: list[Any] = [to_ms]
    if cluster_uuid is not None:
        where += " AND cluster_uuid = ?"
        params.append(cluster_uuid)
    sql = (
        "(SELECT cluster_uuid, report_ms, opt_in_status, LAG(opt_in_status) OVER "
        "(PARTITION BY cluster_uuid ORDER BY report_ms, id) AS prev "
        f"FROM reports WHERE {where}) t WHERE report_ms >= ? "
        "AND (prev IS NULL OR prev <> opt_in_status)"
    )
    return sql, [*params, from_ms]


def opt_in_changes(
    cur: Cursor,
    d: Dialect,
    from_ms: int,
    to_ms: int,
    *,
    limit: int,
    cluster_uuid: str | None = None,
) -> list[OptInChange]:
    """Opt-in reports in ``[from, to)`` whose status differs from the cluster's previous."""
    changes, params = _changes(cluster_uuid, from_ms, to_ms)
    cur.execute(
        d.sql(
            f"SELECT cluster_uuid, report_ms, opt_in_status, prev FROM {changes} "
            "ORDER BY report_ms, cluster_uuid LIMIT ?"
        ),
        [*params, limit],
    )
    return [
        OptInChange(uuid, int(ms), bool(status), None if prev is None else bool(prev))
        for uuid, ms, status, prev in cur.fetchall()
    ]


def opt_in_changes_per_day(
    cur: Cursor, d: Dialect, from_ms: int, to_ms: int, *, cluster_uuid: str | None = None
) -> dict[int, tuple[int, int]]:
    """Per UTC day: (changes to opted-in, changes to opted-out)."""
    changes, params = _changes(cluster_uuid, from_ms, to_ms)
    cur.execute(
        d.sql(
            f"SELECT {DAY}, opt_in_status, COUNT(*) FROM {changes} GROUP BY {DAY}, opt_in_status"
        ),
        params,
    )
    return _day_pairs(cur.fetchall(), bool)
