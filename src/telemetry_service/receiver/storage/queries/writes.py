"""The report store's writes: a batch of reports (with their digests, their clusters' rows
and, for a snapshot, its row of ``field_days_pending``: the fold counts it later, see
``field_fold.py``) and the deletions (a cluster, or everything received before a cutoff),
which take the fold's lock and uncount their folded snapshots in the same transaction."""

from __future__ import annotations

from collections.abc import Sequence

from telemetry_service.common.db.base import Cursor

from ..records import AddResult, DeleteCounts, NewReport
from ..sql import Dialect, execute_rows
from ..writer import StoreBusyError
from . import field_days, field_fold

__all__ = [
    "delete_cluster",
    "delete_older_than",
    "forget_older_than",
    "insert_reports",
]

_COLUMNS = (
    "id, received_ms, report_ms, channel, kind, cluster_uuid, cluster_name, version, "
    "stack_version, kid, opt_in_status, payload"
)
#: Rows a multi-row statement takes at most (SQLite binds 32,766 parameters, PostgreSQL 65,535).
_ROWS = 1000
#: A cluster's columns that its latest snapshot sets, and those that its latest opt-in sets.
_SNAPSHOT = ("report_id", "report_ms", "received_ms", "version", "cluster_name", "payload")
_OPT_IN = ("opt_in_status", "opt_in_ms")


def _newer(column: str) -> str:
    """The upsert's condition that the batch's value of `column` replaces the stored one (a
    later report, or one of the same time: the last one stored wins)."""
    return (
        f"excluded.{column} IS NOT NULL AND "
        f"(clusters.{column} IS NULL OR clusters.{column} <= excluded.{column})"
    )


def _take(columns: tuple[str, ...], when: str) -> str:
    return ", ".join(
        f"{c} = CASE WHEN {when} THEN excluded.{c} ELSE clusters.{c} END" for c in columns
    )


_UPSERT = (
    f"INSERT INTO clusters (cluster_uuid, first_seen_ms, last_seen_ms, {', '.join(_SNAPSHOT)}, "
    f"{', '.join(_OPT_IN)}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, {{json}}, ?, ?) "
    "ON CONFLICT (cluster_uuid) DO UPDATE SET "
    "first_seen_ms = CASE WHEN excluded.first_seen_ms < clusters.first_seen_ms "
    "THEN excluded.first_seen_ms ELSE clusters.first_seen_ms END, "
    "last_seen_ms = CASE WHEN excluded.last_seen_ms > clusters.last_seen_ms "
    "THEN excluded.last_seen_ms ELSE clusters.last_seen_ms END, "
    f"{_take(_SNAPSHOT, _newer('report_ms'))}, {_take(_OPT_IN, _newer('opt_in_ms'))}"
)


_MADE: dict[tuple[str, str, str, int], str] = {}


def _sql(d: Dialect, statement: str, rows: int = 1) -> str:
    """`statement` for `d` (made once per backend: a batch of one report is common), with its
    ``{json}`` the dialect's JSON parameter and its ``{rows}`` `rows` rows of digest
    placeholders. Kept by backend name, not by `d`, which holds its store."""
    key = (d.name, d.json_param, statement, rows)
    made = _MADE.get(key)
    if made is None:
        if len(_MADE) >= 1024:
            _MADE.clear()
        made = _MADE[key] = d.sql(
            statement.format(json=d.json_param, rows=", ".join(["(?, ?, ?, ?)"] * rows))
        )
    return made


_DIGESTS = (
    "INSERT INTO report_digests (digest, report_id, cluster_uuid, received_ms) "
    "VALUES {rows} ON CONFLICT (digest) DO NOTHING RETURNING digest"
)
_REPORTS = f"INSERT INTO reports ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"


def insert_reports(cur: Cursor, d: Dialect, reports: Sequence[NewReport]) -> list[AddResult]:
    """Store each of `reports` whose digest is new (in their transaction), exactly as storing
    them one by one in this order would: a known digest, or one seen earlier in `reports`,
    answers the first one's id; a snapshot is left pending for the fold of ``field_days``;
    each cluster keeps its latest snapshot and opt-in status (the later of equal times).

    A few statements a batch: the digests (one multi-row insert), the reports and their
    pending rows (one prepared statement each), and one upsert a cluster, in key order (two
    receivers on one PostgreSQL database then lock rows in the same order)."""
    firsts: dict[str, NewReport] = {}
    for r in reports:
        firsts.setdefault(r.digest, r)
    known = _insert_digests(cur, d, sorted(firsts.values(), key=lambda r: r.digest))
    new = [r for r in firsts.values() if r.digest not in known]
    if new:
        _insert_new(cur, d, new)
    return [
        AddResult(r.id, duplicate=False)
        if firsts[r.digest] is r and r.digest not in known
        else AddResult(known.get(r.digest, firsts[r.digest].id), duplicate=True)
        for r in reports
    ]


def _insert_digests(cur: Cursor, d: Dialect, reports: list[NewReport]) -> dict[str, str]:
    """Insert the digests of `reports` (distinct) that are new; answer the report id of each
    one that was known."""
    known: dict[str, str] = {}
    for start in range(0, len(reports), _ROWS):
        chunk = reports[start : start + _ROWS]
        cur.execute(
            _sql(d, _DIGESTS, len(chunk)),
            [v for r in chunk for v in (r.digest, r.id, r.cluster_uuid, r.received_ms)],
        )
        inserted = {str(digest) for (digest,) in cur.fetchall()}
        if len(inserted) < len(chunk):
            digests = [r.digest for r in chunk if r.digest not in inserted]
            cur.execute(
                d.sql(
                    "SELECT digest, report_id FROM report_digests "
                    f"WHERE digest IN ({', '.join('?' * len(digests))})"
                ),
                digests,
            )
            found = {str(digest): str(report_id) for digest, report_id in cur.fetchall()}
            if len(found) < len(digests):  # deleted in between (retention, a deletion request)
                raise StoreBusyError("a known report was deleted while this one was stored")
            known.update(found)
    return known


def _insert_new(cur: Cursor, d: Dialect, reports: list[NewReport]) -> None:
    """Insert `reports` (their digests new), their pending rows and their clusters' rows."""
    execute_rows(
        cur, _sql(d, _REPORTS),
        [
            (
                r.id, r.received_ms, r.report_ms, r.channel, r.kind, r.cluster_uuid,
                r.cluster_name, r.version, r.stack_version, r.kid, r.opt_in_status,
                r.payload_text,
            )
            for r in reports
        ],
    )  # fmt: skip
    field_fold.add_pending(cur, d, [(r.report_ms, r.id) for r in reports if r.kind == "snapshot"])
    execute_rows(cur, _sql(d, _UPSERT), _cluster_rows(reports, d.name == "postgresql"))


def _cluster_payload(report: NewReport, postgresql: bool) -> str | None:
    """What ``clusters.payload`` gets of a cluster's latest snapshot `report`.

    PostgreSQL: NULL; its jsonb is left to the fold (parsing it is most of the server's work
    a report), and the reads take it from the report until then. SQLite: NULL too, and the
    reads take the report's payload (``COALESCE(c.payload, r.payload)``): a second copy of
    every snapshot cost the writer 40-120 µs a report (docs/benchmarks.md, "Ingest"), except
    for a payload whose query text differs from its text (a NUL character or a lone
    surrogate, which SQLite's JSON functions would hand back as text no one can decode).
    """
    if postgresql or report.query_text == report.payload_text:
        return None
    return report.query_text


def _cluster_rows(reports: list[NewReport], postgresql: bool) -> list[tuple[object, ...]]:
    """One upsert row a cluster of `reports`, in cluster order: its first and last report
    times, its latest snapshot and its latest opt-in (each the later one in `reports` of
    equal times, as storing them in turn keeps), or NULLs; the snapshot's payload as
    :func:`_cluster_payload` says."""
    seen: dict[str, tuple[int, int]] = {}
    snapshots: dict[str, NewReport] = {}
    opt_ins: dict[str, NewReport] = {}
    for r in reports:
        first, last = seen.get(r.cluster_uuid, (r.report_ms, r.report_ms))
        seen[r.cluster_uuid] = (min(first, r.report_ms), max(last, r.report_ms))
        latest = snapshots if r.kind == "snapshot" else opt_ins
        if r.cluster_uuid not in latest or latest[r.cluster_uuid].report_ms <= r.report_ms:
            latest[r.cluster_uuid] = r
    rows: list[tuple[object, ...]] = []
    for uuid in sorted(seen):
        s, o = snapshots.get(uuid), opt_ins.get(uuid)
        rows.append(
            (
                uuid, *seen[uuid],
                *((s.id, s.report_ms, s.received_ms, s.version, s.cluster_name,
                   _cluster_payload(s, postgresql)) if s else (None,) * 6),
                *((o.opt_in_status, o.report_ms) if o else (None, None)),
            )
        )  # fmt: skip
    return rows


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
