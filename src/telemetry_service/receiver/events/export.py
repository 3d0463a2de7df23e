"""Stored events as JSON documents, NDJSON lines and CSV rows (streamed, page by page).

An event document is ``{timestamp, event_type, cluster_uuid, channel, context, properties}``
with the context and properties embedded as stored. CSV cells that a spreadsheet would read as
a formula are prefixed with ``'`` (the reports' rule).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable

import orjson

from telemetry_service.common.clock import iso_ms

from ..export import csv_cell, csv_chunks, ndjson_chunks
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
    events = store.iter_events(from_ms, to_ms)
    async for chunk in ndjson_chunks(event_document(event) async for event in events):
        yield chunk


async def event_csv_rows(store: EventStore, from_ms: int, to_ms: int) -> AsyncIterator[bytes]:
    """A header row, then one row per event; context and properties as JSON text."""

    async def rows() -> AsyncIterator[list[str]]:
        async for e in store.iter_events(from_ms, to_ms):
            meta = (iso_ms(e.timestamp_ms), e.event_type, e.cluster_uuid, e.channel)
            yield [*(csv_cell(v) for v in meta), e.context, e.properties]

    async for chunk in csv_chunks(EVENT_CSV_COLUMNS, rows()):
        yield chunk
