"""Reads of the ``field_days`` aggregate (``field_days.py``): the snapshots per day and what a
field's trend needs, aggregated in SQL, so that the answer's cost follows the field's distinct
values, not the snapshots: kinds, booleans and the top keywords per day in a few rows, the
numbers as (value, snapshots) pairs."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from telemetry_service.common.db.base import Cursor

from ..sql import Dialect, day_bounds
from .field_days import JSON_KEY, ROOT

__all__ = ["TrendParts", "snapshots_per_day", "trend_parts"]


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


def snapshots_per_day(cur: Cursor, d: Dialect, from_ms: int, to_ms: int) -> dict[int, int]:
    """Snapshots per UTC day number of ``[from, to)`` (whole days), from the aggregate."""
    cur.execute(
        d.sql(
            "SELECT day, SUM(count) FROM field_days WHERE path = ? AND day >= ? AND day < ? "
            "GROUP BY day"
        ),
        (ROOT, *day_bounds(from_ms, to_ms)),
    )
    return {int(day): int(count) for day, count in cur.fetchall()}


def _keyword(value: str, text: str | None) -> str:
    if text is None:
        return value
    return str(json.loads(text)) if value.startswith(JSON_KEY) else text


def _top(
    cur: Cursor, d: Dialect, where: str, params: list[Any], size: int, *, with_json: bool
) -> dict[str, str]:
    """The `size` most frequent keywords (ties: by value), as {value key: keyword}. SQL orders
    those whose text it holds as is (by code point, as Python does); the few held as JSON
    (`with_json`: there are some) are ranked here."""
    collate = ' COLLATE "C"' if d.name == "postgresql" else ""
    prefix = f"substr(value, 1, {len(JSON_KEY)})"
    cur.execute(
        d.sql(
            f"SELECT value, text, SUM(count) AS n FROM field_days WHERE {where} "
            f"AND kind = 'string' AND {prefix} <> ? GROUP BY value, text "
            f"ORDER BY n DESC, COALESCE(text, value){collate} LIMIT ?"
        ),
        [*params, JSON_KEY, size],
    )
    found = cur.fetchall()
    if not with_json:
        return _ranked(found, size)
    cur.execute(
        d.sql(
            f"SELECT value, text, SUM(count) FROM field_days WHERE {where} "
            f"AND kind = 'string' AND {prefix} = ? GROUP BY value, text"
        ),
        [*params, JSON_KEY],
    )
    return _ranked(found + cur.fetchall(), size)


def _ranked(found: list[Any], size: int) -> dict[str, str]:
    ranked = sorted(((-int(n), _keyword(v, t), v) for v, t, n in found))[:size]
    return {value: keyword for _, keyword, value in ranked}


def trend_parts(
    cur: Cursor, d: Dialect, path: Sequence[str], *, from_ms: int, to_ms: int, size: int
) -> TrendParts:
    """What the trend of `path` over ``[from, to)`` (whole days) needs."""
    parts = TrendParts(reports=snapshots_per_day(cur, d, from_ms, to_ms))
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
    present: set[str] = set()
    with_json = False
    for day, kind, count, json_count in cur.fetchall():
        parts.kinds.setdefault(int(day), {})[kind] = int(count)
        present.add(kind)
        with_json = with_json or bool(json_count)
    if "string" in present:
        top = _top(cur, d, where, params, size, with_json=with_json)
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
    if "boolean" in present:
        cur.execute(
            d.sql(
                f"SELECT day, value, SUM(count) FROM field_days WHERE {where} "
                "AND kind = 'boolean' GROUP BY day, value"
            ),
            params,
        )
        for day, value, count in cur.fetchall():
            parts.booleans.setdefault(int(day), {"true": 0, "false": 0})[value] = int(count)
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
