"""Stored events as JSON documents, NDJSON lines and CSV rows (streamed, page by page).

An event document is ``{timestamp, event_type, cluster_uuid, channel, context, properties}``
with the context and properties embedded as stored. CSV cells that a spreadsheet would read as
a formula are prefixed with ``'`` (the reports' rule).
"""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator, Iterable

import orjson

from telemetry_service.common.clock import iso_ms

from ..export import csv_cell
from ..storage import EventStore, StoredEvent

__all__ = ["EVENT_CSV_COLUMNS", "event_csv_rows", "event_document", "event_ndjson_lines",
           "events_array"]  # fmt: skip

EVENT_CSV_COLUMNS = (
    "timestamp",
    "event_type",
    "cluster_uuid",
    "channel",
    "context",
    "properties",
)


def event_document(event: StoredEvent) -> bytes:
    """One event as a JSON object."""
    meta = orjson.dumps(
        {
            "timestamp": iso_ms(event.timestamp_ms),
            "event_type": event.event_type,
            "cluster_uuid": event.cluster_uuid,
            "channel": event.channel,
        }
    )
    return b"".join(
        (meta[:-1], b',"context":', event.context.encode(), b',"properties":',
         event.properties.encode(), b"}")
    )  # fmt: skip


def events_array(events: Iterable[StoredEvent]) -> bytes:
    return b"[" + b",".join(event_document(e) for e in events) + b"]"


async def event_ndjson_lines(store: EventStore, from_ms: int, to_ms: int) -> AsyncIterator[bytes]:
    """One event document per line, in time order."""
    batch: list[bytes] = []
    async for event in store.iter_events(from_ms, to_ms):
        batch.append(event_document(event) + b"\n")
        if len(batch) >= 500:
            yield b"".join(batch)
            batch.clear()
    if batch:
        yield b"".join(batch)


async def event_csv_rows(store: EventStore, from_ms: int, to_ms: int) -> AsyncIterator[bytes]:
    """A header row, then one row per event; context and properties as JSON text."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(EVENT_CSV_COLUMNS)
    count = 0
    async for e in store.iter_events(from_ms, to_ms):
        meta = (iso_ms(e.timestamp_ms), e.event_type, e.cluster_uuid, e.channel)
        writer.writerow([*(csv_cell(v) for v in meta), e.context, e.properties])
        count += 1
        if count % 500 == 0:
            yield buffer.getvalue().encode()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode()
