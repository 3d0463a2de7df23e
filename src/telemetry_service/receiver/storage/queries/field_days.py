"""The exact per-day aggregate of payload fields, ``field_days``: for every addressable path
of every stored snapshot (objects included; the whole payload is the path ``""``), per UTC
day of its report time, how many snapshots held each (kind, value) there. The field trend
and the daily snapshot counts read it instead of the snapshots.

A stored snapshot is first pending (``field_days_pending``); the fold (``field_fold.py``)
counts pending snapshots in batches with :func:`snapshot_cells` and :func:`write_counts`, and
the reads add the pending snapshots of their days themselves. A deletion uncounts the folded
snapshots it deletes (:func:`forget_snapshots`, in its transaction, before the rows go) and
drops the pending rows of the others. Every snapshot counts, a cluster's second of a day too.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import re
from collections import Counter
from collections.abc import Iterator, Sequence
from typing import Any

from telemetry_service.common.db.base import Cursor

from ..sql import DAY, Dialect, field_value, json_kind
from .stats import loads

__all__ = [
    "JSON_KEY",
    "LONG_KEY",
    "MAX_CELLS",
    "MAX_PATH_CHARS",
    "NOT_IN_SEGMENT",
    "ROOT",
    "WIDE",
    "Cell",
    "Counts",
    "cells",
    "forget_snapshots",
    "scalar_cell",
    "snapshot_cells",
    "write_counts",
]

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


def write_counts(cur: Cursor, d: Dialect, counts: Counts) -> None:
    """Write the cells gathered per day (in the fold's transaction)."""
    for day, day_counts in sorted(counts.items()):
        _write(cur, d, day, day_counts, 1)


def forget_snapshots(cur: Cursor, d: Dialect, where: str, params: Sequence[Any]) -> None:
    """Uncount the folded snapshots ``WHERE kind = 'snapshot' AND {where}`` before they are
    deleted and drop the pending rows of the others (in the deletion's transaction, after
    :func:`field_fold.lock`): a day that loses all its folded snapshots loses its rows, the
    others are decremented by the deleted snapshots' cells."""
    mine = f"FROM reports r WHERE kind = 'snapshot' AND {where}"
    folded = (
        f"{mine} AND NOT EXISTS (SELECT 1 FROM field_days_pending p "
        f"WHERE p.day = r.{DAY} AND p.report_id = r.id)"
    )
    cur.execute(d.sql(f"SELECT {DAY}, COUNT(*) {folded} GROUP BY {DAY}"), params)
    leaving = {int(day): int(count) for day, count in cur.fetchall()}
    for day, count in sorted(leaving.items()):
        cur.execute(
            d.sql("SELECT SUM(count) FROM field_days WHERE path = ? AND day = ?"), (ROOT, day)
        )
        if count >= int(cur.fetchone()[0] or 0):
            cur.execute(d.sql("DELETE FROM field_days WHERE day = ?"), (day,))
            continue
        cur.execute(d.sql(f"SELECT id, payload {folded} AND {DAY} = ?"), [*params, day])
        counts: Counter[Cell] = Counter()
        for report in cur.fetchall():
            counts.update(snapshot_cells(*report))
        _write(cur, d, day, counts, -1)
        cur.execute(d.sql("DELETE FROM field_days WHERE day = ? AND count <= 0"), (day,))
    cur.execute(
        d.sql(
            "DELETE FROM field_days_pending WHERE EXISTS (SELECT 1 FROM reports r WHERE "
            f"r.id = field_days_pending.report_id AND r.kind = 'snapshot' AND {where})"
        ),
        params,
    )
