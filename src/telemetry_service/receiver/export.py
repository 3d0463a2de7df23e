"""Reports as JSON documents, NDJSON lines and CSV rows (streamed, page by page).

A report document is its metadata plus ``payload``, the payload's JSON text embedded as
received (never re-encoded). CSV cells that a spreadsheet would read as a formula are
prefixed with ``'``.
"""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator, Iterable, Sequence
from typing import Any

import orjson

from telemetry_service.common.clock import iso_ms

from .storage import ClusterSummary, ReportStore, StoredReport

__all__ = [
    "CSV_COLUMNS",
    "cluster_document",
    "csv_cell",
    "csv_chunks",
    "csv_rows",
    "ndjson_chunks",
    "ndjson_lines",
    "report_document",
    "report_meta",
    "reports_array",
]

CSV_COLUMNS = (
    "id",
    "channel",
    "kind",
    "cluster_uuid",
    "cluster_name",
    "version",
    "stack_version",
    "received_at",
    "timestamp",
    "opt_in_status",
    "payload",
)
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def report_meta(report: StoredReport) -> dict[str, Any]:
    """A report's metadata, JSON-ready: the CSV columns but the payload, in their order."""
    times = {"received_at": iso_ms(report.received_ms), "timestamp": iso_ms(report.report_ms)}
    return {c: times[c] if c in times else getattr(report, c) for c in CSV_COLUMNS[:-1]}


def report_document(report: StoredReport, *, payload: bool = True) -> bytes:
    """The report as one JSON object (the payload embedded as received)."""
    meta = orjson.dumps(report_meta(report))
    if not payload:
        return meta
    return meta[:-1] + b',"payload":' + report.payload_text.encode() + b"}"


def reports_array(reports: Iterable[StoredReport], *, payload: bool = True) -> bytes:
    """A JSON array of report documents."""
    return b"[" + b",".join(report_document(r, payload=payload) for r in reports) + b"]"


def cluster_document(cluster: ClusterSummary) -> dict[str, Any]:
    """A cluster as the query API shows it."""
    return {
        "cluster_uuid": cluster.cluster_uuid,
        "cluster_name": cluster.cluster_name,
        "first_seen": iso_ms(cluster.first_seen_ms),
        "last_seen": iso_ms(cluster.last_seen_ms),
        "last_report_at": None if cluster.report_ms is None else iso_ms(cluster.report_ms),
        "version": cluster.version,
        "opt_in_status": cluster.opt_in_status,
        "opt_in_changed_at": None if cluster.opt_in_ms is None else iso_ms(cluster.opt_in_ms),
    }


async def ndjson_lines(
    store: ReportStore, from_ms: int, to_ms: int, *, kind: str | None = None
) -> AsyncIterator[bytes]:
    """One JSON document per line, in report-time order."""
    reports = store.iter_reports(from_ms, to_ms, kind=kind)
    async for chunk in ndjson_chunks(report_document(report) async for report in reports):
        yield chunk


async def ndjson_chunks(documents: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    """JSON documents one a line, sent 100 lines at a time."""
    batch: list[bytes] = []
    async for document in documents:
        batch.append(document + b"\n")
        if len(batch) >= 100:
            yield b"".join(batch)
            batch.clear()
    if batch:
        yield b"".join(batch)


def csv_cell(value: object) -> str:
    """A CSV cell: empty for None, true/false, a leading ``'`` before a formula start."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    text = str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


async def csv_rows(
    store: ReportStore, from_ms: int, to_ms: int, *, kind: str | None = None
) -> AsyncIterator[bytes]:
    """A header row, then one row per report; the payload column holds its JSON text."""

    async def rows() -> AsyncIterator[list[str]]:
        async for report in store.iter_reports(from_ms, to_ms, kind=kind):
            meta = report_meta(report)
            yield [csv_cell(meta[c]) for c in CSV_COLUMNS[:-1]] + [report.payload_text]

    async for chunk in csv_chunks(CSV_COLUMNS, rows()):
        yield chunk


async def csv_chunks(
    columns: Sequence[str], rows: AsyncIterator[Sequence[str]]
) -> AsyncIterator[bytes]:
    """A header row of `columns`, then the `rows` (cells made with :func:`csv_cell`), sent
    100 rows at a time."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(columns)
    count = 0
    async for row in rows:
        writer.writerow(row)
        count += 1
        if count % 100 == 0:
            yield buffer.getvalue().encode()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode()
