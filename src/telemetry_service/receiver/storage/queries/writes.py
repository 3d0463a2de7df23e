"""The report store's writes: a report (with its digest, its cluster's row and, for a
snapshot, its row of ``field_days_pending``: the fold counts it later, see ``field_fold.py``)
and the deletions (a cluster, or everything received before a cutoff), which take the fold's
lock and uncount their folded snapshots in the same transaction."""

from __future__ import annotations

from collections.abc import Sequence

from telemetry_service.common.db.base import Cursor

from ..records import AddResult, DeleteCounts, NewReport
from ..sql import Dialect
from . import field_days, field_fold

__all__ = [
    "delete_cluster",
    "delete_older_than",
    "forget_older_than",
    "insert_report",
    "insert_reports",
]

_COLUMNS = (
    "id, received_ms, report_ms, channel, kind, cluster_uuid, cluster_name, version, "
    "stack_version, kid, opt_in_status, payload"
)


def insert_reports(cur: Cursor, d: Dialect, reports: Sequence[NewReport]) -> list[AddResult]:
    """:func:`insert_report` of each of `reports` in one transaction."""
    return [insert_report(cur, d, r) for r in reports]


def insert_report(cur: Cursor, d: Dialect, r: NewReport) -> AddResult:
    """Store `r` unless its digest is known (then answer the first one's id); a snapshot is
    left pending for the fold of ``field_days``."""
    cur.execute(
        d.sql(
            "INSERT INTO report_digests (digest, report_id, cluster_uuid, received_ms) "
            "VALUES (?, ?, ?, ?) ON CONFLICT (digest) DO NOTHING"
        ),
        (r.digest, r.id, r.cluster_uuid, r.received_ms),
    )
    if cur.rowcount == 0:
        cur.execute(d.sql("SELECT report_id FROM report_digests WHERE digest = ?"), (r.digest,))
        return AddResult(str(cur.fetchone()[0]), duplicate=True)
    cur.execute(
        d.sql(
            f"INSERT INTO reports ({_COLUMNS}) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        ),
        (
            r.id, r.received_ms, r.report_ms, r.channel, r.kind, r.cluster_uuid,
            r.cluster_name, r.version, r.stack_version, r.kid, r.opt_in_status,
            r.payload_text,
        ),
    )  # fmt: skip
    cur.execute(
        d.sql(
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
        field_fold.add_pending(cur, d, r.report_ms, r.id)
        cur.execute(
            d.sql(
                "UPDATE clusters SET report_id = ?, report_ms = ?, received_ms = ?, "
                f"version = ?, cluster_name = ?, payload = {d.json_param} "
                "WHERE cluster_uuid = ? AND (report_ms IS NULL OR report_ms <= ?)"
            ),
            (
                r.id, r.report_ms, r.received_ms, r.version, r.cluster_name,
                r.query_text, r.cluster_uuid, r.report_ms,
            ),
        )  # fmt: skip
    else:
        cur.execute(
            d.sql(
                "UPDATE clusters SET opt_in_status = ?, opt_in_ms = ? "
                "WHERE cluster_uuid = ? AND (opt_in_ms IS NULL OR opt_in_ms <= ?)"
            ),
            (r.opt_in_status, r.report_ms, r.cluster_uuid, r.report_ms),
        )
    return AddResult(r.id, duplicate=False)


def delete_cluster(cur: Cursor, d: Dialect, cluster_uuid: str) -> DeleteCounts:
    field_fold.lock(cur, d)
    field_days.forget_snapshots(cur, d, "cluster_uuid = ?", (cluster_uuid,))
    cur.execute(d.sql("DELETE FROM reports WHERE cluster_uuid = ?"), (cluster_uuid,))
    reports = cur.rowcount
    cur.execute(d.sql("DELETE FROM report_digests WHERE cluster_uuid = ?"), (cluster_uuid,))
    cur.execute(d.sql("DELETE FROM clusters WHERE cluster_uuid = ?"), (cluster_uuid,))
    return DeleteCounts(reports=reports, clusters=cur.rowcount)


def forget_older_than(cur: Cursor, d: Dialect, cutoff_ms: int) -> None:
    """Uncount the snapshots received before `cutoff_ms` (before any of them is deleted)."""
    field_fold.lock(cur, d)
    field_days.forget_snapshots(cur, d, "received_ms < ?", (cutoff_ms,))


def delete_older_than(cur: Cursor, d: Dialect, cutoff_ms: int) -> int:
    """Delete the reports received before `cutoff_ms` (call :func:`forget_older_than` first)."""
    cur.execute(d.sql("DELETE FROM reports WHERE received_ms < ?"), (cutoff_ms,))
    deleted = cur.rowcount
    cur.execute(d.sql("DELETE FROM report_digests WHERE received_ms < ?"), (cutoff_ms,))
    cur.execute(
        d.sql(
            "UPDATE clusters SET report_id = NULL, report_ms = NULL, received_ms = NULL, "
            "version = NULL, payload = NULL WHERE received_ms < ?"
        ),
        (cutoff_ms,),
    )
    cur.execute(
        d.sql(
            "DELETE FROM clusters WHERE NOT EXISTS "
            "(SELECT 1 FROM reports r WHERE r.cluster_uuid = clusters.cluster_uuid)"
        )
    )
    return deleted
