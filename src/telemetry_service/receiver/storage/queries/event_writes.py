"""The event store's writes: batches of events with their aggregates in one transaction, and
the deletions (a cluster, or everything before a cutoff) that keep the aggregates exact.

Aggregate rows are upserted in sorted key order, table after table, so that two receivers
writing to one PostgreSQL database take their row locks in the same order (no deadlock).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

import orjson

from telemetry_service.common.clock import DAY_MS
from telemetry_service.common.db.base import Cursor

from ..event_records import EventAddResult, EventBatch
from ..sql import Dialect

__all__ = [
    "EVENT_COLUMNS",
    "EventRow",
    "delete_cluster_events",
    "delete_events_before",
    "insert_event_batches",
]

#: The columns of an event row, in the order of :data:`EventRow`.
EVENT_COLUMNS = "timestamp_ms, received_ms, event_type, cluster_uuid, channel, context, properties"
EventRow = tuple[int, int, str, str, str, str, str]
_TEXT_COLUMNS = frozenset({"event_type", "cluster_uuid"})
InsertRows = Callable[[Cursor, list[EventRow]], None]


def insert_rows(cur: Cursor, d: Dialect, rows: list[EventRow]) -> None:
    """Insert event rows with one prepared statement (PostgreSQL uses ``COPY`` instead)."""
    cur.executemany(
        d.sql(f"INSERT INTO events ({EVENT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)"), rows
    )


def insert_event_batches(
    cur: Cursor, d: Dialect, batches: Sequence[EventBatch], insert: InsertRows
) -> list[EventAddResult]:
    """Store each batch whose key is new, with its aggregates; a known key stores nothing."""
    values = ", ".join(["(?, ?, ?, ?)"] * len(batches))
    cur.execute(
        d.sql(
            "INSERT INTO event_batches (batch_key, cluster_uuid, received_ms, events) "
            f"VALUES {values} ON CONFLICT (batch_key) DO NOTHING RETURNING batch_key"
        ),
        [  # in key order, like every lock taken here
            v
            for b in sorted(batches, key=lambda b: b.key)
            for v in (b.key, b.cluster_uuid, b.received_ms, len(b.events))
        ],
    )
    new = {key for (key,) in cur.fetchall()}
    results: list[EventAddResult] = []
    rows: list[EventRow] = []
    for batch in batches:
        if batch.key not in new:  # stored before, or earlier in this transaction
            results.append(EventAddResult(0, duplicate=True))
            continue
        new.discard(batch.key)
        results.append(EventAddResult(len(batch.events), duplicate=False))
        received, channel = batch.received_ms, batch.channel
        rows += [
            (e.timestamp_ms, received, e.event_type, e.cluster_uuid, channel, e.context,
             e.properties)
            for e in batch.events
        ]  # fmt: skip
    if rows:
        insert(cur, rows)
        _add_aggregates(cur, d, rows)
    return results


def _upsert(
    cur: Cursor, d: Dialect, table: str, key: str, values: str, rows: list[Any], update: str
) -> None:
    """Insert `rows` (``key`` then ``values`` columns, unique keys) into `table`, or update
    the rows of their keys, in the order of `rows`: SQLite with one prepared statement,
    PostgreSQL with one statement over the rows as one JSON array of arrays (which the server
    reads far faster than the client writes array parameters element by element). Columns
    named ``*_uuid`` or ``event_type`` are text, others bigint."""
    columns = [c.strip() for c in f"{key}, {values}".split(",")]
    head = f"INSERT INTO {table} ({', '.join(columns)}) "
    tail = f" ON CONFLICT ({key}) DO UPDATE SET {update}"
    if d.name != "postgresql":
        cur.executemany(f"{head}VALUES ({', '.join('?' * len(columns))}){tail}", rows)
        return
    fields = ", ".join(
        f"(r ->> {i})::{'text' if c in _TEXT_COLUMNS else 'bigint'}" for i, c in enumerate(columns)
    )
    cur.execute(
        f"{head}SELECT {fields} FROM json_array_elements(%s::json) WITH ORDINALITY AS e(r, n) "
        f"ORDER BY n{tail}",
        [orjson.dumps(rows).decode()],
    )


def _add_aggregates(cur: Cursor, d: Dialect, rows: list[EventRow]) -> None:
    per_cluster_day = Counter((row[2], row[0] // DAY_MS, row[3]) for row in rows)
    firsts: dict[tuple[str, str], int] = {}
    lasts: dict[tuple[str, str], int] = {}
    for ts, _, event_type, cluster, _, _, _ in rows:
        key = (event_type, cluster)
        if firsts.setdefault(key, ts) > ts:
            firsts[key] = ts
        if lasts.setdefault(key, ts) < ts:
            lasts[key] = ts
    spans = {key: (first, lasts[key]) for key, first in firsts.items()}
    per_day: Counter[tuple[str, int]] = Counter()
    for (event_type, day, _), count in per_cluster_day.items():
        per_day[event_type, day] += count
    _upsert(
        cur, d, "event_days", "event_type, day", "events",
        [(t, day, n) for (t, day), n in sorted(per_day.items())],
        "events = event_days.events + excluded.events",
    )  # fmt: skip
    _upsert(
        cur, d, "event_day_clusters", "event_type, day, cluster_uuid", "events",
        [(*key, n) for key, n in sorted(per_cluster_day.items())],
        "events = event_day_clusters.events + excluded.events",
    )  # fmt: skip
    _upsert(
        cur, d, "event_type_clusters", "event_type, cluster_uuid", "first_ms, last_ms",
        [(*key, first, last) for key, (first, last) in sorted(spans.items())],
        "first_ms = CASE WHEN excluded.first_ms < event_type_clusters.first_ms "
        "THEN excluded.first_ms ELSE event_type_clusters.first_ms END, "
        "last_ms = CASE WHEN excluded.last_ms > event_type_clusters.last_ms "
        "THEN excluded.last_ms ELSE event_type_clusters.last_ms END",
    )  # fmt: skip


def delete_cluster_events(cur: Cursor, d: Dialect, cluster_uuid: str) -> int:
    """Remove a cluster's events, batches and aggregate rows; subtract its daily counts."""
    cur.execute(
        d.sql(
            "SELECT event_type, day, events FROM event_day_clusters WHERE cluster_uuid = ? "
            "ORDER BY event_type, day"
        ),
        (cluster_uuid,),
    )
    counts: list[Any] = cur.fetchall()
    cur.executemany(
        d.sql("UPDATE event_days SET events = events - ? WHERE event_type = ? AND day = ?"),
        [(int(n), t, day) for t, day, n in counts],
    )
    cur.execute("DELETE FROM event_days WHERE events <= 0")
    for table in ("event_day_clusters", "event_type_clusters", "event_batches"):
        cur.execute(d.sql(f"DELETE FROM {table} WHERE cluster_uuid = ?"), (cluster_uuid,))
    cur.execute(d.sql("DELETE FROM events WHERE cluster_uuid = ?"), (cluster_uuid,))
    return int(cur.rowcount)


def delete_events_before(cur: Cursor, d: Dialect, cutoff_ms: int, dropped: int) -> int:
    """Delete events (and their aggregates) of the UTC days before `cutoff_ms`'s day;
    `dropped` events went already with whole partitions. Returns all events deleted."""
    day = cutoff_ms // DAY_MS
    start = day * DAY_MS
    cur.execute(d.sql("DELETE FROM events WHERE timestamp_ms < ?"), (start,))
    deleted = dropped + int(cur.rowcount)
    cur.execute(d.sql("DELETE FROM event_days WHERE day < ?"), (day,))
    cur.execute(d.sql("DELETE FROM event_day_clusters WHERE day < ?"), (day,))
    cur.execute(d.sql("DELETE FROM event_type_clusters WHERE last_ms < ?"), (start,))
    cur.execute(
        d.sql("UPDATE event_type_clusters SET first_ms = ? WHERE first_ms < ?"), (start, start)
    )
    cur.execute(d.sql("DELETE FROM event_batches WHERE received_ms < ?"), (cutoff_ms,))
    return deleted
