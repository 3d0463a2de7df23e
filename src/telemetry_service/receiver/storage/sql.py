"""The report store's SQL pieces shared by its queries: the dialect, column lists, row
mappers and the day expression (public inside ``storage``)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from telemetry_service.common.clock import DAY_MS
from telemetry_service.common.db.base import Cursor

from .records import ClusterSummary, FieldKind, FieldValue, StoredReport

__all__ = [
    "CLUSTER_COLUMNS",
    "DAY",
    "LATEST",
    "LATEST_COLUMNS",
    "PENDING_STORED",
    "STORED_COLUMNS",
    "Dialect",
    "cluster",
    "consistent_reads",
    "day_bounds",
    "execute_rows",
    "field_value",
    "json_kind",
    "stored",
]

STORED_COLUMNS = (
    "id, channel, kind, cluster_uuid, cluster_name, version, stack_version, received_ms, "
    "report_ms, opt_in_status, payload"
)
CLUSTER_COLUMNS = (
    "cluster_uuid, cluster_name, first_seen_ms, last_seen_ms, report_id, report_ms, version, "
    "opt_in_status, opt_in_ms"
)
#: The latest snapshot of each cluster, as ``r`` (its columns: :data:`LATEST_COLUMNS`).
LATEST = "clusters c JOIN reports r ON r.id = c.report_id AND r.received_ms = c.received_ms"
LATEST_COLUMNS = ", ".join(f"r.{c.strip()}" for c in STORED_COLUMNS.split(","))
#: The condition that a pending row ``p`` still has its report. A row can be orphaned: on
#: PostgreSQL (READ COMMITTED) a snapshot committed between a deletion's removal of the
#: pending rows and its ``DELETE FROM reports`` loses its report but keeps its row. The reads
#: count only rows with a report, the fold removes orphans, a re-sent snapshot reuses its row.
PENDING_STORED = "EXISTS (SELECT 1 FROM reports r WHERE r.id = p.report_id AND r.kind = 'snapshot')"
#: A report's UTC day number; the ``reports_kind_day`` index is on this exact expression.
DAY = "report_ms / 86400000"


@dataclass(frozen=True)
class Dialect:
    """What the queries need from a backend: its name, its placeholders (the queries write
    ``?``), the SQL of ``(kind, scalar value)`` of a payload path in ``payload``, and of a
    JSON parameter."""

    name: str
    sql: Callable[[str], str]
    field_select: Callable[[Sequence[str]], tuple[str, list[Any]]]
    #: SQL of a JSON value parameter for ``clusters.payload`` (PostgreSQL casts to jsonb).
    json_param: str


def consistent_reads(cur: Cursor, d: Dialect) -> None:
    """Make a read transaction's statements see one snapshot of the database (PostgreSQL's
    default gives each statement its own: a fold of ``field_days`` committing between two of
    them would count a snapshot twice or not at all). Call it first; SQLite's read
    transactions see one snapshot already."""
    if d.name == "postgresql":
        cur.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")


def day_bounds(from_ms: int, to_ms: int) -> tuple[int, int]:
    """The day numbers ``[first, end)`` of the UTC days that ``[from_ms, to_ms)`` touches."""
    return from_ms // DAY_MS, -(-to_ms // DAY_MS)


def _bool(value: object) -> bool | None:
    return None if value is None else bool(value)


def _int(value: Any) -> int | None:
    return None if value is None else int(value)


def stored(row: Sequence[Any]) -> StoredReport:
    rid, channel, kind, uuid, name, version, stack, received, report, opt_in, payload = row
    return StoredReport(
        rid, channel, kind, uuid, name, version, stack, int(received), int(report),
        _bool(opt_in), payload,
    )  # fmt: skip


def cluster(row: Sequence[Any]) -> ClusterSummary:
    uuid, name, first, last, report_id, report_ms, version, opt_in, opt_in_ms = row
    return ClusterSummary(
        uuid, name, int(first), int(last), report_id, _int(report_ms), version, _bool(opt_in),
        _int(opt_in_ms),
    )  # fmt: skip


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


def json_kind(value: object) -> FieldKind:
    """The JSON kind of a decoded value."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def field_value(kind: str | None, value: Any) -> FieldValue:
    """Normalize SQLite's ``json_type`` and PostgreSQL's ``jsonb_typeof`` results (and
    :func:`json_kind`'s, for a value decoded in Python)."""
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


def execute_rows(cur: Cursor, sql: str, rows: Sequence[Sequence[object]]) -> None:
    """`sql` once for each of `rows`, as one prepared statement (psycopg pipelines the rows);
    a single row is a plain execute (psycopg's pipeline costs more than it saves for one)."""
    if len(rows) == 1:
        cur.execute(sql, rows[0])
    else:
        cur.executemany(sql, rows)
