"""Reads of events: the per-type overview and daily figures (from the aggregates only), a
bounded sample of recent properties, recent raw events, and pages of events by time."""

from __future__ import annotations

from typing import Any

from telemetry_service.common.clock import DAY_MS
from telemetry_service.common.db.base import Cursor

from ..event_records import EventTypeSummary, StoredEvent
from ..sql import Dialect

__all__ = [
    "STORED_EVENT_COLUMNS",
    "event_type_days",
    "event_type_known",
    "event_types",
    "events_page",
    "recent_events",
    "recent_properties",
]

STORED_EVENT_COLUMNS = "id, timestamp_ms, event_type, cluster_uuid, channel, context, properties"


def _stored(row: Any) -> StoredEvent:
    rid, ts, event_type, cluster, channel, context, properties = row
    return StoredEvent(int(rid), int(ts), event_type, cluster, channel, context, properties)


def event_types(cur: Cursor, d: Dialect, first_day: int, end_day: int) -> list[EventTypeSummary]:
    """Every event type with events on the UTC days ``[first_day, end_day)``: its events per
    day, its clusters since `first_day`, its first and last event time."""
    cur.execute(
        d.sql("SELECT event_type, day, events FROM event_days WHERE day >= ? AND day < ?"),
        (first_day, end_day),
    )
    per_type: dict[str, dict[int, int]] = {}
    for event_type, day, events in cur.fetchall():
        if int(events) > 0:
            per_type.setdefault(event_type, {})[int(day)] = int(events)
    if not per_type:
        return []
    cur.execute(
        d.sql(
            "SELECT event_type, SUM(CASE WHEN last_ms >= ? THEN 1 ELSE 0 END), MIN(first_ms), "
            "MAX(last_ms) FROM event_type_clusters GROUP BY event_type"
        ),
        (first_day * DAY_MS,),
    )
    return [
        EventTypeSummary(event_type, per_type[event_type], int(clusters), int(lo), int(hi))
        for event_type, clusters, lo, hi in cur.fetchall()
        if event_type in per_type
    ]


def event_type_known(cur: Cursor, d: Dialect, event_type: str) -> bool:
    """Whether any stored event has this type."""
    cur.execute(
        d.sql("SELECT 1 FROM event_type_clusters WHERE event_type = ? LIMIT 1"), (event_type,)
    )
    return cur.fetchone() is not None


def event_type_days(
    cur: Cursor, d: Dialect, event_type: str, first_day: int, end_day: int
) -> dict[int, tuple[int, int]]:
    """Per UTC day of ``[first_day, end_day)`` with events of the type: (events, clusters)."""
    cur.execute(
        d.sql(
            "SELECT day, SUM(events), COUNT(*) FROM event_day_clusters WHERE event_type = ? "
            "AND day >= ? AND day < ? GROUP BY day"
        ),
        (event_type, first_day, end_day),
    )
    return {int(day): (int(events), int(clusters)) for day, events, clusters in cur.fetchall()}


def recent_properties(
    cur: Cursor, d: Dialect, event_type: str, from_ms: int, to_ms: int, limit: int
) -> list[str]:
    """The properties (JSON text) of the `limit` most recent events of a type in
    ``[from, to)``, read backwards along ``events_type_time``."""
    cur.execute(
        d.sql(
            "SELECT properties FROM events WHERE event_type = ? AND timestamp_ms >= ? "
            "AND timestamp_ms < ? ORDER BY timestamp_ms DESC, id DESC LIMIT ?"
        ),
        (event_type, from_ms, to_ms, limit),
    )
    return [text for (text,) in cur.fetchall()]


def recent_events(
    cur: Cursor,
    d: Dialect,
    *,
    event_type: str | None = None,
    cluster_uuid: str | None = None,
    limit: int,
) -> list[StoredEvent]:
    """The newest events of a type, of a cluster, of both, or of all."""
    where: list[str] = []
    params: list[Any] = []
    for column, value in (("event_type", event_type), ("cluster_uuid", cluster_uuid)):
        if value is not None:
            where.append(f"{column} = ?")
            params.append(value)
    clause = " WHERE " + " AND ".join(where) if where else ""
    cur.execute(
        d.sql(
            f"SELECT {STORED_EVENT_COLUMNS} FROM events{clause} "
            "ORDER BY timestamp_ms DESC, id DESC LIMIT ?"
        ),
        [*params, limit],
    )
    return [_stored(row) for row in cur.fetchall()]


def events_page(
    cur: Cursor, d: Dialect, from_ms: int, to_ms: int, *, after: tuple[int, int], page: int
) -> list[StoredEvent]:
    """Up to `page` events in ``[from, to)`` past `after` (time, id), in that order."""
    cur.execute(
        d.sql(
            f"SELECT {STORED_EVENT_COLUMNS} FROM events WHERE timestamp_ms >= ? "
            "AND timestamp_ms < ? AND (timestamp_ms > ? OR (timestamp_ms = ? AND id > ?)) "
            "ORDER BY timestamp_ms, id LIMIT ?"
        ),
        (from_ms, to_ms, after[0], after[0], after[1], page),
    )
    return [_stored(row) for row in cur.fetchall()]
