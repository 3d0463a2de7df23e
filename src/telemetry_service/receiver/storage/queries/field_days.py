"""The exact per-day aggregate of payload fields, ``field_days``: for every addressable path
of every stored snapshot (objects included; the whole payload is the path ``""``), per UTC
day of its report time, how many snapshots held each (kind, value) there. The field trend
and the daily snapshot counts read it instead of the snapshots.

It is kept up to date in the transaction that stores a snapshot (:func:`add_snapshot`, from
``insert_report``) and in the one that deletes snapshots (:func:`forget_snapshots`, before
the rows go), and filled once from the stored snapshots after the version 5 migration
(:func:`run_backfill`). Every snapshot counts, a cluster's second of a day too.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import logging
import math
import re
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from telemetry_service.common.db.base import Cursor, Database

from ..sql import DAY, Dialect, field_value, json_kind
from .stats import loads

__all__ = [
    "BACKFILL",
    "JSON_KEY",
    "LONG_KEY",
    "MAX_CELLS",
    "MAX_PATH_CHARS",
    "NOT_IN_SEGMENT",
    "ROOT",
    "WIDE",
    "Cell",
    "Counts",
    "add_snapshot",
    "cells",
    "forget_snapshots",
    "run_backfill",
    "scalar_cell",
    "snapshot_cells",
    "write_counts",
]

log = logging.getLogger("telemetry_service.receiver.storage")

#: The path of a whole payload: its rows count each day's snapshots.
ROOT = ""
#: The longest dotted path the API takes (longer ones are not aggregated).
MAX_PATH_CHARS = 512
#: What a segment of a dotted path cannot hold.
NOT_IN_SEGMENT = re.compile(r'[."\\\x00-\x1f\x7f]')
#: Keywords longer than this (UTF-8 bytes) are keyed by their hash (index entries stay small).
LONG_VALUE = 96
_HASHED = "#sha256"
#: The value key of a long keyword (its text is in ``text``), and of one that PostgreSQL's
#: text cannot hold (in ``text`` as JSON).
LONG_KEY, JSON_KEY = "#sha256:", "#sha256-json:"
#: What PostgreSQL's text cannot hold: such keywords are hashed too.
_UNSAFE = re.compile("[\x00\ud800-\udfff]")
#: The most cells a snapshot adds; a wider one is marked (path :data:`WIDE`, its id as the
#: value) and read by the trend itself.
MAX_CELLS = 10_000
#: The path of the marks of wide snapshots (a path no field can name: it starts with ".").
WIDE = ".wide"
#: The name of the pending backfill in ``receiver_backfills``.
BACKFILL = "field_days"

#: One aggregate cell: (path, kind, value key, number, a hashed keyword as JSON text).
Cell = tuple[str, str, str, float | None, str | None]
#: Cells gathered per day number.
Counts = dict[int, Counter[Cell]]
_UPSERT = (
    "INSERT INTO field_days (path, day, kind, value, number, text, count) "
    "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (path, day, kind, value) "
    "DO UPDATE SET count = field_days.count + excluded.count"
)


def scalar_cell(path: str, value: Any) -> Cell:
    """The cell of a value that is not an object (the kinds of ``sql.field_value``)."""
    kind = type(value)
    if kind is str:
        if len(value) * 4 > LONG_VALUE or value.startswith(_HASHED) or _UNSAFE.search(value):
            raw = value.encode("utf-8", "surrogatepass")
            if len(raw) > LONG_VALUE or value.startswith(_HASHED) or _UNSAFE.search(value):
                digest = hashlib.sha256(raw).hexdigest()
                if _UNSAFE.search(value):
                    return (path, "string", JSON_KEY + digest, None, json.dumps(value))
                return (path, "string", LONG_KEY + digest, None, value)
        return (path, "string", value, None, None)
    if kind is bool:
        return (path, "boolean", "true" if value else "false", None, None)
    if kind is int or kind is float:
        try:
            number = float(value)
        except OverflowError:
            return (path, "null", "", None, None)
        return (path, "number", repr(number), number if math.isfinite(number) else None, None)
    item = field_value(json_kind(value), value)  # null, arrays, subclasses
    if item.kind in ("string", "boolean", "number"):
        return scalar_cell(path, item.value)
    return (path, item.kind, "", None, None)


#: Keys checked (they repeat in every payload), up to :data:`KEY_CACHE`.
_ADDRESSABLE: dict[str, bool] = {}
KEY_CACHE = 10_000


def _addressable(key: str) -> bool:
    ok = _ADDRESSABLE.get(key)
    if ok is None:
        ok = bool(key) and not NOT_IN_SEGMENT.search(key) and not _UNSAFE.search(key)
        if len(_ADDRESSABLE) < KEY_CACHE:
            _ADDRESSABLE[key] = ok
    return ok


def cells(payload: Any) -> Iterator[Cell]:
    """The cells of one payload: the whole payload, then every path that the API can name."""
    yield (ROOT, json_kind(payload), "", None, None)
    if not isinstance(payload, dict):
        return
    stack: list[tuple[str, dict[str, Any]]] = [("", payload)]
    while stack:
        prefix, node = stack.pop()
        for key, value in node.items():
            if not _addressable(key):
                continue
            path = prefix + key
            if len(path) > MAX_PATH_CHARS:
                continue
            if isinstance(value, dict):
                yield (path, "object", "", None, None)
                stack.append((path + ".", value))
            else:
                yield scalar_cell(path, value)


def snapshot_cells(report_id: str, payload_text: str) -> list[Cell]:
    """What a stored snapshot adds to ``field_days``: its :func:`cells`, or, for a payload of
    more than :data:`MAX_CELLS`, the whole payload and a :data:`WIDE` mark with its id (the
    trend reads such snapshots themselves), so that one wide payload costs the writer little."""
    payload = loads(payload_text)
    found = list(itertools.islice(cells(payload), MAX_CELLS + 1))
    if len(found) <= MAX_CELLS:
        return found
    return [found[0], (WIDE, "string", report_id, None, None)]


def _write(cur: Cursor, d: Dialect, day: int, counts: Counter[Cell], sign: int) -> None:
    """Add `counts` to the day's rows, in key order: concurrent writers (several receivers on
    one PostgreSQL) then lock shared rows in the same order and never deadlock."""
    rows = sorted(counts.items(), key=lambda item: item[0][:3])
    cur.executemany(d.sql(_UPSERT), [(p, day, k, v, n, t, sign * c) for (p, k, v, n, t), c in rows])


def sql_day(ms: int) -> int:
    """The day number of :data:`DAY` (SQL's integer division truncates toward zero)."""
    return ms // 86_400_000 if ms >= 0 else -(-ms // 86_400_000)


def add_snapshot(
    cur: Cursor,
    d: Dialect,
    report_ms: int,
    report: tuple[str, str],
    into: Counts | None = None,
) -> None:
    """Count a newly stored snapshot, `report` (id, payload text), in its insert's
    transaction; with `into`, add its cells there for :func:`write_counts` to write with
    those of the other snapshots."""
    day = sql_day(report_ms)
    if into is None:
        _write(cur, d, day, Counter(snapshot_cells(*report)), 1)
    else:
        into.setdefault(day, Counter()).update(snapshot_cells(*report))


def write_counts(cur: Cursor, d: Dialect, counts: Counts) -> None:
    """Write the cells that :func:`add_snapshot` gathered (in the same transaction)."""
    for day, day_counts in sorted(counts.items()):
        _write(cur, d, day, day_counts, 1)


def forget_snapshots(cur: Cursor, d: Dialect, where: str, params: Sequence[Any]) -> None:
    """Uncount the snapshots ``WHERE kind = 'snapshot' AND {where}`` before they are deleted
    (in the deletion's transaction): a day that loses all its snapshots loses its rows, the
    others are decremented by the deleted snapshots' cells."""
    cur.execute(
        d.sql(
            f"SELECT {DAY}, COUNT(*) FROM reports WHERE kind = 'snapshot' AND {where} "
            f"GROUP BY {DAY}"
        ),
        params,
    )
    leaving = {int(day): int(count) for day, count in cur.fetchall()}
    for day, count in sorted(leaving.items()):
        cur.execute(
            d.sql("SELECT SUM(count) FROM field_days WHERE path = ? AND day = ?"), (ROOT, day)
        )
        if count >= int(cur.fetchone()[0] or 0):
            cur.execute(d.sql("DELETE FROM field_days WHERE day = ?"), (day,))
            continue
        cur.execute(
            d.sql(
                f"SELECT id, payload FROM reports WHERE kind = 'snapshot' AND {DAY} = ? AND {where}"
            ),
            [day, *params],
        )
        counts: Counter[Cell] = Counter()
        for report in cur.fetchall():
            counts.update(snapshot_cells(*report))
        _write(cur, d, day, counts, -1)
        cur.execute(d.sql("DELETE FROM field_days WHERE day = ? AND count <= 0"), (day,))


def _backfill(cur: Cursor, d: Dialect, progress: Callable[[int, int], None]) -> int:
    cur.execute(d.sql(f"SELECT {DAY}, COUNT(*) FROM reports WHERE kind = 'snapshot' GROUP BY 1"))
    days = sorted((int(day), int(count)) for day, count in cur.fetchall())
    total, done = sum(count for _, count in days), 0
    cur.execute("DELETE FROM field_days")
    for day, count in days:
        cur.execute(
            d.sql(f"SELECT id, payload FROM reports WHERE kind = 'snapshot' AND {DAY} = ?"),
            (day,),
        )
        counts: Counter[Cell] = Counter()
        for report in cur.fetchall():
            counts.update(snapshot_cells(*report))
        _write(cur, d, day, counts, 1)
        done += count
        progress(done, total)
    return total


def run_backfill(db: Database, d: Dialect, *, lock_id: int) -> None:
    """Fill ``field_days`` from the stored snapshots once, after the migration that made it
    (one transaction; other writers wait; progress is logged about every 10 %)."""
    marks: list[int] = []

    def progress(done: int, total: int) -> None:
        step = max(total // 10, 1)
        if done // step > len(marks) or done == total:
            marks.append(done)
            log.info("field aggregates: %d of %d stored snapshots counted", done, total)

    def fill(cur: Cursor) -> None:
        if d.name == "postgresql":
            cur.execute("SELECT pg_advisory_xact_lock(%s)", (lock_id,))
        cur.execute(d.sql("SELECT name FROM receiver_backfills WHERE name = ?"), (BACKFILL,))
        if cur.fetchone() is None:
            return
        if d.name == "postgresql":  # no snapshot is stored meanwhile by another receiver
            cur.execute("LOCK TABLE reports IN SHARE MODE")
        total = _backfill(cur, d, progress)
        cur.execute(d.sql("DELETE FROM receiver_backfills WHERE name = ?"), (BACKFILL,))
        if total:
            log.info("field aggregates: backfilled from %d stored snapshots", total)

    db.transaction(True, fill)
