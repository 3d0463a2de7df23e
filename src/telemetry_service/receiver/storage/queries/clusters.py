"""Reads of clusters: a search (or the whole list), one cluster, its latest snapshot and its
reports."""

from __future__ import annotations

from typing import Any

from telemetry_service.common.db.base import Cursor, count_and_page

from ..records import ClusterPage, ClusterSummary, StoredReport
from ..sql import CLUSTER_COLUMNS, LATEST, LATEST_COLUMNS, STORED_COLUMNS, Dialect, cluster, stored

__all__ = [
    "cluster_history",
    "get_cluster",
    "latest_snapshot",
    "search_clusters",
]


def search_clusters(
    cur: Cursor,
    d: Dialect,
    *,
    text: str | None = None,
    version: str | None = None,
    since_ms: int | None = None,
    limit: int,
    offset: int,
) -> ClusterPage:
    """Clusters whose id or name holds `text` (case-insensitive), of `version`, whose
    latest snapshot is from `since_ms` on (without them: every cluster); the most recently
    seen first."""
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
    source = "clusters WHERE " + " AND ".join(where) if where else "clusters"
    order = "last_seen_ms DESC, cluster_uuid"
    total, rows = count_and_page(cur, d.sql, CLUSTER_COLUMNS, source, order, params, limit, offset)
    return ClusterPage(total, [cluster(row) for row in rows])


def _like_escape(text: str) -> str:
    """`text` as a literal LIKE pattern with ``!`` as the escape character."""
    return text.replace("!", "!!").replace("%", "!%").replace("_", "!_")


def get_cluster(cur: Cursor, d: Dialect, cluster_uuid: str) -> ClusterSummary | None:
    cur.execute(
        d.sql(f"SELECT {CLUSTER_COLUMNS} FROM clusters WHERE cluster_uuid = ?"), (cluster_uuid,)
    )
    row = cur.fetchone()
    return None if row is None else cluster(row)


def latest_snapshot(cur: Cursor, d: Dialect, cluster_uuid: str) -> StoredReport | None:
    cur.execute(
        d.sql(f"SELECT {LATEST_COLUMNS} FROM {LATEST} WHERE c.cluster_uuid = ?"), (cluster_uuid,)
    )
    row = cur.fetchone()
    return None if row is None else stored(row)


def cluster_history(
    cur: Cursor, d: Dialect, cluster_uuid: str, *, from_ms: int, to_ms: int, limit: int
) -> list[StoredReport]:
    """One cluster's reports in ``[from, to)``, the newest first."""
    cur.execute(
        d.sql(
            f"SELECT {STORED_COLUMNS} FROM reports WHERE cluster_uuid = ? "
            "AND report_ms >= ? AND report_ms < ? ORDER BY report_ms DESC, id LIMIT ?"
        ),
        (cluster_uuid, from_ms, to_ms, limit),
    )
    return [stored(row) for row in cur.fetchall()]
