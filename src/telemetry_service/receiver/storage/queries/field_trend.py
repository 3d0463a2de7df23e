"""Reads of the ``field_days`` aggregate (``field_days.py``): the snapshots per day and what a
field's trend needs, aggregated in SQL, so that the answer's cost follows the field's distinct
values, not the snapshots: kinds, booleans and the top keywords per day in a few rows, the
numbers as (value, snapshots) pairs. The snapshots not folded yet (``field_fold.py``) and the
wide ones (only marked in the aggregate) are read here, the field taken from their payloads."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from telemetry_service.common.db.base import Cursor

from ..records import FieldValue
from ..sql import Dialect, consistent_reads, day_bounds, field_value, json_kind
from .field_days import JSON_KEY, ROOT, WIDE, scalar_cell
from .field_fold import pending_payloads, pending_per_day
from .stats import loads

__all__ = ["TrendParts", "snapshots_per_day", "trend_parts"]

_MISSING = object()
#: Keywords looked up in one statement.
_KEYS = 500


@dataclass
class TrendParts:
    """A field over days (day numbers): snapshots, counts by kind, the `size` most frequent
    keywords of the range and their counts, boolean counts, numbers with their counts (in
    order)."""

    reports: dict[int, int] = field(default_factory=dict)
    kinds: dict[int, dict[str, int]] = field(default_factory=dict)
    keywords: list[str] = field(default_factory=list)
    keyword_counts: dict[int, dict[str, int]] = field(default_factory=dict)
    booleans: dict[int, dict[str, int]] = field(default_factory=dict)
    numbers: dict[int, list[tuple[float, int]]] = field(default_factory=dict)
    #: The most wide snapshots read (``limits.trendWideSnapshots``), and per day those left
    #: out (not in the figures: the day's sample is its snapshots less these).
    wide_limit: int = 2000
    skipped: dict[int, int] = field(default_factory=dict)


def snapshots_per_day(cur: Cursor, d: Dialect, from_ms: int, to_ms: int) -> dict[int, int]:
    """Snapshots per UTC day number of ``[from, to)`` (whole days): the aggregate's and the
    pending ones."""
    cur.execute(
        d.sql(
            "SELECT day, SUM(count) FROM field_days WHERE path = ? AND day >= ? AND day < ? "
            "GROUP BY day"
        ),
        (ROOT, *day_bounds(from_ms, to_ms)),
    )
    days = {int(day): int(count) for day, count in cur.fetchall()}
    for day, count in pending_per_day(cur, d, day_bounds(from_ms, to_ms)).items():
        days[day] = days.get(day, 0) + count
    return days


def _keyword(value: str, text: str | None) -> str:
    if text is None:
        return value
    return str(json.loads(text)) if value.startswith(JSON_KEY) else text


def _top(
    cur: Cursor,
    d: Dialect,
    query: tuple[str, list[Any]],
    size: int,
    *,
    with_json: bool,
    wide: dict[str, tuple[str, int]],
) -> dict[str, str]:
    """The `size` most frequent keywords (ties: by value), as {value key: keyword}. SQL orders
    those whose text it holds as is (by code point, as Python does); the few held as JSON
    (`with_json`: there are some) and those of wide snapshots (`wide`: {value key: (keyword,
    count)}) are ranked here, with the SQL counts of the same keywords."""
    where, params = query
    collate = ' COLLATE "C"' if d.name == "postgresql" else ""
    prefix = f"substr(value, 1, {len(JSON_KEY)})"
    select = (
        f"SELECT value, text, SUM(count) AS n FROM field_days WHERE {where} AND kind = 'string'"
    )
    cur.execute(
        d.sql(
            f"{select} AND {prefix} <> ? GROUP BY value, text "
            f"ORDER BY n DESC, COALESCE(text, value){collate} LIMIT ?"
        ),
        [*params, JSON_KEY, size],
    )
    found = cur.fetchall()
    if with_json:
        cur.execute(d.sql(f"{select} AND {prefix} = ? GROUP BY value, text"), [*params, JSON_KEY])
        found += cur.fetchall()
    keys = list(wide)
    for start in range(0, len(keys), _KEYS):  # a backlog may hold more than SQL's parameters
        page = keys[start : start + _KEYS]
        marks = ", ".join("?" * len(page))
        cur.execute(d.sql(f"{select} AND value IN ({marks}) GROUP BY value, text"), params + page)
        found += cur.fetchall()
    totals = {value: (_keyword(value, text), int(n)) for value, text, n in found}
    for value, (keyword, count) in wide.items():
        totals[value] = (keyword, totals.get(value, (keyword, 0))[1] + count)
    ranked = sorted((-n, keyword, value) for value, (keyword, n) in totals.items())[:size]
    return {value: keyword for _, keyword, value in ranked}


def _value_at(payload: str | None, path: Sequence[str]) -> FieldValue:
    node = loads(payload) if payload is not None else None
    for key in path:
        node = node.get(key, _MISSING) if isinstance(node, dict) else _MISSING
    return FieldValue("missing", None) if node is _MISSING else field_value(json_kind(node), node)


def _read_values(
    cur: Cursor, d: Dialect, path: Sequence[str], days: tuple[int, int], parts: TrendParts
) -> list[tuple[int, FieldValue]]:
    """The field in the wide snapshots of the days (those ``field_days`` only marks), at most
    `parts.wide_limit` of them (an even spread over the days' marks in (day, id) order; those
    left out are counted in `parts.skipped`), then in the pending ones (not in it yet)."""
    cur.execute(
        d.sql("SELECT day, value FROM field_days WHERE path = ? AND day >= ? AND day < ?"),
        (WIDE, *days),
    )
    marks = sorted((int(day), str(report_id)) for day, report_id in cur.fetchall())
    if len(marks) > parts.wide_limit:
        for day, _ in marks:
            parts.skipped[day] = parts.skipped.get(day, 0) + 1
        step = len(marks) / parts.wide_limit
        marks = [marks[int(index * step)] for index in range(parts.wide_limit)]
        for day, _ in marks:
            parts.skipped[day] -= 1
    found = []
    for day, report_id in marks:
        cur.execute(d.sql("SELECT payload FROM reports WHERE id = ?"), (report_id,))
        row = cur.fetchone()
        found.append((day, _value_at(row[0] if row else None, path)))
    found += [(day, _value_at(text, path)) for day, text in pending_payloads(cur, d, days)]
    return found


def _add_wide(parts: TrendParts, wide: list[tuple[int, FieldValue]]) -> None:
    """Count the values read by :func:`_read_values` (keywords: by :func:`_top`) in `parts`."""
    for day, item in wide:
        if item.kind == "missing":
            continue
        kinds = parts.kinds.setdefault(day, {})
        kinds[item.kind] = kinds.get(item.kind, 0) + 1
        if item.kind == "boolean":
            booleans = parts.booleans.setdefault(day, {"true": 0, "false": 0})
            booleans["true" if item.value else "false"] += 1
        elif item.kind == "number" and isinstance(item.value, float) and math.isfinite(item.value):
            parts.numbers.setdefault(day, []).append((item.value, 1))


def trend_parts(
    cur: Cursor,
    d: Dialect,
    path: Sequence[str],
    *,
    from_ms: int,
    to_ms: int,
    size: int,
    wide_limit: int = 2000,
) -> TrendParts:
    """What the trend of `path` over ``[from, to)`` (whole days) needs, reading at most
    `wide_limit` wide snapshots."""
    consistent_reads(cur, d)
    parts = TrendParts(reports=snapshots_per_day(cur, d, from_ms, to_ms), wide_limit=wide_limit)
    where = "path = ? AND day >= ? AND day < ?"
    params: list[Any] = [".".join(path), *day_bounds(from_ms, to_ms)]
    json_keys = f"SUM(CASE WHEN substr(value, 1, {len(JSON_KEY)}) = ? THEN 1 ELSE 0 END)"
    cur.execute(
        d.sql(
            f"SELECT day, kind, SUM(count), {json_keys} FROM field_days WHERE {where} "
            "GROUP BY day, kind"
        ),
        [JSON_KEY, *params],
    )
    with_json = False
    for day, kind, count, json_count in cur.fetchall():
        parts.kinds.setdefault(int(day), {})[kind] = int(count)
        with_json = with_json or bool(json_count)
    wide = _read_values(cur, d, path, day_bounds(from_ms, to_ms), parts)
    _add_wide(parts, wide)
    present = {kind for kinds in parts.kinds.values() for kind in kinds}
    wide_words: dict[str, tuple[str, int]] = {}
    for _, item in wide:
        if item.kind == "string":
            key = scalar_cell(".", str(item.value))[2]
            wide_words[key] = (str(item.value), wide_words.get(key, ("", 0))[1] + 1)
    if "string" in present:
        top = _top(cur, d, (where, params), size, with_json=with_json, wide=wide_words)
        parts.keywords = list(top.values())
        marks = ", ".join("?" * len(top))
        cur.execute(
            d.sql(
                f"SELECT day, value, SUM(count) FROM field_days WHERE {where} "
                f"AND kind = 'string' AND value IN ({marks}) GROUP BY day, value"
            ),
            [*params, *top],
        )
        for day, value, count in cur.fetchall():
            parts.keyword_counts.setdefault(int(day), {})[top[value]] = int(count)
        for day, item in wide:
            if item.kind == "string" and str(item.value) in parts.keywords:
                counts = parts.keyword_counts.setdefault(day, {})
                counts[str(item.value)] = counts.get(str(item.value), 0) + 1
    if "boolean" in present:
        cur.execute(
            d.sql(
                f"SELECT day, value, SUM(count) FROM field_days WHERE {where} "
                "AND kind = 'boolean' GROUP BY day, value"
            ),
            params,
        )
        for day, value, count in cur.fetchall():
            parts.booleans.setdefault(int(day), {"true": 0, "false": 0})[value] += int(count)
    if "number" in present:
        cur.execute(
            d.sql(
                f"SELECT day, number, count FROM field_days WHERE {where} "
                "AND kind = 'number' AND number IS NOT NULL ORDER BY day, number"
            ),
            params,
        )
        for day, number, count in cur.fetchall():
            parts.numbers.setdefault(int(day), []).append((float(number), int(count)))
    return parts
