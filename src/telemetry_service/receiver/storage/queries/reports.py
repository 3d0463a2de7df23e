"""Reads of reports: counts, the latest snapshot of each active cluster, pages by time."""

from __future__ import annotations

from typing import Any

from telemetry_service.common.db.base import Cursor

from ..records import StoredReport
from ..sql import LATEST, LATEST_COLUMNS, STORED_COLUMNS, Dialect, stored

__all__ = ["count_reports", "latest_reports", "reports_page"]


def count_reports(cur: Cursor, d: Dialect, cluster_uuid: str | None = None) -> int:
    """The number of stored reports (of one cluster)."""
    where, params = ("WHERE cluster_uuid = ?", [cluster_uuid]) if cluster_uuid else ("", [])
    cur.execute(d.sql(f"SELECT COUNT(*) FROM reports {where}"), params)
    return int(cur.fetchone()[0])


def latest_reports(
    cur: Cursor, d: Dialect, *, since_ms: int, limit: int, offset: int
) -> tuple[int, list[StoredReport]]:
    """The latest snapshot of each cluster whose latest snapshot is from `since_ms` on."""
    cur.execute(d.sql("SELECT COUNT(*) FROM clusters WHERE report_ms >= ?"), (since_ms,))
    total = int(cur.fetchone()[0])
    cur.execute(
        d.sql(
            f"SELECT {LATEST_COLUMNS} FROM {LATEST} WHERE c.report_ms >= ? "
            "ORDER BY c.report_ms DESC, c.cluster_uuid LIMIT ? OFFSET ?"
        ),
        (since_ms, limit, offset),
    )
    return total, [stored(row) for row in cur.fetchall()]


def reports_page(
    cur: Cursor,
    d: Dialect,
    from_ms: int,
    to_ms: int,
    *,
    after: tuple[int, str],
    kind: str | None,
    page: int,
) -> list[StoredReport]:
    """Up to `page` reports in ``[from, to)`` past `after` (report time, id), in that order."""
    params: list[Any] = [from_ms, to_ms, after[0], after[0], after[1]]
    kind_sql = ""
    if kind is not None:
        kind_sql = " AND kind = ?"
        params.append(kind)
    cur.execute(
        d.sql(
            f"SELECT {STORED_COLUMNS} FROM reports WHERE report_ms >= ? "
            "AND report_ms < ? AND (report_ms > ? OR (report_ms = ? AND id > ?))"
            f"{kind_sql} ORDER BY report_ms, id LIMIT ?"
        ),
        [*params, page],
    )
    return [stored(row) for row in cur.fetchall()]
